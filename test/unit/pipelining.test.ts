// Pipelining building blocks without a server: which digests may be pipelined, the pool.pipelining config,
// and the response scanner handing the rest of a response to another handler (a client gone mid-response).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DigestStats } from '../../src/frontend/digest-stats.js';
import type { Digest } from '../../src/router/digest.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { ResponseScanner, type ResponseHandler } from '../../src/protocol/response-scanner.js';
import { responseFixtures } from '../helpers/fixtures.js';

describe('DigestStats.pipelinable', () => {
  const dig = (text: string): Digest => ({ text, hash: 1n, statsEntry: null, statsGeneration: -1 });
  const d = dig('SELECT v FROM t WHERE id = ?');

  it('needs min_samples runs averaging at most max_statement_ms, and no session change ever', () => {
    const s = new DigestStats();
    assert.equal(s.pipelinable(d, 3, 2), false, 'never seen');
    s.record(d, 1, 1, false);
    s.record(d, 1, 1, false);
    assert.equal(s.pipelinable(d, 3, 2), false, 'seen twice, 3 needed');
    s.record(d, 1, 1, false);
    assert.equal(s.pipelinable(d, 3, 2), true);
    s.record(d, 9, 1, false); // average 3 ms now
    assert.equal(s.pipelinable(d, 3, 2), false, 'too slow on average');
    assert.equal(s.pipelinable(d, 3, 3), true);
    s.noteStateChange(d);
    assert.equal(s.pipelinable(d, 3, 3), false, 'changed a session once: never again');
    assert.equal(s.list()[0]!.stateChanges, 1);
    s.reset();
    assert.equal(s.pipelinable(d, 1, 3), false, 'forgotten after a reset');
  });

  it('a digest that often ends with warnings or an error is not pipelined', () => {
    const s = new DigestStats();
    for (let i = 0; i < 60; i++) s.record(d, 0.1, 1, false);
    assert.equal(s.pipelinable(d, 1, 2), true);
    s.noteWarnings(d);
    assert.equal(s.pipelinable(d, 1, 2), true, '1 in 60');
    s.record(d, 0.1, 0, true);
    assert.equal(s.pipelinable(d, 1, 2), false, '2 in 61');
    assert.equal(s.list()[0]!.warned, 1);
  });

  it('digests beyond the limit (counted as "other") are never pipelined', () => {
    const s = new DigestStats(1);
    s.record(dig('SELECT 1'), 0.1, 1, false);
    for (let i = 0; i < 5; i++) s.record(d, 0.1, 1, false);
    assert.equal(s.pipelinable(dig('SELECT 1'), 1, 2), true);
    assert.equal(s.pipelinable(d, 1, 2), false);
    assert.equal(s.list().find((e) => e.hash === 'other')!.count, 5);
  });

  it('digest objects with the same text share one entry; an entry cached on a digest does not outlive reset()', () => {
    const s = new DigestStats();
    const a = dig('SELECT 2');
    const b = dig('SELECT 2'); // another session's prepare of the same statement
    s.record(a, 0.1, 1, false);
    s.record(b, 0.1, 1, false);
    s.record(a, 0.1, 1, false);
    assert.equal(s.list().length, 1);
    assert.equal(s.list()[0]!.count, 3);
    s.reset();
    assert.equal(s.pipelinable(a, 1, 2), false, 'the cached entry is gone with the reset');
    s.record(b, 0.1, 1, false);
    s.record(a, 0.1, 1, false);
    assert.equal(s.list().length, 1);
    assert.equal(s.list()[0]!.count, 2, 'counted in the new entry, not the stale one');
    assert.equal(s.pipelinable(a, 2, 2), true);
    const other = new DigestStats();
    assert.equal(other.pipelinable(a, 1, 2), false, 'an entry cached for one instance is not taken for another');
    other.record(a, 0.1, 1, false);
    assert.equal(other.list()[0]!.count, 1);
    assert.equal(s.list()[0]!.count, 2);
  });
});

describe('pool.pipelining config', () => {
  const base = { listeners: [{ port: 6033 }], backends: [{ name: 'primary', host: 'db1', role: 'primary' }], monitor: { user: 'mon' } };

  it('defaults: on, depth 16, 2 ms, 20 samples', () => {
    assert.deepEqual(parseConfig(base, 't').pool.pipelining, { enabled: true, max_depth: 16, max_statement_ms: 2, min_samples: 20 });
  });

  it('bad values name the key', () => {
    for (const [pipelining, key] of [
      [{ max_depth: 1 }, 'pool.pipelining.max_depth'],
      [{ max_statement_ms: 0 }, 'pool.pipelining.max_statement_ms'],
      [{ min_samples: 0 }, 'pool.pipelining.min_samples'],
      [{ enabled: 'yes' }, 'pool.pipelining.enabled'],
      [{ depth: 4 }, 'pool.pipelining.depth'],
    ] as const) {
      assert.throws(
        () => parseConfig({ ...base, pool: { pipelining } }, 't'),
        (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.key === key),
        JSON.stringify(pipelining),
      );
    }
  });
});

describe('ResponseScanner handler swap', () => {
  /** Collects what it is handed. */
  class Collect implements ResponseHandler {
    bytes = 0;
    done = 0;
    onResponseBytes(_b: Buffer, start: number, end: number): void {
      this.bytes += end - start;
    }
    onResponsePacket(_k: number, _b: Buffer, start: number, end: number): void {
      this.bytes += end - start;
    }
    onResponseDone(): void {
      this.done++;
    }
    onResponseChunkEnd(): void {}
  }

  it('bytes fed after the swap go to the new handler, and so does the end of the response', () => {
    const fixtures = responseFixtures().filter((f) => f.bytes.length > 40 && f.pauseAt === undefined);
    assert.ok(fixtures.length > 3);
    for (const f of fixtures) {
      for (const cut of [1, 5, Math.floor(f.bytes.length / 2), f.bytes.length - 1]) {
        const s = new ResponseScanner();
        const first = new Collect();
        const second = new Collect();
        s.begin(f.kind, f.deprecateEof, f.binary, first);
        assert.equal(s.feed(f.bytes.subarray(0, cut)), 0, f.name);
        s.handler = second;
        assert.equal(s.feed(f.bytes.subarray(cut)), 0, f.name);
        assert.equal(first.done, 0, f.name);
        assert.equal(second.done, 1, f.name);
        assert.equal(first.bytes + second.bytes, f.bytes.length, `${f.name} cut at ${cut}: every byte handed on once`);
      }
    }
  });
});
