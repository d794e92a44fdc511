// Picks one backend out of already-filtered candidates (healthy, eligible), once per routed statement.
// Pure apart from its own small state (a round-robin counter, smooth-weighted-round-robin credits) and
// cheap: pick() allocates nothing.
//
// Policies
// - round_robin: candidates in turn (exact even split while the candidate list is stable).
// - random: uniform, from the given rng (Math.random by default; tests pass a seeded one).
// - weighted: smooth weighted round robin (nginx): deterministic, exact ratios over each cycle of
//   sum(weights) picks, and interleaved (5:1:1 gives a a b a c a a, not a a a a a b c). Weights ≤ 0 are never
//   picked, unless every candidate has one: then plain round robin.
// - least_connections: fewest activeConnections.
// - least_latency: lowest latencyEwmaMs.
// - least_lag: lowest lagSeconds (null = unknown = worst).
// The three "least" policies break ties round robin: among the candidates sharing the best value, the k-th
// is taken, k from a rotating counter, so equal candidates take exact turns.
import type { BackendView } from './topology-snapshot.js';

export type BalancePolicy = 'round_robin' | 'random' | 'weighted' | 'least_connections' | 'least_latency' | 'least_lag';

export const BALANCE_POLICIES: readonly BalancePolicy[] = [
  'round_robin',
  'random',
  'weighted',
  'least_connections',
  'least_latency',
  'least_lag',
];

const COUNTER_MASK = 0x3fffffff;

export class Balancer {
  /** Rotating start for round_robin and for tie-breaking. */
  private counter = 0;
  /** Smooth weighted round robin: current credit per backend name. */
  private readonly credit = new Map<string, number>();

  constructor(
    readonly policy: BalancePolicy,
    private readonly rng: () => number = Math.random,
  ) {}

  pick(candidates: readonly BackendView[]): BackendView | null {
    const n = candidates.length;
    if (n === 0) return null;
    if (n === 1) {
      // Keep the counter moving so ties stay fair when the list grows again.
      this.counter = (this.counter + 1) & COUNTER_MASK;
      return candidates[0]!;
    }
    switch (this.policy) {
      case 'round_robin':
        return candidates[this.next() % n]!;
      case 'random': {
        const i = Math.floor(this.rng() * n);
        return candidates[i < 0 ? 0 : i >= n ? n - 1 : i]!;
      }
      case 'weighted':
        return this.weighted(candidates, n);
      case 'least_connections':
        return this.least(candidates, n, connectionsOf);
      case 'least_latency':
        return this.least(candidates, n, latencyOf);
      case 'least_lag':
        return this.least(candidates, n, lagOf);
    }
  }

  private next(): number {
    const c = this.counter;
    this.counter = (c + 1) & COUNTER_MASK;
    return c;
  }

  private least(candidates: readonly BackendView[], n: number, metric: (b: BackendView) => number): BackendView {
    // Pass 1: the best value and how many candidates share it. Pass 2: the k-th of those, k rotating.
    let bestValue = metric(candidates[0]!);
    let ties = 1;
    for (let i = 1; i < n; i++) {
      const v = metric(candidates[i]!);
      if (v < bestValue) {
        bestValue = v;
        ties = 1;
      } else if (v === bestValue) {
        ties++;
      }
    }
    if (ties === 1) {
      for (let i = 0; i < n; i++) if (metric(candidates[i]!) === bestValue) return candidates[i]!;
    }
    let k = this.next() % ties;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      if (metric(c) === bestValue && k-- === 0) return c;
    }
    return candidates[0]!; // not reached (NaN metrics aside)
  }

  private weighted(candidates: readonly BackendView[], n: number): BackendView {
    let total = 0;
    let best: BackendView | null = null;
    let bestCredit = 0;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      const w = c.weight;
      if (!(w > 0)) continue;
      const credit = (this.credit.get(c.name) ?? 0) + w;
      this.credit.set(c.name, credit);
      total += w;
      if (best === null || credit > bestCredit) {
        best = c;
        bestCredit = credit;
      }
    }
    if (best === null) return candidates[this.next() % n]!;
    this.credit.set(best.name, bestCredit - total);
    return best;
  }
}

function connectionsOf(b: BackendView): number {
  return b.activeConnections;
}

function latencyOf(b: BackendView): number {
  return b.latencyEwmaMs;
}

function lagOf(b: BackendView): number {
  return b.lagSeconds === null ? Infinity : b.lagSeconds;
}
