// Per-backend statement counters, latency histograms and errors by code, fed at the end of every
// statement that ran on a backend (ClientSession.onResponseDone). Read by /metrics and the admin views.
//
// record() is on the hot path: one Map lookup by backend name (one Map per route, so no key string is built),
// a few additions and a linear scan of 14 bucket bounds; nothing is allocated once a (backend, route) pair
// and an error code have been seen. Counts are float64 (exact to 2^53; a Uint32 would wrap within a day at
// 50k statements/s), and only ever grow, as Prometheus counters must.

export type StatementRoute = 'primary' | 'replica';

/** Upper bounds of the latency buckets in milliseconds (what record() receives), inclusive. */
const BOUNDS_MS = Float64Array.of(0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000);

/** The same bounds in seconds (Prometheus `le`: 0.0005 … 10); a last implicit bucket is +Inf. */
export const STATEMENT_BUCKETS_SECONDS: readonly number[] = Object.freeze(Array.from(BOUNDS_MS, (ms) => ms / 1000));
const BUCKET_COUNT = BOUNDS_MS.length + 1;

/** Distinct error codes kept per backend; further new codes are counted under OTHER_ERROR_CODE. */
export const MAX_ERROR_CODES = 200;
/** Where error codes beyond MAX_ERROR_CODES (or an invalid code) are counted. */
export const OTHER_ERROR_CODE = -1;

/** Counters of one (backend, route) pair. Read-only to readers: the live record, not a copy. */
export interface StatementRouteStats {
  readonly backend: string;
  readonly route: StatementRoute;
  /** Statements finished (successes and errors). */
  readonly count: number;
  /** Of those, statements that ended with an error packet. */
  readonly errors: number;
  /** Sum of their durations, ms. */
  readonly sumMs: number;
  /** Longest, ms. */
  readonly maxMs: number;
  /**
   * Statements per latency bucket, not cumulative: buckets[i] counts durations in
   * (STATEMENT_BUCKETS_SECONDS[i-1], STATEMENT_BUCKETS_SECONDS[i]]; the last element counts those above 10 s.
   */
  readonly buckets: Float64Array;
}

/** The totals of one backend over both routes (a new object per call: for the views, not the hot path). */
export interface StatementBackendSummary {
  readonly backend: string;
  readonly count: number;
  readonly errors: number;
  readonly sumMs: number;
  readonly maxMs: number;
  readonly buckets: Float64Array;
  /** Statements by route. */
  readonly primary: number;
  readonly replica: number;
}

interface MutableRouteStats {
  readonly backend: string;
  readonly route: StatementRoute;
  count: number;
  errors: number;
  sumMs: number;
  maxMs: number;
  readonly buckets: Float64Array;
}

export class StatementStats {
  private readonly primary = new Map<string, MutableRouteStats>();
  private readonly replica = new Map<string, MutableRouteStats>();
  /** backend → error code → count. */
  private readonly errorCodes = new Map<string, Map<number, number>>();

  /** One statement finished on `backend` after `ms`; errorCode 0 = success, else the server's error number. */
  record(backend: string, route: StatementRoute, ms: number, errorCode: number): void {
    const map = route === 'replica' ? this.replica : this.primary;
    let e = map.get(backend);
    if (e === undefined) {
      e = { backend, route, count: 0, errors: 0, sumMs: 0, maxMs: 0, buckets: new Float64Array(BUCKET_COUNT) };
      map.set(backend, e);
    }
    // A clock step or NaN must not corrupt the sums.
    if (!(ms >= 0)) ms = 0;
    e.count++;
    e.sumMs += ms;
    if (ms > e.maxMs) e.maxMs = ms;
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
    e.buckets[i]!++;
    if (errorCode !== 0) {
      e.errors++;
      this.countError(backend, errorCode);
    }
  }

  private countError(backend: string, code: number): void {
    let codes = this.errorCodes.get(backend);
    if (codes === undefined) {
      codes = new Map();
      this.errorCodes.set(backend, codes);
    }
    const n = codes.get(code);
    if (n !== undefined) {
      codes.set(code, n + 1);
      return;
    }
    const key = Number.isInteger(code) && code > 0 && codes.size < MAX_ERROR_CODES ? code : OTHER_ERROR_CODE;
    codes.set(key, (codes.get(key) ?? 0) + 1);
  }

  /** Every (backend, route) pair seen, sorted by backend then route (primary first). */
  list(): StatementRouteStats[] {
    const all: StatementRouteStats[] = [...this.primary.values(), ...this.replica.values()];
    return all.sort((a, b) => (a.backend < b.backend ? -1 : a.backend > b.backend ? 1 : a.route === b.route ? 0 : a.route === 'primary' ? -1 : 1));
  }

  /** Totals of one backend over both routes; null when no statement ran there. */
  backend(name: string): StatementBackendSummary | null {
    const p = this.primary.get(name);
    const r = this.replica.get(name);
    if (p === undefined && r === undefined) return null;
    const buckets = new Float64Array(BUCKET_COUNT);
    let count = 0;
    let errors = 0;
    let sumMs = 0;
    let maxMs = 0;
    for (const e of [p, r]) {
      if (e === undefined) continue;
      count += e.count;
      errors += e.errors;
      sumMs += e.sumMs;
      if (e.maxMs > maxMs) maxMs = e.maxMs;
      for (let i = 0; i < BUCKET_COUNT; i++) buckets[i]! += e.buckets[i]!;
    }
    return { backend: name, count, errors, sumMs, maxMs, buckets, primary: p?.count ?? 0, replica: r?.count ?? 0 };
  }

  /** Backend names that ran at least one statement, sorted. */
  backends(): string[] {
    return [...new Set([...this.primary.keys(), ...this.replica.keys()])].sort();
  }

  /** Errors by backend and code (OTHER_ERROR_CODE: codes beyond the per-backend limit), sorted. */
  errors(): Array<{ backend: string; code: number; count: number }> {
    const out: Array<{ backend: string; code: number; count: number }> = [];
    for (const [backend, codes] of this.errorCodes) for (const [code, count] of codes) out.push({ backend, code, count });
    return out.sort((a, b) => (a.backend < b.backend ? -1 : a.backend > b.backend ? 1 : a.code - b.code));
  }
}

/**
 * The q-quantile (0 < q ≤ 1) of a bucketed latency distribution, in ms, as the upper bound of the bucket that
 * holds it (capped by maxMs; maxMs for the overflow bucket). 0 without any statement.
 */
export function statementQuantileMs(s: { readonly count: number; readonly maxMs: number; readonly buckets: Float64Array }, q: number): number {
  if (s.count <= 0) return 0;
  const target = Math.max(1, Math.ceil(s.count * q));
  let seen = 0;
  for (let i = 0; i < BOUNDS_MS.length; i++) {
    seen += s.buckets[i]!;
    if (seen >= target) return Math.min(BOUNDS_MS[i]!, s.maxMs);
  }
  return s.maxMs;
}
