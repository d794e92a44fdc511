// Pipelining (pool.pipelining): short autocommit reads of several sessions share one backend connection and
// leave in one write. What must hold: every client gets its own result, in its own session; a statement that
// leaves something behind (warnings, a session change) keeps the connection and the statements queued behind
// it run again elsewhere; a client that goes away, a KILL, or a lost backend connection touch only the sessions
// they concern. Most cases use a pool of one connection, so that statements are certain to queue behind a
// slow one (SELECT SLEEP) and the order on the wire is known.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { connectApp, startTestSluice, type TestSluice } from '../helpers/sluice.js';
import { freshDbName, rootQuery } from '../helpers/topology.js';
import type { BackendPool } from '../../src/backend/pool.js';
import { digest } from '../../src/router/digest.js';
import { busyPollState } from '../../src/util/busy-poll.js';

const db = freshDbName('pipe');

before(async () => {
  await rootQuery(`CREATE DATABASE ${db}`);
  await rootQuery(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, v VARCHAR(20))`);
  await rootQuery(`INSERT INTO ${db}.t VALUES ${Array.from({ length: 200 }, (_, i) => `(${i}, 'v${i}')`).join(',')}`);
  // A read that changes its session (a stored function may): with 1 it sets time_zone.
  await rootQuery(`CREATE FUNCTION ${db}.tz_shift(x INT) RETURNS INT DETERMINISTIC BEGIN IF x = 1 THEN SET SESSION time_zone = '+05:00'; END IF; RETURN x; END`);
});

after(async () => {
  await rootQuery(`DROP DATABASE IF EXISTS ${db}`);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function primaryPool(s: TestSluice): BackendPool {
  const pools = s.server.context.pools.list().filter((p) => p.endpoint.name === 'primary');
  assert.equal(pools.length, 1, 'one primary pool');
  return pools[0]!;
}

async function clients(s: TestSluice, n: number): Promise<mysql.Connection[]> {
  return Promise.all(Array.from({ length: n }, () => connectApp(s.port, { database: db })));
}

async function endAll(conns: mysql.Connection[]): Promise<void> {
  await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
}

/** Runs each statement once on its own connection so its digest is known (min_samples: 1). */
async function warm(c: mysql.Connection, ...sql: string[]): Promise<void> {
  for (const s of sql) await c.query(s);
}

describe('pipelining under concurrency', () => {
  let sluice: TestSluice;
  before(async () => {
    sluice = await startTestSluice({ pool: { max: 4, pipelining: { min_samples: 1, max_statement_ms: 1000 } } });
  });
  after(async () => sluice?.close());

  test('64 clients, text and prepared reads, each result is its own, sessions with other state never share', { timeout: 60000 }, async () => {
    const conns = await clients(sluice, 64);
    // A quarter of the clients have a session of their own (time_zone, a user variable): they must not share a
    // connection with the others, and must keep seeing their own values.
    for (let i = 0; i < conns.length; i += 4) {
      await conns[i]!.query(`SET time_zone = '+0${i % 10}:00'`);
      await conns[i]!.query(`SET @me = ${i}`);
    }
    const before = { ...primaryPool(sluice).stats };
    const errors: string[] = [];
    await Promise.all(
      conns.map(async (c, i) => {
        for (let k = 0; k < 60; k++) {
          const id = (i * 7 + k) % 200;
          try {
            if (k % 2 === 0) {
              const [rows] = await c.execute<mysql.RowDataPacket[]>('SELECT id, v FROM t WHERE id = ?', [id]);
              if (rows.length !== 1 || rows[0]!.id !== id || rows[0]!.v !== `v${id}`) errors.push(`client ${i} execute ${id}: ${JSON.stringify(rows)}`);
            } else if (i % 4 === 0) {
              const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT ${id} AS id, @@time_zone AS tz, @me AS me`);
              const r = rows[0]!;
              if (r.id !== id || r.tz !== `+0${i % 10}:00` || Number(r.me) !== i) errors.push(`client ${i}: ${JSON.stringify(r)}`);
            } else {
              const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT v, ${i} AS who FROM t WHERE id = ${id}`);
              if (rows[0]?.v !== `v${id}` || rows[0]?.who !== i) errors.push(`client ${i} query ${id}: ${JSON.stringify(rows)}`);
            }
          } catch (err) {
            errors.push(`client ${i}: ${(err as Error).message}`);
          }
        }
      }),
    );
    const after = primaryPool(sluice).stats;
    await endAll(conns);
    assert.deepEqual(errors, []);
    // It did pipeline (otherwise this test proves nothing about pipelining).
    assert.ok(after.pipelined - before.pipelined > 500, `pipelined statements: ${after.pipelined - before.pipelined}`);
    assert.ok(primaryPool(sluice).size <= 4);
  });
});

describe('pipelining on one connection', () => {
  let sluice: TestSluice;
  before(async () => {
    sluice = await startTestSluice({ pool: { max: 1, acquire_timeout_ms: 20000, pipelining: { min_samples: 1, max_statement_ms: 5000 } } });
    const c = await connectApp(sluice.port, { database: db });
    await warm(c, 'SELECT SLEEP(0)', 'SELECT id, 0 AS who FROM t WHERE id = 1', "SELECT CAST('7' AS SIGNED) AS n", 'SELECT 1 AS n', 'SELECT tz_shift(0) AS x', 'SELECT @@time_zone AS tz', 'SELECT id FROM t WHERE id = 1');
    await c.end();
  });
  after(async () => sluice?.close());

  test('statements queued behind a slow one share its connection and get their own results', { timeout: 30000 }, async () => {
    const [a, b, c] = await clients(sluice, 3);
    const pool = primaryPool(sluice);
    const before = pool.stats.pipelined;
    const slow = a!.query('SELECT SLEEP(0.3)');
    await sleep(50);
    const rb = b!.query<mysql.RowDataPacket[]>('SELECT 1 AS n');
    const rc = c!.query<mysql.RowDataPacket[]>('SELECT id FROM t WHERE id = 1');
    const [[sa], [sb], [sc]] = await Promise.all([slow, rb, rc]);
    assert.deepEqual((sa as mysql.RowDataPacket[])[0], { 'SLEEP(0.3)': 0 });
    assert.deepEqual(sb[0], { n: 1 });
    assert.deepEqual(sc[0], { id: 1 });
    assert.equal(pool.stats.pipelined - before, 3);
    assert.equal(pool.size, 1);
    await endAll([a!, b!, c!]);
  });

  test('a statement that changes its session keeps the connection; those behind it run again and see their own session', { timeout: 30000 }, async () => {
    const [a, b, c] = await clients(sluice, 3);
    const pool = primaryPool(sluice);
    const evicted = pool.stats.evicted;
    const slow = a!.query('SELECT SLEEP(0.3)');
    await sleep(50);
    const shift = b!.query<mysql.RowDataPacket[]>('SELECT tz_shift(1) AS x');
    await sleep(20);
    const tz = c!.query<mysql.RowDataPacket[]>('SELECT @@time_zone AS tz');
    const [, [rb]] = await Promise.all([slow, shift]);
    assert.deepEqual(rb[0], { x: 1 });
    const digests = sluice.server.context.digests.list().filter((e) => /tz_shift|SLEEP|time_zone/i.test(e.text)).map((e) => `${e.text}: n=${e.count} changes=${e.stateChanges}`);
    assert.equal(pool.stats.evicted - evicted, 1, `${JSON.stringify(pool.stats)} ${digests.join('; ')}`);
    // b's session changed, as it would have on a direct connection; a change made by a function pins b to the
    // pool's only connection, so c's read (evicted: it ran in b's changed session) runs again once b is gone.
    const [[after]] = await b!.query<mysql.RowDataPacket[]>('SELECT @@time_zone AS tz');
    assert.equal(after!.tz, '+05:00');
    await b!.end();
    const [[rc]] = await tz;
    assert.equal(rc!.tz, 'SYSTEM');
    // A digest that changed a session is not pipelined again.
    const d = digest(Buffer.from('\x03SELECT tz_shift(1) AS x'), 1, 25, { noBackslashEscapes: false, ansiQuotes: false });
    assert.ok(sluice.server.context.digests.list().some((e) => e.text === d.text && e.stateChanges > 0), d.text);
    assert.equal(sluice.server.context.digests.pipelinable(d, 1, 5000), false);
    await endAll([a!, c!]);
  });

  test('warnings of a pipelined read are there for SHOW WARNINGS', { timeout: 30000 }, async () => {
    const [a, b] = await clients(sluice, 2);
    const slow = a!.query('SELECT SLEEP(0.3)');
    await sleep(50);
    const [[rb]] = await b!.query<mysql.RowDataPacket[]>("SELECT CAST('7x' AS SIGNED) AS n");
    assert.equal(rb!.n, 7);
    const [warnings] = await b!.query<mysql.RowDataPacket[]>('SHOW WARNINGS');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.Code, 1292);
    await slow;
    await endAll([a!, b!]);
  });

  test('warnings with statements behind them: those are not evicted (warnings do not change the session)', { timeout: 30000 }, async () => {
    const [a, b, c] = await clients(sluice, 3);
    await warm(b!, "SELECT CAST('8' AS DECIMAL) AS n");
    const pool = primaryPool(sluice);
    const evicted = pool.stats.evicted;
    const slow = a!.query('SELECT SLEEP(0.3)');
    await sleep(50);
    const rb = b!.query<mysql.RowDataPacket[]>("SELECT CAST('8x' AS DECIMAL) AS n");
    await sleep(20);
    const rc = c!.query<mysql.RowDataPacket[]>('SELECT id FROM t WHERE id = 1');
    const [, [[sb]], [[sc]]] = await Promise.all([slow, rb, rc]);
    assert.equal(Number(sb!.n), 8);
    assert.deepEqual(sc, { id: 1 });
    assert.equal(pool.stats.evicted, evicted, 'nothing evicted');
    await endAll([a!, b!, c!]);
  });

  test('reads waiting for the only connection join the first of them in one pipeline when it is free', { timeout: 30000 }, async () => {
    const conns = await clients(sluice, 11);
    const pool = primaryPool(sluice);
    const before = { ...pool.stats };
    // DO is not a read: it has the connection to itself, and the reads queue in the pool meanwhile.
    const busy = conns[0]!.query('DO SLEEP(0.3)');
    await sleep(50);
    const reads = conns.slice(1).map((c, i) => c.query<mysql.RowDataPacket[]>(`SELECT id, ${i} AS who FROM t WHERE id = ${i + 1}`));
    await busy;
    const results = await Promise.all(reads);
    for (const [i, [rows]] of results.entries()) assert.deepEqual(rows[0], { id: i + 1, who: i });
    assert.equal(pool.stats.waits - before.waits, 10, 'the reads waited for the connection');
    assert.equal(pool.stats.pipelined - before.pipelined, 10, 'all pipelined');
    assert.equal(pool.stats.joined - before.joined, 9, 'the first to get the connection began a pipeline, the other nine joined it from the queue');
    assert.equal(pool.size, 1);
    await endAll(conns);
  });

  test('a client that goes away mid-pipeline costs only its own response', { timeout: 30000 }, async () => {
    const [a, b, c] = await clients(sluice, 3);
    const pool = primaryPool(sluice);
    const destroyed = pool.stats.destroyed;
    const slow = a!.query('SELECT SLEEP(0.3)');
    await sleep(50);
    b!.query('SELECT 1 AS n').catch(() => undefined);
    const rc = c!.query<mysql.RowDataPacket[]>('SELECT id FROM t WHERE id = 1');
    await sleep(20);
    b!.destroy();
    const [[, ], [sc]] = await Promise.all([slow, rc]);
    assert.deepEqual(sc[0], { id: 1 });
    assert.equal(pool.stats.destroyed, destroyed, 'the shared connection was kept');
    const [[again]] = await a!.query<mysql.RowDataPacket[]>('SELECT 1 AS n');
    assert.equal(again!.n, 1);
    await endAll([a!, c!]);
  });

  test('a client gone before its response that changed the session: the statements behind run again, the connection is retired', { timeout: 30000 }, async () => {
    const [a, b, c, w] = await clients(sluice, 4);
    await warm(w!, 'SELECT tz_shift(0) AS y');
    const pool = primaryPool(sluice);
    const before = { ...pool.stats };
    const slow = a!.query('SELECT SLEEP(0.3)');
    await sleep(50);
    b!.query('SELECT tz_shift(1) AS y').catch(() => undefined);
    await sleep(20);
    const rc = c!.query<mysql.RowDataPacket[]>('SELECT @@time_zone AS tz');
    await sleep(20);
    b!.destroy(); // nobody reads tz_shift(1)'s answer; its session change is still there on the server
    await slow;
    const [[tz]] = await rc;
    assert.equal(tz!.tz, 'SYSTEM', 'c ran again, not in the session tz_shift(1) changed');
    assert.equal(pool.stats.evicted - before.evicted, 1);
    // The connection, whose session changed without anyone tracking it, is not handed out again.
    const deadline = Date.now() + 5000;
    while (pool.stats.destroyed === before.destroyed && Date.now() < deadline) await sleep(20);
    assert.equal(pool.stats.destroyed - before.destroyed, 1);
    const [[again]] = await c!.query<mysql.RowDataPacket[]>('SELECT @@time_zone AS tz');
    assert.equal(again!.tz, 'SYSTEM');
    await endAll([a!, c!, w!]);
  });

  test('KILL QUERY and KILL of a pipelined session never reach the statements of others', { timeout: 30000 }, async () => {
    const [a, b, killer] = await clients(sluice, 3);
    // KILL QUERY of a read queued behind a slow one: answered, and the read completes (as if it came after it).
    let slow = a!.query<mysql.RowDataPacket[]>('SELECT SLEEP(0.4) AS s');
    await sleep(50);
    const rb = b!.query<mysql.RowDataPacket[]>('SELECT 1 AS n');
    await sleep(20);
    await killer!.query(`KILL QUERY ${b!.threadId}`);
    const [[sb]] = await rb;
    assert.deepEqual(sb, { n: 1 });
    let [[sa]] = await slow;
    assert.equal(sa!.s, 0, 'the slow statement of another session was not interrupted');
    // KILL of that session: its connection goes, the shared backend connection and the others' statements stay.
    slow = a!.query<mysql.RowDataPacket[]>('SELECT SLEEP(0.4) AS s');
    await sleep(50);
    const rb2 = b!.query('SELECT 1 AS n');
    await sleep(20);
    await killer!.query(`KILL ${b!.threadId}`);
    await assert.rejects(rb2);
    [[sa]] = await slow;
    assert.equal(sa!.s, 0, 'the slow statement of another session was not interrupted');
    await endAll([a!, killer!]);
  });

  test('a backend connection lost mid-pipeline: each session gets an error or its result, then goes on', { timeout: 30000 }, async () => {
    const conns = await clients(sluice, 4);
    const slow = conns[0]!.query('SELECT SLEEP(2)');
    await sleep(50);
    const queued = conns.slice(1).map((c, i) => c.query<mysql.RowDataPacket[]>(`SELECT ${i} AS n`));
    await sleep(50);
    const [thread] = await rootQuery<Array<{ ID: number }>>("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(2)%'");
    assert.ok(thread, 'the slow statement runs on the primary');
    await rootQuery(`KILL ${thread.ID}`);
    const settled = await Promise.allSettled([slow, ...queued]);
    for (const [i, s] of settled.entries()) {
      if (s.status === 'rejected') assert.match(String((s.reason as Error).message), /Lost connection|2013/, `client ${i}`);
      else if (i > 0) assert.deepEqual((s.value as unknown as [mysql.RowDataPacket[]])[0][0], { n: i - 1 });
    }
    for (const [i, c] of conns.entries()) {
      const [[r]] = await c.query<mysql.RowDataPacket[]>(`SELECT ${i} AS n`);
      assert.equal(r!.n, i, `client ${i} goes on after the loss`);
    }
    await endAll(conns);
  });

  test('after all of the above (evictions, abandoned responses, KILL, a lost connection) no backend connection counts as busy', { timeout: 30000 }, async () => {
    // Busy polling spins only while at most one backend connection has a response outstanding: a count that
    // drifted up would switch it off for good, one that drifted down would spin under load.
    const deadline = Date.now() + 5000;
    while (busyPollState().busyBackends !== 0 && Date.now() < deadline) await sleep(5);
    assert.equal(busyPollState().busyBackends, 0);
  });
});

describe('pipelining and statements that need a connection of their own', () => {
  test('a busy shared connection still goes back to a statement waiting for it (no starvation)', { timeout: 60000 }, async () => {
    const sluice = await startTestSluice({ pool: { max: 1, acquire_timeout_ms: 4000, pipelining: { min_samples: 1, max_depth: 4, max_statement_ms: 1000 } } });
    try {
      const readers = await clients(sluice, 12);
      const writer = await connectApp(sluice.port, { database: db });
      await warm(readers[0]!, 'SELECT SLEEP(0.02), v FROM t WHERE id = 3');
      const pool = primaryPool(sluice);
      let stop = false;
      let reads = 0;
      // Twelve clients keep the only connection busy with pipelined reads of 20 ms each, back to back: there is
      // always one in flight when another client sends its next.
      const loops = readers.map(async (c) => {
        while (!stop) {
          await c.query('SELECT SLEEP(0.02), v FROM t WHERE id = 3');
          reads++;
        }
      });
      await sleep(300);
      const joinedBefore = pool.stats.joined;
      // DO is not a read: it needs the connection to itself, and must get it within acquire_timeout_ms.
      for (let i = 0; i < 5; i++) await writer.query('DO 1'); // starved, it would fail with ER 1040 after 4 s
      stop = true;
      await Promise.all(loops);
      assert.ok(pool.stats.joined > joinedBefore, 'the reads were pipelined meanwhile');
      assert.ok(reads > 10, `reads went on (${reads})`);
      await endAll([...readers, writer]);
    } finally {
      await sluice.close();
    }
  });
});

describe('pipelining off', () => {
  test('pool.pipelining.enabled: false never shares a connection', { timeout: 30000 }, async () => {
    const sluice = await startTestSluice({ pool: { max: 4, pipelining: { enabled: false, min_samples: 1 } } });
    try {
      const conns = await clients(sluice, 8);
      await Promise.all(conns.map(async (c) => {
        for (let k = 0; k < 20; k++) await c.query('SELECT id FROM t WHERE id = 1');
      }));
      assert.equal(primaryPool(sluice).stats.pipelined, 0);
      await endAll(conns);
    } finally {
      await sluice.close();
    }
  });

  test('multiplexing: false never shares a connection either (one per client)', { timeout: 30000 }, async () => {
    const sluice = await startTestSluice({ multiplexing: false, pool: { max: 20, pipelining: { min_samples: 1 } } });
    try {
      const conns = await clients(sluice, 8);
      await Promise.all(conns.map(async (c) => {
        for (let k = 0; k < 20; k++) await c.query('SELECT id FROM t WHERE id = 1');
      }));
      assert.equal(primaryPool(sluice).stats.pipelined, 0);
      assert.equal(primaryPool(sluice).size, 8);
      await endAll(conns);
    } finally {
      await sluice.close();
    }
  });
});
