// The digest latency histogram's bucket of a duration, computed without Math.log2 per statement, must be the
// bucket the definition gives: ceil(2·log2(µs)), clamped to [0, 63].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketOf } from '../../src/frontend/digest-stats.js';

const byDefinition = (ms: number): number => {
  const us = ms * 1000;
  return us <= 1 ? 0 : Math.min(63, Math.ceil(Math.log2(us) * 2));
};

test('bucketOf agrees with ceil(2·log2(µs)) away from bucket bounds', () => {
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 100000; i++) {
    const ms = Math.exp(random() * 30 - 10); // 45 ns … 240 days
    const us = ms * 1000;
    const exact = 2 * Math.log2(us);
    if (Math.abs(exact - Math.round(exact)) < 1e-9) continue; // on a bound: rounding may go either way
    assert.equal(bucketOf(ms), byDefinition(ms), `ms=${ms}`);
  }
});

test('bucketOf at the bounds and the ends', () => {
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(0.001), 0); // 1 µs
  assert.equal(bucketOf(0.002), 2); // 2 µs: exactly 2^1
  assert.equal(bucketOf(0.0021), 3);
  assert.equal(bucketOf(0.0014), 1); // ≤ √2 µs
  assert.equal(bucketOf(0.0015), 2);
  assert.equal(bucketOf(1), 20); // 1000 µs: 2·9.97 → 20
  assert.equal(bucketOf(1024 / 1000), 20); // exactly 2^10 µs
  assert.equal(bucketOf(1e9), 63);
  assert.equal(bucketOf(Infinity), 63);
});
