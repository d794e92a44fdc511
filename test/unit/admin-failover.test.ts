// The failover surfaces of the admin layer against a scripted FailoverControl (the manager's interface; no
// MySQL involved): documents, /metrics (failover families, the statement histogram in valid exposition
// format), SLUICE SHOW FAILOVER(S) / SLUICE SWITCHOVER, and the HTTP endpoints with their status codes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startAdminHttp, type AdminHttpServer } from '../../src/admin/http-server.js';
import { createSluiceMetrics, FAILOVER_METRIC_NAMES } from '../../src/admin/metrics.js';
import { backendsDoc, failoverDoc, failoverEventsDoc } from '../../src/admin/views.js';
import {
  isAdminStatement,
  isSwitchoverStatement,
  parseSwitchover,
  runAdminStatement,
  runSwitchover,
  switchoverMessage,
  SWITCHOVER_ERROR_CODE,
} from '../../src/admin/sql.js';
import type { AdminContext } from '../../src/admin/types.js';
import type { FailoverControl, FailoverEvent, FailoverPhase, FailoverStats, SwitchoverResult } from '../../src/failover/types.js';
import type { ProxyContext } from '../../src/frontend/context.js';
import { STATEMENT_BUCKETS_SECONDS, StatementStats } from '../../src/frontend/statement-stats.js';
import { buildSnapshot, makeBackendView } from '../../src/router/topology-snapshot.js';
import { createLogger } from '../../src/util/log.js';

const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => Array<{ name: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }>;

/** A FailoverControl whose state the test sets; switchover() answers with what `next` says. */
class ScriptedFailover implements FailoverControl {
  current: FailoverPhase = 'normal';
  primary = 'db1';
  held = { statements: 0, bytes: 0 };
  readonly stats: FailoverStats = { failovers: 1, switchovers: 2, followed: 3, bufferedTotal: 40, bufferRejected: 5, retried: 6, replayed: 7, replayMismatches: 8, outcomeUnknown: 9 };
  events: FailoverEvent[] = [];
  calls: Array<string | null> = [];
  next: (target: string | null) => Promise<SwitchoverResult> = (target) => Promise.resolve({ from: this.primary, to: target ?? 'db2', pauseMs: 123.4 });

  phase(): FailoverPhase {
    return this.current;
  }
  primaryName(): string {
    return this.primary;
  }
  buffered(): { statements: number; bytes: number } {
    return this.held;
  }
  history(): readonly FailoverEvent[] {
    return this.events;
  }
  switchover(target: string | null): Promise<SwitchoverResult> {
    this.calls.push(target);
    return this.next(target);
  }
}

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

function context(failover: FailoverControl | null): AdminContext & { failover: FailoverControl | null } {
  const statementStats = new StatementStats();
  statementStats.record('db1', 'primary', 0.2, 0);
  statementStats.record('db1', 'primary', 3, 1062);
  statementStats.record('db1', 'primary', 3, 1062);
  statementStats.record('db2', 'replica', 30, 0);
  statementStats.record('db2', 'replica', 60_000, 1317);
  return {
    counters: { clientConnections: 0, clientConnectionsTotal: 0, authFailures: 0, statements: 5, syncs: 0, pins: {} },
    sessions: new Map(),
    pools: { list: () => [] },
    primary: { name: 'db1', host: '10.0.0.1', port: 3306 },
    router: null,
    statementStats,
    failover,
  };
}

const snapshot = buildSnapshot(1, [
  makeBackendView({ name: 'db1', role: 'primary', health: 'up', lastCheckAt: 1 }),
  makeBackendView({ name: 'db2', role: 'replica', health: 'up', lastCheckAt: 1 }),
  makeBackendView({ name: 'db3', role: 'replica', health: 'up', lastCheckAt: 1 }),
]);

function withHistory(f: ScriptedFailover): ScriptedFailover {
  f.events = [
    { at: T0, kind: 'primary_lost', from: 'db1', to: 'db1', detail: 'db1 unreachable for 2000 ms', durationMs: null },
    { at: T0 + 2500, kind: 'failover', from: 'db1', to: 'db2', detail: 'promoted db2 (most advanced replica)', durationMs: 2500.25 },
  ];
  return f;
}

describe('failover documents', () => {
  it('failover state, counters and history (oldest first, ISO times)', () => {
    const f = withHistory(new ScriptedFailover());
    f.current = 'primary_lost';
    f.held = { statements: 4, bytes: 512 };
    assert.deepEqual(failoverDoc(f), {
      phase: 'primary_lost',
      primary: 'db1',
      buffered: { statements: 4, bytes: 512 },
      stats: { failovers: 1, switchovers: 2, followed: 3, buffered_total: 40, buffer_rejected: 5, retried: 6, replayed: 7, replay_mismatches: 8, outcome_unknown: 9 },
    });
    assert.deepEqual(failoverEventsDoc(f), [
      { at: '2024-05-01T12:00:00.000Z', kind: 'primary_lost', from: 'db1', to: 'db1', duration_ms: null, detail: 'db1 unreachable for 2000 ms' },
      { at: '2024-05-01T12:00:02.500Z', kind: 'failover', from: 'db1', to: 'db2', duration_ms: 2500.25, detail: 'promoted db2 (most advanced replica)' },
    ]);
  });

  it('backends show the live primary from the failover manager', () => {
    const f = new ScriptedFailover();
    f.primary = 'db2';
    const roles = backendsDoc(context(f), snapshot, null).map((b) => [b.name, b.role]);
    assert.deepEqual(roles, [['db1', 'replica'], ['db2', 'primary'], ['db3', 'replica']]);
    assert.deepEqual(backendsDoc(context(null), snapshot, null).map((b) => b.role), ['primary', 'replica', 'replica'], 'monitor roles without failover');
  });
});

/** Parses the exposition's sample lines strictly: name, labels, value. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const part of m[2].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const eq = part.indexOf('=');
        labels[part.slice(0, eq)] = part.slice(eq + 2, -1);
      }
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), line);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

describe('failover and statement metrics', () => {
  it('statement histogram: cumulative buckets per backend and route, +Inf = _count, _sum in seconds', async () => {
    const text = await createSluiceMetrics(context(null), null, { processMetrics: false }).render();
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    assert.equal(families.get('sluice_statement_duration_seconds')?.type, 'HISTOGRAM');
    assert.equal(families.get('sluice_backend_statements_total')?.type, 'COUNTER');
    assert.equal(families.get('sluice_statement_errors_total')?.type, 'COUNTER');
    assert.match(text, /^# TYPE sluice_statement_duration_seconds histogram$/m);
    const all = samples(text);
    const series = (suffix: string, backend: string, route: string) =>
      all.filter((s) => s.name === `sluice_statement_duration_seconds${suffix}` && s.labels.backend === backend && s.labels.route === route);

    const b1 = series('_bucket', 'db1', 'primary');
    assert.deepEqual(b1.map((s) => s.labels.le), [...STATEMENT_BUCKETS_SECONDS.map(String), '+Inf']);
    assert.deepEqual(b1.map((s) => s.value), [1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    assert.deepEqual(series('_count', 'db1', 'primary').map((s) => s.value), [3]);
    assert.ok(Math.abs(series('_sum', 'db1', 'primary')[0]!.value - 0.0062) < 1e-12);

    const b2 = series('_bucket', 'db2', 'replica');
    assert.equal(b2.at(-2)!.value, 1, 'le=10: only the 30 ms one');
    assert.equal(b2.at(-1)!.value, 2, '+Inf: both');
    assert.equal(series('_sum', 'db2', 'replica')[0]!.value, 60.03);
    for (const s of [b1, b2]) for (let i = 1; i < s.length; i++) assert.ok(s[i]!.value >= s[i - 1]!.value, 'cumulative');
    assert.equal(series('_bucket', 'db1', 'replica').length, 0, 'no series for a pair that never ran');

    const count = (backend: string, route: string) => all.find((s) => s.name === 'sluice_backend_statements_total' && s.labels.backend === backend && s.labels.route === route)?.value;
    assert.equal(count('db1', 'primary'), 3);
    assert.equal(count('db2', 'replica'), 2);
    const errors = all.filter((s) => s.name === 'sluice_statement_errors_total').map((s) => [s.labels.backend, s.labels.code, s.value]);
    assert.deepEqual(errors, [['db1', '1062', 2], ['db2', '1317', 1]]);
    // The client-command counter is unchanged (no labels).
    assert.match(text, /^sluice_statements_total 5$/m);
  });

  it('failover families: absent without failover, read live at each scrape with it', async () => {
    const ctx = context(null);
    const m = createSluiceMetrics(ctx, { snapshot: () => snapshot }, { processMetrics: false });
    let text = await m.render();
    for (const name of FAILOVER_METRIC_NAMES) assert.doesNotMatch(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} present without failover`);

    const f = new ScriptedFailover();
    ctx.failover = f; // set after start, as the proxy does
    f.held = { statements: 3, bytes: 300 };
    text = await m.render();
    const families = new Map(parsePrometheusTextFormat(text).map((x) => [x.name, x]));
    for (const name of FAILOVER_METRIC_NAMES) assert.ok(families.has(name), `${name} missing`);
    for (const fam of families.values()) if (fam.name.startsWith('sluice_') && fam.type === 'COUNTER') assert.match(fam.name, /_total$/);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples(text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(value('sluice_failovers_total'), 1);
    assert.equal(value('sluice_switchovers_total'), 2);
    assert.equal(value('sluice_primary_changes_followed_total'), 3);
    assert.equal(value('sluice_failover_buffer_statements'), 3);
    assert.equal(value('sluice_failover_buffer_bytes'), 300);
    assert.equal(value('sluice_failover_buffered_statements_total'), 40);
    assert.equal(value('sluice_failover_buffer_rejected_total'), 5);
    assert.equal(value('sluice_failover_retried_statements_total'), 6);
    assert.equal(value('sluice_failover_replayed_transactions_total'), 7);
    assert.equal(value('sluice_failover_replay_mismatches_total'), 8);
    assert.equal(value('sluice_failover_outcome_unknown_total'), 9);
    assert.deepEqual(
      samples(text).filter((s) => s.name === 'sluice_failover_phase').map((s) => [s.labels.phase, s.value]),
      [['normal', 1], ['primary_lost', 0], ['promoting', 0], ['switching_over', 0]],
    );
    assert.deepEqual(samples(text).filter((s) => s.name === 'sluice_primary_info').map((s) => [s.labels.backend, s.value]), [['db1', 1]]);

    // A switchover later: phase, primary and the backend_up role follow.
    f.current = 'switching_over';
    f.primary = 'db3';
    f.stats.switchovers = 3;
    text = await m.render();
    assert.equal(value('sluice_failover_phase', { phase: 'switching_over' }), 1);
    assert.equal(value('sluice_failover_phase', { phase: 'normal' }), 0);
    assert.deepEqual(samples(text).filter((s) => s.name === 'sluice_primary_info').map((s) => s.labels.backend), ['db3']);
    assert.equal(value('sluice_switchovers_total'), 3);
    assert.equal(value('sluice_backend_up', { backend: 'db3', role: 'primary' }), 1);
    assert.equal(value('sluice_backend_up', { backend: 'db1', role: 'replica' }), 1);
  });
});

describe('admin SQL: SLUICE SHOW FAILOVER(S), SLUICE SWITCHOVER', () => {
  it('recognizes and parses switchover statements', () => {
    assert.deepEqual(parseSwitchover('SLUICE SWITCHOVER'), { target: null });
    assert.deepEqual(parseSwitchover(' sluice  switchover ; '), { target: null });
    assert.deepEqual(parseSwitchover('SLUICE SWITCHOVER TO replica2'), { target: 'replica2' });
    assert.deepEqual(parseSwitchover('SLUICE SWITCHOVER TO `db-2.x`;'), { target: 'db-2.x' });
    assert.deepEqual(parseSwitchover("sluice switchover to 'db 3'"), { target: 'db 3' });
    assert.equal(parseSwitchover('SLUICE SWITCHOVER TO'), null);
    assert.equal(parseSwitchover('SLUICE SWITCHOVER replica2'), null);
    assert.equal(parseSwitchover('SLUICE SWITCHOVER TO a b'), null);
    assert.equal(parseSwitchover('SLUICE SWITCHOVERS'), null);
    assert.ok(isSwitchoverStatement('SLUICE SWITCHOVER TO a b'), 'malformed still goes to runSwitchover (syntax error)');
    assert.ok(!isSwitchoverStatement('SLUICE SWITCHOVERS'));
    assert.ok(!isSwitchoverStatement('SELECT 1'));
    for (const sql of ['SLUICE SWITCHOVER', 'SLUICE SWITCHOVER TO x y', 'SLUICE SHOW FAILOVER', 'sluice show failovers;']) assert.ok(isAdminStatement(sql), sql);
  });

  it('SLUICE SHOW FAILOVER: one row of state and counters', () => {
    const f = new ScriptedFailover();
    f.current = 'promoting';
    f.held = { statements: 2, bytes: 64 };
    const r = runAdminStatement('SLUICE SHOW FAILOVER', context(f), null, null);
    assert.equal(r.kind, 'rows');
    if (r.kind !== 'rows') return;
    assert.deepEqual(r.columns, ['phase', 'primary', 'buffered_statements', 'buffered_bytes', 'failovers', 'switchovers', 'followed', 'buffered_total', 'buffer_rejected', 'retried', 'replayed', 'replay_mismatches', 'outcome_unknown']);
    assert.deepEqual(r.rows, [['promoting', 'db1', 2, 64, 1, 2, 3, 40, 5, 6, 7, 8, 9]]);
  });

  it('SLUICE SHOW FAILOVERS: the history', () => {
    const r = runAdminStatement('sluice show failovers', context(withHistory(new ScriptedFailover())), null, null);
    assert.equal(r.kind, 'rows');
    if (r.kind !== 'rows') return;
    assert.deepEqual(r.columns, ['at', 'kind', 'from', 'to', 'duration_ms', 'detail']);
    assert.deepEqual(r.rows[1], ['2024-05-01T12:00:02.500Z', 'failover', 'db1', 'db2', 2500.25, 'promoted db2 (most advanced replica)']);
    const empty = runAdminStatement('SLUICE SHOW FAILOVERS', context(new ScriptedFailover()), null, null);
    assert.deepEqual(empty.kind === 'rows' && empty.rows, []);
  });

  it('without failover: a clear error, never a crash', async () => {
    for (const sql of ['SLUICE SHOW FAILOVER', 'SLUICE SHOW FAILOVERS']) {
      const r = runAdminStatement(sql, context(null), null, null);
      assert.equal(r.kind, 'error');
      assert.match(r.kind === 'error' ? r.message : '', /failover is not active/);
    }
    const r = await runSwitchover('SLUICE SWITCHOVER', context(null));
    assert.deepEqual(r, { kind: 'error', code: 1210, sqlState: 'HY000', message: r.kind === 'error' ? r.message : '' });
    assert.match(r.kind === 'error' ? r.message : '', /^Sluice: failover is not active/);
    // The synchronous path never runs a switchover.
    assert.equal(runAdminStatement('SLUICE SWITCHOVER', context(new ScriptedFailover()), null, null).kind, 'error');
  });

  it('runSwitchover: OK with the result, the manager’s refusal as an error', async () => {
    const f = new ScriptedFailover();
    assert.deepEqual(await runSwitchover('SLUICE SWITCHOVER TO db3', context(f)), { kind: 'ok', message: 'switched over from db1 to db3, pause 123 ms' });
    assert.deepEqual(await runSwitchover('SLUICE SWITCHOVER', context(f)), { kind: 'ok', message: 'switched over from db1 to db2, pause 123 ms' });
    assert.deepEqual(f.calls, ['db3', null]);
    f.next = () => Promise.reject(new Error("replica 'db3' is 42 transactions behind after 10000 ms; primary db1 kept"));
    assert.deepEqual(await runSwitchover('SLUICE SWITCHOVER TO db3', context(f)), {
      kind: 'error',
      code: SWITCHOVER_ERROR_CODE,
      sqlState: 'HY000',
      message: "Sluice: switchover not done: replica 'db3' is 42 transactions behind after 10000 ms; primary db1 kept",
    });
    const bad = await runSwitchover('SLUICE SWITCHOVER TO a b', context(f));
    assert.equal(bad.kind === 'error' && bad.code, 1064);
    assert.equal(f.calls.length, 3, 'a malformed statement runs nothing');
    assert.equal(switchoverMessage({ from: 'a', to: 'b', pauseMs: 0.4 }), 'switched over from a to b, pause 0 ms');
  });
});

describe('admin HTTP: failover endpoints', () => {
  const log = createLogger('silent');
  const f = withHistory(new ScriptedFailover());
  let server: AdminHttpServer;
  let disabled: AdminHttpServer;
  before(async () => {
    server = await startAdminHttp(context(f) as unknown as ProxyContext, { host: '127.0.0.1', port: 0, token: 'tok', monitor: { snapshot: () => snapshot }, processMetrics: false }, log);
    disabled = await startAdminHttp(context(null) as unknown as ProxyContext, { host: '127.0.0.1', port: 0, token: 'tok', monitor: null, processMetrics: false }, log);
  });
  after(async () => {
    await Promise.all([server.close(), disabled.close()]);
  });
  const url = (s: AdminHttpServer, path: string) => `http://127.0.0.1:${s.port}${path}`;
  const post = (s: AdminHttpServer, body: string | undefined, auth: string | null = 'Bearer tok') =>
    fetch(url(s, '/api/v1/switchover'), { method: 'POST', headers: { ...(auth ? { Authorization: auth } : {}), 'Content-Type': 'application/json' }, body });

  it('GET /api/v1/failover and /api/v1/failovers', async () => {
    f.current = 'normal';
    let res = await fetch(url(server, '/api/v1/failover'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), failoverDoc(f));
    res = await fetch(url(server, '/api/v1/failovers'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { events: failoverEventsDoc(f) });
    for (const path of ['/api/v1/failover', '/api/v1/failovers']) {
      res = await fetch(url(disabled, path));
      assert.equal(res.status, 404);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'not_found');
      assert.match(body.message, /failover is not active/);
    }
    res = await fetch(url(server, '/api/v1/failover'), { method: 'POST' });
    assert.equal(res.status, 405);
  });

  it('POST /api/v1/switchover: token, body, result, refusals', async () => {
    f.calls = [];
    f.current = 'normal';
    let res = await post(server, '{"target":"db3"}', null);
    assert.equal(res.status, 401);
    res = await post(server, '{"target":"db3"}', 'Bearer nope');
    assert.equal(res.status, 401);
    assert.deepEqual(f.calls, []);

    res = await post(server, '{"target":"db3"}');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { from: 'db1', to: 'db3', pause_ms: 123.4 });
    res = await post(server, undefined);
    assert.equal(res.status, 200);
    res = await post(server, '{}');
    assert.equal(res.status, 200);
    res = await post(server, '{"target":null}');
    assert.equal(res.status, 200);
    assert.deepEqual(f.calls, ['db3', null, null, null]);

    for (const body of ['nope', '[1]', '{"target":5}', '{"target":""}', '{"target":"db2","force":true}']) {
      res = await post(server, body);
      assert.equal(res.status, 400, body);
      assert.equal(((await res.json()) as { error: string }).error, 'bad_request');
    }
    assert.equal(f.calls.length, 4, 'bad bodies run nothing');

    f.next = () => Promise.reject(new Error("no healthy replica named 'db9'"));
    res = await post(server, '{"target":"db9"}');
    assert.equal(res.status, 409);
    assert.deepEqual(await res.json(), { error: 'conflict', message: "no healthy replica named 'db9'" });

    f.current = 'primary_lost';
    res = await post(server, '{"target":"db2"}');
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { message: string }).message, /in progress \(phase primary_lost\)/);
    assert.equal(f.calls.length, 5, 'not called while another one runs');
    f.current = 'normal';

    res = await post(disabled, '{"target":"db2"}');
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { message: string }).message, /failover is not active/);
    res = await fetch(url(server, '/api/v1/switchover'));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  it('a switchover that takes a while is awaited', async () => {
    f.current = 'normal';
    f.next = (target) => new Promise((resolve) => setTimeout(() => resolve({ from: 'db1', to: target ?? 'db2', pauseMs: 250 }), 250));
    const res = await post(server, '{"target":"db2"}');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { from: 'db1', to: 'db2', pause_ms: 250 });
  });
});
