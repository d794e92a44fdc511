// Sluice benchmark driver (started by bench/run.sh; see docs/benchmarks.md).
//
// One run: a private MariaDB primary (max_connections=100) in $BENCH_TMP, the sysbench tables, and side by side
// against that primary: HAProxy (TCP mode), a minimal Node socket-pipe relay, Sluice with multiplexing and
// Sluice without. Then sysbench workloads × thread counts × targets, a 1000-thread run through Sluice, and an
// idle-connection memory test. Writes bench/results/<timestamp>.md (+ .json and .logs/).
//
// Every process this driver starts is tracked by pid (also in $BENCH_TMP/pids for run.sh's last-resort
// cleanup), every wait has a timeout, and everything is torn down by pid on exit, error or signal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BENCH_DIR, startTopology, findFreePorts, env, QUICK, TIME, PS_MODE, WARMUP, ROUNDS, list, TABLES, TABLE_SIZE, TMP, STAMP, LOG_DIR,
  SLUICE_USER, die, log, sleep, state, setTopology, teardown, stopProc, spawnTracked, jsonChannel, fmtExit, tail, waitPort,
  readRssKiB, mib, cpuTicks, machineTicks, usPerQuery, status, waitConnHeadroom as waitHeadroom, prepareSysbench, runSysbench, startSluiceProc as startSluice,
  collectVersions, gitDescribe, saveServerLogs, writeResults, f, int, ratio, cell,
} from './lib.mjs';

// ---------------------------------------------------------------------------------------------------------
// settings (the shared ones — BENCH_TIME, BENCH_QUICK, BENCH_PS_MODE, BENCH_WARMUP — are in lib.mjs)

const WORKLOADS = list(env.BENCH_WORKLOADS, ['oltp_point_select', 'oltp_read_only']);
const THREADS = list(env.BENCH_THREADS, QUICK ? ['1', '16'] : ['1', '16', '64']).map(Number);
// sluice-nopipe (multiplexing on, pool.pipelining off) only when asked for: it isolates what pipelining brings.
// sluice-nopoll (tuning.busy_poll_us: 0) isolates what busy polling brings (latency at low concurrency).
// sluice-base is the same as sluice, run from another checkout (BENCH_BASE_DIR, built: `npm ci && npm run build`
// there, e.g. `git worktree add /tmp/base <commit>`): an A/B of two builds in one run, interleaved round by round.
const SLUICE_KINDS = ['sluice', 'sluice-base', 'sluice-nopipe', 'sluice-nopoll', 'sluice-nomux'];
const ALL_TARGETS = ['direct', 'haproxy', 'node-relay', ...SLUICE_KINDS];
const TARGETS = list(env.BENCH_TARGETS, ALL_TARGETS.filter((t) => t !== 'sluice-nopipe' && t !== 'sluice-base'));
const BASE_DIR = env.BENCH_BASE_DIR ? path.resolve(env.BENCH_BASE_DIR) : null;
const BIG_THREADS = Number(env.BENCH_BIG_THREADS ?? 1000);
const IDLE_CONNS = Number(env.BENCH_IDLE_CONNS ?? 5000);
const SKIP = new Set(list(env.BENCH_SKIP, [])); // 'big', 'mem'
const HAPROXY_THREADS = env.BENCH_HAPROXY_THREADS === undefined ? 1 : Number(env.BENCH_HAPROXY_THREADS); // 0 = haproxy's default
const MAX_CONNECTIONS = 100;
const MEM_TARGET_MIB = 100;

for (const t of TARGETS) if (!ALL_TARGETS.includes(t)) die(`BENCH_TARGETS: unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
if (TARGETS.includes('sluice-base')) {
  if (BASE_DIR === null) die('BENCH_TARGETS: sluice-base needs BENCH_BASE_DIR=<a built checkout of the commit to compare with>');
  for (const f of ['bench/sluice-server.mjs', 'dist/src/app.js']) {
    if (!fs.existsSync(path.join(BASE_DIR, f))) die(`BENCH_BASE_DIR: ${path.join(BASE_DIR, f)} is missing (build that checkout first: npm ci && npm run build)`);
  }
}

let topo = null;
const waitConnHeadroom = (need) => waitHeadroom(need, MAX_CONNECTIONS);

// ---------------------------------------------------------------------------------------------------------
// the targets

const targets = {}; // name -> { name, port, user, password, proc?, pid? }
const events = []; // notable things (crashes, restarts) for the report

function sluiceConfig(kind) {
  const mux = kind !== 'sluice-nomux';
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    backends: [{ name: 'primary', host: '127.0.0.1', port: topo.primary.port, role: 'primary' }],
    monitor: { user: topo.monitor.user, password: topo.monitor.password },
    users: [{ name: SLUICE_USER.user, password: SLUICE_USER.password, backend_user: topo.root.user, backend_password: topo.root.password }],
    passthrough_users: { enabled: false },
    // Idle backend connections go quickly so they do not eat into max_connections=100 during the other targets'
    // runs (without multiplexing every client holds its own; with it, each Sluice variant keeps up to 20).
    pool: mux ? { min: 0, max: 20, idle_timeout_ms: 2000, pipelining: { enabled: kind !== 'sluice-nopipe' } } : { min: 0, max: 200, idle_timeout_ms: 2000 },
    multiplexing: mux,
    tuning: { busy_poll_us: kind === 'sluice-nopoll' ? 0 : 100 },
    limits: { max_client_connections: 10000 },
    shutdown_grace_ms: 2000,
    log: { level: 'warn' },
  };
}

const startSluiceProc = (kind) => startSluice(kind, sluiceConfig(kind), kind === 'sluice-base' ? BASE_DIR : undefined);
/** The Sluice variants this run needs (the 1000-thread test uses `sluice`). */
const wantedSluices = () => SLUICE_KINDS.filter((k) => TARGETS.includes(k) || (k === 'sluice' && !SKIP.has('big')));

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** One row from a cell's rounds: medians of the measures, errors summed, the first failure's status; the rounds kept. */
function medianRow(rows) {
  if (rows.length === 1) return rows[0];
  const med = (pick) => {
    const v = rows.map(pick).filter((x) => typeof x === 'number' && Number.isFinite(x));
    return v.length === 0 ? null : median(v);
  };
  const failed = rows.find((r) => r.status !== 'ok');
  const sum = (pick) => rows.reduce((n, r) => n + (pick(r) ?? 0), 0);
  return {
    ...(failed ?? rows[0]),
    qps: med((r) => r.qps),
    avgMs: med((r) => r.avgMs),
    p95Ms: med((r) => r.p95Ms),
    maxMs: med((r) => r.maxMs),
    queries: med((r) => r.queries),
    errors: sum((r) => r.errors),
    reconnects: sum((r) => r.reconnects),
    cpu: {
      proxyUs: med((r) => r.cpu?.proxyUs),
      proxyUserUs: med((r) => r.cpu?.proxyUserUs),
      dbUs: med((r) => r.cpu?.dbUs),
      idlePct: med((r) => r.cpu?.idlePct),
    },
    rounds: rows.map((r) => ({ qps: r.qps, avgMs: r.avgMs, status: r.status })),
  };
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
  if (state.shuttingDown) throw new Error('interrupted');
  const t = targets[name];
  if (!t?.proc || !t.proc.done) return;
  const ev = { kind: 'crash', target: name, when, exit: fmtExit(t.proc.result), logTail: t.logFile ? tail(t.logFile, 30) : tail(path.join(LOG_DIR, `${name}.log`), 30) };
  events.push(ev);
  log(`!! ${name} is not running (${ev.exit}) — restarting; log tail:\n${ev.logTail}`);
  if (name.startsWith('sluice')) targets[name] = await startSluiceProc(name);
  else if (name === 'node-relay') targets[name] = await startRelay();
  else if (name === 'haproxy') targets[name] = await startHaproxy(t.port);
}

// ---------------------------------------------------------------------------------------------------------
// main

let versions = {};

const results = [];
let big = null;
let mem = null;
let fatalError = null;

async function main() {
  versions = collectVersions({ haproxy: true });
  if (BASE_DIR !== null && TARGETS.includes('sluice-base')) versions.baseGit = gitDescribe(BASE_DIR);

  log(`settings: time=${TIME}s warmup=${WARMUP}s ps-mode=${PS_MODE} workloads=${WORKLOADS.join(',')} threads=${THREADS.join(',')} targets=${TARGETS.join(',')} tmp=${TMP}`);

  // 1. MariaDB primary + sysbench tables
  log('starting MariaDB primary (replicas: 0, max_connections=100)…');
  topo = await startTopology({ replicas: 0, maxConnections: MAX_CONNECTIONS, dir: path.join(TMP, 'topo'), keep: false, log: (m) => log(`topology: ${m}`) });
  setTopology(topo);
  log(`primary on port ${topo.primary.port} (pid ${topo.primary.pid})`);
  await prepareSysbench();

  // 2. the proxies
  targets.direct = { name: 'direct', port: topo.primary.port, user: topo.root.user, password: topo.root.password };
  const [haproxyPort] = await findFreePorts(1);
  log(`starting haproxy, node-relay, ${wantedSluices().join(', ')}…`);
  const wanted = wantedSluices();
  const [h, r, ...sluices] = await Promise.all([
    TARGETS.includes('haproxy') ? startHaproxy(haproxyPort) : null,
    TARGETS.includes('node-relay') ? startRelay() : null,
    ...wanted.map((k) => startSluiceProc(k)),
  ]);
  if (h) targets.haproxy = h;
  if (r) targets['node-relay'] = r;
  wanted.forEach((k, i) => (targets[k] = sluices[i]));
  log(`ports: ${Object.values(targets).map((t) => `${t.name}=${t.port}`).join(' ')}`);

  // 3. warm-up: before each workload's cells, every target runs that workload for WARMUP s (JIT, buffer pool;
  // not recorded unless it fails). Each workload takes code paths of its own: a Node process new to
  // oltp_read_only spends a tenth of its CPU in V8's optimizing compiler for its first ~25 s of it, which a
  // point-select warm-up alone did not pay — that showed up as Sluice's (and the relay's) read_only numbers.
  const warmUp = async (workload) => {
    if (!(WARMUP > 0)) return;
    for (const name of TARGETS) {
      await ensureAlive(name, 'before warm-up');
      const wt = Math.min(16, Math.max(...THREADS));
      await waitConnHeadroom(wt);
      const w = await runSysbench(`warmup-${workload}-${name}`, workload, targets[name], wt, WARMUP);
      log(`warm-up ${workload} ${name}: ${w.status} ${w.qps ? Math.round(w.qps) + ' qps' : ''}`);
      if (w.status !== 'ok') events.push({ kind: 'warmup-failure', target: name, when: `warm-up (${workload}, ${wt} threads)`, exit: w.exit, errorText: w.errorText, log: w.log });
    }
  };

  // 4. the matrix: per cell, ROUNDS interleaved rounds (each starts with the next target, so no target always
  // runs first or after the same neighbour); the report shows per-target medians.
  for (const workload of WORKLOADS) {
    await warmUp(workload);
    for (const threads of THREADS) {
      const cell = new Map(TARGETS.map((name) => [name, []]));
      for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < TARGETS.length; k++) {
        const name = TARGETS[(k + round) % TARGETS.length];
        const label = `${workload}-t${threads}-${name}${ROUNDS > 1 ? `-r${round + 1}` : ''}`;
        await ensureAlive(name, `before ${label}`);
        await waitConnHeadroom(name.startsWith('sluice') && name !== 'sluice-nomux' ? Math.min(threads, 20) : threads);
        // CPU of the proxy and of MariaDB over the run, per query, and how idle the machine was.
        const proxyPid = targets[name].pid;
        const cpu0 = { proxy: proxyPid ? cpuTicks(proxyPid) : null, db: cpuTicks(topo.primary.pid), machine: machineTicks() };
        const res = await runSysbench(label, workload, targets[name], threads, TIME);
        const cpu1 = { proxy: proxyPid ? cpuTicks(proxyPid) : null, db: cpuTicks(topo.primary.pid), machine: machineTicks() };
        const row = { workload, threads, target: name, ...res };
        row.cpu = {
          proxyUs: usPerQuery(cpu0.proxy, cpu1.proxy, res.queries),
          proxyUserUs: usPerQuery(cpu0.proxy, cpu1.proxy, res.queries, 'user'),
          dbUs: usPerQuery(cpu0.db, cpu1.db, res.queries),
          idlePct: ((cpu1.machine.idle - cpu0.machine.idle) / Math.max(1, cpu1.machine.total - cpu0.machine.total)) * 100,
        };
        const t = targets[name];
        if (t.proc && t.proc.done) {
          row.status = `${row.status === 'ok' ? '' : row.status + '; '}PROXY DIED (${fmtExit(t.proc.result)})`;
          row.proxyLogTail = t.logFile ? tail(t.logFile, 30) : undefined;
        }
        cell.get(name).push(row);
        log(`${label.padEnd(40)} ${row.status === 'ok' ? '' : row.status + ' '}qps=${row.qps?.toFixed(0) ?? '-'} avg=${row.avgMs?.toFixed(3) ?? '-'}ms p95=${row.p95Ms ?? '-'}ms err=${row.errors ?? '-'} reconn=${row.reconnects ?? '-'}`);
        if (row.status !== 'ok') for (const l of row.errorText) log(`    ${l}`);
      }
      }
      for (const name of TARGETS) results.push(medianRow(cell.get(name)));
    }
  }
  for (const name of SLUICE_KINDS) {
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
    for (const name of ['haproxy', 'node-relay', ...SLUICE_KINDS.filter((k) => k !== 'sluice')]) if (targets[name]?.proc) await stopProc(targets[name].proc);
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
    for (const name of [...SLUICE_KINDS, 'haproxy', 'node-relay']) if (targets[name]?.proc) await stopProc(targets[name].proc);
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

function report() {
  const L = [];
  L.push(`# Sluice benchmark — ${STAMP}`, '');
  L.push(`- machine: ${versions.cpu ?? '?'}, ${versions.cores ?? '?'} cores, ${versions.memGiB ?? '?'} GiB RAM (sysbench, MariaDB and the proxies share it: numbers are noisy)`);
  L.push(`- ${versions.mariadbd ?? ''}; ${versions.sysbench ?? ''}; ${versions.haproxy ?? ''}; node ${versions.node ?? ''}; sluice ${versions.git ?? '?'}`);
  L.push(`- sysbench: ${TABLES} tables × ${TABLE_SIZE} rows, ${TIME} s per run (after a ${WARMUP} s warm-up per workload and target), --db-ps-mode=${PS_MODE}, --rand-type=uniform; MariaDB max_connections=${MAX_CONNECTIONS}`);
  const described = {
    direct: '**direct** (MariaDB)',
    haproxy: `**haproxy** (mode tcp, ${HAPROXY_THREADS ? `nbthread ${HAPROXY_THREADS}` : 'default nbthread'})`,
    'node-relay': '**node-relay** (bench/node-relay.mjs: net + pipe)',
    sluice: '**sluice** (multiplexing on, pool max 20, pipelining on, busy polling 100 µs)',
    'sluice-base': `**sluice-base** (the same as sluice, the build in ${BASE_DIR}${versions.baseGit ? ` at ${versions.baseGit}` : ''})`,
    'sluice-nopipe': '**sluice-nopipe** (the same as sluice, pipelining off)',
    'sluice-nopoll': '**sluice-nopoll** (the same as sluice, busy polling off)',
    'sluice-nomux': '**sluice-nomux** (multiplexing off, pool max 200)',
  };
  L.push(`- targets: ${TARGETS.map((t) => described[t]).join(', ')}; each proxy in its own process`);
  L.push('- QPS = sysbench queries/s. Latency = per sysbench event (1 query for oltp_point_select; a 16-statement BEGIN…COMMIT transaction for oltp_read_only), ms.');
  L.push('- extra = avg latency − direct avg latency (same workload/threads); "× haproxy" / "× relay" = that extra divided by HAProxy\'s / node-relay\'s extra (— when the denominator is < 0.005 ms).');
  if (ROUNDS > 1) L.push(`- every cell is the **median of ${ROUNDS} interleaved rounds** (each round runs every target once, starting with a different one); errors and reconnects are summed over the rounds; the rounds themselves are listed under each table.`);
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
    if (ROUNDS > 1) {
      // Round by round, the two ratios the core issue's targets are about: Sluice's QPS × HAProxy's, and its
      // extra latency × the relay's (same round, so the same machine weather).
      L.push('', 'Rounds (same round = same machine conditions): Sluice QPS × HAProxy, and Sluice extra latency × relay extra latency, each round and their median (the steadiest single figure on a noisy machine: each ratio compares runs a few seconds apart):', '');
      const withBase = TARGETS.includes('sluice-base');
      L.push('| threads | QPS: ' + TARGETS.join(' / ') + ' | sluice × haproxy | median | extra × relay | median |' + (withBase ? ' sluice-base × haproxy | median |' : ''));
      L.push('|---:|---|---|---:|---|---:|' + (withBase ? '---|---:|' : ''));
      for (const threads of THREADS) {
        const by = Object.fromEntries(rows.filter((r) => r.threads === threads).map((r) => [r.target, r.rounds ?? []]));
        const qpsCols = [];
        const xh = [];
        const xr = [];
        const xhv = [];
        const xrv = [];
        const bh = [];
        const bhv = [];
        for (let i = 0; i < ROUNDS; i++) {
          const at = (n) => by[n]?.[i];
          qpsCols.push(TARGETS.map((n) => int(at(n)?.qps)).join(' / '));
          const s = at('sluice'), h = at('haproxy'), rl = at('node-relay'), d = at('direct');
          const qh = s && h ? ratio(s.qps, h.qps) : null;
          xh.push(qh !== null ? f(qh) : '—');
          if (typeof qh === 'number' && Number.isFinite(qh)) xhv.push(qh);
          const ex = (r) => (r && d && r.avgMs !== null && d.avgMs !== null ? r.avgMs - d.avgMs : null);
          const sx = ex(s), rx = ex(rl);
          xr.push(sx !== null && rx !== null && rx >= 0.005 ? f(sx / rx) : '—');
          if (sx !== null && rx !== null && rx >= 0.005) xrv.push(sx / rx);
          const b = at('sluice-base');
          const qb = b && h ? ratio(b.qps, h.qps) : null;
          bh.push(qb !== null ? f(qb) : '—');
          if (typeof qb === 'number' && Number.isFinite(qb)) bhv.push(qb);
        }
        const baseCols = withBase ? ` ${bh.join(', ')} | ${bhv.length ? f(median(bhv)) : '—'} |` : '';
        L.push(`| ${threads} | ${qpsCols.join('; ')} | ${xh.join(', ')} | ${xhv.length ? f(median(xhv)) : '—'} | ${xr.join(', ')} | ${xrv.length ? f(median(xrv)) : '—'} |${baseCols}`);
      }
    }
    L.push('', `CPU per query (µs, from /proc/<pid>/stat over each run; the proxy's user-space share in parentheses) and machine idle:`, '');
    L.push('| threads | target | proxy µs/query | MariaDB µs/query | machine idle % |');
    L.push('|---:|---|---:|---:|---:|');
    for (const r of rows) {
      const c = r.cpu ?? {};
      L.push(`| ${r.threads} | ${r.target} | ${c.proxyUs === null || c.proxyUs === undefined ? '—' : `${f(c.proxyUs, 1)} (${f(c.proxyUserUs, 1)})`} | ${f(c.dbUs, 1)} | ${f(c.idlePct, 0)} |`);
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

  const extraRss = SLUICE_KINDS.filter((n) => targets[n]?.rssAfterMatrixKiB);
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
  if (!state.shuttingDown) console.error(`bench: FAILED: ${fatalError}`);
  exitCode = 1;
}
if (!state.shuttingDown) {
  // Keep the MariaDB error log before the topology dir goes.
  saveServerLogs();
  log('tearing down…');
  await teardown();
  writeResults(report(), { stamp: STAMP, settings: { TIME, WARMUP, PS_MODE, WORKLOADS, THREADS, TARGETS }, versions, results, big, mem, events, fatalError });
  const failed = results.some((r) => r.status !== 'ok') || (big && big.status !== 'ok') || events.length > 0;
  if (failed && env.BENCH_STRICT === '1') exitCode = exitCode || 3;
  process.exit(exitCode);
}
