// The GTIDs of the most recent writes whose OK reached a client through this proxy (from `last_gtid`
// session tracking). After a failover, a write that was in flight when the primary died committed on the
// new primary only if the new primary holds a GTID, newer than what was committed before the write was
// sent, that no client was told about: with this ledger Sluice can prove that none exists and re-run the
// write instead of answering "outcome unknown".
//
// A fixed ring (no allocation per write): domain and sequence number of the last CAPACITY acknowledged
// writes.
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
