// Sluice benchmark driver (started by bench/run.sh; see docs/benchmarks.md).
//
// One run: a private MariaDB primary (max_connections=100) in $BENCH_TMP, the sysbench tables, and side by side
// against that primary: HAProxy (TCP mode), a minimal Node socket-pipe relay, Sluice with multiplexing and
// Sluice without. Then sysbench workloads × thread counts × targets, a 1000-thread run through Sluice, and an
// idle-connection memory test. Writes bench/results/<timestamp>.md (+ .json and .logs/).
//
// Every process this driver starts is tracked by pid (also in $BENCH_TMP/pids for run.sh's last-resort
// cleanup), every wait has a timeout, and everything is torn down by pid on exit, error or signal.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const { startTopology, findFreePorts } = await import(path.join(ROOT, 'dist/src/sandbox/topology.js'));

// ---------------------------------------------------------------------------------------------------------
// settings

const env = process.env;
const QUICK = env.BENCH_QUICK === '1';
const TIME = Number(env.BENCH_TIME ?? (QUICK ? 3 : 10));
const PS_MODE = env.BENCH_PS_MODE ?? 'auto';
const WARMUP = Number(env.BENCH_WARMUP ?? (QUICK ? 1 : 2));
const list = (v, dflt) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : dflt);
const WORKLOADS = list(env.BENCH_WORKLOADS, ['oltp_point_select', 'oltp_read_only']);
const THREADS = list(env.BENCH_THREADS, QUICK ? ['1', '16'] : ['1', '16', '64']).map(Number);
const ALL_TARGETS = ['direct', 'haproxy', 'node-relay', 'sluice', 'sluice-nomux'];
const TARGETS = list(env.BENCH_TARGETS, ALL_TARGETS);
const BIG_THREADS = Number(env.BENCH_BIG_THREADS ?? 1000);
const IDLE_CONNS = Number(env.BENCH_IDLE_CONNS ?? 5000);
const SKIP = new Set(list(env.BENCH_SKIP, [])); // 'big', 'mem'
const HAPROXY_THREADS = env.BENCH_HAPROXY_THREADS === undefined ? 1 : Number(env.BENCH_HAPROXY_THREADS); // 0 = haproxy's default
const MAX_CONNECTIONS = 100;
const TABLES = 4;
const TABLE_SIZE = 10000;
const MEM_TARGET_MIB = 100;

for (const t of TARGETS) if (!ALL_TARGETS.includes(t)) die(`BENCH_TARGETS: unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
if (!(TIME > 0)) die(`BENCH_TIME must be > 0 (got ${env.BENCH_TIME})`);
if (!['auto', 'disable'].includes(PS_MODE)) die(`BENCH_PS_MODE must be auto or disable (got ${PS_MODE})`);

const TMP = env.BENCH_TMP || fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
const PIDS_FILE = path.join(TMP, 'pids');
const STAMP = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const LOG_DIR = path.join(TMP, 'logs');
fs.mkdirSync(LOG_DIR, { recursive: true });

const SLUICE_USER = { user: 'sbtest', password: 'sbtest-bench-pw' };

function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}
const t0 = Date.now();
function log(msg) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  console.log(`[bench ${s}s] ${msg}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------
// process tracking

/** pid -> { name, child, exited: Promise<{code, signal}>, done: boolean, result } */
const procs = new Map();

function track(name, child, marker) {
  const entry = { name, child, done: false, result: null };
  entry.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      entry.done = true;
      entry.result = { code, signal };
      resolve(entry.result);
    });
    child.once('error', (err) => {
      entry.done = true;
      entry.result = { code: null, signal: null, error: err.message };
      resolve(entry.result);
    });
  });
  if (child.pid) {
    procs.set(child.pid, entry);
    fs.appendFileSync(PIDS_FILE, `${child.pid} ${marker}\n`);
  }
  return entry;
}

function registerForeignPid(pid, marker) {
  if (pid) fs.appendFileSync(PIDS_FILE, `${pid} ${marker}\n`);
}

/** SIGTERM, wait up to graceMs, then SIGKILL (and wait a little more). */
async function stopProc(entry, graceMs = 5000) {
  if (!entry || entry.done) return entry?.result;
  try {
    entry.child.kill('SIGTERM');
  } catch {
    /* gone */
  }
  let timer;
  const timedOut = await Promise.race([
    entry.exited.then(() => false),
    new Promise((r) => (timer = setTimeout(() => r(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    try {
      entry.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    await Promise.race([entry.exited, sleep(3000)]);
  }
  return entry.result;
}

function killAllSync() {
  for (const [pid, e] of procs) {
    if (!e.done) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
process.on('exit', killAllSync);

let topo = null;
let shuttingDown = false;
async function teardown() {
  await Promise.all([...procs.values()].map((e) => stopProc(e, 5000)));
  if (topo) {
    const t = topo;
    topo = null;
    await Promise.race([t.stop().catch(() => {}), sleep(30000)]);
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${sig}: tearing down`);
    const hard = setTimeout(() => process.exit(130), 40000);
    teardown().finally(() => {
      clearTimeout(hard);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  });
}

/** Spawns a tracked process; stdout lines go to onLine (if given), everything is also appended to logFile. */
function spawnTracked(name, cmd, args, { logFile, onLine, env: extraEnv, marker } = {}) {
  const fd = fs.openSync(logFile ?? path.join(LOG_DIR, `${name}.log`), 'a');
  const child = spawn(cmd, args, {
    stdio: ['pipe', onLine ? 'pipe' : fd, fd],
    env: { ...process.env, BENCH_STDIN_LIFELINE: '1', ...extraEnv },
  });
  fs.closeSync(fd);
  child.stdin.on('error', () => {});
  const entry = track(name, child, marker ?? cmd);
  if (onLine) {
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s) => {
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onLine(line);
      }
    });
  }
  return entry;
}

/** A JSON-lines channel: send a command, await the next JSON line matching pred (with a timeout). */
function jsonChannel(name, cmd, args, opts = {}) {
  const waiters = [];
  const backlog = [];
  const entry = spawnTracked(name, cmd, args, {
    ...opts,
    onLine: (line) => {
      fs.appendFileSync(opts.logFile ?? path.join(LOG_DIR, `${name}.log`), `[stdout] ${line}\n`);
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        return;
      }
      const w = waiters.findIndex((x) => x.pred(obj));
      if (w >= 0) waiters.splice(w, 1)[0].resolve(obj);
      else backlog.push(obj);
    },
  });
  entry.next = (pred, timeoutMs, what) => {
    const i = backlog.findIndex(pred);
    if (i >= 0) return Promise.resolve(backlog.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (o) => (clearTimeout(timer), resolve(o)) };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`${name}: no answer for ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(w);
      entry.exited.then((r) => {
        if (waiters.includes(w)) {
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(timer);
          reject(new Error(`${name} exited (${fmtExit(r)}) while waiting for ${what}; log tail:\n${tail(opts.logFile ?? path.join(LOG_DIR, `${name}.log`))}`));
        }
      });
    });
  };
  entry.send = (line) => {
    if (!entry.done) entry.child.stdin.write(line + '\n');
  };
  return entry;
}

function fmtExit(r) {
  if (!r) return 'running';
  if (r.error) return `spawn error: ${r.error}`;
  return r.signal ? `signal ${r.signal}` : `exit code ${r.code}`;
}

function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a command to completion with a timeout (SIGTERM, then SIGKILL 5 s later). */
function runCmd(name, cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = track(name, child, cmd);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s) => (stdout += s));
    child.stderr.on('data', (s) => (stderr += s));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill('SIGTERM');
      } catch {
        /* gone */
      }
      setTimeout(() => {
        if (!entry.done) child.kill('SIGKILL');
      }, 5000).unref();
    }, timeoutMs);
    child.once('close', () => {
      clearTimeout(timer);
      procs.delete(child.pid);
      resolve({ ...entry.result, stdout, stderr, timedOut });
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      procs.delete(child.pid);
      resolve({ code: null, signal: null, error: err.message, stdout, stderr, timedOut });
    });
  });
}

function waitPort(port, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const attempt = async () => {
      const net = await import('node:net');
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`${what}: port ${port} not accepting after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function readRssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}
const mib = (kib) => kib / 1024;

// ---------------------------------------------------------------------------------------------------------
// MariaDB helpers (via the topology's CLI exec over the unix socket)

async function status(name) {
  const out = await topo.exec(topo.primary, `SHOW GLOBAL STATUS LIKE '${name}'`);
  const v = out.trim().split('\t')[1];
  return v === undefined ? NaN : Number(v);
}

/** Waits (bounded) until the server has room for `need` more connections plus a margin. */
async function waitConnHeadroom(need, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let connected = NaN;
  for (;;) {
    connected = await status('Threads_connected');
    if (connected + need + 4 <= MAX_CONNECTIONS) return connected;
    if (Date.now() > deadline) {
      log(`warning: ${connected} server connections still open; running anyway (needs ${need})`);
      return connected;
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------------------
// sysbench

function sysbenchArgs(workload, target, threads, time, extra = []) {
  return [
    workload,
    '--db-driver=mysql',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${target.port}`,
    `--mysql-user=${target.user}`,
    `--mysql-password=${target.password}`,
    '--mysql-db=sbtest',
    `--tables=${TABLES}`,
    `--table-size=${TABLE_SIZE}`,
    `--threads=${threads}`,
    `--time=${time}`,
    '--events=0',
    '--rand-type=uniform',
    `--db-ps-mode=${PS_MODE}`,
    '--report-interval=0',
    '--percentile=95',
    '--forced-shutdown=20',
    ...extra,
    'run',
  ];
}

const num = (re, text) => {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
};

function parseSysbench(out) {
  const events = num(/total number of events:\s+(\d+)/, out);
  const execAvg = num(/execution time \(avg\/stddev\):\s+([\d.]+)\//, out);
  const threads = num(/Number of threads:\s+(\d+)/, out);
  let avgMs = num(/^\s*avg:\s+([\d.]+)/m, out);
  // sysbench prints avg latency with 2 decimals; the per-thread execution time gives the same value with more digits.
  if (events && execAvg && threads) avgMs = ((execAvg * threads) / events) * 1000;
  return {
    qps: num(/queries:\s+\d+\s+\(([\d.]+) per sec\.\)/, out),
    tps: num(/transactions:\s+\d+\s+\(([\d.]+) per sec\.\)/, out),
    queries: num(/queries:\s+(\d+)\s+\(/, out),
    events,
    avgMs,
    p95Ms: num(/95th percentile:\s+([\d.]+)/, out),
    maxMs: num(/^\s*max:\s+([\d.]+)/m, out),
    errors: num(/ignored errors:\s+(\d+)/, out),
    reconnects: num(/reconnects:\s+(\d+)/, out),
  };
}

/** Distinct error-looking lines from sysbench output (exact text, capped). */
function errorLines(text) {
  const seen = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (/FATAL|ERROR|error \d+|Lost connection|Can't connect|failed|Segmentation|Assertion/i.test(line) &&
      !/ignored errors:|^Forcing shutdown in \d+ seconds/.test(line)) {
      seen.set(line, (seen.get(line) ?? 0) + 1);
    }
  }
  return [...seen.entries()].slice(0, 12).map(([l, n]) => (n > 1 ? `${l}  (x${n})` : l));
}

let runSeq = 0;
async function runSysbench(label, workload, target, threads, time, timeoutMs) {
  if (shuttingDown) throw new Error('interrupted');
  const args = sysbenchArgs(workload, target, threads, time);
  const r = await runCmd(`sysbench ${label}`, 'sysbench', args, timeoutMs ?? (time + 60) * 1000);
  const all = r.stdout + (r.stderr ? `\n--- stderr ---\n${r.stderr}` : '');
  const file = `sysbench-${String(++runSeq).padStart(3, '0')}-${label.replace(/[^\w.-]+/g, '_')}.txt`;
  fs.writeFileSync(path.join(LOG_DIR, file), `$ sysbench ${args.join(' ').replace(/--mysql-password=\S+/, '--mysql-password=***')}\n\n${all}\n\n${fmtExit(r)}${r.timedOut ? ' (killed by the driver timeout)' : ''}\n`);
  const parsed = parseSysbench(r.stdout);
  const errs = errorLines(all);
  let statusText = 'ok';
  if (r.timedOut) statusText = 'TIMEOUT';
  else if (r.error) statusText = `FAIL (${r.error})`;
  else if (r.code !== 0) statusText = `FAIL (${fmtExit(r)})`;
  else if (errs.some((l) => /FATAL/.test(l))) statusText = 'FAIL';
  if (statusText === 'ok' && (parsed.qps === null || !parsed.events)) statusText = 'FAIL (no results)';
  return { ...parsed, status: statusText, errorText: errs, log: file, exit: fmtExit(r) };
}

// ---------------------------------------------------------------------------------------------------------
// the targets

const targets = {}; // name -> { name, port, user, password, proc?, pid? }
const events = []; // notable things (crashes, restarts) for the report

function sluiceConfig(kind) {
  const mux = kind === 'sluice';
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    backends: [{ name: 'primary', host: '127.0.0.1', port: topo.primary.port, role: 'primary' }],
    monitor: { user: topo.monitor.user, password: topo.monitor.password },
    users: [{ name: SLUICE_USER.user, password: SLUICE_USER.password, backend_user: topo.root.user, backend_password: topo.root.password }],
    passthrough_users: { enabled: false },
    // Without multiplexing every client holds its own backend connection: let idle ones go quickly so they do
    // not eat into max_connections=100 during the other targets' runs.
    pool: mux ? { min: 0, max: 20 } : { min: 0, max: 200, idle_timeout_ms: 2000 },
    multiplexing: mux,
    limits: { max_client_connections: 10000 },
    shutdown_grace_ms: 2000,
    log: { level: 'warn' },
  };
}

const sluiceStarts = {};
async function startSluiceProc(kind) {
  const cfgFile = path.join(TMP, `${kind}.json`);
  fs.writeFileSync(cfgFile, JSON.stringify(sluiceConfig(kind), null, 2), { mode: 0o600 });
  const logFile = path.join(LOG_DIR, `${kind}.log`);
  sluiceStarts[kind] = (sluiceStarts[kind] ?? 0) + 1;
  fs.appendFileSync(logFile, `--- start #${sluiceStarts[kind]} at ${new Date().toISOString()}\n`);
  const proc = jsonChannel(kind, process.execPath, ['--expose-gc', path.join(BENCH_DIR, 'sluice-server.mjs'), cfgFile], {
    logFile,
    marker: cfgFile,
  });
  const hello = await proc.next((o) => typeof o.port === 'number', 30000, 'its port');
  await waitPort(hello.port, 10000, kind);
  return { name: kind, port: hello.port, ...SLUICE_USER, proc, pid: proc.child.pid, logFile };
}

async function startHaproxy(port) {
  const cfg = path.join(TMP, 'haproxy.cfg');
  // One thread by default: like-for-like with the single-threaded Node processes, and on this 2-core box with
  // sysbench and MariaDB sharing the CPUs it is also HAProxy's fastest setting (cross-thread wake-ups cost more).
  const threads = HAPROXY_THREADS ? `  nbthread ${HAPROXY_THREADS}\n` : '';
  fs.writeFileSync(
    cfg,
    `global
  maxconn 5000
${threads}
defaults
  mode tcp
  maxconn 5000
  timeout connect 5s
  timeout client 1h
  timeout server 1h

listen mysql
  bind 127.0.0.1:${port}
  mode tcp
  server primary 127.0.0.1:${topo.primary.port} maxconn 5000
`,
  );
  const proc = spawnTracked('haproxy', 'haproxy', ['-db', '-f', cfg], { marker: cfg });
  await Promise.race([
    waitPort(port, 15000, 'haproxy'),
    proc.exited.then((r) => Promise.reject(new Error(`haproxy exited (${fmtExit(r)}): ${tail(path.join(LOG_DIR, 'haproxy.log'))}`))),
  ]);
  return { name: 'haproxy', port, user: topo.root.user, password: topo.root.password, proc, pid: proc.child.pid };
}

async function startRelay() {
  const proc = jsonChannel('node-relay', process.execPath, [path.join(BENCH_DIR, 'node-relay.mjs'), '0', '127.0.0.1', String(topo.primary.port)], {
    marker: 'node-relay.mjs',
  });
  const hello = await proc.next((o) => typeof o.port === 'number', 15000, 'its port');
  return { name: 'node-relay', port: hello.port, user: topo.root.user, password: topo.root.password, proc, pid: proc.child.pid };
}

/** Before a run: a dead proxy is recorded (with its log tail) and restarted. */
async function ensureAlive(name, when) {
  if (shuttingDown) throw new Error('interrupted');
  const t = targets[name];
  if (!t?.proc || !t.proc.done) return;
  const ev = { kind: 'crash', target: name, when, exit: fmtExit(t.proc.result), logTail: t.logFile ? tail(t.logFile, 30) : tail(path.join(LOG_DIR, `${name}.log`), 30) };
  events.push(ev);
  log(`!! ${name} is not running (${ev.exit}) — restarting; log tail:\n${ev.logTail}`);
  if (name === 'sluice' || name === 'sluice-nomux') targets[name] = await startSluiceProc(name);
  else if (name === 'node-relay') targets[name] = await startRelay();
  else if (name === 'haproxy') targets[name] = await startHaproxy(t.port);
}

// ---------------------------------------------------------------------------------------------------------
// main

const versions = {};
function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10000 });
  return ((r.stdout || r.stderr || '').split('\n')[0] ?? '').trim();
}

const results = [];
let big = null;
let mem = null;
let fatalError = null;

async function main() {
  versions.node = process.version;
  versions.mariadbd = versionOf('mariadbd', ['--version']) || versionOf('/usr/sbin/mariadbd', ['--version']);
  versions.sysbench = versionOf('sysbench', ['--version']);
  versions.haproxy = versionOf('haproxy', ['-v']);
  versions.cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?').trim();
  versions.cores = os.cpus().length;
  versions.memGiB = (os.totalmem() / 2 ** 30).toFixed(1);
  versions.git = versionOf('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8', timeout: 10000 }).stdout?.trim();
  if (dirty) versions.git += ' (src/ has uncommitted changes)';

  log(`settings: time=${TIME}s warmup=${WARMUP}s ps-mode=${PS_MODE} workloads=${WORKLOADS.join(',')} threads=${THREADS.join(',')} targets=${TARGETS.join(',')} tmp=${TMP}`);

  // 1. MariaDB primary + sysbench tables
  log('starting MariaDB primary (replicas: 0, max_connections=100)…');
  topo = await startTopology({ replicas: 0, maxConnections: MAX_CONNECTIONS, dir: path.join(TMP, 'topo'), keep: false, log: (m) => log(`topology: ${m}`) });
  registerForeignPid(topo.primary.pid, path.join(TMP, 'topo'));
  log(`primary on port ${topo.primary.port} (pid ${topo.primary.pid})`);
  await topo.exec(topo.primary, 'CREATE DATABASE sbtest');
  log(`sysbench prepare (${TABLES} tables × ${TABLE_SIZE} rows)…`);
  const prep = await runCmd('sysbench prepare', 'sysbench', [
    'oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${topo.primary.port}`,
    `--mysql-user=${topo.root.user}`, `--mysql-password=${topo.root.password}`, '--mysql-db=sbtest',
    `--tables=${TABLES}`, `--table-size=${TABLE_SIZE}`, 'prepare',
  ], 300000);
  fs.writeFileSync(path.join(LOG_DIR, 'sysbench-prepare.txt'), prep.stdout + '\n' + prep.stderr);
  if (prep.code !== 0) throw new Error(`sysbench prepare failed (${fmtExit(prep)}):\n${(prep.stdout + prep.stderr).trim().split('\n').slice(-15).join('\n')}`);

  // 2. the proxies
  targets.direct = { name: 'direct', port: topo.primary.port, user: topo.root.user, password: topo.root.password };
  const [haproxyPort] = await findFreePorts(1);
  log('starting haproxy, node-relay, sluice (multiplexing on), sluice-nomux…');
  const [h, r, s1, s2] = await Promise.all([
    TARGETS.includes('haproxy') ? startHaproxy(haproxyPort) : null,
    TARGETS.includes('node-relay') ? startRelay() : null,
    TARGETS.includes('sluice') || !SKIP.has('big') ? startSluiceProc('sluice') : null,
    TARGETS.includes('sluice-nomux') ? startSluiceProc('sluice-nomux') : null,
  ]);
  if (h) targets.haproxy = h;
  if (r) targets['node-relay'] = r;
  if (s1) targets.sluice = s1;
  if (s2) targets['sluice-nomux'] = s2;
  log(`ports: ${Object.values(targets).map((t) => `${t.name}=${t.port}`).join(' ')}`);

  // 3. warm-up (JIT, buffer pool) — not recorded unless it fails
  if (WARMUP > 0) {
    for (const name of TARGETS) {
      await ensureAlive(name, 'before warm-up');
      const wt = Math.min(16, Math.max(...THREADS));
      await waitConnHeadroom(wt);
      const w = await runSysbench(`warmup-${name}`, 'oltp_point_select', targets[name], wt, WARMUP);
      log(`warm-up ${name}: ${w.status} ${w.qps ? Math.round(w.qps) + ' qps' : ''}`);
      if (w.status !== 'ok') events.push({ kind: 'warmup-failure', target: name, when: `warm-up (oltp_point_select, ${wt} threads)`, exit: w.exit, errorText: w.errorText, log: w.log });
    }
  }

  // 4. the matrix
  for (const workload of WORKLOADS) {
    for (const threads of THREADS) {
      for (const name of TARGETS) {
        const label = `${workload}-t${threads}-${name}`;
        await ensureAlive(name, `before ${label}`);
        await waitConnHeadroom(name === 'sluice' ? Math.min(threads, 20) : threads);
        const res = await runSysbench(label, workload, targets[name], threads, TIME);
        const row = { workload, threads, target: name, ...res };
        const t = targets[name];
        if (t.proc && t.proc.done) {
          row.status = `${row.status === 'ok' ? '' : row.status + '; '}PROXY DIED (${fmtExit(t.proc.result)})`;
          row.proxyLogTail = t.logFile ? tail(t.logFile, 30) : undefined;
        }
        results.push(row);
        log(`${label.padEnd(40)} ${row.status === 'ok' ? '' : row.status + ' '}qps=${row.qps?.toFixed(0) ?? '-'} avg=${row.avgMs?.toFixed(3) ?? '-'}ms p95=${row.p95Ms ?? '-'}ms err=${row.errors ?? '-'} reconn=${row.reconnects ?? '-'}`);
        if (row.status !== 'ok') for (const l of row.errorText) log(`    ${l}`);
      }
    }
  }
  for (const name of ['sluice', 'sluice-nomux']) {
    const t = targets[name];
    if (t?.proc && !t.proc.done) {
      try {
        t.rssAfterMatrixKiB = readRssKiB(t.pid);
      } catch {
        /* gone */
      }
    }
  }

  // 5. 1000 client threads through Sluice (multiplexing on) against max_connections=100
  if (!SKIP.has('big')) {
    log(`${BIG_THREADS}-thread run through sluice (multiplexing on): stopping the other proxies first…`);
    for (const name of ['haproxy', 'node-relay', 'sluice-nomux']) if (targets[name]?.proc) await stopProc(targets[name].proc);
    await ensureAlive('sluice', `before the ${BIG_THREADS}-thread run`);
    const deadline = Date.now() + 15000;
    while ((await status('Threads_connected')) > 30 && Date.now() < deadline) await sleep(250);
    const before = await status('Threads_connected');
    await topo.exec(topo.primary, 'FLUSH STATUS');
    const sl = targets.sluice;
    let peakRss = 0;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, readRssKiB(sl.pid));
      } catch {
        /* gone */
      }
    }, 250);
    const res = await runSysbench(`oltp_point_select-t${BIG_THREADS}-sluice`, 'oltp_point_select', sl, BIG_THREADS, TIME, (TIME + 180) * 1000);
    clearInterval(sampler);
    big = {
      threads: BIG_THREADS,
      ...res,
      threadsConnectedBefore: before,
      maxUsedConnections: await status('Max_used_connections'),
      connErrorsMaxConnections: await status('Connection_errors_max_connections'),
      abortedConnects: await status('Aborted_connects'),
      peakRssMiB: peakRss ? mib(peakRss) : null,
    };
    if (sl.proc.done) {
      big.status = `${big.status === 'ok' ? '' : big.status + '; '}SLUICE DIED (${fmtExit(sl.proc.result)})`;
      big.proxyLogTail = tail(sl.logFile, 30);
    }
    log(`${BIG_THREADS} threads: ${big.status} qps=${big.qps?.toFixed(0) ?? '-'} errors=${big.errors ?? '-'} reconnects=${big.reconnects ?? '-'} Max_used_connections=${big.maxUsedConnections}`);
    for (const l of big.errorText) log(`    ${l}`);
  }

  // 6. memory: a fresh Sluice (multiplexing on), idle, then with IDLE_CONNS idle client connections
  if (!SKIP.has('mem')) {
    for (const name of ['sluice', 'sluice-nomux', 'haproxy', 'node-relay']) if (targets[name]?.proc) await stopProc(targets[name].proc);
    log(`memory: fresh sluice (multiplexing on), then ${IDLE_CONNS} idle client connections…`);
    const s = await startSluiceProc('sluice');
    mem = { connections: IDLE_CONNS };
    await sleep(3000);
    mem.idleKiB = readRssKiB(s.pid);
    s.proc.send('gc');
    mem.idleGc = await s.proc.next((o) => 'gc' in o, 10000, 'gc');
    mem.idleGcKiB = readRssKiB(s.pid);
    const clients = jsonChannel('idle-clients', process.execPath, [
      path.join(BENCH_DIR, 'idle-clients.mjs'), '127.0.0.1', String(s.port), SLUICE_USER.user, SLUICE_USER.password, String(IDLE_CONNS), '200',
    ], { marker: 'idle-clients.mjs' });
    const opened = await clients.next((o) => 'opened' in o, 600000, 'opening the connections');
    mem.opened = opened.opened;
    mem.failed = opened.failed;
    mem.openErrors = opened.errors;
    mem.openMs = opened.ms;
    log(`memory: ${opened.opened} open, ${opened.failed} failed in ${opened.ms} ms ${opened.errors.join('; ')}`);
    await sleep(3000);
    clients.send('status');
    const st1 = await clients.next((o) => 'alive' in o, 10000, 'status');
    mem.loadedKiB = readRssKiB(s.pid);
    s.proc.send('gc');
    mem.loadedGc = await s.proc.next((o) => 'gc' in o, 20000, 'gc');
    mem.loadedGcKiB = readRssKiB(s.pid);
    mem.serverThreadsConnected = await status('Threads_connected');
    clients.send('status');
    const st2 = await clients.next((o) => 'alive' in o, 10000, 'status');
    mem.alive = Math.min(st1.alive, st2.alive);
    mem.lost = st2.lost;
    mem.lostErrors = st2.lostErrors;
    mem.deltaMiB = mib(mem.loadedKiB - mem.idleKiB);
    mem.deltaGcMiB = mib(mem.loadedGcKiB - mem.idleGcKiB);
    if (s.proc.done) mem.sluiceDied = `${fmtExit(s.proc.result)}\n${tail(s.logFile, 30)}`;
    log(`memory: idle ${mib(mem.idleKiB).toFixed(1)} MiB, with ${mem.alive} idle clients ${mib(mem.loadedKiB).toFixed(1)} MiB (Δ ${mem.deltaMiB.toFixed(1)} MiB; after GC Δ ${mem.deltaGcMiB.toFixed(1)} MiB)`);
    clients.send('close');
    await stopProc(clients, 10000);
    await stopProc(s.proc);
  }
}

// ---------------------------------------------------------------------------------------------------------
// report

const f = (v, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
const int = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en-US'));
const ratio = (a, b) => (a && b ? a / b : null);
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function report() {
  const L = [];
  L.push(`# Sluice benchmark — ${STAMP}`, '');
  L.push(`- machine: ${versions.cpu ?? '?'}, ${versions.cores ?? '?'} cores, ${versions.memGiB ?? '?'} GiB RAM (sysbench, MariaDB and the proxies share it: numbers are noisy)`);
  L.push(`- ${versions.mariadbd ?? ''}; ${versions.sysbench ?? ''}; ${versions.haproxy ?? ''}; node ${versions.node ?? ''}; sluice ${versions.git ?? '?'}`);
  L.push(`- sysbench: ${TABLES} tables × ${TABLE_SIZE} rows, ${TIME} s per run (after a ${WARMUP} s warm-up per target), --db-ps-mode=${PS_MODE}, --rand-type=uniform; MariaDB max_connections=${MAX_CONNECTIONS}`);
  L.push(`- targets: **direct** (MariaDB), **haproxy** (mode tcp, ${HAPROXY_THREADS ? `nbthread ${HAPROXY_THREADS}` : 'default nbthread'}), **node-relay** (bench/node-relay.mjs: net + pipe), **sluice** (multiplexing on, pool max 20), **sluice-nomux** (multiplexing off, pool max 200); each proxy in its own process`);
  L.push('- QPS = sysbench queries/s. Latency = per sysbench event (1 query for oltp_point_select; a 16-statement BEGIN…COMMIT transaction for oltp_read_only), ms.');
  L.push('- extra = avg latency − direct avg latency (same workload/threads); "× haproxy" / "× relay" = that extra divided by HAProxy\'s / node-relay\'s extra (— when the denominator is < 0.005 ms).');
  L.push('');
  if (fatalError) L.push(`**The run did not complete:** ${cell(fatalError)}`, '');

  for (const workload of WORKLOADS) {
    const rows = results.filter((r) => r.workload === workload);
    if (!rows.length) continue;
    L.push(`## ${workload}`, '');
    L.push('| threads | target | QPS | vs direct | vs haproxy | avg ms | p95 ms | extra ms | × haproxy | × relay | errors | reconnects | status |');
    L.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const threads of THREADS) {
      const group = rows.filter((r) => r.threads === threads);
      const by = Object.fromEntries(group.map((r) => [r.target, r]));
      const ok = (r) => r && r.status === 'ok';
      const d = ok(by.direct) ? by.direct : null;
      const h = ok(by.haproxy) ? by.haproxy : null;
      const rl = ok(by['node-relay']) ? by['node-relay'] : null;
      const extraOf = (r) => (r && d && r.avgMs !== null ? r.avgMs - d.avgMs : null);
      const hx = extraOf(h);
      const rx = extraOf(rl);
      for (const r of group) {
        const x = r.target === 'direct' ? null : extraOf(r);
        const per = (den) => (x !== null && den !== null && den >= 0.005 ? f(x / den) : '—');
        L.push(
          `| ${threads} | ${r.target} | ${int(r.qps)} | ${r.target === 'direct' ? '1.00' : f(ratio(r.qps, d?.qps))} | ${f(ratio(r.qps, h?.qps))} | ${f(r.avgMs, 3)} | ${f(r.p95Ms)} | ${r.target === 'direct' ? '0' : f(x, 3)} | ${per(hx)} | ${per(rx)} | ${r.errors ?? '—'} | ${r.reconnects ?? '—'} | ${cell(r.status)} |`,
        );
      }
    }
    L.push('');
  }

  if (big) {
    L.push(`## ${big.threads} client threads through Sluice (multiplexing on, pool max 20) vs max_connections=${MAX_CONNECTIONS}`, '');
    L.push(`oltp_point_select, ${TIME} s, ${big.threads} sysbench threads → sluice.`, '');
    L.push('| QPS | avg ms | p95 ms | max ms | errors | reconnects | server Max_used_connections | Threads_connected before | Connection_errors_max_connections | Sluice peak RSS MiB | status |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    L.push(`| ${int(big.qps)} | ${f(big.avgMs, 3)} | ${f(big.p95Ms)} | ${f(big.maxMs)} | ${big.errors ?? '—'} | ${big.reconnects ?? '—'} | ${big.maxUsedConnections} | ${big.threadsConnectedBefore} | ${big.connErrorsMaxConnections} | ${f(big.peakRssMiB, 1)} | ${cell(big.status)} |`);
    const pass = big.status === 'ok' && big.errors === 0 && big.maxUsedConnections <= MAX_CONNECTIONS;
    L.push('', `Result: **${pass ? 'PASS' : 'FAIL'}** (requirement: 0 errors, the server never needs more than ${MAX_CONNECTIONS} connections). Max_used_connections is measured after FLUSH STATUS right before the run (the other proxies were stopped; it includes Sluice's monitor connection).`, '');
  }

  if (mem) {
    L.push(`## Memory: Sluice RSS with ${mem.connections} idle client connections`, '');
    L.push('Fresh Sluice process (multiplexing on), VmRSS from /proc/<pid>/status. Clients: mysql2 `createConnection` (handshake + auth), opened in batches of 200, then idle.', '');
    L.push('| | idle | with idle clients | difference | per connection |');
    L.push('|---|---:|---:|---:|---:|');
    const per = (d) => (mem.alive ? `${f((d * 1024) / mem.alive, 1)} KiB` : '—');
    L.push(`| VmRSS | ${f(mib(mem.idleKiB), 1)} MiB | ${f(mib(mem.loadedKiB), 1)} MiB | **${f(mem.deltaMiB, 1)} MiB** | ${per(mem.deltaMiB)} |`);
    L.push(`| VmRSS after forced GC | ${f(mib(mem.idleGcKiB), 1)} MiB | ${f(mib(mem.loadedGcKiB), 1)} MiB | ${f(mem.deltaGcMiB, 1)} MiB | ${per(mem.deltaGcMiB)} |`);
    L.push(`| V8 heap used (after GC) | ${f(mem.idleGc.mem.heapUsed / 2 ** 20, 1)} MiB | ${f(mem.loadedGc.mem.heapUsed / 2 ** 20, 1)} MiB | ${f((mem.loadedGc.mem.heapUsed - mem.idleGc.mem.heapUsed) / 2 ** 20, 1)} MiB | |`);
    L.push('');
    L.push(`Connections: ${mem.opened} opened in ${(mem.openMs / 1000).toFixed(1)} s, ${mem.failed} failed${mem.openErrors?.length ? ` (${cell(mem.openErrors.join('; '))})` : ''}; ${mem.alive} still open at measurement, ${mem.lost} lost${mem.lostErrors?.length ? ` (${cell(mem.lostErrors.join('; '))})` : ''}. MariaDB Threads_connected meanwhile: ${mem.serverThreadsConnected}.`);
    const pass = mem.alive === mem.connections && mem.deltaMiB <= MEM_TARGET_MIB && !mem.sluiceDied;
    L.push('', `Result: **${pass ? 'PASS' : 'FAIL'}** (target: ≤ ${MEM_TARGET_MIB} MiB for ${mem.connections} idle connections, judged on plain VmRSS).`, '');
    if (mem.sluiceDied) L.push('Sluice died during the memory test:', '```', mem.sluiceDied, '```', '');
  }

  const extraRss = ['sluice', 'sluice-nomux'].filter((n) => targets[n]?.rssAfterMatrixKiB);
  if (extraRss.length) {
    L.push(`RSS of the benchmarked Sluice processes after the matrix: ${extraRss.map((n) => `${n} ${f(mib(targets[n].rssAfterMatrixKiB), 1)} MiB`).join(', ')}.`, '');
  }

  const failures = [...results.filter((r) => r.status !== 'ok'), ...(big && big.status !== 'ok' ? [{ ...big, workload: 'oltp_point_select', target: 'sluice' }] : [])];
  L.push('## Failures', '');
  if (!failures.length && !events.length) L.push(fatalError ? 'None recorded (the run did not complete, see above).' : 'None.', '');
  for (const r of failures) {
    L.push(`- **${r.workload}, ${r.threads} threads, ${r.target}**: ${r.status} (sysbench ${r.exit}; log ${r.log})`);
    if (r.errorText?.length) L.push('  ```', ...r.errorText.map((l) => `  ${l}`), '  ```');
    if (r.proxyLogTail) L.push('  proxy log tail:', '  ```', ...r.proxyLogTail.split('\n').map((l) => `  ${l}`), '  ```');
  }
  for (const e of events) {
    L.push(`- **${e.target}** ${e.kind} (${e.when}): ${e.exit}${e.log ? ` (log ${e.log})` : ''}`);
    if (e.errorText?.length) L.push('  ```', ...e.errorText.map((l) => `  ${l}`), '  ```');
    if (e.logTail) L.push('  log tail:', '  ```', ...e.logTail.split('\n').map((l) => `  ${l}`), '  ```');
  }
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

let exitCode = 0;
try {
  await main();
} catch (err) {
  fatalError = err?.stack ?? String(err);
  if (!shuttingDown) console.error(`bench: FAILED: ${fatalError}`);
  exitCode = 1;
}
if (!shuttingDown) {
  // Keep the MariaDB error log before the topology dir goes.
  try {
    if (topo) fs.copyFileSync(path.join(TMP, 'topo', 'primary', 'mariadbd.err'), path.join(LOG_DIR, 'mariadbd.err'));
  } catch {
    /* none */
  }
  log('tearing down…');
  await teardown();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const md = report();
  const base = path.join(RESULTS_DIR, STAMP);
  fs.writeFileSync(`${base}.md`, md);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ stamp: STAMP, settings: { TIME, WARMUP, PS_MODE, WORKLOADS, THREADS, TARGETS }, versions, results, big, mem, events, fatalError }, null, 2));
  fs.cpSync(LOG_DIR, `${base}.logs`, { recursive: true });
  console.log('\n' + md);
  console.log(`results: ${path.relative(process.cwd(), base)}.md (raw: .json, logs: .logs/)`);
  const failed = results.some((r) => r.status !== 'ok') || (big && big.status !== 'ok') || events.length > 0;
  if (failed && env.BENCH_STRICT === '1') exitCode = exitCode || 3;
  process.exit(exitCode);
}
