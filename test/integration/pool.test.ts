// Backend pools: waiting with a deadline and a clear error, idle timeout and max lifetime (checked on the
// server's own process list), pass-through users found on demand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp } from '../helpers/sluice.js';
import { rootQuery } from '../helpers/topology.js';

async function serverConnections(user: string): Promise<number> {
  const rows = await rootQuery<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
  return Number(rows[0]!.n);
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test('an exhausted pool makes statements wait, then fail with a clear error at the deadline', async () => {
  const s = await startTestSluice({ pool: { max: 1, acquire_timeout_ms: 700 } });
  try {
    const holder = await connectApp(s.port);
    await holder.query('BEGIN'); // pins the only backend connection
    await holder.query('SELECT 1');
    const waiter = await connectApp(s.port).catch((e: Error) => e);
    // Login itself needs no backend connection; the statement does.
    assert.ok(!(waiter instanceof Error));
    const t0 = Date.now();
    await assert.rejects((waiter as mysql.Connection).query('SELECT 2'), (e: { errno: number; sqlMessage: string }) => e.errno === 1040 && /no connection to backend 'primary' became free within 700 ms/.test(e.sqlMessage));
    assert.ok(Date.now() - t0 >= 650);
    // A waiter that gets the connection in time just runs.
    const pending = (waiter as mysql.Connection).query('SELECT 3 AS x');
    await new Promise((r) => setTimeout(r, 200));
    await holder.query('COMMIT');
    const [rows] = await pending;
    assert.deepEqual(rows, [{ x: 3 }]);
    await holder.end();
    await (waiter as mysql.Connection).end();
  } finally {
    await s.close();
  }
});

test('idle backend connections are closed after idle_timeout_ms, and replaced after max_lifetime_ms', async () => {
  const user = `pool_${Date.now().toString(36)}`;
  await rootQuery(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
  await rootQuery(`GRANT SELECT ON *.* TO '${user}'@'%'`);
  const s = await startTestSluice({
    users: [{ name: 'p', password: 'p', backend_user: user, backend_password: 'pw' }],
    pool: { max: 5, idle_timeout_ms: 1000, max_lifetime_ms: 600000 },
  });
  try {
    const clients = await Promise.all(Array.from({ length: 4 }, () => mysql.createConnection({ host: '127.0.0.1', port: s.port, user: 'p', password: 'p' })));
    await Promise.all(clients.map((c) => c.query('SELECT SLEEP(0.2)')));
    assert.ok((await serverConnections(user)) >= 2, 'several backend connections were opened');
    assert.ok(await until(async () => (await serverConnections(user)) === 0, 5000), 'idle connections closed');
    await Promise.all(clients.map((c) => c.end()));
  } finally {
    await s.close();
  }
  const s2 = await startTestSluice({
    users: [{ name: 'p', password: 'p', backend_user: user, backend_password: 'pw' }],
    pool: { max: 2, max_lifetime_ms: 500 },
  });
  try {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: s2.port, user: 'p', password: 'p' });
    const [[{ a }]] = (await c.query('SELECT CONNECTION_ID() AS a')) as unknown as [[{ a: number }]];
    await new Promise((r) => setTimeout(r, 800));
    const [[{ b }]] = (await c.query('SELECT CONNECTION_ID() AS b')) as unknown as [[{ b: number }]];
    assert.notEqual(a, b, 'an expired connection is not reused');
    await c.end();
  } finally {
    await s2.close();
    await rootQuery(`DROP USER '${user}'@'%'`);
  }
});

test('a MariaDB account created after Sluice started can log in (mysql.user read on demand)', async () => {
  const s = await startTestSluice();
  const user = `late_${Date.now().toString(36)}`;
  try {
    await rootQuery(`CREATE USER '${user}'@'%' IDENTIFIED BY 'late-pw'`);
    await new Promise((r) => setTimeout(r, 2100)); // on-demand refreshes are rate-limited to one per 2 s
    const c = await mysql.createConnection({ host: '127.0.0.1', port: s.port, user, password: 'late-pw' });
    const [[{ u }]] = (await c.query('SELECT CURRENT_USER() AS u')) as unknown as [[{ u: string }]];
    assert.equal(u, `${user}@%`);
    await c.end();
  } finally {
    await s.close();
    await rootQuery(`DROP USER IF EXISTS '${user}'@'%'`);
  }
});
