// Switchover and topology following through every operator surface, against its own topology (primary +
// 2 replicas; the shared test topology must keep its primary): SLUICE SWITCHOVER / SHOW FAILOVER(S) on the
// main port, GET /api/v1/failover(s) and POST /api/v1/switchover, `sluice switchover`, /metrics — and a
// switchover done by hand by a DBA (read_only on the primary, another node promoted), which Sluice follows.
// A ledger load runs through Sluice the whole time: no client-visible error, nothing acknowledged lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import mysql from 'mysql2/promise';
import { createRequire } from 'node:module';
import { startTopology, type MariaNode, type Topology } from '../../src/sandbox/topology.js';
import { parseConfig } from '../../src/config/load.js';
import { startSluice, type SluiceServer } from '../../src/app.js';
import { createLogger } from '../../src/util/log.js';
import { formatReport, startChaosLoad, verifyLedger, type ChaosLoad } from '../helpers/chaos-load.js';

type Family = { name: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> };
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];
const TOKEN = 'switch-token';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function rootQuery(topo: Topology, node: MariaNode, sql: string): Promise<unknown[][]> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: node.port, user: 'root', password: topo.root.password, rowsAsArray: true, connectTimeout: 5000 });
  try {
    const [rows] = await c.query(sql);
    return rows as unknown as unknown[][];
  } finally {
    await c.end();
  }
}

async function waitFor(what: string, ms: number, cond: () => Promise<boolean> | boolean): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await cond()) return Date.now() - t0;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/sluice.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice ${args.join(' ')} did not finish within 30 s`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

test('switchover from SQL, HTTP and the CLI, and a DBA switchover followed: 0 client errors, 0 writes lost', { timeout: 180_000 }, async (t) => {
  let topo: Topology | undefined;
  let server: SluiceServer | undefined;
  let load: ChaosLoad | undefined;
  try {
    topo = await startTopology({ replicas: 2 });
    const tp = topo;
    const nodes = [tp.primary, ...tp.replicas];
    const byName = (name: string) => nodes.find((n) => n.name === name)!;
    const config = parseConfig(
      {
        listeners: [{ host: '127.0.0.1', port: 0 }],
        backends: nodes.map((n) => ({ name: n.name, host: '127.0.0.1', port: n.port, role: n === tp.primary ? ('primary' as const) : ('replica' as const) })),
        monitor: { user: tp.monitor.user, password: tp.monitor.password, interval_ms: 500 },
        users: [
          { name: 'app', password: 'app-pw', backend_user: tp.demo.user, backend_password: tp.demo.password },
          { name: 'ops', password: 'ops-pw', backend_user: tp.demo.user, backend_password: tp.demo.password, admin: true },
        ],
        routing: { read_write_split: true },
        failover: { replication_user: tp.repl.user, replication_password: tp.repl.password, check_interval_ms: 250 },
        admin: { http: { port: 0, token: TOKEN } },
        log: { level: 'silent' },
      },
      'failover-admin',
    );
    server = await startSluice(config, { logger: createLogger('silent') });
    const port = server.tcpAddresses[0]!.port;
    const api = `http://127.0.0.1:${server.adminHttpPort}`;
    const fo = server.context.failover!;
    assert.ok(fo, 'failover is on by default with replicas');
    load = await startChaosLoad({ host: '127.0.0.1', port, user: 'app', password: 'app-pw', database: tp.demo.database, clients: 16, thinkMs: 2 });
    await sleep(1500);

    // --- 1. SQL on the main port
    const ops = await mysql.createConnection({ host: '127.0.0.1', port, user: 'ops', password: 'ops-pw', rowsAsArray: false });
    const [okPacket] = (await ops.query('SLUICE SWITCHOVER TO replica2')) as unknown as [{ info: string }];
    assert.match(okPacket.info, /switched over from primary to replica2, pause \d+ ms/);
    assert.equal(fo.primaryName(), 'replica2');
    const [state] = (await ops.query('SLUICE SHOW FAILOVER')) as unknown as [Array<Record<string, unknown>>];
    assert.equal(state[0]!.phase, 'normal');
    assert.equal(state[0]!.primary, 'replica2');
    const [backends] = (await ops.query('SLUICE SHOW BACKENDS')) as unknown as [Array<Record<string, unknown>>];
    assert.equal(backends.find((b) => b.name === 'replica2')?.role, 'primary');
    // The servers' own view: the new primary writable, the old one read-only and replicating from it.
    assert.deepEqual(await rootQuery(tp, byName('replica2'), 'SELECT @@read_only'), [[0]]);
    assert.deepEqual(await rootQuery(tp, tp.primary, 'SELECT @@read_only'), [[1]]);
    const [slave] = (await (async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: tp.primary.port, user: 'root', password: tp.root.password });
      try {
        return (await c.query('SHOW SLAVE STATUS')) as unknown as [Array<Record<string, unknown>>];
      } finally {
        await c.end();
      }
    })()) as [Array<Record<string, unknown>>];
    assert.equal(Number(slave[0]!.Master_Port), byName('replica2').port);
    await assert.rejects(ops.query('SLUICE SWITCHOVER TO nosuch'), (e: { errno: number; message: string }) => e.errno === 1105 && /unknown backend nosuch/.test(e.message));
    const app = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-pw' });
    await assert.rejects(app.query('SLUICE SWITCHOVER'), (e: { errno: number }) => e.errno === 1227);
    await app.end();

    // --- 2. HTTP API
    const noToken = await fetch(`${api}/api/v1/switchover`, { method: 'POST', body: JSON.stringify({ target: 'primary' }), headers: { 'content-type': 'application/json' } });
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
    const res = await fetch(`${api}/api/v1/switchover`, {
      method: 'POST',
      body: JSON.stringify({ target: 'primary' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { from: string; to: string; pause_ms: number };
    assert.equal(body.from, 'replica2');
    assert.equal(body.to, 'primary');
    const state2 = (await (await fetch(`${api}/api/v1/failover`)).json()) as { primary: string; phase: string };
    assert.equal(state2.primary, 'primary');
    assert.equal(state2.phase, 'normal');

    // --- 3. the CLI
    const cli = await runCli(['switchover', '--admin', api, '--token', TOKEN, '--to', 'replica1']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /switched over from primary to replica1/);
    assert.equal(fo.primaryName(), 'replica1');
    const status = await runCli(['status', '--admin', api]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /failover: normal, primary replica1/);
    assert.match(status.stdout, /switchover {2}primary → replica1/);
    const refused = await runCli(['switchover', '--admin', api, '--token', TOKEN, '--to', 'replica1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr + refused.stdout, /already the primary/);

    // --- 4. a DBA switches over by hand (replica1 → replica2); Sluice follows, clients see nothing
    await sleep(1000);
    load.mark('dba');
    const r1 = byName('replica1');
    const r2 = byName('replica2');
    await rootQuery(tp, r1, 'SET GLOBAL read_only = ON');
    const [[pos]] = (await rootQuery(tp, r1, 'SELECT @@gtid_binlog_pos')) as [[string]];
    assert.deepEqual(await rootQuery(tp, r2, `SELECT MASTER_GTID_WAIT('${pos}', 10)`), [[0]]);
    await rootQuery(tp, r2, 'STOP SLAVE');
    await rootQuery(tp, r2, 'RESET SLAVE ALL');
    await rootQuery(tp, r2, 'SET GLOBAL read_only = OFF');
    for (const n of [r1, tp.primary]) {
      await rootQuery(tp, n, 'STOP SLAVE');
      await rootQuery(tp, n, `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${r2.port}, MASTER_USER='${tp.repl.user}', MASTER_PASSWORD='${tp.repl.password}', MASTER_USE_GTID=slave_pos`);
      await rootQuery(tp, n, 'START SLAVE');
    }
    const followedMs = await waitFor('Sluice follows replica2', 10_000, () => fo.primaryName() === 'replica2');
    await load.waitForWritesAfter('dba', 10_000);
    await sleep(1500);

    // --- history, metrics
    const events = ((await (await fetch(`${api}/api/v1/failovers`)).json()) as { events: Array<{ kind: string; from: string; to: string }> }).events;
    const kinds = events.map((e) => `${e.kind}:${e.from}->${e.to}`);
    assert.ok(kinds.includes('switchover:primary->replica2'), kinds.join(' '));
    assert.ok(kinds.includes('switchover:replica2->primary'), kinds.join(' '));
    assert.ok(kinds.includes('switchover:primary->replica1'), kinds.join(' '));
    assert.ok(kinds.includes('followed:replica1->replica2'), kinds.join(' '));
    const [hist] = (await ops.query('SLUICE SHOW FAILOVERS')) as unknown as [Array<Record<string, unknown>>];
    assert.ok(hist.some((h) => h.kind === 'followed'));
    await ops.end();
    const families = parsePrometheusTextFormat(await (await fetch(`${api}/metrics`)).text());
    const value = (name: string) => Number(families.find((f) => f.name === name)?.metrics[0]?.value);
    assert.equal(value('sluice_switchovers_total'), 3);
    assert.equal(value('sluice_primary_changes_followed_total'), 1);
    const info = families.find((f) => f.name === 'sluice_primary_info');
    assert.ok(info?.metrics.some((m) => m.labels?.backend === 'replica2' && m.value === '1'));

    const report = await load.stop();
    t.diagnostic(formatReport('switchovers (SQL, HTTP, CLI) and a DBA switchover followed', report, { followedMs }));
    assert.equal(report.errorCount, 0, JSON.stringify(report.errorsByKind));
    assert.equal(report.connectionsDropped, 0);
    const ledger = await verifyLedger(load, (sql) => rootQuery(tp, r2, sql));
    assert.equal(ledger.missing, 0, `missing ${ledger.missingIds.join(',')}`);
    assert.equal(ledger.counterMismatches, 0);
  } finally {
    await load?.stop().catch(() => {});
    await server?.close(1000).catch(() => {});
    await topo?.stop().catch(() => {});
  }
});

/**
 * A primary + one replica and an in-process Sluice in front (user app / app-pw → demo) with the config keys
 * `extra(topology)` adds; runs `body`, then stops Sluice and the servers (by pid).
 */
async function withPrimaryAndReplica(
  name: string,
  extra: (tp: Topology) => Record<string, unknown>,
  body: (tp: Topology, server: SluiceServer, port: number) => Promise<void>,
): Promise<void> {
  let topo: Topology | undefined;
  let server: SluiceServer | undefined;
  try {
    topo = await startTopology({ replicas: 1 });
    const tp = topo;
    const config = parseConfig(
      {
        listeners: [{ host: '127.0.0.1', port: 0 }],
        backends: [
          { name: 'primary', host: '127.0.0.1', port: tp.primary.port, role: 'primary' },
          { name: 'replica1', host: '127.0.0.1', port: tp.replicas[0]!.port, role: 'replica' },
        ],
        monitor: { user: tp.monitor.user, password: tp.monitor.password, interval_ms: 200 },
        users: [{ name: 'app', password: 'app-pw', backend_user: tp.demo.user, backend_password: tp.demo.password }],
        log: { level: 'silent' },
        ...extra(tp),
      },
      name,
    );
    server = await startSluice(config, { logger: createLogger((process.env.SLUICE_TEST_LOG as 'info' | undefined) ?? 'silent') });
    await body(tp, server, server.tcpAddresses[0]!.port);
  } finally {
    await server?.close(1000).catch(() => {});
    await topo?.stop().catch(() => {});
  }
}

test('a switchover cuts a transaction left open with prepared statements: it is replayed (binary protocol) and commits', { timeout: 120_000 }, async () => {
  await withPrimaryAndReplica(
    'failover-replay',
    (tp) => ({ failover: { replication_user: tp.repl.user, replication_password: tp.repl.password, switchover_drain_ms: 300 } }),
    async (tp, server, port) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-pw', database: tp.demo.database });
      await c.query('CREATE TABLE acct (id INT PRIMARY KEY, balance INT NOT NULL)');
      await c.query('INSERT INTO acct VALUES (1, 100), (2, 0)');
      await c.query('SET @@session.sql_mode = CONCAT(@@session.sql_mode, \',NO_ZERO_DATE\')');
      await c.beginTransaction();
      const [[before]] = (await c.execute('SELECT balance FROM acct WHERE id = ?', [1])) as unknown as [[{ balance: number }]];
      assert.equal(before.balance, 100);
      await c.execute('UPDATE acct SET balance = balance - ? WHERE id = ?', [30, 1]);
      await c.execute('UPDATE acct SET balance = balance + ? WHERE id = ?', [30, 2]);
      // The transaction is open and idle: the switchover drains for 300 ms, then cuts it.
      const result = await server.context.failover!.switchover(null);
      assert.equal(result.to, 'replica1');
      // The next statement replays the three statements on the new primary (results compared), then runs.
      const [[after]] = (await c.execute('SELECT balance FROM acct WHERE id = ?', [2])) as unknown as [[{ balance: number }]];
      assert.equal(after.balance, 30);
      await c.commit();
      const [[mode]] = (await c.query('SELECT @@session.sql_mode AS m')) as unknown as [[{ m: string }]];
      assert.match(mode.m, /NO_ZERO_DATE/);
      await c.end();
      const rows = await rootQuery(tp, tp.replicas[0]!, 'SELECT id, balance FROM demo.acct ORDER BY id');
      assert.deepEqual(rows, [
        [1, 70],
        [2, 30],
      ]);
      assert.equal(server.context.failover!.stats.replayed, 1);
    },
  );
});

test('without promotion: statements for a dead primary are held, fail with the retryable 1053 after window_ms, reads go on, and the restarted primary takes them again on the same connections', { timeout: 120_000 }, async () => {
  await withPrimaryAndReplica(
    'failover-buffer',
    () => ({ routing: { read_write_split: true, consistency: 'eventual' }, failover: { auto_promote: false, check_interval_ms: 100, buffer: { window_ms: 800 } } }),
    async (tp, server, port) => {
      const fo = server.context.failover!;
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-pw', database: tp.demo.database });
      await c.query('CREATE TABLE held (id INT PRIMARY KEY)');
      await c.query('INSERT INTO held VALUES (1)');
      await waitFor('replica has the table', 10_000, async () => (await rootQuery(tp, tp.replicas[0]!, 'SELECT COUNT(*) FROM demo.held'))[0]?.[0] === 1);

      await tp.stopNode(tp.primary, 'SIGKILL');
      const t0 = Date.now();
      await assert.rejects(c.query('INSERT INTO held VALUES (2)'), (e: { errno: number; sqlState: string; message: string }) => {
        assert.equal(e.errno, 1053);
        assert.equal(e.sqlState, '08S01');
        assert.match(e.message, /window_ms \(800 ms\).*safe to retry/);
        return true;
      });
      const heldMs = Date.now() - t0;
      assert.ok(heldMs >= 700, `held about window_ms before failing (${heldMs} ms)`);
      // Reads that may go to a replica are not held.
      const [[r]] = (await c.query('SELECT COUNT(*) AS n FROM held')) as unknown as [[{ n: number }]];
      assert.equal(r.n, 1);
      assert.equal(fo.phase(), 'primary_lost');

      // The primary comes back: statements flow again on the same client connection.
      await tp.startNode(tp.primary);
      // Possibly held for a probe interval, until the manager has seen the primary answer.
      await c.query('INSERT INTO held VALUES (3)');
      await waitFor('phase normal', 10_000, () => fo.phase() === 'normal');
      await c.query('INSERT INTO held VALUES (4)');
      assert.deepEqual(await rootQuery(tp, tp.primary, 'SELECT id FROM demo.held ORDER BY id'), [[1], [3], [4]]);
      const kinds = fo.history().map((e) => e.kind);
      assert.ok(kinds.includes('primary_lost') && kinds.includes('primary_recovered'), kinds.join(' '));
      assert.ok(fo.stats.bufferRejected >= 1);
      await c.end();
    },
  );
});
