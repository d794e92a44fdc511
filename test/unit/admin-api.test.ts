// Admin HTTP API and metrics against a fake proxy state: documents, Prometheus exposition (checked with a
// text-format parser library), token checks, status codes, and that nothing leaks (stacks, literals).
import { DigestStats } from '../../src/frontend/digest-stats.js';
import { StatementStats } from '../../src/frontend/statement-stats.js';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { startAdminHttp, type AdminHttpServer } from '../../src/admin/http-server.js';
import { createSluiceMetrics, FAILOVER_METRIC_NAMES, SLUICE_METRIC_NAMES } from '../../src/admin/metrics.js';
import { backendsDoc, displayStatement, poolsDoc, sessionsDoc, statsDoc, digestsDoc, failoverDoc, failoverEventDoc, switchoverDoc } from '../../src/admin/views.js';
import type { AdminActions, AdminContext, AdminPoolView, AdminSessionView } from '../../src/admin/types.js';
import type { ProxyContext } from '../../src/frontend/context.js';
import { buildSnapshot, makeBackendView } from '../../src/router/topology-snapshot.js';
import { Capability } from '../../src/protocol/constants.js';
import { createLogger } from '../../src/util/log.js';

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

function pool(backend: string, user: string, caps: number, size: number, idle: number, waiting = 0): AdminPoolView {
  return {
    key: `${backend}\u0000${user}\u0000${caps}`,
    endpoint: { name: backend, host: '10.0.0.1', port: 3306 },
    profileCaps: caps,
    size,
    idleCount: idle,
    waiting,
    stats: { created: size + 1, destroyed: 1, connectErrors: 2, acquireTimeouts: 3, waits: 4, pipelined: 7, evicted: 1 },
  };
}

function session(id: number, fields: Partial<AdminSessionView> & { thread?: number } = {}): AdminSessionView {
  const { thread = 0, ...rest } = fields;
  return { id, userName: 'app', idle: true, currentBackendThreadId: () => thread, ...rest };
}

function fakeContext(): AdminContext & { pools: { list(): AdminPoolView[] } } {
  const sessions = new Map<number, AdminSessionView>([
    [2, session(2, { idle: false, thread: 77, remoteHost: '127.0.0.1', secure: true, state: { schema: 'shop' }, pinReasons: () => ['transaction', 'temp_table'], currentStatement: () => "ALTER USER 'x' IDENTIFIED BY 'hunter2'", currentBackendName: () => 'db1', connectedAt: Date.UTC(2024, 0, 2) })],
    [1, session(1, { remoteHost: 'localhost', pinReasons: () => [] })],
    [3, session(3, { userName: '' })],
  ]);
  const pools = [pool('db1', 'root', Capability.DEPRECATE_EOF, 3, 1, 2), pool('db1', 'root', 0, 2, 2), pool('db2', 'ro', Capability.FOUND_ROWS, 1, 0)];
  const statementStats = new StatementStats();
  statementStats.record('db1', 'primary', 2, 0);
  statementStats.record('db1', 'primary', 4, 1146);
  statementStats.record('db2', 'replica', 0.3, 0);
  return {
    statementStats,
    counters: { clientConnections: 3, clientConnectionsTotal: 10, authFailures: 1, statements: 500, syncs: 7, pins: { transaction: 4 } },
    sessions,
    pools: { list: () => pools },
    primary: { name: 'db1', host: '10.0.0.1', port: 3306 },
    router: { stats: { replicaReads: 9, primaryReads: 0, gtidWaits: 5, gtidWaitTimeouts: 1, noReplica: 2 } },
  };
}

const snapshot = buildSnapshot(3, [
  makeBackendView({ name: 'db1', role: 'primary', health: 'up', gtidPosition: '0-1-10', readOnly: false, lagSeconds: 0, lastCheckAt: 1 }),
  makeBackendView({ name: 'db2', role: 'replica', health: 'lagging', gtidPosition: '0-1-8', readOnly: true, lagSeconds: 42, lastError: 'replication lag 42 s > 30 s', lastCheckAt: 1 }),
  makeBackendView({ name: 'db3', role: 'replica', health: 'down', lagSeconds: null, lastCheckAt: 0, lastError: 'not checked yet' }),
]);

describe('admin documents', () => {
  it('backends: monitor view plus pool usage summed per backend', () => {
    const docs = backendsDoc(fakeContext(), snapshot, { setBackendOffline: () => true, isBackendOffline: (n) => n === 'db3' });
    assert.deepEqual(
      docs.map((d) => [d.name, d.role, d.health, d.lag_seconds, d.read_only, d.offline, d.pools]),
      [
        ['db1', 'primary', 'up', 0, false, false, { size: 5, idle: 3, in_use: 2, waiting: 2 }],
        ['db2', 'replica', 'lagging', 42, true, false, { size: 1, idle: 0, in_use: 1, waiting: 0 }],
        ['db3', 'replica', 'down', null, false, true, { size: 0, idle: 0, in_use: 0, waiting: 0 }],
      ],
    );
    assert.deepEqual(docs[0]!.statements, { total: 2, errors: 1, primary: 2, replica: 0, total_ms: 6, avg_ms: 3, p50_ms: 2, p99_ms: 4, max_ms: 4 });
    assert.equal(docs[1]!.statements!.replica, 1);
    assert.deepEqual(docs[2]!.statements, { total: 0, errors: 0, primary: 0, replica: 0, total_ms: 0, avg_ms: 0, p50_ms: 0, p99_ms: 0, max_ms: 0 });
    const { statementStats: _, ...withoutStats } = fakeContext();
    assert.equal(backendsDoc(withoutStats, snapshot, null)[0]!.statements, null, 'no statistics kept: null');
    assert.equal(docs[1]!.gtid_position, '0-1-8');
    assert.equal(docs[2]!.gtid_position, null, 'never checked: unknown, not empty');
    assert.equal(docs[1]!.last_error, 'replication lag 42 s > 30 s');
  });

  it('backends without a monitor: the primary, health unknown', () => {
    const [d, ...rest] = backendsDoc(fakeContext(), null, null);
    assert.equal(rest.length, 0);
    assert.equal(d!.name, 'db1');
    assert.equal(d!.health, 'unknown');
    assert.equal(d!.offline, null);
    assert.deepEqual(d!.pools, { size: 5, idle: 3, in_use: 2, waiting: 2 });
  });

  it('pools: key parts, usage, stats', () => {
    const docs = poolsDoc(fakeContext());
    assert.deepEqual(
      docs.map((d) => [d.backend, d.user, d.profile, d.size, d.idle, d.in_use, d.waiting]),
      [
        ['db1', 'root', [], 2, 2, 0, 0],
        ['db1', 'root', ['deprecate_eof'], 3, 1, 2, 2],
        ['db2', 'ro', ['found_rows'], 1, 0, 1, 0],
      ],
    );
    assert.deepEqual(docs[0]!.stats, { created: 3, destroyed: 1, connect_errors: 2, acquire_timeouts: 3, waits: 4, pipelined: 7, evicted: 1 });
  });

  it('sessions: optional fields null when the session lacks them; statements normalized', () => {
    const docs = sessionsDoc(fakeContext());
    assert.deepEqual(docs.map((d) => [d.id, d.state]), [[1, 'idle'], [2, 'active'], [3, 'login']]);
    const s2 = docs[1]!;
    assert.deepEqual(s2, {
      id: 2,
      user: 'app',
      host: '127.0.0.1',
      state: 'active',
      schema: 'shop',
      secure: true,
      pinned: true,
      pin_reasons: ['temp_table', 'transaction'],
      backend: 'db1',
      backend_thread_id: 77,
      connected_at: '2024-01-02T00:00:00.000Z',
      current_statement: 'ALTER USER ? IDENTIFIED BY ?',
    });
    const s1 = docs[0]!;
    assert.equal(s1.backend_thread_id, null);
    assert.equal(s1.current_statement, null);
    assert.equal(s1.connected_at, null);
    assert.equal(s1.pinned, false);
    assert.equal(docs[2]!.user, null);
  });

  it('displayStatement drops every literal and bounds the length', () => {
    assert.equal(displayStatement("SET PASSWORD FOR bob = PASSWORD('s3cret')"), 'SET PASSWORD FOR bob = PASSWORD(?)');
    assert.equal(displayStatement("CREATE USER u IDENTIFIED BY 'pw' , v IDENTIFIED BY \"pw2\""), 'CREATE USER u IDENTIFIED BY ?, v IDENTIFIED BY ?');
    assert.ok(!displayStatement(`SELECT 'a\\'s3cret'`)!.includes('s3cret'));
    const long = displayStatement(`SELECT ${'col, '.repeat(1000)}x FROM t`)!;
    assert.ok(long.length <= 1025 && long.endsWith('…'));
    assert.equal(displayStatement(''), null);
  });

  it('stats: counters with every pin reason, routing', () => {
    const s = statsDoc(fakeContext());
    assert.equal(s.statements, 500);
    assert.equal(s.session_syncs, 7);
    assert.equal(s.pins.transaction, 4);
    assert.equal(s.pins.lock_tables, 0);
    assert.deepEqual(s.routing, { replica_reads: 9, primary_reads: 0, gtid_waits: 5, gtid_wait_timeouts: 1, no_replica: 2 });
    assert.equal(statsDoc({ ...fakeContext(), router: null }).routing, null);
  });
});

describe('admin metrics', () => {
  it('exposes every Sluice metric in a valid text format, with values from the proxy state', async () => {
    const m = createSluiceMetrics(fakeContext(), { snapshot: () => snapshot }, { processMetrics: true });
    const text = await m.render();
    const families = parsePrometheusTextFormat(text);
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const name of SLUICE_METRIC_NAMES) assert.ok(byName.has(name), `${name} missing`);
    assert.ok(byName.has('process_cpu_seconds_total'));
    assert.ok(byName.has('nodejs_heap_size_used_bytes'));
    const value = (name: string, labels: Record<string, string> = {}): number => {
      const f = byName.get(name)!;
      const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      assert.ok(s, `${name}${JSON.stringify(labels)} missing`);
      return Number(s.value);
    };
    assert.equal(byName.get('sluice_statements_total')!.type, 'COUNTER');
    assert.equal(byName.get('sluice_client_connections')!.type, 'GAUGE');
    assert.equal(value('sluice_client_connections'), 3);
    assert.equal(value('sluice_client_connections_total'), 10);
    assert.equal(value('sluice_statements_total'), 500);
    assert.equal(value('sluice_pinned_total', { reason: 'transaction' }), 4);
    assert.equal(value('sluice_pinned_total', { reason: 'cursor' }), 0);
    assert.equal(value('sluice_pinned_sessions', { reason: 'temp_table' }), 1);
    assert.equal(value('sluice_pool_connections', { backend: 'db1', state: 'idle' }), 3);
    assert.equal(value('sluice_pool_connections', { backend: 'db1', state: 'in_use' }), 2);
    assert.equal(value('sluice_pool_connections', { backend: 'db3', state: 'idle' }), 0);
    assert.equal(value('sluice_pool_waiters', { backend: 'db1' }), 2);
    assert.equal(value('sluice_backend_up', { backend: 'db1', role: 'primary' }), 1);
    assert.equal(value('sluice_backend_up', { backend: 'db2', role: 'replica' }), 0);
    assert.equal(value('sluice_replication_lag_seconds', { backend: 'db2' }), 42);
    assert.ok(!byName.get('sluice_replication_lag_seconds')!.metrics.some((s) => s.labels?.backend === 'db3'), 'unknown lag is absent');
    assert.equal(value('sluice_replica_reads_total'), 9);
    assert.equal(value('sluice_gtid_waits_total'), 5);
    assert.equal(value('sluice_gtid_wait_timeouts_total'), 1);
    assert.equal(value('sluice_pool_acquire_timeouts_total', { backend: 'db1' }), 6);
    assert.equal(value('sluice_pool_pipelined_total', { backend: 'db1' }), 14);
    assert.equal(value('sluice_pool_pipeline_evicted_total', { backend: 'db1' }), 2);
    // Counters follow the proxy's (monotonic) counters between scrapes.
    const ctx = fakeContext();
    const m2 = createSluiceMetrics(ctx, null, { processMetrics: false });
    (ctx.counters as { statements: number }).statements = 1;
    assert.match(await m2.render(), /^sluice_statements_total 1$/m);
    (ctx.counters as { statements: number }).statements = 5;
    const again = await m2.render();
    assert.match(again, /^sluice_statements_total 5$/m);
    assert.doesNotMatch(again, /sluice_backend_up\{/, 'no monitor: no up series');
    assert.doesNotMatch(again, /^process_/m);
  });
});

describe('admin HTTP server', () => {
  let server: AdminHttpServer;
  let bare: AdminHttpServer;
  let boom: AdminHttpServer;
  const calls: Array<[string, boolean]> = [];
  const actions: AdminActions = {
    setBackendOffline(name, offline) {
      calls.push([name, offline]);
      return name === 'db2' || name === 'a/b';
    },
  };
  const log = createLogger('silent');
  const asProxy = (c: AdminContext) => c as unknown as ProxyContext;

  before(async () => {
    server = await startAdminHttp(asProxy(fakeContext()), { host: '127.0.0.1', port: 0, token: 's3cr3t-token', monitor: { snapshot: () => snapshot }, actions, processMetrics: false }, log);
    bare = await startAdminHttp(asProxy(fakeContext()), { host: '127.0.0.1', port: 0, token: null, monitor: null, actions, processMetrics: false }, log);
    const broken = fakeContext();
    broken.pools.list = () => {
      throw new Error('kaboom at /secret/path.ts:12');
    };
    boom = await startAdminHttp(asProxy(broken), { host: '127.0.0.1', port: 0, token: 't', monitor: null, processMetrics: false }, log);
  });
  after(async () => {
    await Promise.all([server.close(), bare.close(), boom.close()]);
  });

  const url = (s: AdminHttpServer, path: string) => `http://127.0.0.1:${s.port}${path}`;

  it('serves the JSON documents', async () => {
    for (const [path, key] of [['/api/v1/backends', 'backends'], ['/api/v1/pools', 'pools'], ['/api/v1/sessions', 'sessions']] as const) {
      const res = await fetch(url(server, path));
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type')!, /^application\/json/);
      const body = (await res.json()) as Record<string, unknown[]>;
      assert.ok(Array.isArray(body[key]), path);
    }
    const stats = (await (await fetch(url(server, '/api/v1/stats/'))).json()) as { statements: number };
    assert.equal(stats.statements, 500);
    const metrics = await fetch(url(server, '/metrics'));
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    assert.ok(parsePrometheusTextFormat(await metrics.text()).length >= SLUICE_METRIC_NAMES.length);
  });

  it('protects state changes with the bearer token', async () => {
    const post = (s: AdminHttpServer, path: string, auth?: string) => fetch(url(s, path), { method: 'POST', headers: auth ? { Authorization: auth } : {} });
    let res = await post(server, '/api/v1/backends/db2/offline');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await res.json()) as { error: string }).error, 'unauthorized');
    res = await post(server, '/api/v1/backends/db2/offline', 'Bearer wrong');
    assert.equal(res.status, 401);
    res = await post(server, '/api/v1/backends/db2/offline', 'Basic czNjcjN0LXRva2Vu');
    assert.equal(res.status, 401);
    assert.deepEqual(calls, [], 'nothing ran without the token');
    res = await post(server, '/api/v1/backends/nope/offline', 'Bearer s3cr3t-token');
    assert.equal(res.status, 404);
    res = await post(server, '/api/v1/backends/db2/offline', 'bearer s3cr3t-token');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { backend: 'db2', offline: true });
    res = await post(server, '/api/v1/backends/a%2Fb/online', 'Bearer s3cr3t-token');
    assert.deepEqual(await res.json(), { backend: 'a/b', offline: false });
    assert.deepEqual(calls, [['nope', true], ['db2', true], ['a/b', false]]);
    // No token configured: refused whatever is sent.
    res = await post(bare, '/api/v1/backends/db2/online', 'Bearer s3cr3t-token');
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: string }).error, 'forbidden');
    // No actions wired: 501 (after the token check).
    res = await post(boom, '/api/v1/backends/db2/online');
    assert.equal(res.status, 401);
    res = await post(boom, '/api/v1/backends/db2/online', 'Bearer t');
    assert.equal(res.status, 501);
  });

  it('answers 404 / 405 in JSON and never leaks internals', async () => {
    let res = await fetch(url(server, '/api/v1/nothing'));
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'not_found');
    res = await fetch(url(server, '/no/such/page'));
    assert.equal(res.status, 404);
    res = await fetch(url(server, '/api/v1/backends'), { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    res = await fetch(url(server, '/api/v1/backends/db2/offline'));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    res = await fetch(url(boom, '/api/v1/pools'));
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error: 'internal_error', message: 'internal error (see the Sluice log)' });
    assert.doesNotMatch(text, /kaboom|secret|at /);
  });

  it('reports a port already in use', async () => {
    await assert.rejects(startAdminHttp(asProxy(fakeContext()), { host: '127.0.0.1', port: server.port, token: null, monitor: null, processMetrics: false }, log), /EADDRINUSE/);
  });
});

describe('docs/openapi.yaml', () => {
  // dist/test/unit/ → repository root
  const spec = parseYaml(readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8')) as {
    openapi: string;
    paths: Record<string, Record<string, { description?: string }>>;
    components: { schemas: Record<string, Schema> };
  };
  interface Schema {
    required?: string[];
    allOf?: Schema[];
    $ref?: string;
  }
  const required = (name: string): string[] => {
    const collect = (s: Schema): string[] =>
      s.$ref ? collect(spec.components.schemas[s.$ref.replace('#/components/schemas/', '')]!) : [...(s.required ?? []), ...(s.allOf ?? []).flatMap(collect)];
    return collect(spec.components.schemas[name]!).sort();
  };

  it('describes every endpoint', () => {
    assert.match(spec.openapi, /^3\./);
    assert.deepEqual(Object.keys(spec.paths).sort(), [
      '/api/v1/backends',
      '/api/v1/backends/{name}/offline',
      '/api/v1/backends/{name}/online',
      '/api/v1/digests',
      '/api/v1/digests/reset',
      '/api/v1/failover',
      '/api/v1/failovers',
      '/api/v1/pools',
      '/api/v1/sessions',
      '/api/v1/stats',
      '/api/v1/switchover',
      '/metrics',
    ]);
    const metricsText = spec.paths['/metrics']!.get!.description!;
    for (const name of [...SLUICE_METRIC_NAMES, ...FAILOVER_METRIC_NAMES]) assert.ok(metricsText.includes(`| ${name} |`), `${name} not documented`);
  });

  it('lists exactly the fields the API sends', () => {
    const ctx = fakeContext();
    assert.deepEqual(required('Backend'), Object.keys(backendsDoc(ctx, snapshot, null)[0]!).sort());
    assert.deepEqual(required('Pool'), Object.keys(poolsDoc(ctx)[0]!).sort());
    assert.deepEqual(required('Session'), Object.keys(sessionsDoc(ctx)[0]!).sort());
    assert.deepEqual(required('Stats'), Object.keys(statsDoc(ctx)).sort());
    const digests = new DigestStats();
    digests.record({ text: 'SELECT ?', hash: 1n, statsEntry: null, statsGeneration: -1 }, 0.5, 1, false);
    assert.deepEqual(required('Digest'), Object.keys(digestsDoc({ ...ctx, digests })[0]!).sort());
    assert.deepEqual(required('BackendStatements'), Object.keys(backendsDoc(ctx, snapshot, null)[0]!.statements!).sort());
    const failover = failoverDoc({
      phase: () => 'normal',
      primaryName: () => 'db1',
      buffered: () => ({ statements: 0, bytes: 0 }),
      stats: { failovers: 0, switchovers: 0, followed: 0, bufferedTotal: 0, bufferRejected: 0, retried: 0, replayed: 0, replayMismatches: 0, outcomeUnknown: 0 },
      history: () => [],
      switchover: () => Promise.reject(new Error('no')),
    });
    assert.deepEqual(required('Failover'), Object.keys(failover).sort());
    const fSchema = spec.components.schemas.Failover as unknown as { properties: Record<string, { required?: string[] }> };
    assert.deepEqual([...fSchema.properties.stats!.required!].sort(), Object.keys(failover.stats).sort());
    assert.deepEqual([...fSchema.properties.buffered!.required!].sort(), Object.keys(failover.buffered).sort());
    assert.deepEqual(required('FailoverEvent'), Object.keys(failoverEventDoc({ at: 0, kind: 'failover', from: 'a', to: 'b', detail: '', durationMs: 1 })).sort());
    assert.deepEqual(required('Switchover'), Object.keys(switchoverDoc({ from: 'a', to: 'b', pauseMs: 1 })).sort());
  });
});
