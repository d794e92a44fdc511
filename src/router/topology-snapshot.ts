// The data routing decisions are made from: one view per backend (role, health, lag, GTID position, and the
// proxy-fed load figures) and a snapshot of all of them. Produced by the backend monitor
// (src/backend/monitor.ts); router code only reads it, so decisions stay pure functions of
// (statement info, session state, snapshot).
//
// Also: MariaDB GTID position helpers. A MariaDB GTID is `domain-server-seq`; a position is a comma list
// with at most one GTID per replication domain ("0-1-42,1-2-7"). A position covers a GTID (or another
// position) when, for every domain the GTID names, the position's seq in that domain is at least as large.

export type BackendRole = 'primary' | 'replica';

/** up: serving; down: unreachable / not answering; lagging: behind more than the bound (or lag unknown);
 * broken: replication threads stopped or replication not configured. */
export type BackendHealth = 'up' | 'down' | 'lagging' | 'broken';

export interface BackendView {
  name: string;
  host: string;
  port: number;
  role: BackendRole;
  weight: number;
  health: BackendHealth;
  /** seconds behind the primary (Seconds_Behind_Master), null when unknown */
  lagSeconds: number | null;
  /** GTID position this server has applied (MariaDB gtid_current_pos / gtid_slave_pos string, e.g. "0-1-42,1-2-7") */
  gtidPosition: string;
  readOnly: boolean;
  /** EWMA of observed statement latency in ms (fed by the proxy) */
  latencyEwmaMs: number;
  /** connections in use from this proxy (fed by the proxy) */
  activeConnections: number;
  lastCheckAt: number;
  lastError: string | null;
}

export interface TopologySnapshot {
  /** Increases whenever something routing-relevant changed (health, role, read_only, lag crossing the bound). */
  version: number;
  backends: BackendView[];
  /** The backend with role 'primary' (whatever its health), or null when there is none. */
  primary: BackendView | null;
  /** Every backend with role 'replica' (whatever its health): the router filters by health. */
  replicas: BackendView[];
}

/** Builds a snapshot from views (primary = the first view with role 'primary'). */
export function buildSnapshot(version: number, backends: BackendView[]): TopologySnapshot {
  let primary: BackendView | null = null;
  const replicas: BackendView[] = [];
  for (const b of backends) {
    if (b.role === 'primary') {
      if (primary === null) primary = b;
    } else {
      replicas.push(b);
    }
  }
  return { version, backends, primary, replicas };
}

/** A view with neutral defaults, for tests and for backends not checked yet. */
export function makeBackendView(fields: Pick<BackendView, 'name'> & Partial<BackendView>): BackendView {
  return {
    host: '127.0.0.1',
    port: 3306,
    role: 'replica',
    weight: 1,
    health: 'up',
    lagSeconds: 0,
    gtidPosition: '',
    readOnly: false,
    latencyEwmaMs: 0,
    activeConnections: 0,
    lastCheckAt: 0,
    lastError: null,
    ...fields,
  };
}

// ---------------------------------------------------------------------------------------------------------
// MariaDB GTIDs

export interface GtidEntry {
  server: number;
  /** Sequence number. MariaDB's is 64-bit; numbers are exact up to 2^53, which no real server reaches. */
  seq: number;
}

/**
 * Parses a MariaDB GTID position ("0-1-42,1-2-7"; whitespace around entries allowed; "" → empty map) into
 * domain → { server, seq }. If a domain appears twice (not produced by the server) the higher seq wins.
 * Throws a TypeError on malformed input.
 */
export function parseGtidPosition(s: string): Map<number, GtidEntry> {
  const out = new Map<number, GtidEntry>();
  const len = s.length;
  let i = 0;
  for (;;) {
    i = skipSpaces(s, i);
    if (i >= len) {
      if (out.size === 0) return out; // empty position
      throw new TypeError(`malformed GTID position ${JSON.stringify(s)}: empty entry`);
    }
    const e = scanEntry(s, i);
    if (e < 0) throw new TypeError(`malformed GTID position ${JSON.stringify(s)}`);
    const prev = out.get(scanDomain);
    if (prev === undefined || scanSeq > prev.seq) out.set(scanDomain, { server: scanServer, seq: scanSeq });
    i = skipSpaces(s, e);
    if (i >= len) return out;
    if (s.charCodeAt(i) !== 44 /* , */) throw new TypeError(`malformed GTID position ${JSON.stringify(s)}`);
    i++;
  }
}

/**
 * True when `position` has applied everything `gtid` names: for every domain in `gtid` (a single GTID or a
 * position list), position's seq for that domain ≥ gtid's seq. An empty `gtid` is covered by anything.
 * Malformed input is never covered (false). Allocates nothing.
 */
export function gtidCovers(position: string, gtid: string): boolean {
  const len = gtid.length;
  let i = skipSpaces(gtid, 0);
  if (i >= len) return true;
  for (;;) {
    const e = scanEntry(gtid, i);
    if (e < 0) return false;
    const domain = scanDomain;
    const seq = scanSeq;
    if (seq > 0) {
      const have = seqInPosition(position, domain);
      if (have < seq) return false;
    }
    i = skipSpaces(gtid, e);
    if (i >= len) return true;
    if (gtid.charCodeAt(i) !== 44) return false;
    i = skipSpaces(gtid, i + 1);
    if (i >= len) return false;
  }
}

/** The union of two positions: per domain the entry with the higher seq. Output sorted by domain. */
export function mergeGtidPositions(a: string, b: string): string {
  const pa = parseGtidPosition(a);
  const pb = parseGtidPosition(b);
  for (const [d, e] of pb) {
    const cur = pa.get(d);
    if (cur === undefined || e.seq > cur.seq) pa.set(d, e);
  }
  return formatGtidPosition(pa);
}

/** Formats domain → entry as a MariaDB position string, domains ascending. */
export function formatGtidPosition(p: ReadonlyMap<number, GtidEntry>): string {
  return [...p.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([d, e]) => `${d}-${e.server}-${e.seq}`)
    .join(',');
}

// Scanner results (module-level scratch so the hot helpers allocate nothing).
let scanDomain = 0;
let scanServer = 0;
let scanSeq = 0;

function skipSpaces(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i++;
  }
  return i;
}

/** Reads an unsigned decimal at i; returns the index after it, or -1. The value lands in scanNum. */
let scanNum = 0;
function scanNumber(s: string, i: number): number {
  const start = i;
  let v = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    i++;
  }
  if (i === start) return -1;
  scanNum = v;
  return i;
}

/** Reads `domain-server-seq` at i into scanDomain/scanServer/scanSeq; returns the index after it or -1. */
function scanEntry(s: string, i: number): number {
  i = scanNumber(s, i);
  if (i < 0 || s.charCodeAt(i) !== 45 /* - */) return -1;
  scanDomain = scanNum;
  i = scanNumber(s, i + 1);
  if (i < 0 || s.charCodeAt(i) !== 45) return -1;
  scanServer = scanNum;
  i = scanNumber(s, i + 1);
  if (i < 0) return -1;
  scanSeq = scanNum;
  return i;
}

/** The seq `position` holds for `domain`, or -1 when it has none (or is malformed there). */
function seqInPosition(position: string, domain: number): number {
  const len = position.length;
  let i = skipSpaces(position, 0);
  while (i < len) {
    const e = scanEntry(position, i);
    if (e < 0) return -1;
    if (scanDomain === domain) return scanSeq;
    i = skipSpaces(position, e);
    if (i >= len || position.charCodeAt(i) !== 44) return -1;
    i = skipSpaces(position, i + 1);
  }
  return -1;
}
