// The GTIDs of the most recent writes whose OK reached a client through this proxy (from `last_gtid`
// session tracking). After a failover, a write that was in flight when the primary died committed on the
// new primary only if the new primary holds a GTID, newer than what was committed before the write was
// sent, that no client was told about: with this ledger Sluice can prove that none exists and re-run the
// write instead of answering "outcome unknown".
//
// A fixed ring (no allocation per write): domain and sequence number of the last CAPACITY acknowledged
// writes.
import { parseGtidPosition } from '../router/topology-snapshot.js';

const CAPACITY = 1 << 16;

export class AckLedger {
  private readonly domains = new Uint32Array(CAPACITY);
  private readonly seqs = new Float64Array(CAPACITY);
  private next = 0;
  private filled = 0;

  /** One acknowledged write's GTID ("domain-server-seq"). Malformed text is ignored. */
  note(gtid: string): void {
    let i = 0;
    const len = gtid.length;
    let domain = 0;
    let c = 0;
    for (; i < len && (c = gtid.charCodeAt(i)) !== 45; i++) domain = domain * 10 + (c - 48);
    i++;
    while (i < len && gtid.charCodeAt(i) !== 45) i++;
    i++;
    let seq = 0;
    for (; i < len && (c = gtid.charCodeAt(i)) >= 48 && c <= 57; i++) seq = seq * 10 + (c - 48);
    if (i !== len || seq === 0) return;
    this.domains[this.next] = domain;
    this.seqs[this.next] = seq;
    this.next = (this.next + 1) & (CAPACITY - 1);
    if (this.filled < CAPACITY) this.filled++;
  }

  /** Forgets everything (the primary changed: sequence numbers may restart below what was seen). */
  clear(): void {
    this.next = 0;
    this.filled = 0;
  }

  /** The acknowledged sequence numbers of one domain, and the oldest one the ledger still remembers. */
  acknowledged(domain: number): { seqs: Set<number>; oldest: number } {
    const seqs = new Set<number>();
    let oldest = Infinity;
    for (let k = 0; k < this.filled; k++) {
      if (this.domains[k] !== domain) continue;
      const s = this.seqs[k]!;
      seqs.add(s);
      if (s < oldest) oldest = s;
    }
    // The ring may have overwritten older entries: below the oldest remembered one nothing is known.
    return { seqs, oldest: this.filled === CAPACITY ? oldest : 0 };
  }
}

/** What the acknowledged GTIDs say about a write cut off by a primary failure. */
export interface OutcomeEvidence {
  /** '' when the write provably did not commit; otherwise why it may have. */
  reason: string;
  /** GTIDs (domain, seq) newer than the write's send that no client was told about: one may be the write. */
  unacknowledged: Array<[number, number]>;
  /** False when the evidence cannot be completed by looking at the binlog (no floor, too old …). */
  resolvable: boolean;
}

const MAX_UNACKNOWLEDGED = 10000;

/**
 * `position` is the surviving primary's GTID position; `sentAfter` are positions committed before the write
 * was sent (its GTID, had it committed, is newer than all of them). Every GTID in between that was
 * acknowledged to some client is not the write; if none is left, the write did not commit.
 */
export function outcomeEvidence(position: string, sentAfter: readonly string[], acks: AckLedger): OutcomeEvidence {
  const unresolvable = (reason: string): OutcomeEvidence => ({ reason, unacknowledged: [], resolvable: false });
  if (position === '') return unresolvable('the new primary position is unknown');
  let pos: Map<number, { seq: number }>;
  try {
    pos = parseGtidPosition(position);
  } catch {
    return unresolvable(`malformed position ${position}`);
  }
  const floors = new Map<number, number>();
  for (const s of sentAfter) {
    if (s === '') continue;
    try {
      for (const [d, e] of parseGtidPosition(s)) if ((floors.get(d) ?? -1) < e.seq) floors.set(d, e.seq);
    } catch {
      /* a malformed floor proves nothing */
    }
  }
  const unacknowledged: Array<[number, number]> = [];
  for (const [d, e] of pos) {
    const floor = floors.get(d);
    if (floor === undefined) {
      if (e.seq === 0) continue;
      return unresolvable(`no position of domain ${d} is known from before the write`);
    }
    if (e.seq <= floor) continue;
    const a = acks.acknowledged(d);
    if (floor + 1 < a.oldest) return unresolvable('too many writes since it was sent to prove it');
    for (let s = floor + 1; s <= e.seq; s++) {
      if (a.seqs.has(s)) continue;
      if (unacknowledged.length >= MAX_UNACKNOWLEDGED) return unresolvable('too many unacknowledged writes to look at');
      unacknowledged.push([d, s]);
    }
  }
  if (unacknowledged.length === 0) return { reason: '', unacknowledged, resolvable: true };
  const [d, s] = unacknowledged[0]!;
  return { reason: `the new primary holds ${d}-?-${s} (newer than ${d}-?-${floors.get(d)}, committed before the statement was sent), a write no client was told about`, unacknowledged, resolvable: true };
}
