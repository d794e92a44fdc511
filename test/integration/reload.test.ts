// Hot reload of a running `sluice` process: SIGHUP and SLUICE RELOAD apply a changed pool size and a new
// user while 100 clients run (none is disconnected); an invalid file or a change that needs a restart is
// refused with the reason and the running configuration stays in force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { testConfig } from '../helpers/sluice.js';

test('reload under load: new user and pool size applied, bad configs refused, no client disconnected', { timeout: 120000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-reload-'));
  const cfgPath = path.join(dir, 'sluice.yaml');
  const base = testConfig({ log: { level: 'info' }, pool: { max: 5 } });
  const users = [...(base.users ?? []), { name: 'ops', password: 'ops-secret', admin: true, backend_user: 'root', backend_password: (base.users![0] as { backend_password: string }).backend_password }];
  writeFileSync(cfgPath, JSON.stringify({ ...base, users }));
  const child = spawn(process.execPath, ['bin/sluice.js', '--config', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  const waitLog = async (re: RegExp, ms = 10000) => {
    const deadline = Date.now() + ms;
    while (!re.test(logs)) {
      if (Date.now() > deadline) throw new Error(`log line ${re} not seen:\n${logs.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitLog(/"tcp":\[\{"host":"127\.0\.0\.1","port":\d+/, 15000);
    const port = Number(/"tcp":\[\{"host":"127\.0\.0\.1","port":(\d+)/.exec(logs)![1]);
    const clients = await Promise.all(Array.from({ length: 100 }, () => mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' })));
    let running = true;
    const errors: string[] = [];
    let statements = 0;
    const load = Promise.all(
      clients.map(async (c, i) => {
        while (running) {
          try {
            await c.query('SELECT ? AS i', [i]);
            statements++;
          } catch (err) {
            errors.push((err as Error).message);
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port, user: 'newbie', password: 'nb' }), (e: { errno: number }) => e.errno === 1045);

    // 1. SIGHUP with a new user, a bigger pool and busy polling off.
    writeFileSync(cfgPath, JSON.stringify({ ...base, users: [...users, { name: 'newbie', password: 'nb', backend_user: 'root', backend_password: users[2]!.backend_password }], pool: { max: 12 }, tuning: { busy_poll_us: 0 } }));
    child.kill('SIGHUP');
    await waitLog(/SIGHUP: configuration reloaded/);
    assert.match(logs, /"changed":\["users","pool","tuning"\]/);
    const nb = await mysql.createConnection({ host: '127.0.0.1', port, user: 'newbie', password: 'nb' });
    await nb.query('SELECT 1');
    await nb.end();

    // 2. An invalid file is refused; the running config stays (newbie still logs in).
    writeFileSync(cfgPath, 'listeners: [oops');
    child.kill('SIGHUP');
    await waitLog(/SIGHUP: configuration not reloaded/);
    const nb2 = await mysql.createConnection({ host: '127.0.0.1', port, user: 'newbie', password: 'nb' });
    await nb2.end();

    // 3. SLUICE RELOAD over SQL: a change that needs a restart is refused with the reason.
    writeFileSync(cfgPath, JSON.stringify({ ...base, users, listeners: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 }] }));
    const ops = await mysql.createConnection({ host: '127.0.0.1', port, user: 'ops', password: 'ops-secret' });
    await assert.rejects(ops.query('SLUICE RELOAD'), (e: { sqlMessage: string }) => /listeners changed \(needs a restart\)/.test(e.sqlMessage));
    // ... and an acceptable one (newbie removed) is applied.
    writeFileSync(cfgPath, JSON.stringify({ ...base, users }));
    await ops.query('SLUICE RELOAD');
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port, user: 'newbie', password: 'nb' }), (e: { errno: number }) => e.errno === 1045);
    await ops.end();

    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await load;
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} client errors during reloads`);
    assert.ok(statements > 500, `the clients kept running (${statements} statements)`);
    await Promise.all(clients.map((c) => c.end()));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
