// Admin statements on the main port with the mariadb CLI: SLUICE SHOW … / SLUICE SET BACKEND …, for users
// with `admin: true` only; the numbers match the server's own view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { rootQuery, testTopology } from '../helpers/topology.js';

const run = promisify(execFile);
let sluice: TestSluice;
const backendUser = `adm_${Date.now().toString(36)}`;

before(async () => {
  const t = testTopology();
  await rootQuery(`CREATE USER '${backendUser}'@'%' IDENTIFIED BY 'pw'`);
  await rootQuery(`GRANT ALL ON *.* TO '${backendUser}'@'%'`);
  sluice = await startTestSluice({
    users: [
      { name: 'app', password: 'app-secret', backend_user: backendUser, backend_password: 'pw' },
      { name: 'ops', password: 'ops-secret', admin: true, backend_user: t.root.user, backend_password: t.root.password },
    ],
    routing: { read_write_split: true, consistency: 'eventual' },
  });
});
after(async () => {
  await sluice?.close();
  await rootQuery(`DROP USER IF EXISTS '${backendUser}'@'%'`);
});

async function cli(user: string, password: string, sql: string): Promise<Array<Record<string, string>>> {
  const { stdout } = await run('mariadb', ['-h', '127.0.0.1', '-P', String(sluice.port), '-u', user, `-p${password}`, '-B', '-e', sql], { timeout: 15000 });
  const [head, ...lines] = stdout.trim().split('\n');
  const cols = head!.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i]!, v])));
}

test('SLUICE SHOW BACKENDS / SESSIONS / POOLS / STATS through the mariadb CLI match the server', async () => {
  const clients = await Promise.all([0, 1, 2].map(() => connectApp(sluice.port)));
  await clients[0]!.query('BEGIN');
  await clients[0]!.query('SELECT 1 FOR UPDATE'); // pins a primary connection
  const backends = await cli('ops', 'ops-secret', 'SLUICE SHOW BACKENDS');
  assert.deepEqual(backends.map((b) => b.name).sort(), ['primary', 'replica1', 'replica2']);
  assert.ok(backends.every((b) => b.health === 'up'), JSON.stringify(backends));
  const sessions = await cli('ops', 'ops-secret', 'SLUICE SHOW SESSIONS');
  const appSessions = sessions.filter((s) => s.user === 'app');
  assert.equal(appSessions.length, 3);
  assert.equal(appSessions.filter((s) => s.pin_reasons === 'transaction').length, 1);
  const pools = await cli('ops', 'ops-secret', 'SLUICE SHOW POOLS');
  const mine = pools.filter((p) => p.user === backendUser && p.backend === 'primary');
  const size = mine.reduce((n, p) => n + Number(p.size), 0);
  const [row] = await rootQuery<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [backendUser]);
  assert.equal(size, Number(row!.n), 'pool size = connections the primary sees for that user');
  const stats = await cli('ops', 'ops-secret', 'SLUICE SHOW STATS');
  assert.ok(Number(stats.find((s) => s.name === 'pins.transaction')?.value) >= 1);
  await clients[0]!.query('COMMIT');
  await Promise.all(clients.map((c) => c.end()));
});

test('admin statements need an admin user; SLUICE SET BACKEND takes a replica out and back', async () => {
  await assert.rejects(cli('app', 'app-secret', 'SLUICE SHOW SESSIONS'), /ERROR 1227/);
  const t = testTopology();
  const r2 = Number((await rootQuery<Array<{ id: number }>>('SELECT @@server_id AS id', [], t.replicas[1]))[0]!.id);
  await cli('ops', 'ops-secret', 'SLUICE SET BACKEND replica1 OFFLINE');
  const c = await connectApp(sluice.port);
  for (let i = 0; i < 10; i++) {
    const [[{ id }]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
    assert.equal(Number(id), r2);
  }
  await cli('ops', 'ops-secret', 'SLUICE SET BACKEND replica1 ONLINE');
  const seen = new Set<number>();
  for (let i = 0; i < 10; i++) seen.add(Number(((await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]])[0][0].id));
  assert.equal(seen.size, 2);
  await assert.rejects(cli('ops', 'ops-secret', 'SLUICE SET BACKEND primary OFFLINE'), /ERROR 1210/);
  await c.end();
});

test('SLUICE SHOW DIGESTS: statements grouped by normalized text with counts, rows, errors and times', async () => {
  await cli('ops', 'ops-secret', 'SLUICE RESET DIGESTS');
  const c = await connectApp(sluice.port);
  for (let i = 0; i < 30; i++) await c.query(`SELECT ${i} + 1 AS x /* digest-test */`);
  for (let i = 0; i < 10; i++) await c.execute('SELECT ? AS y, ? AS z FROM DUAL WHERE 1 = 1', [i, 'v']);
  for (let i = 0; i < 3; i++) await c.query(`SELECT * FROM no_such_digest_table WHERE id = ${i}`).catch(() => undefined);
  await c.end();
  const rows = await cli('ops', 'ops-secret', 'SLUICE SHOW DIGESTS');
  const byText = new Map(rows.map((r) => [r.digest, r]));
  const sel = byText.get('SELECT ? + ? AS x');
  assert.ok(sel, `digests: ${rows.map((r) => r.digest).join(' | ')}`);
  assert.equal(Number(sel.count), 30);
  assert.equal(Number(sel.rows), 30);
  assert.ok(Number(sel.total_ms) > 0 && Number(sel.p99_ms) >= Number(sel.avg_ms) * 0.5);
  const ps = [...byText.values()].find((r) => r.digest.startsWith('SELECT ? AS y'));
  assert.equal(Number(ps?.count), 10, 'prepared executions are counted under their statement');
  const bad = [...byText.values()].find((r) => r.digest.includes('no_such_digest_table'));
  assert.equal(Number(bad?.errors), 3);
  await cli('ops', 'ops-secret', 'SLUICE RESET DIGESTS');
  const after = await cli('ops', 'ops-secret', 'SLUICE SHOW DIGESTS');
  assert.ok(after.every((r) => r.digest !== 'SELECT ? + ? AS x'));
});

test('sluice status prints the backends and counters from the admin API, and fails clearly when unreachable', async () => {
  const s = await startTestSluice({ routing: { read_write_split: true }, admin: { http: { port: 0, token: null } } });
  try {
    const { stdout } = await run(process.execPath, ['bin/sluice.js', 'status', '--admin', `http://127.0.0.1:${s.server.adminHttpPort}`], { timeout: 15000 });
    assert.match(stdout, /^BACKEND\s+ROLE\s+HEALTH/m);
    assert.match(stdout, /^primary\s+primary\s+up/m);
    assert.match(stdout, /^replica1\s+replica\s+up/m);
    assert.match(stdout, /clients \d+ · statements \d+/);
  } finally {
    await s.close();
  }
  await assert.rejects(run(process.execPath, ['bin/sluice.js', 'status', '--admin', 'http://127.0.0.1:1'], { timeout: 15000 }), (e: { code: number; stderr: string }) => e.code === 1 && /cannot read the admin API/.test(e.stderr));
});
