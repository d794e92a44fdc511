// Throwaway MariaDB topologies (one primary + N GTID replicas) for the sandbox, tests and benchmarks.
//
// Everything lives in one temp dir: a TLS CA + server cert (made with openssl), and per node a datadir, error
// log, pid file and unix socket. Servers are started with `--no-defaults` and explicit flags, so nothing in
// /etc/mysql can leak in. Only the mariadb CLI is used to talk to the servers (no driver dependency).
//
// Speed: mariadb-install-db runs once; its datadir is copied for the replicas. The root/repl accounts are
// created by install-db's bootstrap (identical on every node, so the CLI can log in with the password from the
// first moment); the monitor/demo accounts and the demo database are created on the primary and reach the
// replicas through replication, which also proves replication works before startTopology() resolves.
//
// Cleanup: servers are killed by pid only (never by name). stop() does SIGTERM then SIGKILL; a process 'exit'
// handler (and SIGINT/SIGTERM/SIGHUP handlers, while any topology is alive) SIGKILLs whatever is still running
// so a crashing test run does not leave servers behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TopologyOptions {
  /** Directory to hold everything. Given => kept by stop() (unless keep: false). Default: a fresh temp dir. */
  dir?: string;
  /** Ports basePort, basePort+1, ... (primary first). Default: free ports picked by the OS. */
  basePort?: number;
  /** Number of replicas (default 2). */
  replicas?: number;
  /** Enable semi-sync replication (master side on the primary, slave side on the replicas). */
  semiSync?: boolean;
  /** --max-connections for every server (default 500). */
  maxConnections?: number;
  /** Keep dir on stop(). Default: true when dir was given, else false. */
  keep?: boolean;
  /** Per-server start timeout in ms (default 30000). */
  startTimeoutMs?: number;
  /** Extra mariadbd flags appended for every server. */
  extraArgs?: string[];
  log?: (msg: string) => void;
}

export interface MariaNode {
  name: string;
  role: 'primary' | 'replica';
  host: '127.0.0.1';
  port: number;
  socket: string;
  dataDir: string;
  /** pid of the running mariadbd (updated by startNode; 0 before the first start). */
  pid: number;
  serverId: number;
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface Topology {
  dir: string;
  primary: MariaNode;
  replicas: MariaNode[];
  /** root@'%' and root@localhost, mysql_native_password. */
  root: { user: 'root'; password: string };
  /** 'sluice_monitor'@'%'. */
  monitor: { user: string; password: string };
  /** 'demo'@'%': ALL on demo.* and on `test\_%`.*. */
  demo: { database: 'demo'; user: 'demo'; password: string };
  /** Replication account used by the replicas ('repl'@'%', REPLICATION SLAVE). */
  repl: { user: string; password: string };
  /** Self-signed CA + server cert (CN=localhost, SAN 127.0.0.1/localhost); the servers use it too. */
  tls: TlsFiles;
  /** Stops every server this topology started; removes dir unless kept. Idempotent. */
  stop(): Promise<void>;
  /** Sends signal (default SIGTERM); waits for exit, SIGKILL after a timeout. SIGSTOP only pauses (no wait). */
  stopNode(node: MariaNode, signal?: NodeJS.Signals): Promise<void>;
  /** (Re)starts a stopped node with the same datadir/port/flags (or SIGCONTs a paused one); waits until ready. */
  startNode(node: MariaNode): Promise<void>;
  /** Runs SQL as root via the mariadb CLI over the node's socket (batch, -N); resolves stdout. */
  exec(node: MariaNode, sql: string): Promise<string>;
}

/** JSON-serialisable description of a running topology (what the test runner passes to test processes). */
export interface TopologyInfo {
  dir: string;
  primary: MariaNodeInfo;
  replicas: MariaNodeInfo[];
  root: { user: 'root'; password: string };
  monitor: { user: string; password: string };
  demo: { database: 'demo'; user: 'demo'; password: string };
  repl: { user: string; password: string };
  tls: TlsFiles;
}
export type MariaNodeInfo = MariaNode;

export function describeTopology(t: Topology): TopologyInfo {
  const node = (n: MariaNode): MariaNodeInfo => ({ ...n });
  return {
    dir: t.dir,
    primary: node(t.primary),
    replicas: t.replicas.map(node),
    root: { ...t.root },
    monitor: { ...t.monitor },
    demo: { ...t.demo },
    repl: { ...t.repl },
    tls: { ...t.tls },
  };
}

// ---------------------------------------------------------------------------------------------------------
// binaries

function findBin(envName: string, candidates: string[]): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  for (const c of candidates) {
    if (c.includes('/') && fs.existsSync(c)) return c;
  }
  // Fall back to PATH lookup by spawn.
  return path.basename(candidates[candidates.length - 1] ?? envName);
}

const BIN = {
  get mariadbd(): string {
    return findBin('SLUICE_MARIADBD', ['/usr/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/local/bin/mariadbd', 'mariadbd']);
  },
  get installDb(): string {
    return findBin('SLUICE_MARIADB_INSTALL_DB', [
      '/usr/bin/mariadb-install-db',
      '/usr/local/bin/mariadb-install-db',
      'mariadb-install-db',
    ]);
  },
  get client(): string {
    return findBin('SLUICE_MARIADB_CLIENT', ['/usr/bin/mariadb', '/usr/local/bin/mariadb', 'mariadb']);
  },
  get openssl(): string {
    return findBin('SLUICE_OPENSSL', ['/usr/bin/openssl', '/usr/local/bin/openssl', 'openssl']);
  },
};

// ---------------------------------------------------------------------------------------------------------
// small process helpers

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`failed to run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {
      /* EPIPE when the child exits early; its exit status tells the story */
    });
    child.stdin.end(opts.input ?? '');
  });
}

async function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const msg = (r.stderr || r.stdout).trim();
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.code ?? r.signal}): ${msg}`);
  }
  return r.stdout;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tailFile(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n').trim();
  } catch {
    return '(no log)';
  }
}

function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------------------
// ports

export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const [p] = await findFreePorts(1, host);
  return p!;
}

/** N distinct free TCP ports (all held open at once while probing, so they differ). Not necessarily consecutive. */
export async function findFreePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, host, () => resolve());
      });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

async function assertPortFree(port: number, host = '127.0.0.1'): Promise<void> {
  const srv = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => resolve());
    });
  } catch (e) {
    throw new Error(`port ${host}:${port} is not free (${(e as Error).message})`);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

// ---------------------------------------------------------------------------------------------------------
// global cleanup registry (sync, for crashes and signals)

interface LiveTopology {
  pids: () => number[];
  dirs: () => string[];
}
const live = new Set<LiveTopology>();
let handlersInstalled = false;

function killAllSync(): void {
  for (const t of live) {
    for (const pid of t.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const t of live) {
    for (const d of t.dirs()) {
      try {
        fs.rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  }
  live.clear();
}

function onExit(): void {
  killAllSync();
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
function onSignal(sig: NodeJS.Signals): void {
  killAllSync();
  uninstallHandlers();
  // If nobody else handles this signal, restore the default behaviour (terminate) by re-raising it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.removeListener('exit', onExit);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

function register(t: LiveTopology): void {
  live.add(t);
  installHandlers();
}

function unregister(t: LiveTopology): void {
  live.delete(t);
  if (live.size === 0) uninstallHandlers();
}

// ---------------------------------------------------------------------------------------------------------
// TLS

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

async function makeTls(tlsDir: string): Promise<TlsFiles> {
  await fsp.mkdir(tlsDir, { recursive: true });
  const cnf = path.join(tlsDir, 'openssl.cnf');
  await fsp.writeFile(cnf, OPENSSL_CNF);
  const f = (n: string) => path.join(tlsDir, n);
  const ossl = BIN.openssl;
  const env = { ...process.env, OPENSSL_CONF: cnf };
  // CA key+cert and the server key/CSR are independent: run them in parallel.
  await Promise.all([
    runOk(
      ossl,
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650', '-config', cnf, '-extensions', 'v3_ca',
        '-subj', '/CN=Sluice Sandbox CA', '-keyout', f('ca-key.pem'), '-out', f('ca.pem')],
      { env },
    ),
    runOk(
      ossl,
      ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-config', cnf, '-subj', '/CN=localhost',
        '-keyout', f('server-key.pem'), '-out', f('server.csr')],
      { env },
    ),
  ]);
  await runOk(
    ossl,
    ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'),
      '-set_serial', '0x' + randomBytes(8).toString('hex'), '-days', '3650', '-sha256',
      '-extfile', cnf, '-extensions', 'v3_server', '-out', f('server-cert.pem')],
    { env },
  );
  return { cert: f('server-cert.pem'), key: f('server-key.pem'), ca: f('ca.pem') };
}

// ---------------------------------------------------------------------------------------------------------
// the topology

/**
 * A caller-given dir may hold an earlier topology: refuse if one of its servers still runs, else remove what an
 * earlier run left (node dirs, sockets, tls) so install-db starts from scratch. Nothing else in dir is touched.
 */
async function clearGivenDir(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  const ours = entries.filter(
    (e) => /^(primary|replica\d+)(\.sock(\.lock)?)?$/.test(e.name) || e.name === 'tls' || e.name === 'bootstrap.sql',
  );
  for (const e of ours) {
    if (!e.isDirectory()) continue;
    const pidFile = path.join(dir, e.name, 'mariadbd.pid');
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    } catch {
      continue;
    }
    if (pid > 0 && pidAlive(pid)) {
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        /* not linux or gone */
      }
      if (!cmd || cmd.includes(dir)) {
        throw new Error(`a MariaDB server (pid ${pid}) of an earlier topology still runs in ${dir}; stop it first`);
      }
    }
  }
  await Promise.all(ours.map((e) => fsp.rm(path.join(dir, e.name), { recursive: true, force: true })));
}

const sqlStr = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const password = () => randomBytes(12).toString('hex');

interface NodeState {
  node: MariaNode;
  args: string[];
  errorLog: string;
  stdoutLog: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  running: boolean;
  paused: boolean;
}

export async function startTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const nReplicas = opts.replicas ?? 2;
  const maxConnections = opts.maxConnections ?? 500;
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const keep = opts.keep ?? opts.dir !== undefined;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

  const names = ['primary', ...Array.from({ length: nReplicas }, (_, i) => `replica${i + 1}`)];
  const dir = opts.dir ? path.resolve(opts.dir) : await fsp.mkdtemp(path.join(os.tmpdir(), 'sluice-'));
  await fsp.mkdir(dir, { recursive: true });
  if (opts.dir) await clearGivenDir(dir);
  // Unix socket paths must stay short (sun_path is 108 bytes); fall back to a short temp dir.
  let sockDir = dir;
  let sockDirOwned = false;
  if (path.join(dir, 'replica99.sock').length >= 100) {
    sockDir = await fsp.mkdtemp(path.join('/tmp', 'sluice-s-'));
    sockDirOwned = true;
  }

  const states: NodeState[] = [];
  let stopped = false;
  const removable = () => [...(keep ? [] : [dir]), ...(sockDirOwned ? [sockDir] : [])];
  const liveEntry: LiveTopology = {
    pids: () => states.filter((s) => s.running && s.node.pid).map((s) => s.node.pid),
    dirs: removable,
  };
  register(liveEntry);

  const root = { user: 'root' as const, password: password() };
  const repl = { user: 'repl', password: password() };
  const monitor = { user: 'sluice_monitor', password: password() };
  const demo = { database: 'demo' as const, user: 'demo' as const, password: password() };

  const clientEnv = { ...process.env, MYSQL_PWD: root.password };
  const clientArgs = (node: MariaNode) => [
    '--no-defaults',
    `--socket=${node.socket}`,
    '--user=root',
    '--batch',
    '--skip-column-names',
    '--default-character-set=utf8mb4',
  ];

  async function exec(node: MariaNode, sql: string): Promise<string> {
    const r = await run(BIN.client, clientArgs(node), { input: sql, env: clientEnv, timeoutMs: 120_000 });
    if (r.code !== 0) {
      // The CLI echoes the failing statement between dashes before the ERROR line; lead with the ERROR line.
      const text = (r.stderr || r.stdout).trim();
      const errLine = /^ERROR .*$/m.exec(text)?.[0];
      const detail = errLine ? `${errLine}\n${text.replace(errLine, '').trim()}` : text;
      throw new Error(`${node.name}: ${detail || `mariadb exited with ${r.code ?? r.signal}`}`);
    }
    return r.stdout;
  }

  function spawnServer(st: NodeState): void {
    const out = fs.openSync(st.stdoutLog, 'a');
    let child: ChildProcess;
    try {
      child = spawn(BIN.mariadbd, st.args, { stdio: ['ignore', out, out], detached: false });
    } finally {
      fs.closeSync(out);
    }
    st.child = child;
    st.running = true;
    st.paused = false;
    st.node.pid = child.pid ?? 0;
    st.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (st.child === child) st.running = false;
        resolve();
      });
      child.once('error', (e) => {
        log(`${st.node.name}: spawn error: ${e.message}`);
        if (st.child === child) st.running = false;
        resolve();
      });
    });
    // Do not keep the event loop alive just for the server; the 'exit' handler kills it if we are forgotten.
    child.unref();
  }

  async function waitReady(st: NodeState): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    let lastErr = '';
    for (;;) {
      if (!st.running) {
        throw new Error(
          `mariadbd ${st.node.name} (port ${st.node.port}) exited during startup; tail of ${st.errorLog}:\n` +
            tailFile(st.errorLog) + '\n' + tailFile(st.stdoutLog, 10),
        );
      }
      if (fs.existsSync(st.node.socket)) {
        const r = await run(BIN.client, [...clientArgs(st.node), '--connect-timeout=2'], {
          input: 'SELECT 1',
          env: clientEnv,
          timeoutMs: 5000,
        });
        if (r.code === 0) return;
        lastErr = r.stderr.trim();
      }
      if (Date.now() > deadline) {
        throw new Error(
          `mariadbd ${st.node.name} (port ${st.node.port}) not ready after ${startTimeoutMs} ms` +
            (lastErr ? ` (last client error: ${lastErr})` : '') + `; tail of ${st.errorLog}:\n` + tailFile(st.errorLog),
        );
      }
      await sleep(50);
    }
  }

  async function startState(st: NodeState): Promise<void> {
    spawnServer(st);
    await waitReady(st);
  }

  async function stopNode(node: MariaNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const st = states.find((s) => s.node === node || s.node.name === node.name);
    if (!st) throw new Error(`unknown node ${node.name}`);
    if (!st.running || !st.node.pid) return;
    const pid = st.node.pid;
    if (signal === 'SIGSTOP' || signal === 'SIGTSTP') {
      process.kill(pid, signal);
      st.paused = true;
      return;
    }
    try {
      process.kill(pid, signal);
      if (st.paused) process.kill(pid, 'SIGCONT');
    } catch {
      /* already gone */
    }
    st.paused = false;
    const graceMs = signal === 'SIGKILL' ? 10_000 : 20_000;
    // Keep a timer pending so the (unref'd) child's exit event can be delivered.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      st.exited!.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut) {
      log(`${node.name}: pid ${pid} did not exit after ${signal} in ${graceMs} ms; SIGKILL`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      const keepAlive = setInterval(() => {}, 1000);
      await st.exited;
      clearInterval(keepAlive);
    }
  }

  async function startNode(node: MariaNode): Promise<void> {
    const st = states.find((s) => s.node === node || s.node.name === node.name);
    if (!st) throw new Error(`unknown node ${node.name}`);
    if (stopped) throw new Error('topology is stopped');
    if (st.running) {
      if (st.paused) {
        process.kill(st.node.pid, 'SIGCONT');
        st.paused = false;
      }
      await waitReady(st);
      return;
    }
    await startState(st);
  }

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await Promise.all(states.map((s) => stopNode(s.node, 'SIGTERM').catch(() => {})));
    unregister(liveEntry);
    for (const d of removable()) await fsp.rm(d, { recursive: true, force: true });
  }

  try {
    // --- ports
    let ports: number[];
    if (opts.basePort !== undefined) {
      ports = names.map((_, i) => opts.basePort! + i);
      await Promise.all(ports.map((p) => assertPortFree(p)));
    } else {
      ports = await findFreePorts(names.length);
    }

    // --- TLS and install-db in parallel
    const tlsDir = path.join(dir, 'tls');
    const tlsP = makeTls(tlsDir);
    const tls: TlsFiles = { cert: path.join(tlsDir, 'server-cert.pem'), key: path.join(tlsDir, 'server-key.pem'), ca: path.join(tlsDir, 'ca.pem') };

    const innodbArgs = ['--innodb-buffer-pool-size=64M', '--innodb-log-file-size=48M'];
    const templateDir = path.join(dir, names[0]!, 'data');
    await fsp.mkdir(path.dirname(templateDir), { recursive: true });
    // Accounts that must be identical everywhere from the start (root: so the CLI can log in to every node with
    // the password; repl: so any node can serve as a primary after a failover). Bootstrap runs without binlog.
    const bootstrapSql = [
      'FLUSH PRIVILEGES;',
      // install-db also makes root@<hostname>, root@127.0.0.1, root@::1 without a password; drop those.
      "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');",
      "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';",
      'FLUSH PRIVILEGES;',
      `ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlStr(root.password)});`,
      `CREATE USER 'root'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlStr(root.password)});`,
      "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
      `CREATE USER ${sqlStr(repl.user)}@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlStr(repl.password)});`,
      `GRANT REPLICATION SLAVE ON *.* TO ${sqlStr(repl.user)}@'%';`,
      '',
    ].join('\n');
    const bootstrapFile = path.join(dir, 'bootstrap.sql');
    await fsp.writeFile(bootstrapFile, bootstrapSql, { mode: 0o600 });
    const tInstall = Date.now();
    const installArgs = [
      '--no-defaults',
      '--auth-root-authentication-method=normal',
      `--datadir=${templateDir}`,
      '--skip-test-db',
      '--skip-name-resolve',
      `--extra-file=${bootstrapFile}`,
      ...innodbArgs,
      ...(isRoot ? ['--user=root'] : []),
    ];
    const installP = runOk(BIN.installDb, installArgs, { timeoutMs: 120_000 }).then(() =>
      log(`install-db done in ${Date.now() - tInstall} ms`),
    );
    await Promise.all([tlsP, installP]);
    await fsp.rm(bootstrapFile, { force: true });

    // --- node states
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const role = i === 0 ? ('primary' as const) : ('replica' as const);
      const nodeDir = path.join(dir, name);
      const dataDir = path.join(nodeDir, 'data');
      const node: MariaNode = {
        name,
        role,
        host: '127.0.0.1',
        port: ports[i]!,
        socket: path.join(sockDir, `${name}.sock`),
        dataDir,
        pid: 0,
        serverId: i + 1,
      };
      const errorLog = path.join(nodeDir, 'mariadbd.err');
      const args = [
        '--no-defaults',
        ...(isRoot ? ['--user=root'] : []),
        `--datadir=${dataDir}`,
        `--port=${node.port}`,
        `--socket=${node.socket}`,
        '--bind-address=127.0.0.1',
        `--pid-file=${path.join(nodeDir, 'mariadbd.pid')}`,
        `--log-error=${errorLog}`,
        `--server-id=${node.serverId}`,
        '--log-bin=mysql-bin',
        '--relay-log=relay-bin',
        '--log-slave-updates',
        '--binlog-format=ROW',
        '--gtid-strict-mode=1',
        '--skip-name-resolve',
        `--max-connections=${maxConnections}`,
        ...innodbArgs,
        '--innodb-flush-log-at-trx-commit=2',
        '--sync-binlog=0',
        `--ssl-cert=${tls.cert}`,
        `--ssl-key=${tls.key}`,
        `--ssl-ca=${tls.ca}`,
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_general_ci',
        '--performance-schema=OFF',
        '--local-infile=1',
        '--max-allowed-packet=64M',
        `--report-host=127.0.0.1`,
        `--report-port=${node.port}`,
        ...(role === 'replica' ? ['--read-only=ON'] : []),
        // A promoted replica gets the master side switched on by Sluice (SET GLOBAL) when it is promoted.
        ...(opts.semiSync
          ? role === 'primary'
            ? ['--rpl-semi-sync-master-enabled=ON']
            : ['--rpl-semi-sync-slave-enabled=ON']
          : []),
        ...(opts.extraArgs ?? []),
      ];
      states.push({ node, args, errorLog, stdoutLog: path.join(nodeDir, 'mariadbd.out'), running: false, paused: false });
    }

    // --- copy the installed datadir for the replicas, then start everything in parallel
    const tCopy = Date.now();
    await Promise.all(
      states.slice(1).map(async (st) => {
        await fsp.mkdir(path.dirname(st.node.dataDir), { recursive: true });
        await fsp.cp(templateDir, st.node.dataDir, { recursive: true });
      }),
    );
    log(`datadir copies done in ${Date.now() - tCopy} ms`);
    const tStart = Date.now();
    await Promise.all(states.map((st) => startState(st)));
    log(`servers ready in ${Date.now() - tStart} ms: ${states.map((s) => `${s.node.name}=${s.node.port}`).join(' ')}`);

    const primary = states[0]!.node;
    const replicas = states.slice(1).map((s) => s.node);

    // --- replication
    const changeMaster =
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, ` +
      `MASTER_USER=${sqlStr(repl.user)}, MASTER_PASSWORD=${sqlStr(repl.password)}, ` +
      `MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;`;
    await Promise.all(replicas.map((r) => exec(r, changeMaster)));

    if (opts.semiSync && replicas.length > 0) {
      // Commits on a semi-sync primary wait (rpl_semi_sync_master_timeout) while no semi-sync replica is
      // attached; wait for all of them before writing anything.
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        const out = await exec(primary, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
        const n = Number(out.trim().split('\t')[1] ?? 0);
        if (n >= replicas.length) break;
        if (Date.now() > deadline) throw new Error(`semi-sync replicas did not attach (${n}/${replicas.length})`);
        await sleep(50);
      }
    }

    // Accounts and demo db: created on the primary, replicated to the replicas.
    await exec(
      primary,
      [
        `CREATE USER ${sqlStr(monitor.user)}@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlStr(monitor.password)});`,
        `GRANT SELECT ON mysql.* TO ${sqlStr(monitor.user)}@'%';`,
        `GRANT REPLICATION CLIENT, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, SLAVE MONITOR, BINLOG MONITOR, READ_ONLY ADMIN, RELOAD, PROCESS, CONNECTION ADMIN, SUPER ON *.* TO ${sqlStr(monitor.user)}@'%';`,
        'CREATE DATABASE demo;',
        `CREATE USER 'demo'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${sqlStr(demo.password)});`,
        "GRANT ALL PRIVILEGES ON demo.* TO 'demo'@'%';",
        "GRANT ALL PRIVILEGES ON `test\\_%`.* TO 'demo'@'%';",
      ].join('\n'),
    );

    // Wait for the replicas to apply everything.
    const gtid = (await exec(primary, 'SELECT @@GLOBAL.gtid_binlog_pos')).trim();
    await Promise.all(
      replicas.map(async (r) => {
        const res = (await exec(r, `SELECT MASTER_GTID_WAIT(${sqlStr(gtid)}, ${Math.ceil(startTimeoutMs / 1000)})`)).trim();
        if (res !== '0') {
          const status = await exec(r, 'SHOW SLAVE STATUS\\G').catch((e: Error) => e.message);
          throw new Error(`replica ${r.name} did not reach ${gtid} (MASTER_GTID_WAIT=${res}):\n${status}`);
        }
      }),
    );

    log(`topology ready in ${Date.now() - t0} ms (dir ${dir})`);
    return {
      dir,
      primary,
      replicas,
      root,
      monitor,
      demo,
      repl,
      tls,
      stop,
      stopNode,
      startNode,
      exec,
    };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
