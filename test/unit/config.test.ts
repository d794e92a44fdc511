import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parseDocument } from 'yaml';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';
import { CONFIG_REFERENCE } from '../../src/config/reference.js';
import { schemaLeafKeys, type SluiceConfig } from '../../src/config/schema.js';

// dist/test/unit/config.test.js → repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'sluice-config-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function minimal(): Record<string, unknown> {
  return {
    listeners: [{ port: 6033 }],
    backends: [{ name: 'primary', host: 'db1', role: 'primary' }],
    monitor: { user: 'mon' },
  };
}

/** Runs parseConfig expecting failure; returns the ConfigError. */
function fails(input: unknown, source = 'test.yaml'): ConfigError {
  try {
    parseConfig(input, source);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'SLUICE_CONFIG_INVALID');
    // Every line of the message is "<source>: ..." and there is one line per issue.
    const lines = err.message.split('\n');
    assert.equal(lines.length, err.issues.length);
    for (const line of lines) assert.ok(line.startsWith(`${source}: `), line);
    return err;
  }
  assert.fail('expected parseConfig to throw');
}

function issueFor(err: ConfigError, key: string): { key: string; message: string } {
  const issue = err.issues.find((i) => i.key === key);
  assert.ok(issue, `no issue for key ${key}; got:\n${err.message}`);
  assert.ok(err.message.includes(`: ${key}: ${issue.message}`), err.message);
  return issue;
}

function writeTmp(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

describe('parseConfig: valid input', () => {
  it('applies every default', () => {
    const c = parseConfig(minimal());
    const expected: SluiceConfig = {
      listeners: [{ host: '127.0.0.1', port: 6033 }],
      backends: [{ name: 'primary', host: 'db1', port: 3306, role: 'primary', weight: 1 }],
      monitor: { user: 'mon', password: '', interval_ms: 1000 },
      users: [],
      passthrough_users: { enabled: true, refresh_interval_ms: 60000 },
      pool: {
        min: 0,
        max: 20,
        connect_timeout_ms: 5000,
        idle_timeout_ms: 60000,
        max_lifetime_ms: 3600000,
        acquire_timeout_ms: 10000,
        statement_cache_size: 256,
        pipelining: { enabled: true, max_depth: 16, max_statement_ms: 2, min_samples: 20 },
      },
      multiplexing: true,
      routing: {
        read_write_split: true,
        policy: 'round_robin',
        max_replication_lag_s: 10,
        no_replica: 'primary',
        consistency: 'session',
        consistency_timeout_ms: 1000,
        consistency_fallback: 'primary',
        read_only_transactions: 'primary',
      },
      failover: {
        enabled: true,
        auto_promote: false,
        check_interval_ms: 500,
        detection_ms: 2000,
        hang_promote_after_ms: 10000,
        catchup_timeout_ms: 10000,
        replication_user: null,
        replication_password: '',
        rejoin: false,
        buffer: { window_ms: 10000, max_statements: 10000, max_bytes: 67108864, max_duration_ms: 30000 },
        replay: { enabled: true, max_transaction_bytes: 1048576 },
        switchover_drain_ms: 5000,
      },
      admin: { http: null },
      tls: null,
      backend_tls: { enabled: false, ca: null, reject_unauthorized: true },
      limits: { max_client_connections: 10000, max_packet_size: 67108864, client_buffer_bytes: 1048576 },
      tuning: { busy_poll_us: 100 },
      shutdown_grace_ms: 10000,
      log: { level: 'info' },
    };
    assert.deepEqual(c, expected);
  });

  it('normalises listeners and users', () => {
    const c = parseConfig({
      ...minimal(),
      listeners: [{ host: '0.0.0.0', port: 0 }, { socket: '/tmp/s.sock' }],
      users: [
        { name: 'a', password: 'pw' },
        { name: 'b', password_hash: '*14e65567abdb5135d0cfd9a70b3032c179a49ee7', backend_password: 'x', backend_user: 'bb' },
        { name: 'c', password: '', auth_plugin: 'caching_sha2_password', default_schema: 'shop', max_connections: 5 },
      ],
      tls: { cert: 'c.pem', key: 'k.pem' },
    });
    assert.deepEqual(c.listeners, [{ host: '0.0.0.0', port: 0 }, { socket: '/tmp/s.sock' }]);
    assert.deepEqual(c.users[0], {
      name: 'a',
      password: 'pw',
      password_hash: null,
      auth_plugin: 'mysql_native_password',
      backend_user: 'a',
      backend_password: 'pw',
      route: 'auto',
      consistency: null,
      admin: false,
      max_connections: 0,
      default_schema: null,
    });
    assert.equal(c.users[1]!.password_hash, '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7');
    assert.equal(c.users[1]!.password, null);
    assert.equal(c.users[1]!.backend_user, 'bb');
    assert.equal(c.users[2]!.auth_plugin, 'caching_sha2_password');
    assert.equal(c.users[2]!.default_schema, 'shop');
    assert.deepEqual(c.tls, { cert: 'c.pem', key: 'k.pem', ca: null, require: false });
  });
});

describe('parseConfig: errors name their key', () => {
  it('unknown keys, with a suggestion', () => {
    const err = fails({ ...minimal(), pool: { max: 5, idle_timeout: 1 }, multiplex: true });
    assert.match(issueFor(err, 'pool.idle_timeout').message, /unknown key.*idle_timeout_ms/);
    assert.match(issueFor(err, 'multiplex').message, /unknown key.*`multiplexing`/);
    const err2 = fails({ ...minimal(), listeners: [{ port: 1, hots: 'x' }] });
    assert.match(issueFor(err2, 'listeners[0].hots').message, /unknown key.*`host`/);
  });

  it('wrong types', () => {
    const err = fails({
      ...minimal(),
      listeners: [{ port: 'abc' }],
      multiplexing: 'yes',
      monitor: { user: 'mon', interval_ms: 1.5 },
      log: { level: 'loud' },
    });
    assert.match(issueFor(err, 'listeners[0].port').message, /expected a number/);
    assert.match(issueFor(err, 'multiplexing').message, /expected true or false/);
    assert.match(issueFor(err, 'monitor.interval_ms').message, /integer/);
    assert.match(issueFor(err, 'log.level').message, /one of: fatal, error, warn, info, debug, trace, silent/);
  });

  it('does not echo a numeric password', () => {
    const err = fails({ ...minimal(), monitor: { user: 'mon', password: 918273645 } });
    assert.match(issueFor(err, 'monitor.password').message, /expected a string, got a number \(quote/);
    assert.ok(!err.message.includes('918273645'));
  });

  it('missing and empty listeners', () => {
    const { listeners: _l, ...rest } = minimal();
    assert.match(issueFor(fails(rest), 'listeners').message, /required/);
    assert.match(issueFor(fails({ ...minimal(), listeners: [] }), 'listeners').message, /at least one/);
  });

  it('a whole non-mapping or empty config', () => {
    assert.match(fails(null).message, /empty/);
    assert.match(fails([1, 2]).message, /must be a mapping/);
  });

  it('duplicate primary, no primary, duplicate names', () => {
    const b = (name: string, role: string) => ({ name, host: 'h', role });
    const err = fails({ ...minimal(), backends: [b('a', 'primary'), b('b', 'primary'), b('a', 'replica')] });
    assert.match(issueFor(err, 'backends[1].role').message, /exactly one backend.*primary.*backends\[0\]/);
    assert.match(issueFor(err, 'backends[2].name').message, /duplicate backend name "a"/);
    assert.match(issueFor(fails({ ...minimal(), backends: [b('a', 'replica')] }), 'backends').message, /found none/);
    assert.match(issueFor(fails({ ...minimal(), backends: [b('bad name', 'primary')] }), 'backends[0].name').message, /letters/);
    const users = [
      { name: 'u', password: 'x' },
      { name: 'u', password: 'y' },
    ];
    assert.match(issueFor(fails({ ...minimal(), users }), 'users[1].name').message, /duplicate user "u"/);
  });

  it('password and password_hash', () => {
    const hash = '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7';
    assert.match(
      issueFor(fails({ ...minimal(), users: [{ name: 'u', password: 'x', password_hash: hash }] }), 'users[0].password_hash').message,
      /either `password`.*not both/,
    );
    assert.match(issueFor(fails({ ...minimal(), users: [{ name: 'u' }] }), 'users[0].password').message, /required/);
    assert.match(
      issueFor(fails({ ...minimal(), users: [{ name: 'u', password_hash: hash }] }), 'users[0].backend_password').message,
      /required when only `password_hash`/,
    );
    assert.match(
      issueFor(fails({ ...minimal(), users: [{ name: 'u', password_hash: '*123', backend_password: 'x' }] }), 'users[0].password_hash').message,
      /40 hex/,
    );
  });

  it('caching_sha2_password with only a hash', () => {
    const err = fails({
      ...minimal(),
      users: [{ name: 'u', password_hash: '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7', backend_password: 'x', auth_plugin: 'caching_sha2_password' }],
    });
    assert.match(issueFor(err, 'users[0].auth_plugin').message, /caching_sha2_password needs the plaintext `password`/);
  });

  it('bad ports and listener shapes', () => {
    const err = fails({
      ...minimal(),
      listeners: [{ port: 70000 }, { port: -1 }, { socket: '/s', port: 1 }, { host: 'h' }],
      backends: [{ name: 'p', host: 'h', port: 0, role: 'primary' }],
    });
    assert.match(issueFor(err, 'listeners[0].port').message, /<= 65535/);
    assert.match(issueFor(err, 'listeners[1].port').message, />= 0/);
    assert.match(issueFor(err, 'listeners[2].socket').message, /not both/);
    assert.match(issueFor(err, 'listeners[3].port').message, /required for a TCP listener/);
    assert.match(issueFor(err, 'backends[0].port').message, />= 1/);
    const dup = fails({ ...minimal(), listeners: [{ port: 1 }, { port: 1, host: '127.0.0.1' }] });
    assert.match(issueFor(dup, 'listeners[1].port').message, /duplicates listeners\[0\]/);
  });

  it('other cross-field checks', () => {
    assert.match(issueFor(fails({ ...minimal(), pool: { min: 30 } }), 'pool.min').message, /<= pool.max \(20\)/);
    assert.match(issueFor(fails({ ...minimal(), tls: { cert: 'c' } }), 'tls.key').message, /required/);
    assert.match(issueFor(fails({ ...minimal(), backends: [{ name: 'p', host: 'h', role: 'primary', weight: 0 }] }), 'backends[0].weight').message, /> 0/);
  });

  it('reports every problem at once', () => {
    const err = fails({ listeners: [{ port: 99999 }], backends: [], monitor: {}, bogus: 1 });
    for (const key of ['listeners[0].port', 'backends', 'monitor.user', 'bogus']) issueFor(err, key);
  });
});

describe('loadConfigFile', () => {
  const base = `listeners:\n  - port: 6033\nbackends:\n  - name: p\n    host: h\n    role: primary\nmonitor:\n  user: mon\n`;

  it('loads YAML', () => {
    const p = writeTmp('ok.yaml', base);
    assert.equal(loadConfigFile(p).listeners.length, 1);
  });

  it('YAML syntax errors name the line', () => {
    const p = writeTmp('bad.yaml', `listeners:\n  - port: 6033\nbackends: [\n  - name: x\n  foo: : bar\n`);
    assert.throws(
      () => loadConfigFile(p),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.issues.length >= 1);
        assert.ok(err.issues.every((i) => typeof i.line === 'number'));
        assert.match(err.message, new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line \\d+, column \\d+: YAML syntax error`));
        return true;
      },
    );
    const dupKey = writeTmp('dupkey.yaml', `${base}monitor:\n  user: x\n`);
    assert.throws(() => loadConfigFile(dupKey), /line 9, column 1: YAML syntax error: .*unique/i);
  });

  it('a missing file names the path', () => {
    const p = join(tmp, 'nope.yaml');
    assert.throws(() => loadConfigFile(p), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.message.includes(p));
      assert.match(err.message, /file not found/);
      return true;
    });
  });

  it('schema errors carry the YAML line', () => {
    const p = writeTmp('lines.yaml', base.replace('  - port: 6033', '  - port: 99999') + 'multiplexin: true\n');
    assert.throws(() => loadConfigFile(p), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.message.includes(`${p}: listeners[0].port: must be <= 65535 (line 2)`), err.message);
      assert.ok(err.message.includes(`${p}: multiplexin: unknown key (did you mean \`multiplexing\`?) (line 9)`), err.message);
      return true;
    });
  });

  it('an empty file is an error', () => {
    assert.throws(() => loadConfigFile(writeTmp('empty.yaml', '# nothing\n')), /empty/);
  });

  it('substitutes environment variables', () => {
    const p = writeTmp(
      'env.yaml',
      base.replace('6033', '${SLUICE_T_PORT}').replace('user: mon', 'user: "${SLUICE_T_USER}"\n  password: "${SLUICE_T_PW}"\n  interval_ms: ${SLUICE_T_UNSET:-250}') +
        'log:\n  level: ${SLUICE_T_LEVEL:-debug}\n',
    );
    const c = loadConfigFile(p, { SLUICE_T_PORT: '7000', SLUICE_T_USER: 'mon$1', SLUICE_T_PW: '1234' });
    assert.deepEqual(c.listeners[0], { host: '127.0.0.1', port: 7000 });
    assert.equal(c.monitor.user, 'mon$1');
    assert.equal(c.monitor.password, '1234'); // quoted: stays a string
    assert.equal(c.monitor.interval_ms, 250);
    assert.equal(c.log.level, 'debug');
    assert.throws(() => loadConfigFile(p, { SLUICE_T_PORT: '7000', SLUICE_T_PW: 'x' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.message.includes(`${p}: monitor.user: environment variable SLUICE_T_USER is not set`), err.message);
      return true;
    });
  });

  it('checks TLS files and resolves them relative to the config file', () => {
    writeTmp('cert.pem', 'x');
    const p = writeTmp('tls.yaml', `${base}tls:\n  cert: cert.pem\n  key: missing-key.pem\nbackend_tls:\n  ca: /nonexistent/ca.pem\n`);
    assert.throws(() => loadConfigFile(p), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((i) => i.key).sort(), ['backend_tls.ca', 'tls.key']);
      assert.ok(err.message.includes(`tls.key: file not found: ${join(tmp, 'missing-key.pem')}`), err.message);
      return true;
    });
    writeTmp('key.pem', 'x');
    const ok = writeTmp('tls-ok.yaml', `${base}tls:\n  cert: cert.pem\n  key: ${join(tmp, 'key.pem')}\n  require: true\n`);
    assert.deepEqual(loadConfigFile(ok).tls, { cert: join(tmp, 'cert.pem'), key: join(tmp, 'key.pem'), ca: null, require: true });
  });

  it('the example file loads', () => {
    const c = loadConfigFile(join(ROOT, 'config/sluice.example.yaml'));
    assert.equal(c.backends.filter((b) => b.role === 'primary').length, 1);
    assert.ok(c.users.length > 0);
  });
});

describe('reference text', () => {
  /** Leaf key paths of a YAML value, array items merged under `[]`. */
  function yamlLeafKeys(node: unknown, prefix = ''): string[] {
    if (isMap(node)) {
      return node.items.flatMap((p) => {
        const k = String((p.key as { value: unknown }).value);
        return yamlLeafKeys(p.value, prefix ? `${prefix}.${k}` : k);
      });
    }
    if (isSeq(node)) return node.items.flatMap((item) => yamlLeafKeys(item, `${prefix}[]`));
    return [prefix];
  }

  it('documents exactly the keys of the schema', () => {
    const doc = parseDocument(CONFIG_REFERENCE);
    assert.deepEqual(doc.errors, []);
    const documented = new Set(yamlLeafKeys(doc.contents));
    const schema = new Set(schemaLeafKeys());
    assert.ok(schema.size > 40, `schema walk found only ${schema.size} keys`);
    const missing = [...schema].filter((k) => !documented.has(k));
    const extra = [...documented].filter((k) => !schema.has(k));
    assert.deepEqual(missing, [], `keys missing from src/config/reference.ts: ${missing.join(', ')}`);
    assert.deepEqual(extra, [], `keys in src/config/reference.ts that the schema does not have: ${extra.join(', ')}`);
  });

  it('every documented key has a comment (at its first occurrence)', () => {
    const seen = new Set<string>();
    let section = '';
    for (const line of CONFIG_REFERENCE.split('\n')) {
      const m = /^(\s*)(?:- )?([a-z_]+):/.exec(line);
      if (!m) continue;
      if (m[1] === '') section = m[2]!;
      const id = m[1] === '' ? section : `${section}.${m[2]}`;
      if (seen.has(id)) continue;
      seen.add(id);
      assert.ok(line.includes('#'), `undocumented key: ${line}`);
    }
  });

  it('is itself a valid configuration', () => {
    const c = parseConfig(parseDocument(CONFIG_REFERENCE).toJS(), 'reference');
    assert.equal(c.listeners.length, 2);
  });
});
