// The documented reference of every configuration key, shown by `sluice --help`.
//
// It is valid YAML that passes the schema (file-existence checks aside), and a unit test checks that it
// names exactly the leaf keys of src/config/schema.ts — update both together. Alternatives that exclude
// each other (TCP vs unix socket listener, password vs password_hash) are shown as separate list items.
export const CONFIG_REFERENCE = `\
# Strings may use \${VAR} or \${VAR:-default} (environment variables); $$ is a literal $.
# Unknown keys are errors. Relative TLS file paths are relative to the config file's directory.

listeners:                       # required, at least one
  - host: 127.0.0.1              # TCP listener: address to bind (default 127.0.0.1)
    port: 6033                   # required for TCP, 0..65535 (0 = any free port)
  - socket: /tmp/sluice.sock     # unix socket listener (excludes host/port)

backends:                        # required, at least one; exactly one with role: primary
  - name: primary                # required, unique, [A-Za-z0-9_.-]+
    host: 127.0.0.1              # required
    port: 3306                   # default 3306
    role: primary                # required: primary | replica
    weight: 1                    # > 0, default 1 (share of reads for weighted balancing)
  - name: replica1
    host: 127.0.0.1
    port: 3307
    role: replica
    weight: 1

monitor:                         # required: account Sluice uses for health checks, reading mysql.user, KILL
  user: sluice_monitor           # required
  password: secret               # default ""
  interval_ms: 1000              # health check period, >= 10, default 1000

users:                           # client accounts defined here (default: none)
  - name: app                    # required, unique
    password: secret             # plaintext password; exactly one of password / password_hash
    auth_plugin: mysql_native_password   # mysql_native_password (default) | caching_sha2_password
                                 #   (caching_sha2_password requires the plaintext password)
    backend_user: app            # account used on the backends, default: name
    backend_password: secret     # password used on the backends, default: password
    max_connections: 0           # concurrent client connections for this user, 0 = unlimited (default)
    default_schema: null         # schema selected when the client names none, default null
    route: auto                  # auto (read/write split) | primary | replica, default auto
    consistency: null            # eventual | session | instance | global; null = routing.consistency
    admin: false                 # may run SLUICE SHOW BACKENDS|POOLS|SESSIONS|STATS, SLUICE SET BACKEND …, default false
  - name: reporting
    password_hash: "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"   # mysql_native_password hash ('*' + 40 hex)
    backend_password: secret     # required with password_hash

passthrough_users:               # clients may also log in with their MariaDB account
  enabled: true                  # verified against the primary's mysql.user (default true)
  refresh_interval_ms: 60000     # how often mysql.user is re-read, >= 1000, default 60000

pool:                            # backend connection pool, per backend and connection profile
  min: 0                         # connections kept open, default 0
  max: 20                        # upper bound, >= 1, default 20
  connect_timeout_ms: 5000       # default 5000
  idle_timeout_ms: 60000         # close connections idle this long (above min), 0 = never, default 60000
  max_lifetime_ms: 3600000       # recycle connections older than this, 0 = never, default 3600000
  acquire_timeout_ms: 10000      # max wait for a free connection before the client gets an error, default 10000
  statement_cache_size: 256      # prepared statements kept per backend connection, 0 = none, default 256
  pipelining:                    # several clients' short autocommit reads share one backend connection, in one write
    enabled: true                # default true (needs multiplexing)
    max_depth: 16                # statements in flight on one shared connection at most, default 16
    max_statement_ms: 2          # only statements whose digest averages at most this many ms, default 2
    min_samples: 20              # ... and that ran this many times unpipelined first, default 20

multiplexing: true               # share backend connections between clients (default true)

admin:                           # operator interfaces
  http:                          # JSON API (/api/v1/…) and Prometheus /metrics; omit or null to disable (default null)
    host: 127.0.0.1              # default 127.0.0.1
    port: 9033                   # required when http is set (0 = any free port)
    token: change-me             # Bearer token for state-changing calls (POST); null = those calls are refused

routing:                         # read/write splitting (replicas are the backends with role: replica)
  read_write_split: true         # send replica-eligible reads to replicas, default true
  policy: round_robin            # round_robin | random | weighted | least_connections | least_latency | least_lag
  max_replication_lag_s: 10      # replicas further behind are taken out, default 10
  no_replica: primary            # no healthy replica: primary (reads go there) | error, default primary
  consistency: session           # read-after-write: eventual | session | instance | global, default session
  consistency_timeout_ms: 1000   # max wait for a replica to catch up (MASTER_GTID_WAIT), default 1000
  consistency_fallback: primary  # replica did not catch up in time: primary | error, default primary
  read_only_transactions: primary  # START TRANSACTION READ ONLY goes to: primary | replica, default primary

failover:                        # primary failure and switchover (needs at least one replica)
  enabled: true                  # watch the primary, hold primary-bound statements while it is away, follow a new primary, default true
  auto_promote: false            # promote the most advanced replica when the primary fails (MariaDB GTID replication), default false
  check_interval_ms: 500         # how often the primary is probed, >= 50, default 500
  detection_ms: 2000             # primary failed after no answer for this long (refused connections: after two probes), >= 100, default 2000
  hang_promote_after_ms: 10000   # a primary that hangs (timeouts, not refusals) is promoted away only after this long, default 10000
  catchup_timeout_ms: 10000      # max time for the candidate to apply its relay log / reach the old primary's position, default 10000
  replication_user: null         # account replicas use to replicate from the new primary (CHANGE MASTER); required with auto_promote
  replication_password: ''       # its password, default ''
  rejoin: false                  # a returning old primary rejoins as a replica of the new one (when it has not diverged), default false
  buffer:                        # statements bound for the primary while it is away
    window_ms: 10000             # longest time one statement is held, default 10000
    max_statements: 10000        # statements held at once, default 10000
    max_bytes: 67108864          # bytes held at once, default 64 MiB
    max_duration_ms: 30000       # longest failover: held statements fail after this, default 30000
  replay:                        # interrupted transactions
    enabled: true                # replay them on the new primary when the results match, default true
    max_transaction_bytes: 1048576  # larger transactions are not recorded (not replayable), default 1 MiB
  switchover_drain_ms: 5000      # planned switchover: time given to open transactions to finish, default 5000

tls:                             # TLS towards clients; omit or null to disable (default null)
  cert: /etc/sluice/server-cert.pem   # required when tls is set (PEM)
  key: /etc/sluice/server-key.pem     # required when tls is set (PEM)
  ca: null                       # CA bundle to verify client certificates, default null
  require: false                 # refuse clients that do not use TLS, default false

backend_tls:                     # TLS towards backends
  enabled: false                 # default false
  ca: null                       # CA bundle (PEM) to verify backend certificates, default null (system CAs)
  reject_unauthorized: true      # refuse backends whose certificate does not verify, default true

limits:                          # resource limits
  max_client_connections: 10000  # default 10000
  max_packet_size: 67108864      # largest logical packet accepted from a client, bytes, 1024..1073741824, default 64 MiB
  client_buffer_bytes: 1048576   # bytes buffered towards a slow client before backpressure, >= 1024, default 1 MiB

tuning:                          # event-loop behaviour
  busy_poll_us: 100              # after a read, keep polling (no sleep) this long while at most one backend connection
                                 # is busy: cuts the wake-up latency a statement pays twice through a proxy (most in
                                 # VMs) for up to one core's time at low concurrency; 0..10000, 0 = off, default 100

shutdown_grace_ms: 10000         # on SIGTERM/SIGINT, time given to in-flight statements, default 10000

log:                             # logging (JSON lines on stderr)
  level: info                    # fatal | error | warn | info | debug | trace | silent, default info
`;
