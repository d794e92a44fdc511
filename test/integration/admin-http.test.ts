// Admin HTTP API and /metrics against a real Sluice and the real MariaDB topology: the numbers it reports
// match the servers' own view (PROCESSLIST, SHOW SLAVE STATUS, @@read_only), /metrics is accepted by a
// Prometheus text-format parser, state changes need the token, and no password shows anywhere.
//
// The config user `app` is mapped to a backend user made for this file, so the backend connections Sluice
// opens are exactly that user's rows in PROCESSLIST (root is shared with whatever else runs on the topology).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { rootQuery, testTopology } from '../helpers/topology.js';
import { startAdminHttp, type AdminHttpServer } from '../../src/admin/http-server.js';
import type { AdminActions } from '../../src/admin/types.js';
import type { BackendDoc, PoolDoc, SessionDoc, StatsDoc } from '../../src/admin/views.js';
import type { BackendMonitor } from '../../src/backend/monitor.js';
import { createLogger } from '../../src/util/log.js';

interface ParsedFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
const backendUser = `adm_${randomBytes(4).toString('hex')}`;
const backendPassword = `pw-${randomBytes(8).toString('hex')}`;
const APP_PASSWORD = 'app-secret';

let sluice: TestSluice;
let admin: AdminHttpServer;
let tokenless: AdminHttpServer;
const offlineCalls: Array<[string, boolean]> = [];

before(async () => {
  await rootQuery(`CREATE USER '${backendUser}'@'%' IDENTIFIED BY '${backendPassword}'`);
  await rootQuery(`GRANT SELECT ON *.* TO '${backendUser}'@'%'`);
  sluice = await startTestSluice({
    users: [{ name: 'app', password: APP_PASSWORD, backend_user: backendUser, backend_password: backendPassword }],
    passthrough_users: { enabled: false },
  });
  const ctx = sluice.server.context;
  // The monitor is not exposed by startSluice; the router holds it (a replica is configured).
  const monitor = (ctx.router?.['monitor'] ?? null) as BackendMonitor | null;
  assert.ok(monitor, 'the test config has replicas, so a monitor runs');
  // Stand-in for the router's implementation: knows the configured backends.
  const actions: AdminActions = {
    setBackendOffline(name, offline) {
      if (!ctx.config.backends.some((b) => b.name === name)) return false;
      offlineCalls.push([name, offline]);
      return true;
    },
  };
  const log = createLogger('silent');
  admin = await startAdminHttp(ctx, { host: '127.0.0.1', port: 0, token: TOKEN, monitor, actions }, log);
  tokenless = await startAdminHttp(ctx, { host: '127.0.0.1', port: 0, token: null, monitor, actions }, log);
});

after(async () => {
  await admin?.close();
  await tokenless?.close();
  await sluice?.close();
  await rootQuery(`DROP USER IF EXISTS '${backendUser}'@'%'`);
});

async function get<T>(path: string, server = admin): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as T;
}

/** The backend user's connections as the primary sees them: thread ids. */
async function serverThreads(): Promise<number[]> {
  const rows = await rootQuery<Array<{ ID: number | string }>>(
    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND <> 'Daemon' ORDER BY ID",
    [backendUser],
  );
  return rows.map((r) => Number(r.ID));
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function primaryPools(pools: PoolDoc[]): { size: number; idle: number; in_use: number; waiting: number } {
  const sum = { size: 0, idle: 0, in_use: 0, waiting: 0 };
  for (const p of pools) {
    if (p.backend !== 'primary') continue;
    assert.equal(p.user, backendUser, 'pools are keyed by the backend user');
    sum.size += p.size;
    sum.idle += p.idle;
    sum.in_use += p.in_use;
    sum.waiting += p.waiting;
  }
  return sum;
}

test('sessions, pools and backends match the clients and the servers’ own view', async () => {
  const clients: mysql.Connection[] = await Promise.all(Array.from({ length: 5 }, () => connectApp(sluice.port)));
  try {
    // Every client runs something (so each has needed a backend connection); two stay in a transaction.
    await Promise.all(clients.map((c) => c.query('SELECT SLEEP(0.1)')));
    const inTx = clients.slice(0, 2);
    for (const c of inTx) {
      await c.query('BEGIN');
      await c.query('SELECT 1');
    }

    // Sessions: one per open client, ids as the clients saw them in the handshake.
    const { sessions } = await get<{ sessions: SessionDoc[] }>('/api/v1/sessions');
    assert.equal(sessions.length, clients.length);
    assert.deepEqual(sessions.map((s) => s.id).sort((a, b) => a - b), clients.map((c) => c.threadId).sort((a, b) => a - b));
    for (const s of sessions) {
      assert.equal(s.user, 'app');
      assert.equal(s.host, '127.0.0.1');
      assert.equal(s.state, 'idle');
    }
    const pinned = sessions.filter((s) => s.pinned);
    assert.deepEqual(pinned.map((s) => s.id).sort(), inTx.map((c) => c.threadId).sort());
    for (const s of pinned) assert.ok(s.pin_reasons.includes('transaction'), JSON.stringify(s));

    // Pools vs the primary's PROCESSLIST for the backend user.
    let pools: PoolDoc[] = [];
    let threads: number[] = [];
    const consistent = await until(async () => {
      pools = (await get<{ pools: PoolDoc[] }>('/api/v1/pools')).pools;
      threads = await serverThreads();
      return primaryPools(pools).size === threads.length;
    });
    const usage = primaryPools(pools);
    assert.ok(consistent, `pool size ${usage.size} vs PROCESSLIST ${threads.length} (${JSON.stringify(pools)})`);
    assert.ok(usage.size >= 2, 'at least the two pinned connections');
    assert.equal(usage.in_use, 2, 'the two transactions hold their connections');
    assert.equal(usage.idle, usage.size - 2);
    assert.equal(usage.waiting, 0);
    // The connections the pinned sessions hold are those server threads.
    for (const s of pinned) assert.ok(s.backend_thread_id !== null && threads.includes(s.backend_thread_id), `thread ${s.backend_thread_id} in ${threads}`);

    // Backends: monitor view (vs the servers) plus the same pool usage.
    const { backends } = await get<{ backends: BackendDoc[] }>('/api/v1/backends');
    const t = testTopology();
    assert.deepEqual(backends.map((b) => [b.name, b.role]), [['primary', 'primary'], ...t.replicas.map((_, i) => [`replica${i + 1}`, 'replica'])]);
    const primary = backends[0]!;
    assert.equal(primary.port, t.primary.port);
    assert.equal(primary.health, 'up');
    assert.match(primary.gtid_position ?? '', /^(\d+-\d+-\d+)(,\d+-\d+-\d+)*$|^$/);
    assert.deepEqual(primary.pools, usage);
    for (let i = 0; i < t.replicas.length; i++) {
      const b = backends[i + 1]!;
      const node = t.replicas[i]!;
      assert.equal(b.port, node.port);
      assert.equal(b.health, 'up', JSON.stringify(b));
      assert.deepEqual(b.pools, { size: 0, idle: 0, in_use: 0, waiting: 0 }, 'no read/write splitting in this config');
      const [status] = await rootQuery<Array<Record<string, unknown>>>('SHOW SLAVE STATUS', undefined, node);
      const [ro] = await rootQuery<Array<{ ro: number }>>('SELECT @@read_only AS ro', undefined, node);
      assert.equal(b.read_only, Number(ro!.ro) === 1);
      const sbm = Number(status!.Seconds_Behind_Master);
      assert.equal(typeof b.lag_seconds, 'number');
      assert.ok(Math.abs(b.lag_seconds! - sbm) <= 2, `lag ${b.lag_seconds} vs Seconds_Behind_Master ${sbm}`);
    }

    // Stats follow the proxy's counters.
    const stats = await get<StatsDoc>('/api/v1/stats');
    assert.equal(stats.client_connections, clients.length);
    assert.ok(stats.client_connections_total >= clients.length);
    assert.ok(stats.statements >= clients.length + 4);
    assert.ok(stats.pins.transaction! >= 2);
    assert.ok(stats.routing !== null);

    // /metrics: valid text format, every Sluice metric, values consistent with the JSON.
    const res = await fetch(`http://127.0.0.1:${admin.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(await res.text());
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const name of [
      'sluice_client_connections',
      'sluice_client_connections_total',
      'sluice_statements_total',
      'sluice_session_syncs_total',
      'sluice_pinned_total',
      'sluice_auth_failures_total',
      'sluice_busy_poll_seconds_total',
      'sluice_pool_connections',
      'sluice_pool_waiters',
      'sluice_backend_up',
      'sluice_replication_lag_seconds',
      'sluice_replica_reads_total',
      'sluice_gtid_waits_total',
      'sluice_gtid_wait_timeouts_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(byName.has(name), `${name} missing from /metrics`);
    }
    for (const f of families) if (f.name.startsWith('sluice_') && f.type === 'COUNTER') assert.match(f.name, /_total$/);
    const sample = (name: string, labels: Record<string, string> = {}): number => {
      const m = byName.get(name)!.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      assert.ok(m, `${name} ${JSON.stringify(labels)}`);
      return Number(m.value);
    };
    assert.equal(sample('sluice_client_connections'), clients.length);
    assert.equal(sample('sluice_pool_connections', { backend: 'primary', state: 'in_use' }), 2);
    assert.equal(sample('sluice_pool_connections', { backend: 'primary', state: 'idle' }), usage.idle);
    assert.equal(sample('sluice_pool_waiters', { backend: 'primary' }), 0);
    assert.equal(sample('sluice_backend_up', { backend: 'primary', role: 'primary' }), 1);
    assert.equal(sample('sluice_backend_up', { backend: 'replica1', role: 'replica' }), 1);
    assert.ok(sample('sluice_pinned_total', { reason: 'transaction' }) >= 2);
    assert.ok(sample('sluice_statements_total') >= clients.length + 4);
    // Statements ran one at a time above (busy polling on by default): the loop has polled for some time.
    assert.ok(sample('sluice_busy_poll_seconds_total') > 0);
    assert.ok(Number.isFinite(sample('sluice_replication_lag_seconds', { backend: 'replica1' })));

    // Ending the transactions gives the connections back; closing a client removes its session.
    for (const c of inTx) await c.query('COMMIT');
    await clients.pop()!.end();
    assert.ok(
      await until(async () => (await get<{ sessions: SessionDoc[] }>('/api/v1/sessions')).sessions.length === clients.length),
      'closed client gone from /api/v1/sessions',
    );
    const after = primaryPools((await get<{ pools: PoolDoc[] }>('/api/v1/pools')).pools);
    assert.equal(after.in_use, 0);
    assert.equal(after.idle, after.size);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => c.destroy())));
  }
});

test('statements by backend and route, latency histogram and errors by code count exactly what was sent', async () => {
  const scrape = async () => {
    const text = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
    const fams = parsePrometheusTextFormat(text);
    const get = (name: string, labels: Record<string, string>) =>
      Number(fams.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? 0);
    // (the parser library drops the labels of histogram samples: read _count from the text)
    const histCount = Number(/^sluice_statement_duration_seconds_count\{backend="primary",route="primary"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    return {
      statements: get('sluice_backend_statements_total', { backend: 'primary', route: 'primary' }),
      errors1146: get('sluice_statement_errors_total', { backend: 'primary', code: '1146' }),
      histCount,
    };
  };
  const before = await scrape();
  const c = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'app', password: APP_PASSWORD });
  try {
    for (let i = 0; i < 40; i++) await c.query('SELECT ? AS n', [i]);
    for (let i = 0; i < 3; i++) await assert.rejects(c.query('SELECT * FROM mysql.no_such_table_here'), (e: { errno: number }) => e.errno === 1146);
  } finally {
    await c.end();
  }
  const after = await scrape();
  assert.equal(after.statements - before.statements, 43, JSON.stringify({ before, after, list: sluice.server.context.statementStats.list().map((e) => [e.backend, e.route, e.count]) }));
  assert.equal(after.errors1146 - before.errors1146, 3);
  assert.equal(after.histCount - before.histCount, 43);
});

test('state changes need the bearer token; unknown paths and backends are 404', async () => {
  const post = (path: string, auth?: string, server = admin) =>
    fetch(`http://127.0.0.1:${server.port}${path}`, { method: 'POST', headers: auth === undefined ? {} : { Authorization: auth } });
  const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

  let res = await post('/api/v1/backends/replica1/offline');
  assert.equal(res.status, 401);
  assert.equal(await errorOf(res), 'unauthorized');
  res = await post('/api/v1/backends/replica1/offline', 'Bearer not-the-token');
  assert.equal(res.status, 401);
  res = await post('/api/v1/backends/replica1/offline', `Bearer ${TOKEN}`, tokenless);
  assert.equal(res.status, 403);
  assert.equal(await errorOf(res), 'forbidden');
  assert.deepEqual(offlineCalls, []);

  res = await post('/api/v1/backends/replica1/offline', `Bearer ${TOKEN}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { backend: 'replica1', offline: true });
  res = await post('/api/v1/backends/replica1/online', `Bearer ${TOKEN}`);
  assert.deepEqual(await res.json(), { backend: 'replica1', offline: false });
  assert.deepEqual(offlineCalls, [['replica1', true], ['replica1', false]]);
  res = await post('/api/v1/backends/no-such-backend/offline', `Bearer ${TOKEN}`);
  assert.equal(res.status, 404);
  assert.equal(await errorOf(res), 'not_found');

  for (const path of ['/api/v1', '/api/v1/backends/replica1', '/api/v2/pools', '/metrics/x']) {
    res = await fetch(`http://127.0.0.1:${admin.port}${path}`);
    assert.equal(res.status, 404, path);
    assert.equal(await errorOf(res), 'not_found');
  }
  res = await fetch(`http://127.0.0.1:${admin.port}/api/v1/sessions`, { method: 'POST' });
  assert.equal(res.status, 405);
});

test('no password appears in any output', async () => {
  const client = await connectApp(sluice.port);
  try {
    await client.query('SELECT 1');
    const t = testTopology();
    const secrets = [t.root.password, t.monitor.password, t.repl.password, t.demo.password, backendPassword, APP_PASSWORD, TOKEN];
    for (const path of ['/api/v1/backends', '/api/v1/pools', '/api/v1/sessions', '/api/v1/stats', '/metrics', '/nothing']) {
      const text = await (await fetch(`http://127.0.0.1:${admin.port}${path}`)).text();
      for (const s of secrets) assert.ok(!text.includes(s), `${path} shows a secret`);
    }
  } finally {
    await client.end();
  }
});

test('admin.http from the config: live statement per session, and a replica taken offline by an operator gets no reads', { timeout: 60000 }, async () => {
  const s = await startTestSluice({ routing: { read_write_split: true, consistency: 'eventual' }, admin: { http: { port: 0, token: 'ops-token' } } });
  try {
    const base = `http://127.0.0.1:${s.server.adminHttpPort}`;
    const c = await connectApp(s.port);
    const slow = c.query('SELECT SLEEP(1) AS s /* marker */');
    await new Promise((r) => setTimeout(r, 300));
    const sessions = (await (await fetch(`${base}/api/v1/sessions`)).json()) as { sessions: Array<{ id: number; current_statement: string | null; backend: string | null }> };
    const mine = sessions.sessions.find((x) => x.id === c.threadId)!;
    assert.match(mine.current_statement ?? '', /SELECT SLEEP\(\?\)/);
    assert.ok(mine.backend?.startsWith('replica'), `a plain read runs on a replica (${mine.backend})`);
    await slow;
    const denied = await fetch(`${base}/api/v1/backends/replica1/offline`, { method: 'POST' });
    assert.equal(denied.status, 401);
    const off = await fetch(`${base}/api/v1/backends/replica1/offline`, { method: 'POST', headers: { authorization: 'Bearer ops-token' } });
    assert.equal(off.status, 200);
    const t = testTopology();
    const r2 = Number((await rootQuery<Array<{ id: number }>>('SELECT @@server_id AS id', [], t.replicas[1]))[0]!.id);
    for (let i = 0; i < 20; i++) {
      const [[{ id }]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
      assert.equal(Number(id), r2, 'only replica2 serves reads while replica1 is offline');
    }
    const on = await fetch(`${base}/api/v1/backends/replica1/online`, { method: 'POST', headers: { authorization: 'Bearer ops-token' } });
    assert.equal(on.status, 200);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add(Number(((await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]])[0][0].id));
    assert.equal(seen.size, 2, 'both replicas serve again');
    await c.end();
  } finally {
    await s.close();
  }
});
