// Access to the shared MariaDB topology that scripts/test.mjs starts for the integration tests.
// The runner passes its description in SLUICE_TEST_TOPOLOGY (JSON, see TopologyInfo).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection, type Connection, type ConnectionOptions } from 'mysql2/promise';
import type { MariaNodeInfo, TopologyInfo } from '../../src/sandbox/topology.js';

export type { MariaNodeInfo, TopologyInfo };

let cached: TopologyInfo | undefined;

/** The topology started by the test runner. Throws if the tests were not started through `npm test`. */
export function testTopology(): TopologyInfo {
  if (cached) return cached;
  const raw = process.env.SLUICE_TEST_TOPOLOGY;
  if (!raw) {
    throw new Error(
      'SLUICE_TEST_TOPOLOGY is not set: integration tests need the MariaDB topology that the test runner starts. ' +
        'Run them with `npm test` (or `node scripts/test.mjs <file-substring>`).',
    );
  }
  try {
    cached = JSON.parse(raw) as TopologyInfo;
  } catch (e) {
    throw new Error(`SLUICE_TEST_TOPOLOGY is not valid JSON: ${(e as Error).message}`);
  }
  return cached;
}

/** The CA certificate (PEM) the servers' certificate is signed with. */
export function testCa(): string {
  return readFileSync(testTopology().tls.ca, 'utf8');
}

/** mysql2 options for root over TCP to `node` (default: the primary). */
export function rootConnectionOptions(node?: MariaNodeInfo, extra: ConnectionOptions = {}): ConnectionOptions {
  const t = testTopology();
  const n = node ?? t.primary;
  return { host: n.host, port: n.port, user: t.root.user, password: t.root.password, ...extra };
}

export async function rootConnect(node?: MariaNodeInfo, extra: ConnectionOptions = {}): Promise<Connection> {
  return createConnection(rootConnectionOptions(node, extra));
}

/**
 * Runs one statement as root on `node` (default: the primary) over a fresh connection and returns what mysql2
 * returns as the first element: rows for a SELECT, a ResultSetHeader otherwise.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function rootQuery<T = any>(sql: string, params?: unknown[], node?: MariaNodeInfo): Promise<T> {
  const conn = await rootConnect(node);
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T;
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** A fresh database name, `test_<random>` (the demo user has ALL on `test\_%`.*). */
export function freshDbName(prefix = 'test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Creates a fresh `test_<random>` database on the primary and returns its name. */
export async function createTestDatabase(): Promise<string> {
  const name = freshDbName();
  await rootQuery(`CREATE DATABASE \`${name}\``);
  return name;
}

export async function dropTestDatabase(name: string): Promise<void> {
  await rootQuery(`DROP DATABASE IF EXISTS \`${name}\``);
}

/** The primary's current binlog GTID position. */
export async function primaryGtid(): Promise<string> {
  const rows = await rootQuery<Array<{ pos: string }>>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  return rows[0]!.pos;
}

/** Waits until every replica has applied everything the primary has binlogged so far. */
export async function waitForReplicas(timeoutSec = 30): Promise<void> {
  const gtid = await primaryGtid();
  await Promise.all(
    testTopology().replicas.map(async (r) => {
      const rows = await rootQuery<Array<{ w: number | string }>>(
        'SELECT MASTER_GTID_WAIT(?, ?) AS w',
        [gtid, timeoutSec],
        r,
      );
      if (Number(rows[0]!.w) !== 0) throw new Error(`replica ${r.name} did not reach GTID ${gtid} in ${timeoutSec}s`);
    }),
  );
}
