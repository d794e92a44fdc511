// StatementStats: counters per (backend, route), fixed-bucket latency histograms, errors by code per backend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ERROR_CODES, OTHER_ERROR_CODE, STATEMENT_BUCKETS_SECONDS, StatementStats, statementQuantileMs } from '../../src/frontend/statement-stats.js';

describe('StatementStats', () => {
  it('buckets are the documented ones, ascending', () => {
    assert.deepEqual([...STATEMENT_BUCKETS_SECONDS], [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });

  it('counts per backend and route, with sums, maxima and errors', () => {
    const s = new StatementStats();
    s.record('db1', 'primary', 1, 0);
    s.record('db1', 'primary', 3, 1062);
    s.record('db2', 'replica', 0.2, 0);
    s.record('db1', 'replica', 7, 0);
    const list = s.list();
    assert.deepEqual(
      list.map((e) => [e.backend, e.route, e.count, e.errors, e.sumMs, e.maxMs]),
      [
        ['db1', 'primary', 2, 1, 4, 3],
        ['db1', 'replica', 1, 0, 7, 7],
        ['db2', 'replica', 1, 0, 0.2, 0.2],
      ],
    );
    const db1 = s.backend('db1')!;
    assert.equal(db1.count, 3);
    assert.equal(db1.errors, 1);
    assert.equal(db1.primary, 2);
    assert.equal(db1.replica, 1);
    assert.equal(db1.sumMs, 11);
    assert.equal(db1.maxMs, 7);
    assert.equal(s.backend('nope'), null);
    assert.deepEqual(s.backends(), ['db1', 'db2']);
    assert.deepEqual(s.errors(), [{ backend: 'db1', code: 1062, count: 1 }]);
  });

  it('puts each duration in the first bucket whose bound is not below it (bounds inclusive), above 10 s in the last', () => {
    const s = new StatementStats();
    const cases: Array<[number, number]> = [
      [0, 0],
      [0.5, 0], // exactly 0.5 ms: le="0.0005"
      [0.50001, 1],
      [1, 1],
      [4.9, 3],
      [10, 4],
      [999, 10],
      [1000, 10],
      [10_000, 13],
      [10_000.1, 14],
      [3_600_000, 14],
    ];
    for (const [ms] of cases) s.record('b', 'primary', ms, 0);
    const buckets = s.list()[0]!.buckets;
    assert.equal(buckets.length, STATEMENT_BUCKETS_SECONDS.length + 1);
    const expected = new Array<number>(buckets.length).fill(0);
    for (const [, i] of cases) expected[i]!++;
    assert.deepEqual([...buckets], expected);
  });

  it('treats negative or NaN durations as 0', () => {
    const s = new StatementStats();
    s.record('b', 'primary', -5, 0);
    s.record('b', 'primary', Number.NaN, 0);
    const e = s.list()[0]!;
    assert.equal(e.count, 2);
    assert.equal(e.sumMs, 0);
    assert.equal(e.buckets[0], 2);
  });

  it('bounds the error codes kept per backend', () => {
    const s = new StatementStats();
    for (let code = 1; code <= MAX_ERROR_CODES + 10; code++) s.record('b', 'primary', 1, code);
    s.record('b', 'primary', 1, 1); // a known code keeps counting
    s.record('b', 'primary', 1, -3); // nonsense code
    const errors = s.errors();
    // The first MAX_ERROR_CODES codes, then one overflow entry.
    assert.equal(errors.length, MAX_ERROR_CODES + 1);
    assert.deepEqual(errors[0], { backend: 'b', code: OTHER_ERROR_CODE, count: 11 });
    assert.deepEqual(errors[1], { backend: 'b', code: 1, count: 2 });
    assert.equal(errors.reduce((n, e) => n + e.count, 0), MAX_ERROR_CODES + 12);
    assert.equal(s.list()[0]!.errors, MAX_ERROR_CODES + 12);
  });

  it('quantiles are bucket upper bounds capped by the maximum', () => {
    const s = new StatementStats();
    assert.equal(statementQuantileMs({ count: 0, maxMs: 0, buckets: new Float64Array(15) }, 0.99), 0);
    for (let i = 0; i < 98; i++) s.record('b', 'primary', 0.3, 0);
    s.record('b', 'primary', 30, 0);
    s.record('b', 'primary', 40, 0);
    const e = s.list()[0]!;
    assert.equal(statementQuantileMs(e, 0.5), 0.5);
    assert.equal(statementQuantileMs(e, 0.99), 40, '99th of 100 is in the 50 ms bucket, capped by the max (40)');
    s.record('b', 'primary', 20_000, 0);
    assert.equal(statementQuantileMs(s.list()[0]!, 1), 20_000, 'overflow bucket: the maximum');
  });

  it('records without allocating per call once a pair is known', () => {
    const s = new StatementStats();
    s.record('db1', 'primary', 1, 0);
    s.record('db1', 'replica', 1, 1146);
    const before = s.list();
    for (let i = 0; i < 1000; i++) {
      s.record('db1', 'primary', i % 50, 0);
      s.record('db1', 'replica', 2, 1146);
    }
    const after = s.list();
    assert.equal(after[0], before[0], 'the same live record');
    assert.equal(after[0]!.count, 1001);
    assert.equal(after[1]!.errors, 1001);
  });
});
