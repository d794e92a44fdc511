// sysbench oltp_read_write through Sluice (libmariadb, prepared statements on and off): no errors.
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
  return ['oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${port}`, `--mysql-user=${user}`, `--mysql-password=${password}`, `--mysql-db=${db}`, '--tables=2', '--table-size=2000'];
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
    const { stdout } = await run('sysbench', [...args(sluice.port, 'app', 'app-secret'), '--threads=16', '--time=4', `--db-ps-mode=${mode}`, 'run'], { timeout: 50000 });
    const tx = /transactions:\s+(\d+)/.exec(stdout);
    const errors = /ignored errors:\s+(\d+)/.exec(stdout);
    const reconnects = /reconnects:\s+(\d+)/.exec(stdout);
    assert.ok(tx && Number(tx[1]) > 100, stdout);
    assert.equal(Number(errors?.[1]), 0, stdout);
    assert.equal(Number(reconnects?.[1]), 0, stdout);
  });
}
