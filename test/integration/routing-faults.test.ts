// Replica health under load, on a topology of its own (servers are stopped here): a stopped replica is
// taken out within 3 s while autocommit reads see no errors, comes back after a restart, and a replica
// whose SQL thread stopped receives no reads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTopology, type Topology } from '../../src/sandbox/topology.js';
import { parseConfig } from '../../src/config/load.js';
import { startSluice, type SluiceServer } from '../../src/app.js';
import { createLogger } from '../../src/util/log.js';

let topo: Topology;
let sluice: SluiceServer;
let port: number;
let ids: Map<number, string>;

before(async () => {
  topo = await startTopology({ replicas: 2 });
  const config = parseConfig(
    {
      listeners: [{ host: '127.0.0.1', port: 0 }],
      backends: [
        { name: 'primary', host: '127.0.0.1', port: topo.primary.port, role: 'primary' },
        ...topo.replicas.map((r, i) => ({ name: `replica${i + 1}`, host: '127.0.0.1', port: r.port, role: 'replica' as const })),
      ],
      monitor: { user: topo.monitor.user, password: topo.monitor.password, interval_ms: 500 },
      users: [{ name: 'app', password: 'app-secret', backend_user: 'root', backend_password: topo.root.password }],
      routing: { consistency: 'eventual' },
      pool: { connect_timeout_ms: 1000 },
      log: { level: 'silent' },
    },
    'test',
  );
  sluice = await startSluice(config, { logger: createLogger('silent') });
  port = sluice.tcpAddresses[0]!.port;
  ids = new Map();
  ids.set(Number((await topo.exec(topo.primary, 'SELECT @@server_id')).trim()), 'primary');
  for (let i = 0; i < topo.replicas.length; i++) ids.set(Number((await topo.exec(topo.replicas[i]!, 'SELECT @@server_id')).trim()), `replica${i + 1}`);
});

after(async () => {
  await sluice?.close(1000);
  await topo?.stop();
});

/** Runs autocommit reads from `clients` connections until stop() and records who answered and any error. */
function readLoad(clients: number) {
  const served: Array<{ at: number; by: string }> = [];
  const errors: string[] = [];
  let running = true;
  const done = Promise.all(
    Array.from({ length: clients }, async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });
      while (running) {
        try {
          const [[{ id }]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
          served.push({ at: Date.now(), by: ids.get(Number(id)) ?? String(id) });
        } catch (err) {
          errors.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await c.end();
    }),
  );
  return {
    served,
    errors,
    async stop() {
      running = false;
      await done;
    },
  };
}

test('a stopped replica is taken out within 3 s with no read errors, and rejoins after restart', { timeout: 90000 }, async () => {
  const load = readLoad(8);
  await new Promise((r) => setTimeout(r, 1000));
  const r2 = topo.replicas[1]!;
  const stoppedAt = Date.now();
  await topo.stopNode(r2, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 4000));
  const late = load.served.filter((s) => s.at > stoppedAt + 3000);
  assert.ok(late.length > 50, 'reads went on');
  assert.equal(late.filter((s) => s.by === 'replica2').length, 0, 'replica2 out of rotation within 3 s');
  await topo.startNode(r2);
  const restartedAt = Date.now();
  let back = false;
  while (!back && Date.now() - restartedAt < 20000) {
    await new Promise((r) => setTimeout(r, 500));
    back = load.served.some((s) => s.at > restartedAt && s.by === 'replica2');
  }
  await load.stop();
  assert.deepEqual(load.errors, [], 'autocommit reads saw no errors');
  assert.ok(back, 'replica2 serves reads again after its restart');
});

test('a replica whose SQL thread stopped receives no reads until it replicates again', { timeout: 60000 }, async () => {
  const r1 = topo.replicas[0]!;
  await topo.exec(r1, 'STOP SLAVE SQL_THREAD');
  await new Promise((r) => setTimeout(r, 2500));
  const load = readLoad(4);
  await new Promise((r) => setTimeout(r, 1500));
  await load.stop();
  assert.ok(load.served.length > 20);
  assert.equal(load.served.filter((s) => s.by === 'replica1').length, 0, 'no reads on the broken replica');
  await topo.exec(r1, 'START SLAVE SQL_THREAD');
  await new Promise((r) => setTimeout(r, 4000));
  const again = readLoad(4);
  await new Promise((r) => setTimeout(r, 1500));
  await again.stop();
  assert.ok(again.served.some((s) => s.by === 'replica1'), 'replica1 is back in rotation');
  assert.deepEqual([...load.errors, ...again.errors], []);
});
