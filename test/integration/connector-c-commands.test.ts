// The text protocol's other commands through Sluice with a real driver: MariaDB Connector/C (libmariadb).
// test/clients/cmd_client.c is compiled here, run directly against the primary (the control) and through a
// Sluice whose pool has only 2 backend connections while mysql2 clients (with the same capability profile,
// so the same pool) keep those connections busy, so the C client's commands run on whichever connection is
// free. It covers:
//   COM_FIELD_LIST (mysql_list_fields), COM_STATISTICS (mysql_stat), COM_PING, COM_SET_OPTION (multi-statements
//   on a connection opened without CLIENT_MULTI_STATEMENTS, then off again), COM_INIT_DB (another database,
//   a missing one), COM_RESET_CONNECTION, COM_CHANGE_USER (to a second account, given to the client in the
//   environment), a CALL returning two result sets, and warnings (count, then SHOW WARNINGS).
// Both runs must print exactly the expected lines (and so the same lines).
// A last test (pool of 1, so deterministic) checks that what one session leaves on a backend connection —
// its database, MULTI_STATEMENTS_ON — does not reach the next session that gets that connection.
import { test, before, after } from 'node:test';
import { compileClient, runClientBinary, sampleBackendThreads, type RunResult } from '../helpers/c-client.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { testTopology, rootQuery, createTestDatabase, dropTestDatabase } from '../helpers/topology.js';

const C_USER = 'cclient';
const C_PASSWORD = 'cclient-secret';
/** The account mysql_change_user switches to: a real MariaDB account, and a Sluice config user of the same name. */
const USER2 = `cmdu_${randomBytes(4).toString('hex')}`;
const PASSWORD2 = `pw-${randomBytes(8).toString('hex')}`;
const LOAD_CLIENTS = 6;
const POOL_MAX = 2;
/**
 * mysql2 asks for FOUND_ROWS and IGNORE_SPACE by default, Connector/C (flag 0) for neither; both ask for
 * LOCAL_FILES. Sluice keys its pools by these, so without this the load would run on a pool of its own.
 */
const C_PROFILE_FLAGS = ['-FOUND_ROWS', '-IGNORE_SPACE'];

let sluice: TestSluice | undefined;
let workDir = '';
let binary = '';
let userCreated = false;
const databases: string[] = [];

/** Compiles the client; a failure fails the tests with the compiler's output. */
function compile(out: string): Promise<void> {
  return compileClient('cmd_client', out);
}

interface Dbs {
  db1: string;
  db2: string;
}

/** Runs the client; a non-zero exit (or a hang) fails with its output. */
function runClient(port: number, user: string, password: string, dbs: Dbs, env: Record<string, string> = {}): Promise<RunResult> {
  return runClientBinary(binary, ['127.0.0.1', String(port), user, password, dbs.db1], { CMD_DB2: dbs.db2, CMD_USER2: USER2, CMD_PASSWORD2: PASSWORD2, ...env }, `cmd_client → ${port} (${dbs.db1})`);
}

/** The lines the connection prints before the scenarios (after client_version). */
const CONNECT_LINES = ['connect.multi_statements_flag=0', 'connect.multi_results_flag=1'];
const END_LINES = ['end.database=db1', 'end.ping=0', 'done=1'];

/** Everything after the client_version line of a default run, exactly as cmd_client must print it. */
function expectedLines(): string[] {
  return [
    ...CONNECT_LINES,
    // COM_FIELD_LIST: INT = 3, VARCHAR = 253 (VAR_STRING), DATE = 10.
    'fieldlist.count=3',
    'fieldlist.names=id,name,created',
    'fieldlist.tables=t_cmd,t_cmd,t_cmd',
    'fieldlist.types=3,253,10',
    'fieldlist.rows=0',
    'fieldlist.wild.names=name',
    'fieldlist.missing.errno=1146',
    'fieldlist.missing.sqlstate=42S02',
    'fieldlist.after=3',
    'fieldlist.ok=1',
    'stat.1.has_uptime=1',
    'stat.1.has_questions=1',
    'stat.2.has_uptime=1',
    'stat.2.has_questions=1',
    'stat.after=after-stat',
    'stat.ok=1',
    'ping.1=0',
    'ping.2=0',
    'ping.3=0',
    'ping.after=after-ping',
    'ping.4=0',
    'ping.ok=1',
    'initdb.start=db1',
    'initdb.database=db2',
    'initdb.t_db2=in-db2',
    'initdb.after_pause=db2',
    'initdb.missing.errno=1049',
    'initdb.missing.sqlstate=42000',
    "initdb.missing.error=Unknown database 'sluice_no_such_db'",
    'initdb.after_missing=db2',
    'initdb.t_db2_after_missing=in-db2',
    'initdb.back=db1',
    'initdb.back_count=3',
    'initdb.ok=1',
    // Without CLIENT_MULTI_STATEMENTS the server parses "SELECT 1; SELECT 2" as one statement: 1064.
    'setoption.before.errno=1064',
    'setoption.before.sqlstate=42000',
    'setoption.on=0',
    'setoption.multi.1.row=1',
    'setoption.multi.2.row=2',
    'setoption.multi.result_sets=2',
    'setoption.multi.trailing_ok=0',
    'setoption.multi2.1.row=3',
    'setoption.multi2.2.row=4,5',
    'setoption.multi2.3.row=6',
    'setoption.multi2.3.row=6',
    'setoption.multi2.result_sets=3',
    'setoption.multi2.trailing_ok=0',
    'setoption.off=0',
    'setoption.after_off.errno=1064',
    'setoption.after_off.sqlstate=42000',
    'setoption.single=7',
    'setoption.ok=1',
    'reset.before=5,+02:00',
    'reset.rc=0',
    'reset.after=NULL,SYSTEM',
    'reset.database=db1',
    'reset.after_pause=NULL,SYSTEM',
    'reset.database_after_pause=db1',
    'reset.ok=1',
    // Two result sets from the procedure, then the CALL's own OK.
    'call.a.1.row=1,one',
    'call.a.1.row=2,two',
    'call.a.2.row=3,3',
    'call.a.result_sets=2',
    'call.a.trailing_ok=1',
    'call.b.1.row=1,one',
    'call.b.1.row=2,two',
    'call.b.1.row=3,three',
    'call.b.2.row=3,3',
    'call.b.result_sets=2',
    'call.b.trailing_ok=1',
    'call.after=after-call',
    'call.ok=1',
    'warnings.select.row=12,NULL',
    'warnings.select.count=2',
    "warnings.select.show=Warning,1292,Truncated incorrect INTEGER value: '12abc'",
    'warnings.select.show=Warning,1365,Division by 0',
    'warnings.insert.affected=0',
    'warnings.insert.count=1',
    "warnings.insert.show=Warning,1062,Duplicate entry '1' for key 'PRIMARY'",
    'warnings.clean.row=clean',
    'warnings.clean.count=0',
    'warnings.ok=1',
    'changeuser.before=42,+03:00',
    'changeuser.rc=0',
    'changeuser.current_user=user2@%',
    'changeuser.after=NULL,SYSTEM',
    'changeuser.database=db1',
    'changeuser.count=3',
    'changeuser.after_pause=NULL,SYSTEM',
    'changeuser.current_user_after_pause=user2@%',
    'changeuser.ok=1',
    ...END_LINES,
  ];
}

/** Output of CMD_ONLY=isolation, as the server itself gives it (see the control run). */
function expectedIsolationLines(): string[] {
  return [
    ...CONNECT_LINES,
    'isolation.nodb.first_in_db1=3',
    'isolation.nodb.database=NULL',
    'isolation.nodb.unqualified.errno=1046',
    'isolation.nodb.unqualified.sqlstate=3D000',
    'isolation.reset.rc=0',
    'isolation.reset.other_in_db2=in-db2',
    'isolation.reset.database=db1',
    'isolation.leak.on=0',
    'isolation.leak.setter.1.row=1',
    'isolation.leak.setter.2.row=2',
    'isolation.leak.setter.result_sets=2',
    'isolation.leak.setter.trailing_ok=0',
    'isolation.leak.next_session.errno=1064',
    'isolation.leak.next_session.sqlstate=42000',
    'isolation.leak.main_session.errno=1064',
    'isolation.leak.main_session.sqlstate=42000',
    'isolation.ok=1',
    ...END_LINES,
  ];
}

function assertOutput(run: RunResult, expected: string[], label: string): void {
  assert.match(run.lines[0] ?? '', /^client_version=\d+\.\d+\.\d+/, `${label}: first line`);
  assert.deepEqual(run.lines.slice(1), expected, `${label}: cmd_client output`);
}

/** db1 with t_cmd, p_two and t_load; db2 with t_db2. */
async function freshDbs(): Promise<Dbs> {
  const db1 = await createTestDatabase();
  databases.push(db1);
  const db2 = await createTestDatabase();
  databases.push(db2);
  await rootQuery(`CREATE TABLE \`${db1}\`.t_cmd (id INT PRIMARY KEY, name VARCHAR(32), created DATE)`);
  await rootQuery(`INSERT INTO \`${db1}\`.t_cmd (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
  await rootQuery(
    `CREATE PROCEDURE \`${db1}\`.p_two(IN lim INT) BEGIN ` +
      'SELECT id, name FROM t_cmd WHERE id <= lim ORDER BY id; SELECT COUNT(*), MAX(id) FROM t_cmd; END',
  );
  await rootQuery(`CREATE TABLE \`${db1}\`.t_load (id INT PRIMARY KEY AUTO_INCREMENT, client INT, n INT)`);
  await rootQuery(`CREATE TABLE \`${db2}\`.t_db2 (v VARCHAR(32))`);
  await rootQuery(`INSERT INTO \`${db2}\`.t_db2 VALUES ('in-db2')`);
  return { db1, db2 };
}

function sluiceUsers(): Array<{ name: string; password: string; backend_user: string; backend_password: string }> {
  const t = testTopology();
  return [
    { name: 'app', password: 'app-secret', backend_user: t.root.user, backend_password: t.root.password },
    { name: C_USER, password: C_PASSWORD, backend_user: t.root.user, backend_password: t.root.password },
    { name: USER2, password: PASSWORD2, backend_user: USER2, backend_password: PASSWORD2 },
  ];
}

before(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'sluice-connc-cmd-'));
  binary = path.join(workDir, 'cmd_client');
  await compile(binary);
  await rootQuery(`CREATE USER ?@'%' IDENTIFIED BY ?`, [USER2, PASSWORD2]);
  userCreated = true;
  await rootQuery("GRANT ALL ON `test\\_%`.* TO ?@'%'", [USER2]);
  sluice = await startTestSluice({ users: sluiceUsers(), pool: { max: POOL_MAX } });
});

after(async () => {
  await sluice?.close();
  for (const db of databases) await dropTestDatabase(db).catch(() => undefined);
  if (userCreated) await rootQuery(`DROP USER IF EXISTS ?@'%'`, [USER2]).catch(() => undefined);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('control: Connector/C directly against the primary', async () => {
  const t = testTopology();
  const run = await runClient(t.primary.port, t.root.user, t.root.password, await freshDbs());
  assertOutput(run, expectedLines(), 'direct');
});

test(`through Sluice (pool max ${POOL_MAX}) while ${LOAD_CLIENTS} mysql2 clients share the pool`, { timeout: 120000 }, async (ctx) => {
  const s = sluice!;
  const t = testTopology();
  const control = await runClient(t.primary.port, t.root.user, t.root.password, await freshDbs());
  const dbs = [await freshDbs(), await freshDbs()];

  // mysql2 load on the C clients' pool, in the C clients' databases.
  const loadErrors: string[] = [];
  const loadCounts = new Array<number>(LOAD_CLIENTS).fill(0);
  let loading = true;
  const conns: Connection[] = [];
  for (let c = 0; c < LOAD_CLIENTS; c++) {
    conns.push(await connectApp(s.port, { database: dbs[c % dbs.length]!.db1, flags: C_PROFILE_FLAGS }));
  }
  const load = conns.map(async (conn, c) => {
    const myDb = dbs[c % dbs.length]!.db1;
    let n = 0;
    while (loading) {
      n++;
      const id = (n % 3) + 1;
      try {
        switch (n % 6) {
          case 0: {
            const [rows] = await conn.query<RowDataPacket[]>('SELECT DATABASE() AS d, @@time_zone AS tz, @x AS x, @cu AS cu');
            const r = rows[0]!;
            if (r.d !== myDb || r.tz !== 'SYSTEM' || r.x !== null || r.cu !== null) loadErrors.push(`client ${c}: session state ${JSON.stringify(r)} (db ${myDb})`);
            break;
          }
          case 1: {
            const [rows] = await conn.execute<RowDataPacket[]>('SELECT name FROM t_cmd WHERE id = ?', [id]);
            if (rows.length !== 1 || rows[0]!.name !== ['one', 'two', 'three'][id - 1]) loadErrors.push(`client ${c}: t_cmd id=${id} → ${JSON.stringify(rows)}`);
            break;
          }
          case 2:
            await conn.query('INSERT INTO t_load (client, n) VALUES (?, ?)', [c, n]);
            break;
          case 3: {
            // CALL through the same pool: two result sets and the CALL's OK.
            const [results] = await conn.query<RowDataPacket[][]>('CALL p_two(?)', [id]);
            if (!Array.isArray(results) || results.length !== 3 || results[0]!.length !== id || Number(Object.values(results[1]![0]!)[0]) !== 3) {
              loadErrors.push(`client ${c}: CALL p_two(${id}) → ${JSON.stringify(results)}`);
            }
            break;
          }
          case 4: {
            // A multi-statement must fail on these connections (no CLIENT_MULTI_STATEMENTS), whatever the C
            // clients did with COM_SET_OPTION on the same backend connections.
            try {
              await conn.query('SELECT 1; SELECT 2');
              loadErrors.push(`client ${c}: multi-statement succeeded without CLIENT_MULTI_STATEMENTS`);
            } catch (e) {
              if ((e as { errno?: number }).errno !== 1064) throw e;
            }
            // After an error Sluice keeps the backend connection until the session's next statement, however
            // long that takes: never stop the load on a failed statement, or that connection stays taken.
            await conn.query('SELECT 1');
            break;
          }
          default: {
            const [rows] = await conn.query<RowDataPacket[]>('SELECT SLEEP(0.002) AS s, COUNT(*) AS k FROM t_cmd');
            if (Number(rows[0]!.k) !== 3) loadErrors.push(`client ${c}: count → ${JSON.stringify(rows)}`);
          }
        }
      } catch (e) {
        loadErrors.push(`client ${c}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      loadCounts[c] = n;
    }
  });

  // Which backend connections (server thread ids) served the C clients' sessions, sampled every millisecond,
  // while they are C_USER (on the pool shared with the load; after mysql_change_user they are USER2).
  const sampler = sampleBackendThreads(s.server.context.sessions, C_USER);
  const seen = sampler.seen;

  let runs: RunResult[];
  const loadBefore = loadCounts.reduce((a, b) => a + b, 0);
  try {
    // Two C clients at once (one pausing between commands so the load takes the connections in between).
    runs = await Promise.all([
      runClient(s.port, C_USER, C_PASSWORD, dbs[0]!, { CMD_PAUSE_MS: '15' }),
      runClient(s.port, C_USER, C_PASSWORD, dbs[1]!),
    ]);
  } finally {
    sampler.stop();
    loading = false;
    await Promise.all(load);
    await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
  }
  const loadDuring = loadCounts.reduce((a, b) => a + b, 0) - loadBefore;

  assertOutput(control, expectedLines(), 'direct (control)');
  assertOutput(runs[0]!, expectedLines(), 'through Sluice, paused');
  assertOutput(runs[1]!, expectedLines(), 'through Sluice');
  assert.deepEqual(runs[0]!.lines, control.lines, 'Sluice vs direct');
  assert.deepEqual(runs[1]!.lines, control.lines, 'Sluice vs direct');
  assert.deepEqual(loadErrors.slice(0, 20), [], 'mysql2 load errors');
  assert.ok(loadDuring > 50, `mysql2 load ran alongside (${loadDuring} statements)`);

  const perSession = [...seen.values()].map((set) => set.size);
  ctx.diagnostic(
    `C clients took ${runs.map((r) => r.ms).join(' / ')} ms; mysql2 statements meanwhile: ${loadDuring}; backend connections seen per C session: ${JSON.stringify(perSession)}`,
  );
  assert.equal(seen.size, 2, 'both C client sessions were observed on a backend connection');
  assert.ok(
    perSession.every((n) => n >= 2),
    `every C client session moved between backend connections (distinct thread ids per session: ${JSON.stringify(perSession)})`,
  );
  const pools = s.server.context.pools.list();
  assert.ok(pools.every((p) => p.size <= POOL_MAX), `pool sizes ${pools.map((p) => p.size).join(',')} ≤ ${POOL_MAX}`);
  // The load and the C clients shared one pool for root (same capability profile), and mysql_change_user
  // moved the C clients to a pool logging in as USER2 (CURRENT_USER() in the output shows it served them).
  const rootPools = pools.filter((p) => p.key.split('\u0000')[1] === t.root.user);
  assert.equal(rootPools.length, 1, `one root pool, shared by the C clients and the load (pool keys ${JSON.stringify(rootPools.map((p) => p.key))})`);
  const user2Pools = pools.filter((p) => p.key.split('\u0000')[1] === USER2);
  assert.ok(user2Pools.length === 1 && user2Pools[0]!.stats.created >= 1, `a pool for ${USER2} that opened connections (after mysql_change_user)`);
});

test('isolation (pool max 1): a session\'s database and MULTI_STATEMENTS_ON do not reach the next session', { timeout: 60000 }, async () => {
  const t = testTopology();
  const control = await runClient(t.primary.port, t.root.user, t.root.password, await freshDbs(), { CMD_ONLY: 'isolation' });
  assertOutput(control, expectedIsolationLines(), 'direct (control)');
  // A pool of one backend connection: every session below runs on it, one after the other.
  const s1 = await startTestSluice({ users: sluiceUsers(), pool: { max: 1 } });
  try {
    const run = await runClient(s1.port, C_USER, C_PASSWORD, await freshDbs(), { CMD_ONLY: 'isolation' });
    assertOutput(run, expectedIsolationLines(), 'through Sluice (pool max 1)');
    assert.deepEqual(run.lines, control.lines, 'Sluice vs direct');
  } finally {
    await s1.close();
  }
});
