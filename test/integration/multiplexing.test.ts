// Multiplexing proof: many clients share a small pool of backend connections, each keeping its own
// session (time_zone, sql_mode, user variables, default schema, prepared statements), and the primary
// sees no more connections than the pool allows (counted by the server, not by Sluice).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestSluice, type TestSluice } from '../helpers/sluice.js';
import { rootQuery, freshDbName } from '../helpers/topology.js';

const CLIENTS = Number(process.env.SLUICE_MUX_CLIENTS ?? 1000);
const SCHEMAS = 10;
const POOL_MAX = 20;
const backendUser = `mux_${Date.now().toString(36)}`;
const backendPassword = 'mux-pass';
const prefix = freshDbName('mux');
let sluice: TestSluice;

before(async () => {
  await rootQuery(`CREATE USER '${backendUser}'@'%' IDENTIFIED BY '${backendPassword}'`);
  await rootQuery(`GRANT ALL ON *.* TO '${backendUser}'@'%'`);
  for (let s = 0; s < SCHEMAS; s++) {
    await rootQuery(`CREATE DATABASE ${prefix}_${s}`);
    await rootQuery(`CREATE TABLE ${prefix}_${s}.t (id INT PRIMARY KEY AUTO_INCREMENT, owner INT, v VARCHAR(40))`);
    await rootQuery(`INSERT INTO ${prefix}_${s}.t (owner, v) VALUES (-1, 'schema-${s}')`);
  }
  sluice = await startTestSluice({
    users: [{ name: 'mux', password: 'mux-secret', backend_user: backendUser, backend_password: backendPassword }],
    pool: { max: POOL_MAX, acquire_timeout_ms: 60000 },
    limits: { max_client_connections: CLIENTS + 100 },
  });
});

after(async () => {
  await sluice?.close();
  for (let s = 0; s < SCHEMAS; s++) await rootQuery(`DROP DATABASE IF EXISTS ${prefix}_${s}`);
  await rootQuery(`DROP USER IF EXISTS '${backendUser}'@'%'`);
});

async function backendConnectionCount(): Promise<number> {
  const rows = await rootQuery<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [backendUser]);
  return Number(rows[0]!.n);
}

function tzFor(i: number): string {
  const minutes = (i % 25) * 30 - 360; // -06:00 … +06:00 in half hours
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

const MODES = ['STRICT_TRANS_TABLES', 'ANSI_QUOTES,STRICT_ALL_TABLES', 'NO_BACKSLASH_ESCAPES', 'PIPES_AS_CONCAT,NO_ZERO_DATE'];

test(`${CLIENTS} clients with their own sessions over a pool of ${POOL_MAX}`, { timeout: 240000 }, async () => {
  let maxSeen = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxSeen = Math.max(maxSeen, await backendConnectionCount());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const mismatches: string[] = [];
  const errors: string[] = [];
  const conns: mysql.Connection[] = [];
  // Connect in batches (a real fleet of clients does not arrive in one millisecond either).
  for (let i = 0; i < CLIENTS; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, CLIENTS - i) }, (_, k) =>
        mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'mux', password: 'mux-secret', database: `${prefix}_${(i + k) % SCHEMAS}` }),
      ),
    );
    conns.push(...batch);
  }

  const work = conns.map(async (c, i) => {
    try {
      const tz = tzFor(i);
      const mode = MODES[i % MODES.length]!;
      const schema = `${prefix}_${i % SCHEMAS}`;
      await c.query(`SET time_zone = '${tz}', sql_mode = '${mode}'`);
      await c.query(`SET @me = ${i}, @label = 'client-${i}'`);
      for (let round = 0; round < 3; round++) {
        const [rows] = await c.query(
          'SELECT @me AS me, @label AS label, @@time_zone AS tz, @@sql_mode AS mode, DATABASE() AS db, (SELECT v FROM t WHERE owner = -1) AS v',
        );
        const r = (rows as Array<Record<string, unknown>>)[0]!;
        const expect = { me: i, label: `client-${i}`, tz, mode, db: schema, v: `schema-${i % SCHEMAS}` };
        for (const [k, v] of Object.entries(expect)) {
          if (String(r[k]) !== String(v)) mismatches.push(`client ${i} round ${round}: ${k}=${String(r[k])} expected ${String(v)}`);
        }
        // A write, a read of it, LAST_INSERT_ID, and a prepared statement that uses session state.
        const [ins] = await c.query(`INSERT INTO t (owner, v) VALUES (${i}, CONCAT('r', ${round}))`);
        const insertId = (ins as mysql.ResultSetHeader).insertId;
        const [lid] = await c.query('SELECT LAST_INSERT_ID() AS id');
        if (Number((lid as Array<{ id: number }>)[0]!.id) !== insertId) mismatches.push(`client ${i}: LAST_INSERT_ID ${(lid as Array<{ id: number }>)[0]!.id} expected ${insertId}`);
        const [ps] = await c.execute('SELECT COUNT(*) AS n, @me + ? AS me2 FROM t WHERE owner = ?', [1, i]);
        const p = (ps as Array<{ n: number; me2: number }>)[0]!;
        if (Number(p.n) !== round + 1 || Number(p.me2) !== i + 1) mismatches.push(`client ${i}: prepared n=${p.n} me2=${p.me2}`);
      }
      // Each client ends by changing its variable and reading it back.
      await c.query(`SET @me = @me * 2`);
      const [fin] = await c.query('SELECT @me AS me');
      if (Number((fin as Array<{ me: number }>)[0]!.me) !== i * 2) mismatches.push(`client ${i}: final @me`);
    } catch (err) {
      errors.push(`client ${i}: ${(err as Error).message}`);
    }
  });
  await Promise.all(work);
  sampling = false;
  await sampler;
  await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  assert.deepEqual(errors.slice(0, 10), [], `${errors.length} clients failed`);
  assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} session mix-ups`);
  assert.ok(maxSeen > 0, 'the sampler saw backend connections');
  assert.ok(maxSeen <= POOL_MAX, `primary saw ${maxSeen} connections from Sluice (limit ${POOL_MAX})`);
  console.log(`# ${CLIENTS} clients, max backend connections seen by the primary: ${maxSeen}, syncs: ${sluice.server.context.counters.syncs}`);
});
