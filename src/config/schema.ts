// The Sluice configuration schema (zod v4). Keys are snake_case exactly as written in the YAML file.
//
// `SluiceConfig` is the OUTPUT type: every default is filled in, optional sections are `null` when absent,
// listeners are normalised to `{ host, port }` or `{ socket }`, and per-user `backend_user` /
// `backend_password` are resolved. Checks that need the filesystem (TLS files exist) live in load.ts.
//
// Keep src/config/reference.ts in sync with this file: a unit test checks that both describe the same keys.
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const AUTH_PLUGINS = ['mysql_native_password', 'caching_sha2_password'] as const;
export const BACKEND_ROLES = ['primary', 'replica'] as const;
export const CONSISTENCY_LEVELS = ['eventual', 'session', 'instance', 'global'] as const;
export const BALANCE_POLICY_NAMES = ['round_robin', 'random', 'weighted', 'least_connections', 'least_latency', 'least_lag'] as const;

/** mysql_native_password hash as stored in mysql.user: '*' + 40 hex digits (SHA1(SHA1(password))). */
export const NATIVE_PASSWORD_HASH_RE = /^\*[0-9A-Fa-f]{40}$/;
export const BACKEND_NAME_RE = /^[A-Za-z0-9_.-]+$/;

const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const nonEmpty = () => z.string().min(1, 'must not be empty');
const port = (min: number) => int(min, 65535);

// ---------------------------------------------------------------------------------------------------------
// listeners

const listenerSchema = z
  .strictObject({
    host: nonEmpty().optional(),
    port: port(0).optional(),
    socket: nonEmpty().optional(),
  })
  .superRefine((l, ctx) => {
    if (l.socket !== undefined) {
      if (l.host !== undefined || l.port !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['socket'],
          message: 'a listener is either a unix socket (`socket`) or TCP (`host`/`port`), not both',
        });
      }
    } else if (l.port === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['port'],
        message: 'is required for a TCP listener (or give `socket: /path` for a unix socket listener)',
      });
    }
  })
  .transform((l): TcpListenerConfig | SocketListenerConfig =>
    l.socket !== undefined ? { socket: l.socket } : { host: l.host ?? '127.0.0.1', port: l.port ?? 0 },
  );

export interface TcpListenerConfig {
  host: string;
  /** 0 = let the OS pick a free port. */
  port: number;
}
export interface SocketListenerConfig {
  socket: string;
}

const listenersSchema = z
  .array(listenerSchema)
  .min(1, 'needs at least one listener')
  .superRefine((listeners, ctx) => {
    const seen = new Map<string, number>();
    listeners.forEach((l, i) => {
      const id = 'socket' in l ? `socket ${l.socket}` : l.port === 0 ? null : `${l.host}:${l.port}`;
      if (id === null) return;
      const first = seen.get(id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'socket' in l ? 'socket' : 'port'],
          message: `duplicates listeners[${first}] (${id})`,
        });
      } else {
        seen.set(id, i);
      }
    });
  });

// ---------------------------------------------------------------------------------------------------------
// backends

const backendSchema = z.strictObject({
  name: z.string().regex(BACKEND_NAME_RE, 'must be non-empty and use only letters, digits, "_", "." and "-"'),
  host: nonEmpty(),
  port: port(1).default(3306),
  role: z.enum(BACKEND_ROLES),
  weight: z.number().positive('must be > 0').default(1),
});

const backendsSchema = z
  .array(backendSchema)
  .min(1, 'needs at least one backend')
  .superRefine((backends, ctx) => {
    const names = new Map<string, number>();
    backends.forEach((b, i) => {
      const first = names.get(b.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicate backend name "${b.name}" (also backends[${first}])`,
        });
      } else {
        names.set(b.name, i);
      }
    });
    const primaries = backends.flatMap((b, i) => (b.role === 'primary' ? [i] : []));
    if (primaries.length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'exactly one backend must have role: primary (found none)' });
    }
    for (const i of primaries.slice(1)) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'role'],
        message: `exactly one backend must have role: primary (backends[${primaries[0]}] already is)`,
      });
    }
  });

// ---------------------------------------------------------------------------------------------------------
// monitor

const monitorSchema = z.strictObject({
  user: nonEmpty(),
  password: z.string().default(''),
  interval_ms: int(10).default(1000),
});

// ---------------------------------------------------------------------------------------------------------
// users

const userSchema = z
  .strictObject({
    name: z.string().min(1, 'must not be empty').max(80, 'must be at most 80 characters'),
    password: z.string().optional(),
    password_hash: z
      .string()
      .regex(NATIVE_PASSWORD_HASH_RE, "must be a mysql_native_password hash: '*' followed by 40 hex digits")
      .optional(),
    auth_plugin: z.enum(AUTH_PLUGINS).default('mysql_native_password'),
    backend_user: nonEmpty().optional(),
    backend_password: z.string().optional(),
    max_connections: int(0).default(0),
    default_schema: nonEmpty().nullable().default(null),
    route: z.enum(['auto', 'primary', 'replica']).default('auto'),
    consistency: z.enum(CONSISTENCY_LEVELS).nullable().default(null),
    admin: z.boolean().default(false),
  })
  .superRefine((u, ctx) => {
    if (u.password !== undefined && u.password_hash !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['password_hash'],
        message: 'give either `password` (plaintext) or `password_hash`, not both',
      });
    } else if (u.password === undefined && u.password_hash === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'is required: give either `password` (plaintext) or `password_hash` (mysql_native_password hash)',
      });
    }
    if (u.auth_plugin === 'caching_sha2_password' && u.password === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth_plugin'],
        message:
          'caching_sha2_password needs the plaintext `password`: its verifier cannot be derived from a ' +
          'mysql_native_password hash (use auth_plugin: mysql_native_password with `password_hash`, or give `password`)',
      });
    }
    if (u.password === undefined && u.password_hash !== undefined && u.backend_password === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['backend_password'],
        message: 'is required when only `password_hash` is given (Sluice must log in to the backends as this user)',
      });
    }
  })
  .transform(
    (u): UserConfig => ({
      name: u.name,
      password: u.password ?? null,
      password_hash: u.password_hash === undefined ? null : u.password_hash.toUpperCase(),
      auth_plugin: u.auth_plugin,
      backend_user: u.backend_user ?? u.name,
      backend_password: u.backend_password ?? u.password ?? '',
      max_connections: u.max_connections,
      default_schema: u.default_schema,
      route: u.route,
      consistency: u.consistency,
      admin: u.admin,
    }),
  );

export interface UserConfig {
  name: string;
  /** Plaintext password, or null when only `password_hash` was configured. */
  password: string | null;
  /** '*' + 40 upper-case hex digits, or null when `password` was configured. */
  password_hash: string | null;
  auth_plugin: (typeof AUTH_PLUGINS)[number];
  /** Account used towards the backends (defaults to `name`). */
  backend_user: string;
  /** Password used towards the backends (defaults to `password`). */
  backend_password: string;
  /** 0 = unlimited. */
  max_connections: number;
  default_schema: string | null;
  /** Where this user's reads go by default: auto (split), primary, replica. */
  route: 'auto' | 'primary' | 'replica';
  /** Read-after-write level for this user; null = routing.consistency. */
  consistency: (typeof CONSISTENCY_LEVELS)[number] | null;
  /** May run the admin statements (SLUICE SHOW …, SLUICE SET BACKEND …) on the main port. */
  admin: boolean;
}

const usersSchema = z.array(userSchema).superRefine((users, ctx) => {
  const names = new Map<string, number>();
  users.forEach((u, i) => {
    const first = names.get(u.name);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate user "${u.name}" (also users[${first}])` });
    } else {
      names.set(u.name, i);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// the rest

const passthroughUsersSchema = z.strictObject({
  enabled: z.boolean().default(true),
  refresh_interval_ms: int(1000).default(60000),
});

const poolSchema = z
  .strictObject({
    min: int(0).default(0),
    max: int(1).default(20),
    connect_timeout_ms: int(1).default(5000),
    idle_timeout_ms: int(0).default(60000),
    max_lifetime_ms: int(0).default(3600000),
    acquire_timeout_ms: int(1).default(10000),
    statement_cache_size: int(0).default(256),
    pipelining: z
      .strictObject({
        enabled: z.boolean().default(true),
        max_depth: int(2, 1024).default(16),
        max_statement_ms: z.number().positive('must be > 0').default(2),
        min_samples: int(1).default(20),
      })
      .prefault({}),
  })
  .superRefine((p, ctx) => {
    if (p.min > p.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `must be <= pool.max (${p.max})` });
    }
  });

const tlsSchema = z.strictObject({
  cert: nonEmpty(),
  key: nonEmpty(),
  ca: nonEmpty().nullable().default(null),
  require: z.boolean().default(false),
});

const backendTlsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  ca: nonEmpty().nullable().default(null),
  reject_unauthorized: z.boolean().default(true),
});

const limitsSchema = z.strictObject({
  max_client_connections: int(1).default(10000),
  max_packet_size: int(1024, 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  client_buffer_bytes: int(1024).default(1024 * 1024),
});

const tuningSchema = z.strictObject({
  // Adaptive busy polling (util/busy-poll.ts): µs the event loop keeps polling after the last read while at
  // most one backend connection is busy; 0 = off.
  busy_poll_us: int(0, 10000).default(100),
});

const routingSchema = z.strictObject({
  read_write_split: z.boolean().default(true),
  policy: z.enum(BALANCE_POLICY_NAMES).default('round_robin'),
  max_replication_lag_s: int(0).default(10),
  no_replica: z.enum(['primary', 'error']).default('primary'),
  consistency: z.enum(CONSISTENCY_LEVELS).default('session'),
  consistency_timeout_ms: int(0).default(1000),
  consistency_fallback: z.enum(['primary', 'error']).default('primary'),
  read_only_transactions: z.enum(['primary', 'replica']).default('primary'),
});

// ---------------------------------------------------------------------------------------------------------
// failover

const failoverSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    auto_promote: z.boolean().default(false),
    check_interval_ms: int(50).default(500),
    detection_ms: int(100).default(2000),
    hang_promote_after_ms: int(0).default(10000),
    catchup_timeout_ms: int(100).default(10000),
    replication_user: nonEmpty().nullable().default(null),
    replication_password: z.string().default(''),
    rejoin: z.boolean().default(false),
    buffer: z
      .strictObject({
        window_ms: int(0).default(10000),
        max_statements: int(0).default(10000),
        max_bytes: int(0).default(64 * 1024 * 1024),
        max_duration_ms: int(0).default(30000),
      })
      .prefault({}),
    replay: z
      .strictObject({
        enabled: z.boolean().default(true),
        max_transaction_bytes: int(0).default(1024 * 1024),
      })
      .prefault({}),
    switchover_drain_ms: int(0).default(5000),
  })
  .superRefine((f, ctx) => {
    if (f.auto_promote && f.replication_user === null) {
      ctx.addIssue({ code: 'custom', path: ['replication_user'], message: 'is required when auto_promote is true (replicas are repointed with it)' });
    }
  });

const adminSchema = z.strictObject({
  http: z
    .strictObject({
      host: nonEmpty().default('127.0.0.1'),
      port: port(0),
      token: nonEmpty().nullable().default(null),
    })
    .nullable()
    .default(null),
});

const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
});

export const configSchema = z.strictObject({
  listeners: listenersSchema,
  backends: backendsSchema,
  monitor: monitorSchema,
  users: usersSchema.default([]),
  passthrough_users: passthroughUsersSchema.prefault({}),
  pool: poolSchema.prefault({}),
  multiplexing: z.boolean().default(true),
  routing: routingSchema.prefault({}),
  failover: failoverSchema.prefault({}),
  admin: adminSchema.prefault({}),
  tls: tlsSchema.nullable().default(null),
  backend_tls: backendTlsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
  tuning: tuningSchema.prefault({}),
  shutdown_grace_ms: int(0).default(10000),
  log: logSchema.prefault({}),
});

/** The validated configuration, all defaults applied. */
export type SluiceConfig = z.infer<typeof configSchema>;
/** What may be written in the YAML file (before defaults). */
export type SluiceConfigInput = z.input<typeof configSchema>;

export type ListenerConfig = SluiceConfig['listeners'][number];
export type BackendConfig = SluiceConfig['backends'][number];
export type MonitorConfig = SluiceConfig['monitor'];
export type PassthroughUsersConfig = SluiceConfig['passthrough_users'];
export type PoolConfig = SluiceConfig['pool'];
export type TlsConfig = NonNullable<SluiceConfig['tls']>;
export type BackendTlsConfig = SluiceConfig['backend_tls'];
export type LimitsConfig = SluiceConfig['limits'];
export type RoutingConfig = SluiceConfig['routing'];
export type FailoverConfig = SluiceConfig['failover'];
export type ConfigLogLevel = (typeof LOG_LEVELS)[number];

export function isSocketListener(l: ListenerConfig): l is SocketListenerConfig {
  return 'socket' in l;
}

// ---------------------------------------------------------------------------------------------------------
// Schema introspection (used for "did you mean" hints and to check that reference.ts covers every key).

interface SchemaDef {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
}
function defOf(schema: unknown): SchemaDef {
  return (schema as { _zod: { def: SchemaDef } })._zod.def;
}
/** Strips optional/nullable/default/prefault/pipe wrappers. */
function unwrap(schema: unknown): unknown {
  for (;;) {
    const def = defOf(schema);
    if (def.innerType !== undefined) schema = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) schema = def.in;
    else return schema;
  }
}

/** Leaf key paths of the schema, array elements written `[]`: e.g. `listeners[].host`, `pool.max`. */
export function schemaLeafKeys(schema: unknown = configSchema, prefix = ''): string[] {
  const s = unwrap(schema);
  const def = defOf(s);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([k, v]) => schemaLeafKeys(v, prefix ? `${prefix}.${k}` : k));
  }
  if (def.type === 'array' && def.element !== undefined) {
    const inner = unwrap(def.element);
    if (defOf(inner).type === 'object') return schemaLeafKeys(inner, `${prefix}[]`);
  }
  return [prefix];
}

/** Keys accepted by the object found at `path` (numbers index arrays), or [] when there is none. */
export function schemaKeysAt(path: ReadonlyArray<PropertyKey>, schema: unknown = configSchema): string[] {
  let s = unwrap(schema);
  for (const seg of path) {
    const def = defOf(s);
    if (def.type === 'object' && def.shape && typeof seg === 'string' && seg in def.shape) s = unwrap(def.shape[seg]);
    else if (def.type === 'array' && def.element !== undefined && typeof seg === 'number') s = unwrap(def.element);
    else return [];
  }
  const def = defOf(s);
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
