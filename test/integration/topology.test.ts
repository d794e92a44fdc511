// The test topology itself: GTID replication, read-only replicas, accounts, TLS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConnection } from 'mysql2/promise';
import {
  dropTestDatabase,
  freshDbName,
  primaryGtid,
  rootQuery,
  testCa,
  testTopology,
} from '../helpers/topology.js';

describe('test topology', () => {
  const t = testTopology();
  const db = freshDbName();

  before(async () => {
    await rootQuery(`CREATE DATABASE \`${db}\``);
  });
  after(async () => {
    await dropTestDatabase(db);
  });

  it('has a primary and two replicas on distinct ports', () => {
    assert.equal(t.replicas.length, 2);
    const ports = new Set([t.primary.port, ...t.replicas.map((r) => r.port)]);
    assert.equal(ports.size, 3);
    assert.equal(t.primary.role, 'primary');
    for (const r of t.replicas) assert.equal(r.role, 'replica');
  });

  it('replicates writes on the primary to every replica (GTID)', async () => {
    await rootQuery(`CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB`);
    await rootQuery(`INSERT INTO \`${db}\`.t VALUES (1, 'one'), (2, 'two'), (3, 'tré')`);
    const gtid = await primaryGtid();
    assert.match(gtid, /^0-1-\d+$/);
    for (const r of t.replicas) {
      const [w] = await rootQuery<Array<{ w: number }>>('SELECT MASTER_GTID_WAIT(?, 30) AS w', [gtid], r);
      assert.equal(Number(w!.w), 0, `MASTER_GTID_WAIT on ${r.name}`);
      const rows = await rootQuery<Array<{ id: number; v: string }>>(`SELECT id, v FROM \`${db}\`.t ORDER BY id`, [], r);
      assert.deepEqual(
        rows.map((x) => [x.id, x.v]),
        [
          [1, 'one'],
          [2, 'two'],
          [3, 'tré'],
        ],
      );
      const [s] = await rootQuery<Array<{ strict: number; slavePos: string; serverId: number }>>(
        'SELECT @@gtid_strict_mode AS strict, @@gtid_slave_pos AS slavePos, @@server_id AS serverId',
        [],
        r,
      );
      assert.equal(Number(s!.strict), 1);
      assert.equal(s!.slavePos, gtid);
      assert.equal(s!.serverId, r.serverId);
    }
  });

  it('replicas are read_only and the demo user cannot write to them', async () => {
    const [p] = await rootQuery<Array<{ ro: number }>>('SELECT @@read_only AS ro');
    assert.equal(Number(p!.ro), 0);
    for (const r of t.replicas) {
      const [x] = await rootQuery<Array<{ ro: number }>>('SELECT @@read_only AS ro', [], r);
      assert.equal(Number(x!.ro), 1, `${r.name} read_only`);
      const conn = await createConnection({ host: r.host, port: r.port, user: t.demo.user, password: t.demo.password });
      try {
        await assert.rejects(conn.query(`INSERT INTO \`${db}\`.t VALUES (99, 'nope')`), (e: { errno?: number }) => {
          assert.equal(e.errno, 1290); // ER_OPTION_PREVENTS_STATEMENT (--read-only)
          return true;
        });
      } finally {
        await conn.end();
      }
    }
  });

  it('the demo user logs in over TLS (verified against the topology CA) on every node', async () => {
    for (const n of [t.primary, ...t.replicas]) {
      const conn = await createConnection({
        host: n.host,
        port: n.port,
        user: t.demo.user,
        password: t.demo.password,
        database: t.demo.database,
        ssl: { ca: testCa() },
      });
      try {
        const [rows] = await conn.query<any[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
        assert.match(String(rows[0]?.Value ?? ''), /^TLSv1\.[23]$/, `${n.name} TLS version`);
        const [[who]] = await conn.query<any[]>('SELECT CURRENT_USER() AS u, DATABASE() AS d');
        assert.equal(who.u, 'demo@%');
        assert.equal(who.d, 'demo');
      } finally {
        await conn.end();
      }
    }
  });

  it('the demo user owns test_% databases; the monitor user can inspect replication', async () => {
    const own = freshDbName();
    const demo = await createConnection({ host: t.primary.host, port: t.primary.port, user: 'demo', password: t.demo.password });
    try {
      await demo.query(`CREATE DATABASE \`${own}\``);
      await demo.query(`CREATE TABLE \`${own}\`.x (a INT)`);
      await demo.query(`DROP DATABASE \`${own}\``);
      await assert.rejects(demo.query('CREATE DATABASE notallowed'), /denied/i);
    } finally {
      await demo.end();
    }
    for (const r of t.replicas) {
      const mon = await createConnection({ host: r.host, port: r.port, user: t.monitor.user, password: t.monitor.password });
      try {
        const [rows] = await mon.query<any[]>('SHOW SLAVE STATUS');
        assert.equal(rows.length, 1);
        assert.equal(rows[0].Slave_IO_Running, 'Yes');
        assert.equal(rows[0].Slave_SQL_Running, 'Yes');
        assert.equal(rows[0].Using_Gtid, 'Slave_Pos');
        assert.equal(Number(rows[0].Master_Port), t.primary.port);
      } finally {
        await mon.end();
      }
    }
  });
});
