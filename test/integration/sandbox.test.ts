// The README's first command: `sluice sandbox` starts MariaDB (primary + replicas) and Sluice, prints a
// ready-to-paste mariadb command line that works, and stops everything on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('sluice sandbox: connect with the printed command line, reads reach a replica, SIGTERM cleans up', { timeout: 90000 }, async () => {
  const child = spawn(process.execPath, ['bin/sluice.js', 'sandbox', '--port', '0', '--admin-port', '0', '--replicas', '1', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sandbox did not come up:\n${out}\n${err}`)), 60000);
      const check = () => {
        const m = /^ {2}(mariadb -h 127\.0\.0\.1 -P \d+ -u \S+ -p\S+ \S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        } else if (child.exitCode !== null) reject(new Error(`sandbox exited: ${err}`));
        else setTimeout(check, 100);
      };
      check();
    });
    const args = line.split(' ').slice(1);
    const { stdout } = await run('mariadb', [...args, '-N', '-B', '-e', 'SELECT DATABASE(); SELECT @@read_only'], { timeout: 20000 });
    assert.deepEqual(stdout.trim().split('\n'), ['demo', '1'], 'connected to demo; the plain read ran on the (read-only) replica');
    const dir = /MariaDB up in (\S+):/.exec(err)?.[1];
    assert.ok(dir && existsSync(dir));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 0, err);
    assert.ok(!existsSync(dir), 'the sandbox removed its temp dir (and stopped its servers)');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
