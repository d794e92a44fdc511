// Read/write splitting benchmark (started by `BENCH_SPLIT=1 bash bench/run.sh`; see docs/benchmarks.md).
//
// One run: a private MariaDB primary + 2 GTID replicas (max_connections=200) in $BENCH_TMP, the sysbench
// tables prepared on the primary (the replicas catch up through replication), then sysbench workloads ×
// threads × targets, the targets interleaved per (workload, threads):
//   direct          the primary itself
//   sluice-nosplit  Sluice with both replicas configured, routing.read_write_split: false
//   split-eventual  read_write_split: true, consistency: eventual
//   split-session   read_write_split: true, consistency: session (the default)
// Around every run the driver reads SHOW GLOBAL STATUS (Com_select, Questions, …) on every server and
// Sluice's routing counters, so the report shows which backend served the statements. Before every run it
// waits (bounded) until both replicas have applied everything the primary has.
//
// Shares the process tracking, sysbench handling and cleanup of bench/lib.mjs with bench/bench.mjs: every
// process is tracked by pid and torn down on exit, error or signal.
import * as path from 'node:path';
import {
  startTopology, env, TIME, PS_MODE, WARMUP, list, TABLES, TABLE_SIZE, TMP, STAMP, SLUICE_USER, die, log,
  state, setTopology, teardown, fmtExit, tail, statusMany, waitConnHeadroom, prepareSysbench, runSysbench,
  startSluiceProc, collectVersions, saveServerLogs, writeResults, f, int, ratio, cell,
} from './lib.mjs';

// ---------------------------------------------------------------------------------------------------------
// settings

const REPLICAS = 2;
const MAX_CONNECTIONS = 200;
const POOL_MAX = 20;
/**
 * Workloads; `name+skip_trx` runs sysbench with --skip_trx=on (autocommit statements instead of
 * BEGIN … COMMIT). Plain oltp_read_only / oltp_read_write wrap every event in a transaction, and Sluice sends
 * everything inside a transaction to the primary, so only the +skip_trx variants exercise the replicas.
 */
const WORKLOADS = list(env.BENCH_WORKLOADS, ['oltp_read_only', 'oltp_read_write', 'oltp_read_only+skip_trx', 'oltp_read_write+skip_trx']);
const THREADS = list(env.BENCH_THREADS, ['1', '16']).map(Number);
const ALL_TARGETS = ['direct', 'sluice-nosplit', 'split-eventual', 'split-session'];
const TARGETS = list(env.BENCH_TARGETS, ALL_TARGETS);
const CATCHUP_TIMEOUT_S = 90; // below the topology CLI's own 120 s limit

for (const t of TARGETS) if (!ALL_TARGETS.includes(t)) die(`BENCH_TARGETS: unknown split target ${t} (known: ${ALL_TARGETS.join(', ')})`);
for (const w of WORKLOADS) {
  const [base, ...mods] = w.split('+');
  if (!/^oltp_\w+$/.test(base) || mods.some((m) => m !== 'skip_trx')) die(`BENCH_WORKLOADS: ${w} (expected oltp_<name>[+skip_trx])`);
}
if (THREADS.some((t) => !(t > 0) || t + 10 > MAX_CONNECTIONS)) die(`BENCH_THREADS: each between 1 and ${MAX_CONNECTIONS - 10} (got ${THREADS.join(',')})`);

/** sysbench test name and extra options of a workload label. */
function workloadArgs(w) {
  const [base, ...mods] = w.split('+');
  return { test: base, extra: mods.includes('skip_trx') ? ['--skip_trx=on'] : [] };
}

/** Status counters read on every server around every run. */
const COUNTERS = ['Questions', 'Com_select', 'Com_stmt_execute', 'Com_insert', 'Com_update', 'Com_delete', 'Com_begin', 'Com_commit'];

// ---------------------------------------------------------------------------------------------------------
// the targets

let topo = null;
const targets = {}; // name -> { name, port, user, password, proc?, pid?, logFile? }
const events = []; // crashes, restarts, warm-up failures, catch-up problems

function sluiceConfig(kind) {
  const routing =
    kind === 'sluice-nosplit'
      ? { read_write_split: false }
      : { read_write_split: true, consistency: kind === 'split-eventual' ? 'eventual' : 'session' };
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    backends: [
      { name: 'primary', host: '127.0.0.1', port: topo.primary.port, role: 'primary' },
      ...topo.replicas.map((r) => ({ name: r.name, host: '127.0.0.1', port: r.port, role: 'replica' })),
    ],
    monitor: { user: topo.monitor.user, password: topo.monitor.password },
    users: [{ name: SLUICE_USER.user, password: SLUICE_USER.password, backend_user: topo.root.user, backend_password: topo.root.password }],
    passthrough_users: { enabled: false },
    pool: { min: 0, max: POOL_MAX },
    multiplexing: true,
    routing,
    limits: { max_client_connections: 10000 },
    shutdown_grace_ms: 2000,
    log: { level: 'warn' },
  };
}

const startTarget = (kind) => startSluiceProc(kind, sluiceConfig(kind));

/** Before a run: a dead Sluice is recorded (with its log tail) and restarted. */
async function ensureAlive(name, when) {
  if (state.shuttingDown) throw new Error('interrupted');
  const t = targets[name];
  if (!t?.proc || !t.proc.done) return;
  const ev = { kind: 'crash', target: name, when, exit: fmtExit(t.proc.result), logTail: tail(t.logFile, 30) };
  events.push(ev);
  log(`!! ${name} is not running (${ev.exit}) — restarting; log tail:\n${ev.logTail}`);
  targets[name] = await startTarget(name);
}

/** Sluice's routing counters (replicaReads, gtidWaits, …), or null (direct, no answer). */
async function routerStats(t) {
  if (!t.proc || t.proc.done) return null;
  t.proc.send('stats');
  try {
    return (await t.proc.next((o) => 'stats' in o, 5000, 'stats')).stats;
  } catch {
    return null;
  }
}

const nodes = () => [topo.primary, ...topo.replicas];

/** Waits until every replica has applied the primary's binlog position; returns ms waited. */
async function waitReplicasCaughtUp(timeoutS = CATCHUP_TIMEOUT_S) {
  const start = Date.now();
  const gtid = (await topo.exec(topo.primary, 'SELECT @@GLOBAL.gtid_binlog_pos')).trim();
  if (!/^[\d,-]*$/.test(gtid)) throw new Error(`unexpected gtid_binlog_pos: ${gtid}`);
  const res = await Promise.all(topo.replicas.map(async (r) => [r.name, (await topo.exec(r, `SELECT MASTER_GTID_WAIT('${gtid}', ${timeoutS})`)).trim()]));
  const behind = res.filter(([, v]) => v !== '0');
  if (behind.length) {
    const msg = `replica(s) ${behind.map(([n, v]) => `${n} (MASTER_GTID_WAIT=${v})`).join(', ')} did not reach ${gtid} within ${timeoutS} s`;
    log(`warning: ${msg}`);
    events.push({ kind: 'catch-up', target: behind.map(([n]) => n).join(','), when: 'waiting for the replicas', exit: msg });
  }
  return Date.now() - start;
}

async function snapshot() {
  return Promise.all(nodes().map((n) => statusMany(n, COUNTERS)));
}

// ---------------------------------------------------------------------------------------------------------
// main

let versions = {};
const results = [];
let fatalError = null;

async function main() {
  versions = collectVersions();
  log(`split benchmark: time=${TIME}s warmup=${WARMUP}s ps-mode=${PS_MODE} workloads=${WORKLOADS.join(',')} threads=${THREADS.join(',')} targets=${TARGETS.join(',')} tmp=${TMP}`);

  // 1. primary + 2 replicas, sysbench tables on the primary, replicas caught up
  log(`starting MariaDB primary + ${REPLICAS} replicas (max_connections=${MAX_CONNECTIONS})…`);
  topo = await startTopology({ replicas: REPLICAS, maxConnections: MAX_CONNECTIONS, dir: path.join(TMP, 'topo'), keep: false, log: (m) => log(`topology: ${m}`) });
  setTopology(topo);
  log(`ports: ${nodes().map((n) => `${n.name}=${n.port} (pid ${n.pid})`).join(' ')}`);
  await prepareSysbench();
  const caughtUpMs = await waitReplicasCaughtUp();
  log(`replicas caught up with the prepared tables (${caughtUpMs} ms)`);

  // 2. the Sluice processes (all three run side by side; only one has clients at a time)
  targets.direct = { name: 'direct', port: topo.primary.port, user: topo.root.user, password: topo.root.password };
  const kinds = TARGETS.filter((t) => t !== 'direct');
  log(`starting ${kinds.join(', ')}…`);
  const started = await Promise.all(kinds.map((k) => startTarget(k)));
  for (const s of started) targets[s.name] = s;
  log(`ports: ${Object.values(targets).map((t) => `${t.name}=${t.port}`).join(' ')}`);

  // 3. warm-up per target (oltp_point_select: JIT, every server's buffer pool via the split targets)
  if (WARMUP > 0) {
    for (const name of TARGETS) {
      await ensureAlive(name, 'before warm-up');
      const wt = Math.min(16, Math.max(...THREADS));
      await waitConnHeadroom(wt, MAX_CONNECTIONS);
      const w = await runSysbench(`split-warmup-${name}`, 'oltp_point_select', targets[name], wt, WARMUP);
      log(`warm-up ${name}: ${w.status} ${w.qps ? Math.round(w.qps) + ' qps' : ''}`);
      if (w.status !== 'ok') events.push({ kind: 'warmup-failure', target: name, when: `warm-up (oltp_point_select, ${wt} threads)`, exit: w.exit, errorText: w.errorText, log: w.log });
    }
  }

  // 4. the matrix
  for (const workload of WORKLOADS) {
    const { test, extra } = workloadArgs(workload);
    for (const threads of THREADS) {
      for (const name of TARGETS) {
        const label = `split-${workload}-t${threads}-${name}`;
        await ensureAlive(name, `before ${label}`);
        const catchupMs = await waitReplicasCaughtUp();
        await waitConnHeadroom(threads, MAX_CONNECTIONS);
        const t = targets[name];
        const [before, rsBefore] = await Promise.all([snapshot(), routerStats(t)]);
        const res = await runSysbench(label, test, t, threads, TIME, undefined, extra);
        const [after, rsAfter] = await Promise.all([snapshot(), routerStats(t)]);
        const counters = nodes().map((n, i) => ({
          node: n.name,
          ...Object.fromEntries(COUNTERS.map((c) => [c, after[i][c] - before[i][c]])),
        }));
        const router = rsBefore && rsAfter ? Object.fromEntries(Object.keys(rsAfter).map((k) => [k, rsAfter[k] - (rsBefore[k] ?? 0)])) : null;
        const row = { workload, threads, target: name, ...res, counters, router, catchupMs };
        if (t.proc && t.proc.done) {
          row.status = `${row.status === 'ok' ? '' : row.status + '; '}SLUICE DIED (${fmtExit(t.proc.result)})`;
          row.proxyLogTail = tail(t.logFile, 30);
        }
        results.push(row);
        const sel = shares(counters, 'Com_select');
        log(`${label.padEnd(52)} ${row.status === 'ok' ? '' : row.status + ' '}qps=${row.qps?.toFixed(0) ?? '-'} avg=${row.avgMs?.toFixed(3) ?? '-'}ms p95=${row.p95Ms ?? '-'}ms err=${row.errors ?? '-'} reconn=${row.reconnects ?? '-'} Com_select p/r1/r2=${sel} catch-up=${catchupMs}ms${router ? ` gtidWaits=${router.gtidWaits} timeouts=${router.gtidWaitTimeouts}` : ''}`);
        if (row.status !== 'ok') for (const l of row.errorText) log(`    ${l}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// report

/** "a / b / c" percentages of counter `c` per server (primary first). */
function shares(counters, c) {
  const total = counters.reduce((s, n) => s + (Number.isFinite(n[c]) ? n[c] : 0), 0);
  if (!total) return '—';
  return counters.map((n) => `${f((100 * n[c]) / total, 0)}`).join(' / ');
}

function report() {
  const L = [];
  L.push(`# Sluice read/write splitting benchmark — ${STAMP}`, '');
  L.push(`- machine: ${versions.cpu ?? '?'}, ${versions.cores ?? '?'} cores, ${versions.memGiB ?? '?'} GiB RAM (sysbench, the three MariaDB servers and Sluice share it: numbers are noisy)`);
  L.push(`- ${versions.mariadbd ?? ''}; ${versions.sysbench ?? ''}; node ${versions.node ?? ''}; sluice ${versions.git ?? '?'}`);
  L.push(`- topology: 1 primary + ${REPLICAS} GTID replicas (async, row-based), max_connections=${MAX_CONNECTIONS}; sysbench: ${TABLES} tables × ${TABLE_SIZE} rows prepared on the primary, ${TIME} s per run (after a ${WARMUP} s oltp_point_select warm-up per target), --db-ps-mode=${PS_MODE}, --rand-type=uniform`);
  L.push(`- targets: **direct** (the primary), **sluice-nosplit** (read_write_split: false), **split-eventual** (read_write_split: true, consistency: eventual), **split-session** (read_write_split: true, consistency: session). Every Sluice: both replicas configured, multiplexing on, pool max ${POOL_MAX} per backend, policy round_robin, user sbtest → root, its own process`);
  L.push('- `+skip_trx`: sysbench `--skip_trx=on` (autocommit statements instead of BEGIN … COMMIT). Sluice routes everything inside a transaction to the primary, so the plain workloads cannot use the replicas.');
  L.push('- QPS = sysbench queries/s (ratio to direct); latency per sysbench event (a transaction, or its statements without BEGIN/COMMIT with +skip_trx), ms. errors = sysbench "ignored errors" (deadlocks 1213 etc., retried by sysbench).');
  L.push('- **Com_select % / Questions %**: share of each server (primary / replica1 / replica2) in the SHOW GLOBAL STATUS deltas over the run. They include Sluice\'s own statements: monitor checks (1 SELECT per backend per second per Sluice process, three processes) and, for split-session, the `SELECT MASTER_GTID_WAIT(…)` before a read that must see the session\'s last write. **GTID waits** = those waits during the run (timeouts → the read went to the primary).');
  L.push('');
  if (fatalError) L.push(`**The run did not complete:** ${cell(fatalError)}`, '');

  for (const workload of WORKLOADS) {
    const rows = results.filter((r) => r.workload === workload);
    if (!rows.length) continue;
    L.push(`## ${workload}`, '');
    L.push('| threads | target | QPS | vs direct | avg ms | p95 ms | errors | reconnects | Com_select % p / r1 / r2 | Questions % p / r1 / r2 | GTID waits (timeouts) | status |');
    L.push('|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|');
    for (const threads of THREADS) {
      const group = rows.filter((r) => r.threads === threads);
      const d = group.find((r) => r.target === 'direct' && r.status === 'ok');
      for (const r of group) {
        const waits = r.router ? `${r.router.gtidWaits} (${r.router.gtidWaitTimeouts})` : '—';
        L.push(
          `| ${threads} | ${r.target} | ${int(r.qps)} | ${r.target === 'direct' ? '1.00' : f(ratio(r.qps, d?.qps))} | ${f(r.avgMs, 3)} | ${f(r.p95Ms)} | ${r.errors ?? '—'} | ${r.reconnects ?? '—'} | ${shares(r.counters, 'Com_select')} | ${shares(r.counters, 'Questions')} | ${waits} | ${cell(r.status)} |`,
        );
      }
    }
    L.push('');
  }

  const failures = results.filter((r) => r.status !== 'ok');
  L.push('## Failures', '');
  if (!failures.length && !events.length) L.push(fatalError ? 'None recorded (the run did not complete, see above).' : 'None.', '');
  for (const r of failures) {
    L.push(`- **${r.workload}, ${r.threads} threads, ${r.target}**: ${r.status} (sysbench ${r.exit}; log ${r.log})`);
    if (r.errorText?.length) L.push('  ```', ...r.errorText.map((l) => `  ${l}`), '  ```');
    if (r.proxyLogTail) L.push('  Sluice log tail:', '  ```', ...r.proxyLogTail.split('\n').map((l) => `  ${l}`), '  ```');
  }
  for (const e of events) {
    L.push(`- **${e.target}** ${e.kind} (${e.when}): ${e.exit}${e.log ? ` (log ${e.log})` : ''}`);
    if (e.errorText?.length) L.push('  ```', ...e.errorText.map((l) => `  ${l}`), '  ```');
    if (e.logTail) L.push('  log tail:', '  ```', ...e.logTail.split('\n').map((l) => `  ${l}`), '  ```');
  }
  const withErrors = results.filter((r) => r.errors);
  if (withErrors.length) {
    L.push('', `Ignored sysbench errors (counted in "errors", not failures): ${withErrors.map((r) => `${r.workload}/${r.threads}/${r.target}: ${r.errors}`).join('; ')}. The per-run logs hold sysbench's output.`);
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
  if (!state.shuttingDown) console.error(`bench: FAILED: ${fatalError}`);
  exitCode = 1;
}
if (!state.shuttingDown) {
  saveServerLogs();
  log('tearing down…');
  await teardown();
  writeResults(report(), { stamp: STAMP, kind: 'split', settings: { TIME, WARMUP, PS_MODE, WORKLOADS, THREADS, TARGETS, REPLICAS, MAX_CONNECTIONS, POOL_MAX }, versions, results, events, fatalError }, '-split');
  const failed = results.some((r) => r.status !== 'ok') || events.length > 0;
  if (failed && env.BENCH_STRICT === '1') exitCode = exitCode || 3;
  process.exit(exitCode);
}
