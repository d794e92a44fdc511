// Pinning: a client keeps its backend connection exactly while server-side state requires it
// (transactions, temp tables, LOCK TABLES, GET_LOCK, cursors, warnings) and releases it afterwards.
// A pool of 2 and a second client that churns connections make any wrong release visible.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { createTestDatabase, dropTestDatabase, rootQuery } from '../helpers/topology.js';

let sluice: TestSluice;
let db: string;

before(async () => {
  db = await createTestDatabase();
  await rootQuery(`CREATE TABLE ${db}.items (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))`);
  sluice = await startTestSluice({ pool: { max: 2 } });
});
after(async () => {
  await sluice?.close();
  await dropTestDatabase(db);
});

/** Runs statements on other clients so the pool's connections move between sessions. */
async function churn(port: number, times = 4): Promise<void> {
  const others = await Promise.all([0, 1].map(() => connectApp(port, { database: db })));
  for (let i = 0; i < times; i++) await Promise.all(others.map((o, k) => o.query(`SET @churn = ${i * 10 + k}, time_zone = '+0${k}:00'`)));
  await Promise.all(others.map((o) => o.end()));
}

function pinsOf(port: number): Record<string, number> {
  void port;
  return { ...sluice.server.context.counters.pins };
}

test('an open transaction stays on one backend connection; others do not see it until COMMIT', async () => {
  const a = await connectApp(sluice.port, { database: db });
  const b = await connectApp(sluice.port, { database: db });
  await a.query('BEGIN');
  const [[{ t1 }]] = (await a.query('SELECT CONNECTION_ID() AS t1')) as unknown as [[{ t1: number }]];
  await a.query("INSERT INTO items (v) VALUES ('tx')");
  await churn(sluice.port);
  const [[{ t2 }]] = (await a.query('SELECT CONNECTION_ID() AS t2')) as unknown as [[{ t2: number }]];
  assert.equal(t2, t1, 'same backend session inside the transaction');
  const [seenByB] = await b.query("SELECT COUNT(*) AS n FROM items WHERE v = 'tx'");
  assert.deepEqual(seenByB, [{ n: 0 }]);
  await a.query('COMMIT');
  const [afterCommit] = await b.query("SELECT COUNT(*) AS n FROM items WHERE v = 'tx'");
  assert.deepEqual(afterCommit, [{ n: 1 }]);
  // Rolled back work is gone even after moving connections.
  await a.query('START TRANSACTION');
  await a.query("INSERT INTO items (v) VALUES ('rolled')");
  await a.query('ROLLBACK');
  await churn(sluice.port);
  const [rolled] = await a.query("SELECT COUNT(*) AS n FROM items WHERE v = 'rolled'");
  assert.deepEqual(rolled, [{ n: 0 }]);
  assert.ok((pinsOf(sluice.port).transaction ?? 0) >= 2);
  await a.end();
  await b.end();
});

test('autocommit=0 sessions keep their implicit transaction', async () => {
  const a = await connectApp(sluice.port, { database: db });
  await a.query('SET autocommit = 0');
  await a.query("INSERT INTO items (v) VALUES ('implicit')");
  await churn(sluice.port);
  await a.query('ROLLBACK');
  const [n] = await a.query("SELECT COUNT(*) AS n FROM items WHERE v = 'implicit'");
  assert.deepEqual(n, [{ n: 0 }]);
  const [[{ ac }]] = (await a.query('SELECT @@autocommit AS ac')) as unknown as [[{ ac: number }]];
  assert.equal(ac, 0);
  await a.query('COMMIT');
  await a.end();
});

test('temporary tables, LOCK TABLES and GET_LOCK pin the session', async () => {
  const a = await connectApp(sluice.port, { database: db });
  await a.query('CREATE TEMPORARY TABLE tmp (x INT)');
  await a.query('INSERT INTO tmp VALUES (1), (2)');
  await churn(sluice.port);
  const [tmp] = await a.query('SELECT COUNT(*) AS n FROM tmp');
  assert.deepEqual(tmp, [{ n: 2 }]);
  await a.end();

  const l = await connectApp(sluice.port, { database: db });
  await l.query('LOCK TABLES items READ');
  await churn(sluice.port, 1);
  const [locked] = await l.query('SELECT COUNT(*) >= 0 AS ok FROM items');
  assert.deepEqual(locked, [{ ok: 1 }]);
  await l.query('UNLOCK TABLES');
  await l.end();

  const g = await connectApp(sluice.port, { database: db });
  const [[{ got }]] = (await g.query("SELECT GET_LOCK('sluice_test_lock', 1) AS got")) as unknown as [[{ got: number }]];
  assert.equal(got, 1);
  await churn(sluice.port, 1);
  const [[{ mine }]] = (await g.query("SELECT IS_USED_LOCK('sluice_test_lock') = CONNECTION_ID() AS mine")) as unknown as [[{ mine: number }]];
  assert.equal(mine, 1);
  await g.end();
  const pins = pinsOf(sluice.port);
  assert.ok(pins.temp_table! >= 1 && pins.lock_tables! >= 1 && pins.user_lock! >= 1, JSON.stringify(pins));
});

test('SHOW WARNINGS sees the warnings of the previous statement', async () => {
  const a = await connectApp(sluice.port, { database: db });
  await a.query("SET sql_mode = ''");
  await a.query("INSERT INTO items (v) VALUES ('this value is far too long for the column')");
  const [w] = await a.query('SHOW WARNINGS');
  assert.equal((w as Array<{ Code: number }>)[0]!.Code, 1265);
  await a.end();
});

test('LAST_INSERT_ID() follows the client across backend connections', async () => {
  const a = await connectApp(sluice.port, { database: db });
  const [ins] = await a.query("INSERT INTO items (v) VALUES ('lid')");
  const id = (ins as mysql.ResultSetHeader).insertId;
  await churn(sluice.port);
  const [[{ lid }]] = (await a.query('SELECT LAST_INSERT_ID() AS lid')) as unknown as [[{ lid: number }]];
  assert.equal(lid, id);
  await a.end();
});

test('sessions are released after the pinning state ends (pool of 2 serves 10 sequential transactions)', async () => {
  const clients = await Promise.all(Array.from({ length: 10 }, () => connectApp(sluice.port, { database: db })));
  for (const c of clients) {
    await c.query('BEGIN');
    await c.query("INSERT INTO items (v) VALUES ('seq')");
    await c.query('COMMIT');
  }
  // If any of them had kept its connection, the next ones would time out on the pool of 2.
  const [n] = await clients[9]!.query("SELECT COUNT(*) AS n FROM items WHERE v = 'seq'");
  assert.deepEqual(n, [{ n: 10 }]);
  await Promise.all(clients.map((c) => c.end()));
});

test('prepared statements survive moves between backend connections, including re-prepare and type memory', async () => {
  const a = await connectApp(sluice.port, { database: db });
  for (let i = 0; i < 5; i++) {
    const [rows] = await a.execute('SELECT ? AS s, ? + 1 AS n', [`v${i}`, i]);
    assert.deepEqual(rows, [{ s: `v${i}`, n: i + 1 }]);
    await churn(sluice.port, 1);
  }
  await a.end();
});

test('COM_RESET_CONNECTION and COM_CHANGE_USER reset the session', async () => {
  const a = await connectApp(sluice.port, { database: db });
  await a.query("SET @x = 1, time_zone = '+05:00'");
  await a.query('CREATE TEMPORARY TABLE tmp2 (x INT)');
  await a.reset();
  const [[r]] = (await a.query('SELECT @x AS x, @@time_zone AS tz, DATABASE() AS d')) as unknown as [[{ x: unknown; tz: string; d: string }]];
  assert.equal(r.x, null);
  assert.equal(r.tz, 'SYSTEM');
  assert.equal(r.d, db, 'the current schema survives COM_RESET_CONNECTION, as on the server');
  await assert.rejects(a.query('SELECT * FROM tmp2'), (e: { errno: number }) => e.errno === 1146);
  await a.changeUser({ user: 'sha2', password: 'sha2-secret' });
  const [[{ u }]] = (await a.query('SELECT @x AS u')) as unknown as [[{ u: unknown }]];
  assert.equal(u, null);
  await assert.rejects(a.changeUser({ user: 'app', password: 'bad' }));
  await a.end().catch(() => undefined);
});

test('multiplexing off: one backend connection per client for its whole life', async () => {
  const off = await startTestSluice({ multiplexing: false, pool: { max: 50 } });
  try {
    const a = await connectApp(off.port);
    const [[{ t1 }]] = (await a.query('SELECT CONNECTION_ID() AS t1')) as unknown as [[{ t1: number }]];
    await churn(off.port);
    const [[{ t2 }]] = (await a.query('SELECT CONNECTION_ID() AS t2')) as unknown as [[{ t2: number }]];
    assert.equal(t1, t2);
    await a.end();
  } finally {
    await off.close();
  }
});

test('a client idle after an error or warning gives its connection up when another client needs it', async () => {
  const s = await startTestSluice({ pool: { max: 1, acquire_timeout_ms: 2000 } });
  try {
    const a = await connectApp(s.port, { database: db });
    await assert.rejects(a.query('SELECT * FROM no_such_table_here'));
    const b = await connectApp(s.port, { database: db });
    const t0 = Date.now();
    const [r] = await b.query('SELECT 1 AS one');
    assert.deepEqual(r, [{ one: 1 }]);
    assert.ok(Date.now() - t0 < 1500, 'B did not have to wait for the pool deadline');
    // A still works afterwards (on whatever connection is free).
    const [r2] = await a.query('SELECT 2 AS two');
    assert.deepEqual(r2, [{ two: 2 }]);
    await a.end();
    await b.end();
  } finally {
    await s.close();
  }
});

test('binary-protocol statements pin and carry user variables like text ones', async () => {
  const a = await connectApp(sluice.port, { database: db });
  const [[{ got }]] = (await a.execute('SELECT GET_LOCK(?, 1) AS got', ['sluice_ps_lock'])) as unknown as [[{ got: number }]];
  assert.equal(got, 1);
  await churn(sluice.port, 2);
  const [[{ mine }]] = (await a.query("SELECT IS_USED_LOCK('sluice_ps_lock') = CONNECTION_ID() AS mine")) as unknown as [[{ mine: number }]];
  assert.equal(mine, 1, 'the lock holder kept its connection');
  await a.end();
  const b = await connectApp(sluice.port, { database: db });
  await b.execute('SET @from_ps = ?', [41]);
  await churn(sluice.port, 2);
  const [[{ v }]] = (await b.query('SELECT @from_ps + 1 AS v')) as unknown as [[{ v: number }]];
  assert.equal(v, 42);
  await b.end();
});

test('SET character_set_results = NULL follows the client without breaking it', async () => {
  const a = await connectApp(sluice.port, { database: db });
  await a.query('SET character_set_results = NULL');
  await churn(sluice.port, 2);
  const [[{ r }]] = (await a.query('SELECT @@character_set_results IS NULL AS r')) as unknown as [[{ r: number }]];
  assert.equal(r, 1);
  await a.end();
});
