// Load-balancing policies (distribution, ties, empty input) and the MariaDB GTID position helpers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BALANCE_POLICIES, Balancer, type BalancePolicy } from '../../src/router/balancer.js';
import {
  buildSnapshot,
  gtidCovers,
  makeBackendView,
  mergeGtidPositions,
  parseGtidPosition,
  type BackendView,
} from '../../src/router/topology-snapshot.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function views(...specs: Array<Partial<BackendView> & { name: string }>): BackendView[] {
  return specs.map((s) => makeBackendView(s));
}

function counts(b: Balancer, cands: readonly BackendView[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of cands) m.set(c.name, 0);
  for (let i = 0; i < n; i++) {
    const p = b.pick(cands);
    assert.ok(p, 'pick returned null');
    m.set(p.name, m.get(p.name)! + 1);
  }
  return m;
}

describe('Balancer', () => {
  const three = views({ name: 'a' }, { name: 'b' }, { name: 'c' });

  it('every policy returns null for no candidates and the only one for one candidate', () => {
    for (const p of BALANCE_POLICIES) {
      const b = new Balancer(p, mulberry32(1));
      assert.equal(b.pick([]), null, p);
      const only = views({ name: 'x', weight: 0, lagSeconds: null });
      for (let i = 0; i < 5; i++) assert.equal(b.pick(only), only[0], p);
      assert.equal(b.pick([]), null, p);
    }
  });

  it('round_robin: candidates in turn, exact even split', () => {
    const b = new Balancer('round_robin');
    assert.deepEqual(
      Array.from({ length: 7 }, () => b.pick(three)!.name),
      ['a', 'b', 'c', 'a', 'b', 'c', 'a'],
    );
    const b2 = new Balancer('round_robin');
    const m = counts(b2, three, 9999);
    assert.deepEqual([...m.values()], [3333, 3333, 3333]);
  });

  it('round_robin: a shrinking candidate list still yields only candidates, evenly', () => {
    const b = new Balancer('round_robin');
    for (let i = 0; i < 5; i++) b.pick(three);
    const two = three.slice(0, 2);
    const m = counts(b, two, 1000);
    assert.deepEqual([...m.values()], [500, 500]);
  });

  it('random: roughly even with a seeded rng, and reproducible', () => {
    const m = counts(new Balancer('random', mulberry32(42)), three, 30000);
    for (const [name, n] of m) assert.ok(Math.abs(n - 10000) < 10000 * 0.05, `${name}: ${n}`);
    const seq1 = Array.from({ length: 50 }, ((b) => () => b.pick(three)!.name)(new Balancer('random', mulberry32(7))));
    const seq2 = Array.from({ length: 50 }, ((b) => () => b.pick(three)!.name)(new Balancer('random', mulberry32(7))));
    assert.deepEqual(seq1, seq2);
  });

  it('random: rng edge values stay in range', () => {
    const vals = [0, 0.999999999999, 1, -0.1];
    let i = 0;
    const b = new Balancer('random', () => vals[i++ % vals.length]!);
    assert.deepEqual(
      Array.from({ length: 4 }, () => b.pick(three)!.name),
      ['a', 'c', 'c', 'a'],
    );
  });

  it('weighted: ratio within ±5 % over 10k picks (5:3:2), exact per cycle', () => {
    const cands = views({ name: 'a', weight: 5 }, { name: 'b', weight: 3 }, { name: 'c', weight: 2 });
    const m = counts(new Balancer('weighted'), cands, 10000);
    const expect: Record<string, number> = { a: 5000, b: 3000, c: 2000 };
    for (const [name, n] of m) assert.ok(Math.abs(n - expect[name]!) <= expect[name]! * 0.05, `${name}: ${n}`);
    // smooth WRR is exact over every cycle of sum(weights) picks
    assert.deepEqual([...m.values()], [5000, 3000, 2000]);
  });

  it('weighted: smooth interleaving (nginx example 5:1:1 → a a b a c a a)', () => {
    const cands = views({ name: 'a', weight: 5 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 });
    const b = new Balancer('weighted');
    assert.deepEqual(
      Array.from({ length: 7 }, () => b.pick(cands)!.name).join(''),
      'aabacaa',
    );
  });

  it('weighted: fractional weights and equal weights', () => {
    const frac = views({ name: 'a', weight: 1.5 }, { name: 'b', weight: 0.5 });
    const m = counts(new Balancer('weighted'), frac, 10000);
    assert.ok(Math.abs(m.get('a')! - 7500) <= 7500 * 0.05, `a: ${m.get('a')}`);
    const eq = counts(new Balancer('weighted'), three, 9000);
    assert.deepEqual([...eq.values()], [3000, 3000, 3000]);
  });

  it('weighted: weight 0 is never picked, unless all are 0 (then round robin)', () => {
    const cands = views({ name: 'a', weight: 0 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 });
    const m = counts(new Balancer('weighted'), cands, 1000);
    assert.deepEqual([...m.values()], [0, 500, 500]);
    const zeros = views({ name: 'a', weight: 0 }, { name: 'b', weight: 0 });
    assert.deepEqual([...counts(new Balancer('weighted'), zeros, 100).values()], [50, 50]);
  });

  it('weighted: a backend leaving and coming back keeps the ratio', () => {
    const cands = views({ name: 'a', weight: 3 }, { name: 'b', weight: 1 });
    const b = new Balancer('weighted');
    counts(b, cands, 13);
    counts(b, cands.slice(1), 7); // a out for a while
    const m = counts(b, cands, 10000);
    assert.ok(Math.abs(m.get('a')! - 7500) <= 7500 * 0.05, `a: ${m.get('a')}`);
  });

  it('least_connections: fewest active connections; ties round robin', () => {
    const cands = views(
      { name: 'a', activeConnections: 5 },
      { name: 'b', activeConnections: 2 },
      { name: 'c', activeConnections: 9 },
    );
    const b = new Balancer('least_connections');
    for (let i = 0; i < 10; i++) assert.equal(b.pick(cands)!.name, 'b');
    const tied = views({ name: 'a', activeConnections: 1 }, { name: 'b', activeConnections: 1 }, { name: 'c', activeConnections: 4 });
    const m = counts(new Balancer('least_connections'), tied, 1000);
    assert.equal(m.get('c'), 0);
    assert.ok(Math.abs(m.get('a')! - m.get('b')!) <= 2, JSON.stringify([...m]));
    const allTied = counts(new Balancer('least_connections'), three, 3000);
    assert.deepEqual([...allTied.values()], [1000, 1000, 1000]);
  });

  it('least_connections: follows the live counts (simulated load)', () => {
    const cands = views({ name: 'a' }, { name: 'b' }, { name: 'c' });
    const b = new Balancer('least_connections');
    // open 30 connections: they spread 10/10/10
    for (let i = 0; i < 30; i++) b.pick(cands)!.activeConnections++;
    assert.deepEqual(cands.map((c) => c.activeConnections), [10, 10, 10]);
    cands[0]!.activeConnections = 0;
    assert.equal(b.pick(cands)!.name, 'a');
  });

  it('least_latency: lowest EWMA; ties round robin', () => {
    const cands = views({ name: 'a', latencyEwmaMs: 2.5 }, { name: 'b', latencyEwmaMs: 0.7 }, { name: 'c', latencyEwmaMs: 0.9 });
    const b = new Balancer('least_latency');
    for (let i = 0; i < 10; i++) assert.equal(b.pick(cands)!.name, 'b');
    const tied = views({ name: 'a', latencyEwmaMs: 1 }, { name: 'b', latencyEwmaMs: 3 }, { name: 'c', latencyEwmaMs: 1 });
    const m = counts(new Balancer('least_latency'), tied, 1000);
    assert.equal(m.get('b'), 0);
    assert.ok(Math.abs(m.get('a')! - m.get('c')!) <= 2, JSON.stringify([...m]));
  });

  it('least_lag: lowest lagSeconds, null is worst; ties round robin', () => {
    const cands = views({ name: 'a', lagSeconds: null }, { name: 'b', lagSeconds: 3 }, { name: 'c', lagSeconds: 1 });
    const b = new Balancer('least_lag');
    for (let i = 0; i < 10; i++) assert.equal(b.pick(cands)!.name, 'c');
    const nulls = views({ name: 'a', lagSeconds: null }, { name: 'b', lagSeconds: null }, { name: 'c', lagSeconds: 100000 });
    for (let i = 0; i < 10; i++) assert.equal(b.pick(nulls)!.name, 'c');
    const allNull = views({ name: 'a', lagSeconds: null }, { name: 'b', lagSeconds: null });
    assert.deepEqual([...counts(new Balancer('least_lag'), allNull, 100).values()], [50, 50]);
    const zeros = views({ name: 'a', lagSeconds: 0 }, { name: 'b', lagSeconds: 0 }, { name: 'c', lagSeconds: 0 });
    assert.deepEqual([...counts(new Balancer('least_lag'), zeros, 300).values()], [100, 100, 100]);
  });

  it('is cheap: 1M picks per policy well under a second each', () => {
    const cands = views(
      { name: 'a', weight: 2, activeConnections: 3, latencyEwmaMs: 1, lagSeconds: 0 },
      { name: 'b', weight: 1, activeConnections: 2, latencyEwmaMs: 1, lagSeconds: 0 },
      { name: 'c', weight: 1, activeConnections: 3, latencyEwmaMs: 2, lagSeconds: 1 },
    );
    for (const p of BALANCE_POLICIES as BalancePolicy[]) {
      const b = new Balancer(p, mulberry32(3));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 1_000_000; i++) b.pick(cands);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms < 1000, `${p}: ${ms.toFixed(1)} ms`);
    }
  });
});

describe('topology snapshot', () => {
  it('buildSnapshot splits primary and replicas', () => {
    const vs = views({ name: 'p', role: 'primary' }, { name: 'r1' }, { name: 'r2', health: 'down' });
    const s = buildSnapshot(3, vs);
    assert.equal(s.version, 3);
    assert.equal(s.primary?.name, 'p');
    assert.deepEqual(s.replicas.map((r) => r.name), ['r1', 'r2']);
    assert.equal(buildSnapshot(1, views({ name: 'r' })).primary, null);
  });
});

describe('MariaDB GTID positions', () => {
  it('parses positions', () => {
    assert.deepEqual([...parseGtidPosition('')], []);
    assert.deepEqual([...parseGtidPosition('0-1-42')], [[0, { server: 1, seq: 42 }]]);
    assert.deepEqual(
      [...parseGtidPosition('0-1-42,1-2-7')],
      [
        [0, { server: 1, seq: 42 }],
        [1, { server: 2, seq: 7 }],
      ],
    );
    assert.deepEqual([...parseGtidPosition(' 0-1-42 , 1-2-7 ')].length, 2);
    assert.deepEqual([...parseGtidPosition('4294967295-4294967295-9007199254740991')], [
      [4294967295, { server: 4294967295, seq: 9007199254740991 }],
    ]);
    assert.equal(parseGtidPosition('0-1-5,0-2-9').get(0)!.seq, 9);
  });

  it('rejects malformed positions', () => {
    for (const bad of ['0-1', '0-1-', 'a-1-2', '0-1-2,', ',0-1-2', '0-1-2;1-1-1', '0--1-2', '0-1-2 1-1-1', '-0-1-2']) {
      assert.throws(() => parseGtidPosition(bad), TypeError, bad);
    }
  });

  it('gtidCovers: per domain seq ≤ position seq', () => {
    assert.equal(gtidCovers('0-1-42', '0-1-42'), true);
    assert.equal(gtidCovers('0-1-42', '0-1-41'), true);
    assert.equal(gtidCovers('0-1-42', '0-1-43'), false);
    // the server id does not matter for coverage (domain + seq order the stream)
    assert.equal(gtidCovers('0-2-50', '0-1-43'), true);
    // multi-domain positions
    assert.equal(gtidCovers('0-1-42,1-2-7', '1-2-7'), true);
    assert.equal(gtidCovers('0-1-42,1-2-7', '1-2-8'), false);
    assert.equal(gtidCovers('0-1-42,1-2-7', '0-1-40,1-2-7'), true);
    assert.equal(gtidCovers('0-1-42,1-2-7', '0-1-40,1-2-9'), false);
    assert.equal(gtidCovers('1-2-7,0-1-42', '0-1-42'), true);
    // a domain the position lacks is not covered
    assert.equal(gtidCovers('0-1-42', '2-1-1'), false);
    assert.equal(gtidCovers('', '0-1-1'), false);
    // nothing needed → covered
    assert.equal(gtidCovers('', ''), true);
    assert.equal(gtidCovers('0-1-1', '  '), true);
    assert.equal(gtidCovers('', '0-1-0'), true);
    // big sequence numbers compare numerically, not as strings
    assert.equal(gtidCovers('0-1-100', '0-1-99'), true);
    assert.equal(gtidCovers('0-1-99', '0-1-100'), false);
    // whitespace (the server puts none, but tolerate it)
    assert.equal(gtidCovers(' 0-1-42 , 1-2-7', '1-2-7 '), true);
  });

  it('gtidCovers: malformed input is never covered', () => {
    assert.equal(gtidCovers('0-1-42', '0-1'), false);
    assert.equal(gtidCovers('0-1-42', 'x'), false);
    assert.equal(gtidCovers('0-1-42', '0-1-1,'), false);
    assert.equal(gtidCovers('garbage', '0-1-1'), false);
    assert.equal(gtidCovers('0-1-42,garbage', '1-1-1'), false);
  });

  it('gtidCovers agrees with parseGtidPosition on random positions', () => {
    const rnd = mulberry32(99);
    const gen = () => {
      const parts: string[] = [];
      const domains = new Set<number>();
      const n = Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) {
        const d = Math.floor(rnd() * 4);
        if (domains.has(d)) continue;
        domains.add(d);
        parts.push(`${d}-${1 + Math.floor(rnd() * 3)}-${Math.floor(rnd() * 20)}`);
      }
      return parts.join(',');
    };
    for (let i = 0; i < 5000; i++) {
      const pos = gen();
      const g = gen();
      const pp = parseGtidPosition(pos);
      let expect = true;
      for (const [d, e] of parseGtidPosition(g)) {
        if (e.seq === 0) continue;
        const have = pp.get(d);
        if (!have || have.seq < e.seq) expect = false;
      }
      assert.equal(gtidCovers(pos, g), expect, `${pos} covers ${g}`);
    }
  });

  it('mergeGtidPositions keeps the higher seq per domain', () => {
    assert.equal(mergeGtidPositions('0-1-5,1-2-3', '1-2-9,2-3-1'), '0-1-5,1-2-9,2-3-1');
    assert.equal(mergeGtidPositions('', '0-1-1'), '0-1-1');
    assert.equal(mergeGtidPositions('0-1-10', '0-2-4'), '0-1-10');
  });
});
