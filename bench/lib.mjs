// Shared machinery of the benchmark drivers (bench/bench.mjs: the main matrix; bench/split.mjs: read/write
// splitting). Both are started by bench/run.sh; see docs/benchmarks.md.
//
// Process tracking (every process by pid, also in $BENCH_TMP/pids for run.sh's last-resort cleanup), bounded
// waits, teardown on exit/error/signal, sysbench invocation and parsing, starting a Sluice process, report
// formatting helpers. The driver that imports this module owns the topology: it calls setTopology() once the
// servers run, and teardown() stops them.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(BENCH_DIR);
export const { startTopology, findFreePorts } = await import(path.join(ROOT, 'dist/src/sandbox/topology.js'));

// ---------------------------------------------------------------------------------------------------------
// settings shared by the drivers

export const env = process.env;
export const QUICK = env.BENCH_QUICK === '1';
export const TIME = Number(env.BENCH_TIME ?? (QUICK ? 3 : 10));
export const PS_MODE = env.BENCH_PS_MODE ?? 'auto';
/** Seconds of warm-up per workload and target (JIT, buffer pool) before the matrix. */
export const WARMUP = Number(env.BENCH_WARMUP ?? (QUICK ? 1 : 10));
/** Interleaved rounds per matrix cell (each round runs every target once, starting with a different one); medians are reported. */
export const ROUNDS = Number(env.BENCH_ROUNDS ?? 1);
export const list = (v, dflt) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : dflt);
export const TABLES = 4;
export const TABLE_SIZE = 10000;

if (!(TIME > 0)) die(`BENCH_TIME must be > 0 (got ${env.BENCH_TIME})`);
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1)) die(`BENCH_ROUNDS must be an integer >= 1 (got ${env.BENCH_ROUNDS})`);
if (!['auto', 'disable'].includes(PS_MODE)) die(`BENCH_PS_MODE must be auto or disable (got ${PS_MODE})`);

export const TMP = env.BENCH_TMP || fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
const PIDS_FILE = path.join(TMP, 'pids');
export const STAMP = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const LOG_DIR = path.join(TMP, 'logs');
fs.mkdirSync(LOG_DIR, { recursive: true });

export const SLUICE_USER = { user: 'sbtest', password: 'sbtest-bench-pw' };

export function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}
const t0 = Date.now();
export function log(msg) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  console.log(`[bench ${s}s] ${msg}`);
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

export function registerForeignPid(pid, marker) {
  if (pid) fs.appendFileSync(PIDS_FILE, `${pid} ${marker}\n`);
}

/** SIGTERM, wait up to graceMs, then SIGKILL (and wait a little more). */
export async function stopProc(entry, graceMs = 5000) {
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

/** topo: the driver's topology (setTopology); shuttingDown: a signal arrived, teardown is under way. */
export const state = { topo: null, shuttingDown: false };

export function setTopology(topo) {
  state.topo = topo;
  for (const n of [topo.primary, ...topo.replicas]) registerForeignPid(n.pid, topo.dir);
}

export async function teardown() {
  await Promise.all([...procs.values()].map((e) => stopProc(e, 5000)));
  if (state.topo) {
    const t = state.topo;
    state.topo = null;
    await Promise.race([t.stop().catch(() => {}), sleep(30000)]);
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (state.shuttingDown) return;
    state.shuttingDown = true;
    log(`${sig}: tearing down`);
    const hard = setTimeout(() => process.exit(130), 40000);
    teardown().finally(() => {
      clearTimeout(hard);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  });
}

/** Spawns a tracked process; stdout lines go to onLine (if given), everything is also appended to logFile. */
export function spawnTracked(name, cmd, args, { logFile, onLine, env: extraEnv, marker } = {}) {
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
export function jsonChannel(name, cmd, args, opts = {}) {
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

export function fmtExit(r) {
  if (!r) return 'running';
  if (r.error) return `spawn error: ${r.error}`;
  return r.signal ? `signal ${r.signal}` : `exit code ${r.code}`;
}

export function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a command to completion with a timeout (SIGTERM, then SIGKILL 5 s later). */
export function runCmd(name, cmd, args, timeoutMs) {
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

export function waitPort(port, timeoutMs, what) {
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

export function readRssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}
export const mib = (kib) => kib / 1024;

/** CPU time (user, system) of a process in clock ticks (/proc/<pid>/stat); null when it is gone. */
export function cpuTicks(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { user: Number(f[11]), system: Number(f[12]) };
  } catch {
    return null;
  }
}

/** Idle and total jiffies of the whole machine (/proc/stat). */
export function machineTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

/** Microseconds of CPU per query from two cpuTicks() readings (clock ticks are 1/100 s on Linux). */
export function usPerQuery(a, b, queries, field) {
  if (!a || !b || !queries) return null;
  const ticks = field === 'user' ? b.user - a.user : b.user + b.system - a.user - a.system;
  return (ticks * 10000) / queries;
}

// ---------------------------------------------------------------------------------------------------------
// MariaDB helpers (via the topology's CLI exec over the unix socket)

/** One SHOW GLOBAL STATUS value of `node` (default: the primary). */
export async function status(name, node = state.topo.primary) {
  const out = await state.topo.exec(node, `SHOW GLOBAL STATUS LIKE '${name}'`);
  const v = out.trim().split('\t')[1];
  return v === undefined ? NaN : Number(v);
}

/** Several SHOW GLOBAL STATUS values of `node` in one query: { name: number }. */
export async function statusMany(node, names) {
  const out = await state.topo.exec(node, `SHOW GLOBAL STATUS WHERE Variable_name IN (${names.map((n) => `'${n}'`).join(', ')})`);
  const byLower = new Map(out.trim().split('\n').filter(Boolean).map((l) => {
    const [k, v] = l.split('\t');
    return [k.toLowerCase(), Number(v)];
  }));
  return Object.fromEntries(names.map((n) => [n, byLower.get(n.toLowerCase()) ?? NaN]));
}

/** Waits (bounded) until the primary has room for `need` more connections plus a margin. */
export async function waitConnHeadroom(need, maxConnections, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let connected = NaN;
  for (;;) {
    // (With no connection left the query itself is refused: wait, as for a full server.)
    connected = await status('Threads_connected').catch(() => NaN);
    if (connected + need + 4 <= maxConnections) return connected;
    if (Date.now() > deadline) {
      log(`warning: ${connected} server connections still open; running anyway (needs ${need})`);
      return connected;
    }
    await sleep(250);
  }
}

/** Creates the sbtest database and runs `sysbench oltp_read_write prepare` against the primary as root. */
export async function prepareSysbench() {
  const topo = state.topo;
  await topo.exec(topo.primary, 'CREATE DATABASE sbtest');
  log(`sysbench prepare (${TABLES} tables × ${TABLE_SIZE} rows)…`);
  const prep = await runCmd('sysbench prepare', 'sysbench', [
    'oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${topo.primary.port}`,
    `--mysql-user=${topo.root.user}`, `--mysql-password=${topo.root.password}`, '--mysql-db=sbtest',
    `--tables=${TABLES}`, `--table-size=${TABLE_SIZE}`, 'prepare',
  ], 300000);
  fs.writeFileSync(path.join(LOG_DIR, 'sysbench-prepare.txt'), prep.stdout + '\n' + prep.stderr);
  if (prep.code !== 0) throw new Error(`sysbench prepare failed (${fmtExit(prep)}):\n${(prep.stdout + prep.stderr).trim().split('\n').slice(-15).join('\n')}`);
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
/** One sysbench run; its full output goes to LOG_DIR. `extra`: more sysbench options (before 'run'). */
export async function runSysbench(label, workload, target, threads, time, timeoutMs, extra = []) {
  if (state.shuttingDown) throw new Error('interrupted');
  const args = sysbenchArgs(workload, target, threads, time, extra);
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
// Sluice in its own process (bench/sluice-server.mjs)

const sluiceStarts = {};
/**
 * Starts bench/sluice-server.mjs with `config` (an object as written in YAML); resolves once it accepts. `root`: the
 * checkout whose build runs (default this one; the `sluice-base` target runs another commit's build).
 */
export async function startSluiceProc(kind, config, root = ROOT) {
  const cfgFile = path.join(TMP, `${kind}.json`);
  fs.writeFileSync(cfgFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const logFile = path.join(LOG_DIR, `${kind}.log`);
  sluiceStarts[kind] = (sluiceStarts[kind] ?? 0) + 1;
  fs.appendFileSync(logFile, `--- start #${sluiceStarts[kind]} at ${new Date().toISOString()}\n`);
  const proc = jsonChannel(kind, process.execPath, ['--expose-gc', path.join(root, 'bench', 'sluice-server.mjs'), cfgFile], {
    logFile,
    marker: cfgFile,
  });
  const hello = await proc.next((o) => typeof o.port === 'number', 30000, 'its port');
  await waitPort(hello.port, 10000, kind);
  return { name: kind, port: hello.port, ...SLUICE_USER, proc, pid: proc.child.pid, logFile };
}

// ---------------------------------------------------------------------------------------------------------
// versions, results files, report formatting

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10000 });
  return ((r.stdout || r.stderr || '').split('\n')[0] ?? '').trim();
}

/** Machine and tool versions for the report header. */
export function collectVersions({ haproxy = false } = {}) {
  const versions = {};
  versions.node = process.version;
  versions.mariadbd = versionOf('mariadbd', ['--version']) || versionOf('/usr/sbin/mariadbd', ['--version']);
  versions.sysbench = versionOf('sysbench', ['--version']);
  if (haproxy) versions.haproxy = versionOf('haproxy', ['-v']);
  versions.cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?').trim();
  versions.cores = os.cpus().length;
  versions.memGiB = (os.totalmem() / 2 ** 30).toFixed(1);
  versions.git = gitDescribe(ROOT);
  return versions;
}

/** The commit a checkout is at, noting uncommitted changes under src/. */
export function gitDescribe(dir) {
  let rev = versionOf('git', ['-C', dir, 'rev-parse', '--short', 'HEAD']);
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8', timeout: 10000 }).stdout?.trim();
  if (dirty) rev += ' (src/ has uncommitted changes)';
  return rev;
}

/** Keeps every server's error log (before the topology dir goes) in LOG_DIR. */
export function saveServerLogs() {
  const topo = state.topo;
  if (!topo) return;
  for (const n of [topo.primary, ...topo.replicas]) {
    try {
      const name = n.role === 'primary' ? 'mariadbd.err' : `mariadbd-${n.name}.err`;
      fs.copyFileSync(path.join(topo.dir, n.name, 'mariadbd.err'), path.join(LOG_DIR, name));
    } catch {
      /* none */
    }
  }
}

/** Writes bench/results/<STAMP>[suffix].md, .json and .logs/; prints the report. Returns the base path. */
export function writeResults(md, json, suffix = '') {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, `${STAMP}${suffix}`);
  fs.writeFileSync(`${base}.md`, md);
  fs.writeFileSync(`${base}.json`, JSON.stringify(json, null, 2));
  fs.cpSync(LOG_DIR, `${base}.logs`, { recursive: true });
  console.log('\n' + md);
  console.log(`results: ${path.relative(process.cwd(), base)}.md (raw: .json, logs: .logs/)`);
  return base;
}

export const f = (v, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
export const int = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en-US'));
export const ratio = (a, b) => (a && b ? a / b : null);
export const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
