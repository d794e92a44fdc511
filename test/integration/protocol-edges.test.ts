// Protocol corners through Sluice with real clients: LOAD DATA LOCAL INFILE, packets ≥ 16 MiB, KILL with
// Sluice's connection ids, per-user limits, unix socket, COM_STATISTICS/COM_PING, oversized packets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { createTestDatabase, dropTestDatabase, rootQuery, testTopology } from '../helpers/topology.js';

const run = promisify(execFile);
let sluice: TestSluice;
let db: string;
let dir: string;

before(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'sluice-edges-'));
  await rootQuery(`CREATE TABLE ${db}.loaded (id INT PRIMARY KEY, name VARCHAR(40))`);
  await rootQuery(`CREATE TABLE ${db}.big (id INT PRIMARY KEY, b LONGBLOB)`);
  sluice = await startTestSluice({
    listeners: [{ host: '127.0.0.1', port: 0 }, { socket: path.join(dir, 'sluice.sock') }],
    users: [
      { name: 'app', password: 'app-secret', backend_user: testTopology().root.user, backend_password: testTopology().root.password },
      { name: 'limited', password: 'l', max_connections: 2, backend_user: testTopology().root.user, backend_password: testTopology().root.password },
      { name: 'other', password: 'o', backend_user: testTopology().root.user, backend_password: testTopology().root.password },
    ],
  });
});
after(async () => {
  await sluice?.close();
  await dropTestDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

test('LOAD DATA LOCAL INFILE with the mariadb CLI and with mysql2', async () => {
  const t = testTopology();
  const file = path.join(dir, 'rows.tsv');
  writeFileSync(file, Array.from({ length: 1000 }, (_, i) => `${i}\tname-${i}`).join('\n') + '\n');
  await run('mariadb', ['-h', '127.0.0.1', '-P', String(sluice.port), '-u', 'app', '-papp-secret', '--local-infile=1', db, '-e', `LOAD DATA LOCAL INFILE '${file}' INTO TABLE loaded`], { timeout: 20000 });
  const [n] = await rootQuery<Array<{ n: number }>>(`SELECT COUNT(*) AS n FROM ${db}.loaded`);
  assert.equal(Number(n!.n), 1000);
  void t;
  const c = await connectApp(sluice.port, {
    database: db,
    flags: ['+LOCAL_FILES'],
    infileStreamFactory: () => Readable.from([Buffer.from(Array.from({ length: 500 }, (_, i) => `${i + 1000}\tm-${i}`).join('\n'))]),
  });
  const [res] = await c.query({ sql: "LOAD DATA LOCAL INFILE 'ignored' INTO TABLE loaded" });
  assert.equal((res as mysql.ResultSetHeader).affectedRows, 500);
  const [after] = await c.query('SELECT COUNT(*) AS n FROM loaded');
  assert.deepEqual(after, [{ n: 1500 }]);
  await c.end();
});

test('LOAD DATA LOCAL is refused when the client does not allow it, and the session goes on', async () => {
  const c = await connectApp(sluice.port, { database: db, flags: ['-LOCAL_FILES'] });
  await assert.rejects(c.query("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE loaded"), (e: { errno: number }) => e.errno === 1148 || e.errno === 4166);
  const [ok] = await c.query('SELECT 7 AS x');
  assert.deepEqual(ok, [{ x: 7 }]);
  await c.end();
});

test('packets of 16 MiB and more, both directions, text and binary protocol', async () => {
  const c = await connectApp(sluice.port, { database: db });
  const blob = Buffer.alloc(20 * 1024 * 1024 + 123);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7) & 0xff;
  await c.execute('INSERT INTO big VALUES (?, ?)', [1, blob]);
  await c.query('INSERT INTO big VALUES (2, ?)', [blob.subarray(0, 0xffffff - 40)]); // a query packet near 16 MiB
  const [rows] = await c.query('SELECT id, b FROM big ORDER BY id');
  const r = rows as Array<{ id: number; b: Buffer }>;
  assert.equal(r.length, 2);
  assert.ok(r[0]!.b.equals(blob));
  assert.ok(r[1]!.b.equals(blob.subarray(0, 0xffffff - 40)));
  const [bin] = await c.execute('SELECT b FROM big WHERE id = ?', [1]);
  assert.ok((bin as Array<{ b: Buffer }>)[0]!.b.equals(blob));
  await c.end();
});

test('KILL QUERY and KILL use Sluice connection ids; other users cannot kill', async () => {
  const victim = await connectApp(sluice.port);
  const killer = await connectApp(sluice.port);
  const stranger = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'other', password: 'o' });
  const id = victim.threadId!;
  const slow = victim.query('SELECT SLEEP(20) AS s').then(
    () => null,
    (e: { errno: number }) => e,
  );
  await new Promise((r) => setTimeout(r, 300));
  await assert.rejects(stranger.query(`KILL QUERY ${id}`), (e: { errno: number }) => e.errno === 1095);
  const t0 = Date.now();
  await killer.query(`KILL QUERY ${id}`);
  assert.equal((await slow)?.errno, 1317); // as MariaDB answers a killed query
  assert.ok(Date.now() - t0 < 5000);
  const [still] = await victim.query('SELECT 1 AS alive');
  assert.deepEqual(still, [{ alive: 1 }]);
  await assert.rejects(killer.query('KILL 999999'), (e: { errno: number }) => e.errno === 1094);
  await killer.query(`KILL ${id}`);
  await assert.rejects(victim.query('SELECT 1'));
  await killer.end();
  await stranger.end();
});

test('per-user connection limit gives the MariaDB error', async () => {
  const a = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'limited', password: 'l' });
  const b = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'limited', password: 'l' });
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'limited', password: 'l' }),
    (e: { errno: number; sqlMessage: string }) => e.errno === 1203 && /max_user_connections/.test(e.sqlMessage),
  );
  await a.end();
  await new Promise((r) => setTimeout(r, 100));
  const c = await mysql.createConnection({ host: '127.0.0.1', port: sluice.port, user: 'limited', password: 'l' });
  await c.end();
  await b.end();
});

test('unix socket listener, COM_PING and COM_STATISTICS (mariadb-admin)', async () => {
  const sock = path.join(dir, 'sluice.sock');
  const c = await mysql.createConnection({ socketPath: sock, user: 'app', password: 'app-secret' });
  await c.ping();
  const [r] = await c.query('SELECT 5 AS five');
  assert.deepEqual(r, [{ five: 5 }]);
  await c.end();
  const { stdout } = await run('mariadb-admin', ['-S', sock, '-u', 'app', '-papp-secret', 'status'], { timeout: 10000 });
  assert.match(stdout, /Uptime: \d+/);
  const ping = await run('mariadb-admin', ['-h', '127.0.0.1', '-P', String(sluice.port), '-u', 'app', '-papp-secret', 'ping'], { timeout: 10000 });
  assert.match(ping.stdout, /mysqld is alive/);
});

test('an oversized packet gets ERR 1153 and only that connection closes', async () => {
  const small = await startTestSluice({ limits: { max_packet_size: 1024 * 1024 } });
  try {
    const bystander = await connectApp(small.port);
    const c = await connectApp(small.port);
    await assert.rejects(c.query('SELECT ? AS x', ['y'.repeat(2 * 1024 * 1024)]), (e: { errno?: number; code?: string }) => e.errno === 1153 || e.code === 'PROTOCOL_CONNECTION_LOST' || e.code === 'EPIPE' || e.code === 'ECONNRESET');
    const [r] = await bystander.query('SELECT 1 AS ok');
    assert.deepEqual(r, [{ ok: 1 }]);
    await bystander.end();
    c.destroy();
  } finally {
    await small.close();
  }
});

test("a client that does not speak MySQL gets Bad handshake and the proxy carries on", async () => {
  // A raw client: complete a login with mysql2 is not possible for custom commands, so speak bytes.
  const garbage = await new Promise<Buffer>((resolve, reject) => {
    const s = net.connect(sluice.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (d) => {
      chunks.push(d);
      if (chunks.length === 1) s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    });
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    setTimeout(() => s.destroy(), 5000);
  });
  assert.equal(garbage[4], 10, 'got a handshake first');
  const tail = garbage.subarray(garbage.readUIntLE(0, 3) + 4);
  assert.equal(tail[4], 0xff, 'then an ERR packet');
  const alive = await connectApp(sluice.port);
  await alive.query('SELECT 1');
  await alive.end();
});

test('a malformed COM_CHANGE_USER closes only that connection', async () => {
  const c = await connectApp(sluice.port);
  const stream = (c as unknown as { connection: { stream: { write(b: Buffer): void } } }).connection.stream;
  const closed = new Promise<void>((resolve) => c.on('end', () => resolve()).on('error', () => resolve()));
  stream.write(Buffer.from([1, 0, 0, 0, 0x11]));
  await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
  const other = await connectApp(sluice.port);
  const [rows] = await other.query('SELECT 1 AS ok');
  assert.deepEqual(rows, [{ ok: 1 }]);
  await other.end();
  c.destroy();
});
