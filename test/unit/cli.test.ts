import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
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
      for (const word of ['run', 'check', 'sandbox', '--config', '--log-level', '--port', '--base-port', '--replicas', '--dir', '--multiplexing', '--version']) {
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
