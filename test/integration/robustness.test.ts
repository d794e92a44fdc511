// Failure handling: a backend connection dying mid-statement, a client vanishing mid-result, a slow
// reader next to fast clients, and graceful shutdown of a real `sluice` process on SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, testConfig, type TestSluice } from '../helpers/sluice.js';
import { rootQuery, createTestDatabase, dropTestDatabase } from '../helpers/topology.js';

let sluice: TestSluice;
let db: string;

before(async () => {
  db = await createTestDatabase();
  sluice = await startTestSluice({ pool: { max: 4 } });
});
after(async () => {
  await sluice?.close();
  await dropTestDatabase(db);
});

async function backendThreadRunning(pattern: string, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await rootQuery<Array<{ ID: number }>>('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()', [pattern]);
    if (rows.length > 0) return Number(rows[0]!.ID);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no backend thread running ${pattern}`);
}

test('backend connection killed mid-statement: the client gets an error and its session continues', async () => {
  const c = await connectApp(sluice.port);
  await c.query("SET @keep = 'kept', time_zone = '+03:00'");
  const running = c.query('SELECT SLEEP(10) AS marker_a').then(
    () => null,
    (e: { errno: number }) => e,
  );
  const tid = await backendThreadRunning('SELECT SLEEP(10) AS marker_a');
  await rootQuery(`KILL ${tid}`);
  const err = await running;
  assert.ok(err && (err.errno === 1927 || err.errno === 2013), `got ${JSON.stringify(err)}`);
  const [[r]] = (await c.query('SELECT @keep AS keep, @@time_zone AS tz, CONNECTION_ID() <> ? AS moved', [tid])) as unknown as [[{ keep: string; tz: string; moved: number }]];
  assert.deepEqual(r, { keep: 'kept', tz: '+03:00', moved: 1 });
  await c.end();
});

test('backend connection killed inside a transaction: the client is told and disconnected', async () => {
  const c = await connectApp(sluice.port);
  await c.query('BEGIN');
  const [[{ tid }]] = (await c.query('SELECT CONNECTION_ID() AS tid')) as unknown as [[{ tid: number }]];
  await rootQuery(`KILL ${tid}`);
  await new Promise((r) => setTimeout(r, 200));
  await assert.rejects(c.query('SELECT 1'));
  c.destroy();
  const fresh = await connectApp(sluice.port);
  await fresh.query('SELECT 1');
  await fresh.end();
});

test('client disconnecting mid-result leaves the proxy and the pool healthy', async () => {
  for (let i = 0; i < 3; i++) {
    const c = await connectApp(sluice.port, { database: db });
    const stream = (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream;
    const q = c.query("SELECT seq, REPEAT('x', 500) AS pad FROM seq_1_to_300000").then(
      () => 'completed',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await new Promise((r) => setTimeout(r, 30));
    stream.destroy();
    assert.notEqual(await q, 'completed', 'the result was cut off by the disconnect');
  }
  const others = await Promise.all(Array.from({ length: 6 }, () => connectApp(sluice.port)));
  const results = await Promise.all(others.map((o, i) => o.query(`SELECT ${i} AS i`)));
  results.forEach(([rows], i) => assert.deepEqual(rows, [{ i }]));
  await Promise.all(others.map((o) => o.end()));
});

test('a slow reader does not stall other clients, and its buffering stays bounded', async () => {
  const slow = await connectApp(sluice.port, { database: db });
  const stream = (slow as unknown as { connection: { stream: { pause(): void; resume(): void } } }).connection.stream;
  const rssBefore = process.memoryUsage().rss;
  const big = slow.query("SELECT seq, REPEAT('y', 1000) AS pad FROM seq_1_to_250000"); // ~250 MB
  await new Promise((r) => setTimeout(r, 50));
  stream.pause();
  await new Promise((r) => setTimeout(r, 1500));
  const fast = await connectApp(sluice.port);
  const t0 = Date.now();
  for (let i = 0; i < 50; i++) await fast.query('SELECT 1');
  const elapsed = Date.now() - t0;
  const grown = (process.memoryUsage().rss - rssBefore) / 1048576;
  stream.resume();
  const [rows] = await big;
  assert.equal((rows as unknown[]).length, 250000);
  assert.ok(elapsed < 5000, `50 statements of another client took ${elapsed} ms while a reader stalled`);
  assert.ok(grown < 120, `RSS grew ${grown.toFixed(0)} MiB while a 250 MB result was held back`);
  await fast.end();
  await slow.end();
});

test('SIGTERM: in-flight statements finish, new connections are refused, the process exits 0', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-term-'));
  const cfgPath = path.join(dir, 'sluice.json');
  const cfg = testConfig({ shutdown_grace_ms: 5000, log: { level: 'info' } });
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const child = spawn(process.execPath, ['bin/sluice.js', '--config', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sluice did not start: ${logs}`)), 15000);
      const check = () => {
        const m = /"tcp":\[\{"host":"127\.0\.0\.1","port":(\d+)/.exec(logs);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        } else setTimeout(check, 50);
      };
      check();
    });
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });
    const inflight = c.query('SELECT SLEEP(1) AS s');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const [rows] = await inflight;
    assert.deepEqual(rows, [{ s: 0 }]);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c2) => resolve(c2)));
    assert.equal(code, 0, logs);
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', connectTimeout: 2000 }));
    assert.doesNotMatch(logs, /app-secret/, 'no password in the logs');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
