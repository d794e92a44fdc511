// Per-digest statement statistics (ProxySQL's stats_mysql_query_digest): normalized text, count, total and
// p99 time, rows, errors. Bounded: at most `limit` digests; later new ones are counted under one
// "(other digests)" entry. Latency percentiles come from a log-scale histogram (2 buckets per octave).

import type { Digest } from '../router/digest.js';

const BUCKETS = 64;

let nextGeneration = 0;

export interface DigestEntry {
  readonly text: string;
  readonly hash: string;
  count: number;
  totalMs: number;
  maxMs: number;
  rows: number;
  errors: number;
  /** Times a statement of this digest changed the session (a stored function …): never pipelined then. */
  stateChanges: number;
  /** Statements of this digest that left warnings. */
  warned: number;
  readonly histogram: Uint32Array;
}

export class DigestStats {
  private entries = new Map<string, DigestEntry>();
  private other: DigestEntry | null = null;
  /**
   * Entries cached on digests carry the generation they were found in: a new one for each DigestStats and
   * each reset(), so an entry of another instance (or from before a reset) is never taken for this one's.
   */
  private generation = nextGeneration++;

  constructor(private readonly limit = 5000) {}

  /**
   * The entry of `d`'s text, if it has one. Cached on the digest object (a prepared statement keeps its
   * digest for all its executes), so the lookup by text, a character-by-character compare of another
   * session's equal string, happens once per digest object.
   */
  private entryOf(d: Digest): DigestEntry | undefined {
    if (d.statsGeneration === this.generation) return d.statsEntry as DigestEntry;
    const e = this.entries.get(d.text);
    if (e !== undefined) {
      d.statsEntry = e;
      d.statsGeneration = this.generation;
    }
    return e;
  }

  /** Keyed by the digest's text (equal texts have equal hashes; no BigInt→string per statement). */
  record(d: Digest, ms: number, rows: number, error: boolean): void {
    let e = this.entryOf(d);
    if (e === undefined) {
      if (this.entries.size >= this.limit) {
        e = this.other ??= newEntry('(other digests)', 'other');
      } else {
        e = newEntry(d.text, d.hash.toString(16));
        this.entries.set(d.text, e);
        d.statsEntry = e;
        d.statsGeneration = this.generation;
      }
    }
    e.count++;
    e.totalMs += ms;
    if (ms > e.maxMs) e.maxMs = ms;
    e.rows += rows;
    if (error) e.errors++;
    e.histogram[bucketOf(ms)]!++;
  }

  /**
   * May statements of this digest be pipelined on a shared connection? Only once seen `minSamples` times,
   * averaging at most `maxMs`, never having changed the session, and rarely (under 2 %) ending with an error or
   * warnings: a slow statement would hold up the others queued behind it, and the warnings of a statement
   * with others behind it are gone before SHOW WARNINGS can read them.
   */
  pipelinable(d: Digest, minSamples: number, maxMs: number): boolean {
    const e = this.entryOf(d);
    return e !== undefined && e.count >= minSamples && e.totalMs <= maxMs * e.count && e.stateChanges === 0 && (e.errors + e.warned) * 50 < e.count;
  }

  /** A statement of this digest left warnings (SHOW WARNINGS may follow it). */
  noteWarnings(d: Digest): void {
    const e = this.entryOf(d);
    if (e !== undefined) e.warned++;
  }

  /** A statement of this digest changed its session's state. */
  noteStateChange(d: Digest): void {
    const e = this.entryOf(d);
    if (e !== undefined) e.stateChanges++;
  }

  /** Entries by total time, highest first. */
  list(): DigestEntry[] {
    const all = [...this.entries.values()];
    if (this.other) all.push(this.other);
    return all.sort((a, b) => b.totalMs - a.totalMs);
  }

  reset(): void {
    this.entries = new Map();
    this.other = null;
    this.generation = nextGeneration++;
  }
}

function newEntry(text: string, hash: string): DigestEntry {
  return { text, hash, count: 0, totalMs: 0, maxMs: 0, rows: 0, errors: 0, stateChanges: 0, warned: 0, histogram: new Uint32Array(BUCKETS) };
}

/** Bucket i holds latencies up to 2^(i/2) µs: ceil(2·log2(µs)), without a log per statement. */
export function bucketOf(ms: number): number {
  const us = ms * 1000;
  if (us <= 1) return 0;
  if (us >= 2147483648) return BUCKETS - 1;
  const e = 31 - Math.clz32(us); // floor(log2(us)); 2^e ≤ us < 2^(e+1)
  const low = 1 << e;
  const i = us === low ? 2 * e : us <= low * Math.SQRT2 ? 2 * e + 1 : 2 * e + 2;
  return i < BUCKETS - 1 ? i : BUCKETS - 1;
}

/** Upper bound (ms) of the bucket holding the q-quantile. */
export function quantileMs(e: DigestEntry, q: number): number {
  const target = Math.ceil(e.count * q);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += e.histogram[i]!;
    if (seen >= target) return Math.min(2 ** (i / 2) / 1000, e.maxMs);
  }
  return e.maxMs;
}
