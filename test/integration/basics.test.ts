// Core protocol through Sluice with real clients: mysql2 (text + binary protocol), wrong passwords,
// TLS, caching_sha2_password, pass-through users, multi-statements, the mariadb CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { createTestDatabase, dropTestDatabase, testTopology, testCa } from '../helpers/topology.js';

const run = promisify(execFile);
let sluice: TestSluice;
let db: string;

before(async () => {
  sluice = await startTestSluice();
  db = await createTestDatabase();
});
after(async () => {
  await sluice?.close();
  await dropTestDatabase(db);
});

test('mysql2 text queries, multi-statements and multi-result sets', async () => {
  const c = await connectApp(sluice.port, { database: db, multipleStatements: true });
  try {
    const [rows] = await c.query('SELECT 1 AS one, "two" AS two');
    assert.deepEqual(rows, [{ one: 1, two: 'two' }]);
    await c.query('CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))');
    const [res] = await c.query("INSERT INTO t (v) VALUES ('a'), ('b')");
    assert.equal((res as mysql.ResultSetHeader).affectedRows, 2);
    const [multi] = await c.query('SELECT COUNT(*) AS n FROM t; SELECT v FROM t ORDER BY id; UPDATE t SET v = "c" WHERE id = 1');
    const sets = multi as unknown[];
    assert.equal(sets.length, 3);
    assert.deepEqual(sets[0], [{ n: 2 }]);
    assert.deepEqual(sets[1], [{ v: 'a' }, { v: 'b' }]);
    assert.equal((sets[2] as mysql.ResultSetHeader).affectedRows, 1);
    await assert.rejects(c.query('SELECT * FROM no_such_table'), (e: { errno: number }) => e.errno === 1146);
    const [after] = await c.query('SELECT 42 AS x');
    assert.deepEqual(after, [{ x: 42 }]);
  } finally {
    await c.end();
  }
});

test('mysql2 prepared statements (binary protocol)', async () => {
  const c = await connectApp(sluice.port, { database: db });
  try {
    await c.query('CREATE TABLE ps (id INT PRIMARY KEY, d DATETIME, f DOUBLE, s TEXT, n INT NULL)');
    for (let i = 0; i < 5; i++) await c.execute('INSERT INTO ps VALUES (?, ?, ?, ?, ?)', [i, new Date(2020, 0, i + 1), i / 3, 's'.repeat(i), i % 2 ? null : i]);
    const [rows] = await c.execute('SELECT id, s, n FROM ps WHERE id >= ? ORDER BY id', [3]);
    assert.deepEqual(rows, [
      { id: 3, s: 'sss', n: null },
      { id: 4, s: 'ssss', n: 4 },
    ]);
    await assert.rejects(c.execute('SELECT * FROM nope WHERE id = ?', [1]), (e: { errno: number }) => e.errno === 1146);
  } finally {
    await c.end();
  }
});

test('wrong password and unknown user get ERR 1045 worded like MariaDB', async () => {
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'app', password: 'wrong' }),
    (e: { errno: number; sqlMessage: string }) => e.errno === 1045 && /^Access denied for user 'app'@'127\.0\.0\.1' \(using password: YES\)$/.test(e.sqlMessage),
  );
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'nobody_here', password: '' }),
    (e: { errno: number; sqlMessage: string }) => e.errno === 1045 && /using password: NO/.test(e.sqlMessage),
  );
});

test('TLS and caching_sha2_password with mysql2 (over TLS and with the RSA key)', async () => {
  const overTls = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'sha2', password: 'sha2-secret', ssl: { ca: testCa() } });
  const [r1] = await overTls.query("SELECT 'tls' AS v");
  assert.deepEqual(r1, [{ v: 'tls' }]);
  await overTls.end();
  const plain = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'sha2', password: 'sha2-secret' });
  const [r2] = await plain.execute('SELECT ? AS v', ['fast']);
  assert.deepEqual(r2, [{ v: 'fast' }]);
  await plain.end();
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'sha2', password: 'nope', ssl: { ca: testCa() } }),
    (e: { errno: number }) => e.errno === 1045,
  );
});

test('pass-through user from mysql.user (demo) logs in and sees its grants', async () => {
  const t = testTopology();
  const c = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: t.demo.user, password: t.demo.password, database: 'demo' });
  const [rows] = await c.query('SELECT CURRENT_USER() AS u, DATABASE() AS d');
  assert.deepEqual(rows, [{ u: `${t.demo.user}@%`, d: 'demo' }]);
  await c.end();
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: t.demo.user, password: 'bad' }),
    (e: { errno: number }) => e.errno === 1045,
  );
});

test('mariadb CLI through Sluice: query, --ssl, unix-less TCP', async () => {
  const t = testTopology();
  const base = ['-h', '127.0.0.1', '-P', String(sluice.port), '-u', t.demo.user, `-p${t.demo.password}`, '-N', '-B'];
  const { stdout } = await run('mariadb', [...base, '-e', 'SELECT 1+1; SELECT DATABASE()', 'demo'], { timeout: 20000 });
  assert.equal(stdout.trim(), '2\ndemo');
  const tls = await run('mariadb', [...base, '--ssl', `--ssl-ca=${t.tls.ca}`, '-e', 'status'], { timeout: 20000 });
  assert.match(tls.stdout, /SSL:\s+Cipher in use is \S+/);
});

test('TLS towards the backends (backend_tls with the sandbox CA)', async () => {
  const t = testTopology();
  const s = await startTestSluice({ backend_tls: { enabled: true, ca: t.tls.ca, reject_unauthorized: true } });
  try {
    const c = await connectApp(s.port);
    const [rows] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    const v = (rows as Array<{ Value: string }>)[0]!.Value;
    assert.match(v, /^TLSv1\.[23]$/, 'the backend session is encrypted');
    await c.end();
  } finally {
    await s.close();
  }
});
