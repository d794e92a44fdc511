import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/cli.js';
import { schemaLeafKeys } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'sluice-cli-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
  return { code, out, err };
}

describe('sluice CLI', () => {
  it('--help documents commands, flags and every config key', async () => {
    for (const args of [['--help'], ['-h'], ['help'], ['sandbox', '--help']]) {
      const r = await cli(...args);
      assert.equal(r.code, 0);
      assert.equal(r.err, '');
      for (const word of ['run', 'check', 'sandbox', 'switchover', '--to', '--token', '--admin', 'SLUICE_ADMIN_TOKEN', '--config', '--log-level', '--port', '--base-port', '--replicas', '--dir', '--multiplexing', '--version']) {
        assert.ok(r.out.includes(word), `help lacks ${word}`);
      }
      for (const key of schemaLeafKeys()) {
        const leaf = key.split('.').pop()!.replace('[]', '');
        assert.match(r.out, new RegExp(`\\b${leaf}:`), `help lacks config key ${key}`);
      }
    }
  });

  it('--version', async () => {
    const r = await cli('--version');
    assert.equal(r.code, 0);
    assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
  });

  it('bad command lines exit 2 with one line and a hint', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /unknown option '--bogus'/],
      [['frob'], /unknown command 'frob'/],
      [['run'], /missing --config/],
      [['run', '--config'], /'--config' needs a value/],
      [['run', '-c', 'x.yaml', '--replicas', '3'], /--replicas does not apply to 'run'/],
      [['run', '-c', 'x.yaml', '--log-level', 'loud'], /--log-level must be one of/],
      [['sandbox', '--port', 'abc'], /--port must be an integer/],
      [['sandbox', '--port', '70000'], /--port must be between 0 and 65535/],
      [['sandbox', '--multiplexing', 'maybe'], /--multiplexing must be 'on' or 'off'/],
      [['check', '-c', 'a', 'b'], /unexpected argument 'b'/],
      [['switchover', '--to'], /'--to' needs a value/],
      [['switchover', '--to', ''], /--to needs a backend name/],
      [['switchover', '--config', 'x.yaml'], /--config does not apply to 'switchover'/],
      [['switchover', 'db2'], /unexpected argument 'db2'/],
      [['switchover', '--admin', 'not a url'], /--admin must be a URL/],
      [['status', '--to', 'db2'], /--to does not apply to 'status'/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, re);
      assert.match(r.err, /^sluice: [^\n]*\(see 'sluice --help'\)\n$/);
    }
  });

  it('check: valid config exits 0, invalid exits 1 with the ConfigError message', async () => {
    const ok = await cli('check', '--config', join(ROOT, 'config/sluice.example.yaml'));
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /ok/);
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'listeners: []\n');
    const r = await cli('check', '-c', bad);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: listeners: needs at least one listener`));
    const missing = await cli('-c', join(tmp, 'missing.yaml'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /file not found/);
  });
});

describe('sluice switchover', () => {
  // A stand-in for the admin HTTP listener: records the requests, answers what `reply` says.
  let server: Server;
  let base: string;
  const requests: Array<{ method: string; url: string; auth: string | undefined; body: string }> = [];
  let reply: (req: IncomingMessage, body: string) => [number, unknown] = () => [200, { from: 'db1', to: 'db2', pause_ms: 812.6 }];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
        const [status, doc] = reply(req, body);
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(doc));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('posts the target with the token and prints the result', async () => {
    requests.length = 0;
    const r = await cli('switchover', '--to', 'db2', '--admin', base, '--token', 's3cret');
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    assert.equal(r.out, 'switched over from db1 to db2 (pause 813 ms)\n');
    assert.deepEqual(requests, [{ method: 'POST', url: '/api/v1/switchover', auth: 'Bearer s3cret', body: '{"target":"db2"}' }]);
  });

  it('without --to lets Sluice pick; the token may come from SLUICE_ADMIN_TOKEN', async () => {
    requests.length = 0;
    process.env.SLUICE_ADMIN_TOKEN = 'from-env';
    try {
      const r = await cli('switchover', '--admin', base);
      assert.equal(r.code, 0, r.err);
    } finally {
      delete process.env.SLUICE_ADMIN_TOKEN;
    }
    assert.deepEqual(requests.map((q) => [q.auth, q.body]), [['Bearer from-env', '{}']]);
  });

  it('a refusal exits 1 with the reason', async () => {
    reply = () => [409, { error: 'conflict', message: "replica 'db3' is not healthy (lagging)" }];
    let r = await cli('switchover', '--to', 'db3', '--admin', base, '--token', 't');
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.equal(r.err, "sluice: switchover not done: replica 'db3' is not healthy (lagging)\n");
    reply = () => [401, { error: 'unauthorized', message: 'missing bearer token (Authorization: Bearer <token>)' }];
    r = await cli('switchover', '--admin', base);
    assert.equal(r.code, 1);
    assert.match(r.err, /^sluice: the admin API refused the request: missing bearer token .*\(pass --token <token> or set SLUICE_ADMIN_TOKEN\)\n$/);
    reply = () => [403, { error: 'forbidden', message: 'state-changing endpoints are disabled: no admin token is configured' }];
    r = await cli('switchover', '--admin', base, '--token', 't');
    assert.equal(r.code, 1);
    assert.match(r.err, /no admin token is configured\n$/);
  });

  it('an unreachable admin API exits 1', async () => {
    const r = await cli('switchover', '--admin', 'http://127.0.0.1:1');
    assert.equal(r.code, 1);
    assert.match(r.err, /^sluice: cannot reach the admin API at http:\/\/127\.0\.0\.1:1: .*\(is admin\.http set in the config\?\)\n$/);
  });
});
