// sysbench oltp_read_write through Sluice (libmariadb, prepared statements on and off): no errors.
// sysbench itself ignores only deadlocks and lock wait timeouts (1213, 1020, 1205: the workload causes
// them against MariaDB directly too); any other error makes it exit non-zero, which fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestSluice, type TestSluice } from '../helpers/sluice.js';
import { createTestDatabase, dropTestDatabase, testTopology } from '../helpers/topology.js';

const run = promisify(execFile);
let sluice: TestSluice;
let db: string;

function args(port: number, user: string, password: string): string[] {
  return ['oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${port}`, `--mysql-user=${user}`, `--mysql-password=${password}`, `--mysql-db=${db}`, '--tables=4', '--table-size=10000'];
}

before(async () => {
  db = await createTestDatabase();
  const t = testTopology();
  await run('sysbench', [...args(t.primary.port, t.root.user, t.root.password), 'prepare'], { timeout: 120000 });
  sluice = await startTestSluice({ pool: { max: 8 } });
});
after(async () => {
  await sluice?.close();
  await dropTestDatabase(db);
});

for (const mode of ['auto', 'disable']) {
  test(`sysbench oltp_read_write --db-ps-mode=${mode} through Sluice: no errors`, { timeout: 60000 }, async () => {
    const { stdout } = await run(
      'sysbench',
      [...args(sluice.port, 'app', 'app-secret'), '--threads=8', '--time=4', `--db-ps-mode=${mode}`, '--mysql-ignore-errors=1213,1020,1205', 'run'],
      { timeout: 50000 },
    );
    const tx = /transactions:\s+(\d+)/.exec(stdout);
    const ignored = /ignored errors:\s+(\d+)/.exec(stdout);
    const reconnects = /reconnects:\s+(\d+)/.exec(stdout);
    assert.ok(tx && Number(tx[1]) > 100, stdout);
    assert.equal(Number(reconnects?.[1]), 0, stdout);
    assert.ok(Number(ignored?.[1]) <= 3, `deadlocks only, and rare: ${stdout}`);
  });
}
