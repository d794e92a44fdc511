// Read/write splitting against real GTID replication: where statements go, balance across replicas,
// read-after-write consistency levels (with replication delayed on purpose), hints and session settings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { createTestDatabase, dropTestDatabase, rootQuery, testTopology, waitForReplicas } from '../helpers/topology.js';

let sluice: TestSluice;
let db: string;
let primaryId: number;
let replicaIds: number[];

async function serverIdOf(node: ReturnType<typeof testTopology>['primary']): Promise<number> {
  const rows = await rootQuery<Array<{ id: number }>>('SELECT @@server_id AS id', [], node);
  return Number(rows[0]!.id);
}

async function setReplicaDelay(seconds: number): Promise<void> {
  for (const r of testTopology().replicas) {
    await rootQuery('STOP SLAVE', [], r);
    await rootQuery(`CHANGE MASTER TO MASTER_DELAY = ${seconds}`, [], r);
    await rootQuery('START SLAVE', [], r);
  }
}

before(async () => {
  const t = testTopology();
  db = await createTestDatabase();
  await rootQuery(`CREATE TABLE ${db}.kv (id INT PRIMARY KEY, v INT)`);
  await waitForReplicas();
  primaryId = await serverIdOf(t.primary);
  replicaIds = await Promise.all(t.replicas.map((r) => serverIdOf(r)));
  sluice = await startTestSluice({ routing: { read_write_split: true, consistency_timeout_ms: 5000 } });
});

after(async () => {
  await sluice?.close();
  await setReplicaDelay(0).catch(() => undefined);
  await dropTestDatabase(db);
});

test('reads go to replicas (round robin within ±5 %), writes and locking reads to the primary', async () => {
  const c = await connectApp(sluice.port, { database: db });
  const counts = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const [[{ id }]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.equal(counts.get(primaryId) ?? 0, 0, 'no plain read went to the primary');
  for (const rid of replicaIds) {
    const n = counts.get(rid) ?? 0;
    assert.ok(Math.abs(n - 200) <= 10, `replica ${rid} served ${n} of 400 reads`);
  }
  const onPrimary = async (sql: string) => {
    const [[row]] = (await c.query(sql)) as unknown as [[{ id: number }]];
    return Number(row.id) === primaryId;
  };
  assert.ok(await onPrimary('SELECT @@server_id AS id FOR UPDATE'));
  assert.ok(await onPrimary('SELECT @@server_id AS id, GET_LOCK("x", 0) AS l'));
  assert.ok(await onPrimary('/* sluice:route=primary */ SELECT @@server_id AS id'));
  await c.query('BEGIN');
  assert.ok(await onPrimary('SELECT @@server_id AS id'), 'reads inside a transaction stay on the primary');
  await c.query('COMMIT');
  // GET_LOCK above pinned this session to the primary for good (user locks live in the server session).
  assert.ok(await onPrimary('SELECT @@server_id AS id'));
  await c.end();
  // Multi-statements: to a replica only when every part is a plain read.
  const m = await connectApp(sluice.port, { database: db, multipleStatements: true });
  const [allReads] = (await m.query('SELECT @@server_id AS id; SELECT @@server_id AS id')) as unknown as [[[{ id: number }], [{ id: number }]]];
  assert.ok(replicaIds.includes(Number(allReads[0][0].id)), 'all-read multi-statement on a replica');
  const [mixed] = (await m.query('SELECT @@server_id AS id; INSERT INTO kv VALUES (900000, 1)')) as unknown as [[[{ id: number }]]];
  assert.equal(Number(mixed[0][0].id), primaryId, 'a multi-statement with a write goes to the primary');
  await m.end();
  // Prepared statements are routed too.
  const p = await connectApp(sluice.port, { database: db });
  const [[ps]] = (await p.execute('SELECT @@server_id AS id, ? AS x', [1])) as unknown as [[{ id: number }]];
  assert.ok(replicaIds.includes(Number(ps.id)));
  await p.end();
});

test('SLUICE EXPLAIN, SET sluice_route and unknown Sluice variables', async () => {
  const c = await connectApp(sluice.port, { database: db });
  const [rows] = await c.query('SLUICE EXPLAIN SELECT * FROM kv WHERE id = 1');
  assert.equal((rows as Array<{ route: string }>)[0]!.route, 'replica');
  const [rows2] = await c.query('SLUICE EXPLAIN SELECT * FROM kv WHERE id = 1 FOR UPDATE');
  assert.deepEqual((rows2 as Array<{ route: string; reason: string }>)[0]!.reason, 'FOR UPDATE takes locks');
  await c.query("SET sluice_route = 'primary'");
  const [[{ id }]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
  assert.equal(Number(id), primaryId);
  await assert.rejects(c.query('SET sluice_nonsense = 1'), (e: { errno: number }) => e.errno === 1193);
  // A session's own balancing policy: weighted with equal weights still alternates; random is accepted.
  await c.query("SET sluice_route = 'auto'");
  await c.query("SET sluice_policy = 'random'");
  const seen = new Set<number>();
  for (let i = 0; i < 40; i++) seen.add(Number(((await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]])[0][0].id));
  assert.deepEqual([...seen].sort(), [...replicaIds].sort(), 'random still uses both replicas');
  await assert.rejects(c.query("SET sluice_policy = 'fastest'"), (e: { errno: number }) => e.errno === 1231);
  await assert.rejects(c.query("SET sluice_consistency = 'sometimes'"), (e: { errno: number }) => e.errno === 1231);
  await c.end();
});

async function writeThenRead(port: number, level: string, pairs: number, clients: number, base: number): Promise<{ stale: number; total: number }> {
  let stale = 0;
  let total = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, k) => {
      const c = await connectApp(port, { database: db });
      await c.query(`SET sluice_consistency = '${level}'`);
      for (let i = 0; i < pairs; i++) {
        const id = base + k * pairs + i;
        await c.query('INSERT INTO kv VALUES (?, ?)', [id, i]);
        // Text and binary protocol alike.
        const [rows] = i % 2 === 0 ? await c.query('SELECT v FROM kv WHERE id = ?', [id]) : await c.execute('SELECT v FROM kv WHERE id = ?', [id]);
        total++;
        if ((rows as unknown[]).length !== 1) stale++;
      }
      await c.end();
    }),
  );
  return { stale, total };
}

test('read-after-write with replication delayed by 1 s: session sees 0 stale reads, eventual does not', { timeout: 180000 }, async () => {
  await setReplicaDelay(1);
  try {
    const eventual = await writeThenRead(sluice.port, 'eventual', 20, 50, 100000);
    assert.equal(eventual.total, 1000);
    assert.ok(eventual.stale > 500, `eventual: only ${eventual.stale} of 1000 reads were stale (the test must be able to fail)`);
    const waitsBefore = sluice.server.context.router!.stats.gtidWaits;
    const session = await writeThenRead(sluice.port, 'session', 20, 50, 200000);
    assert.equal(session.total, 1000);
    assert.equal(session.stale, 0, `session: ${session.stale} stale reads`);
    assert.ok(sluice.server.context.router!.stats.gtidWaits > waitsBefore, 'replicas were waited for, not bypassed');
    console.log(`# eventual stale ${eventual.stale}/1000, session stale ${session.stale}/1000`);
  } finally {
    await setReplicaDelay(0);
  }
});

test('instance consistency: a second client sees the first client\'s write', { timeout: 60000 }, async () => {
  await setReplicaDelay(1);
  try {
    const writer = await connectApp(sluice.port, { database: db });
    const reader = await connectApp(sluice.port, { database: db });
    await reader.query("SET sluice_consistency = 'instance'");
    const eventualReader = await connectApp(sluice.port, { database: db });
    await eventualReader.query("SET sluice_consistency = 'eventual'");
    let staleInstance = 0;
    let staleEventual = 0;
    for (let i = 0; i < 10; i++) {
      await writer.query('INSERT INTO kv VALUES (?, ?)', [300000 + i, i]);
      const [e] = await eventualReader.query('SELECT v FROM kv WHERE id = ?', [300000 + i]);
      if ((e as unknown[]).length === 0) staleEventual++;
      const [r] = await reader.query('SELECT v FROM kv WHERE id = ?', [300000 + i]);
      if ((r as unknown[]).length === 0) staleInstance++;
    }
    assert.equal(staleInstance, 0);
    assert.ok(staleEventual > 0, 'without instance consistency the second client reads stale data');
    await writer.end();
    await reader.end();
    await eventualReader.end();
  } finally {
    await setReplicaDelay(0);
  }
});

test('consistency timeout falls back to the primary (or errors when configured so)', { timeout: 60000 }, async () => {
  await setReplicaDelay(3);
  const strict = await startTestSluice({ routing: { read_write_split: true, consistency_timeout_ms: 200, consistency_fallback: 'error' } });
  try {
    const c = await connectApp(sluice.port, { database: db });
    await c.query('SET sluice_consistency_timeout_ms = 200');
    await c.query('INSERT INTO kv VALUES (400000, 1)');
    const [[{ id }]] = (await c.query('SELECT @@server_id AS id, v FROM kv WHERE id = 400000')) as unknown as [[{ id: number }]];
    assert.equal(Number(id), primaryId, 'fell back to the primary');
    await c.end();
    const s = await mysql.createConnection({ host: '127.0.0.1', port: strict.port, user: 'app', password: 'app-secret', database: db });
    await s.query('INSERT INTO kv VALUES (400001, 1)');
    await assert.rejects(s.query('SELECT v FROM kv WHERE id = 400001'), (e: { errno: number; sqlMessage: string }) => e.errno === 4031 && /did not reach GTID/.test(e.sqlMessage));
    await s.end();
  } finally {
    await strict.close();
    await setReplicaDelay(0);
    // A replica that timed out is skipped for 3 s (router.suspect): let that pass before the next test.
    await new Promise((r) => setTimeout(r, 3500));
  }
});

test('global consistency sees writes made outside Sluice; read-only transactions can go to a replica', { timeout: 60000 }, async () => {
  await setReplicaDelay(1);
  const ro = await startTestSluice({ routing: { read_write_split: true, read_only_transactions: 'replica', consistency_timeout_ms: 5000 } });
  try {
    const c = await connectApp(sluice.port, { database: db });
    await c.query("SET sluice_consistency = 'global'");
    await rootQuery(`INSERT INTO ${db}.kv VALUES (500000, 7)`); // directly on the primary, not through Sluice
    const [[row]] = (await c.query('SELECT @@server_id AS id, v FROM kv WHERE id = 500000')) as unknown as [[{ id: number; v: number }]];
    assert.equal(row.v, 7);
    assert.ok(replicaIds.includes(Number(row.id)), 'served by a replica that waited for the primary position');
    await c.end();
    const r = await connectApp(ro.port, { database: db });
    await r.query('START TRANSACTION READ ONLY');
    const [[a]] = (await r.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
    const [[b]] = (await r.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
    await r.query('COMMIT');
    assert.ok(replicaIds.includes(Number(a.id)));
    assert.equal(a.id, b.id, 'the whole read-only transaction stays on one replica');
    await r.end();
  } finally {
    await ro.close();
    await setReplicaDelay(0);
  }
});

test('no healthy replica: reads go to the primary, or fail clearly when routing.no_replica = error', async () => {
  const t = testTopology();
  const cfgFor = (mode: 'primary' | 'error') => ({
    backends: [
      { name: 'primary', host: '127.0.0.1', port: t.primary.port, role: 'primary' as const },
      { name: 'ghost', host: '127.0.0.1', port: 1, role: 'replica' as const }, // nothing listens there
    ],
    routing: { read_write_split: true, no_replica: mode },
  });
  const fallback = await startTestSluice(cfgFor('primary'));
  const strict = await startTestSluice(cfgFor('error'));
  try {
    const a = await connectApp(fallback.port);
    const [[{ id }]] = (await a.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
    assert.equal(Number(id), primaryId);
    await a.end();
    const b = await connectApp(strict.port);
    await assert.rejects(b.query('SELECT 1'), (e: { sqlMessage: string }) => /no replica is available/.test(e.sqlMessage));
    const [[{ w }]] = (await b.query('SELECT 1 AS w FOR UPDATE')) as unknown as [[{ w: number }]];
    assert.equal(w, 1, 'statements for the primary still run');
    await b.end();
  } finally {
    await fallback.close();
    await strict.close();
  }
});

test('writes never land on a replica: after a failed or warning read, with route=replica, in tricky multi-statements', async () => {
  const c = await connectApp(sluice.port, { database: db, multipleStatements: true });
  const onPrimary = async (id: number) => (await rootQuery<unknown[]>(`SELECT 1 FROM ${db}.kv WHERE id = ?`, [id], testTopology().primary)).length === 1;
  await assert.rejects(c.query('SELECT * FROM no_such_table_x'));
  await c.query('INSERT INTO kv VALUES (600001, 1)'); // the failed read left a replica connection held
  assert.ok(await onPrimary(600001), 'the INSERT after a failed replica read ran on the primary');
  await c.query("SELECT CAST('12abc' AS INTEGER) AS w"); // a warning on a replica
  await c.query('INSERT INTO kv VALUES (600002, 2) /* row_count errors warnings */');
  assert.ok(await onPrimary(600002), 'a write mentioning row_count/warnings still ran on the primary');
  const [w] = await c.query("SELECT CAST('12abc' AS INTEGER) AS w; SHOW WARNINGS");
  void w;
  await c.query("SET sluice_route = 'replica'");
  await c.query('INSERT INTO kv VALUES (600003, 3)');
  assert.ok(await onPrimary(600003), 'route=replica applies to reads only');
  await c.query("SET sluice_route = 'auto'");
  await c.query("SET sql_mode = 'ANSI_QUOTES'");
  const [explain] = await c.query(`SLUICE EXPLAIN SELECT "a\\"; DELETE FROM kv WHERE id = 600003; SELECT "b"`);
  assert.equal((explain as Array<{ route: string }>)[0]!.route, 'primary', 'ANSI_QUOTES: the DELETE is seen');
  await c.query("SET sql_mode = DEFAULT");
  // COM_RESET_CONNECTION puts SET sluice_* back to the user's defaults.
  await c.query("SET sluice_route = 'primary'");
  await c.reset();
  const [[{ id }]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
  assert.ok(replicaIds.includes(Number(id)), 'after a reset, reads go to replicas again');
  await c.end();
});

test('KILL QUERY reaches a read running on a replica', { timeout: 30000 }, async () => {
  const victim = await connectApp(sluice.port, { database: db });
  const killer = await connectApp(sluice.port, { database: db });
  const slow = victim.query('SELECT SLEEP(10) AS s').then(
    () => null,
    (e: { errno: number }) => e,
  );
  await new Promise((r) => setTimeout(r, 400));
  const t0 = Date.now();
  await killer.query(`KILL QUERY ${victim.threadId}`);
  const err = await slow;
  assert.equal(err?.errno, 1317);
  assert.ok(Date.now() - t0 < 5000);
  await victim.end();
  await killer.end();
});
