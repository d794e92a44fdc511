// Load generator with a ledger, for the failover chaos tests (test/integration/failover-chaos.test.ts).
//
// N mysql2 connections (one per client, no pool, text protocol) run a mix of autocommit writes, autocommit
// reads and short transactions through an endpoint (normally Sluice) until stop(). Every write carries a
// globally unique ledger id (client * 10_000_000 + local seq) whose fate is tracked:
//   acknowledged  the autocommit INSERT or the transaction's COMMIT returned OK: the row must exist;
//   unknown       the INSERT or the COMMIT returned an error (or the op was abandoned while committing): the
//                 row may or may not exist (never counted missing);
//   failed        a statement of the transaction before COMMIT failed (then ROLLBACK): the row must NOT exist.
// verifyLedger() compares the ledger with the rows a server holds. Every operation's outcome, every error and
// every dropped connection is recorded with timestamps, so a report can say when writes stopped and resumed
// relative to marks the test sets (mark('fault') …).
//
// Nothing here throws into the void: connection 'error'/'end' events are handled, every wait has a timeout,
// and stop() always resolves.
import mysql from 'mysql2/promise';
import { prng } from './fixtures.js';

// ---------------------------------------------------------------------------------------------------------
// Public types

export interface ChaosLoadOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Client connections (default 32). */
  clients?: number;
  /** Pause between two operations of one client, ms (default 2). */
  thinkMs?: number;
  /** Per-statement timeout, ms (default 30000): the connection is then destroyed and the client reconnects. */
  opTimeoutMs?: number;
  /** Connect timeout for the initial connections and reconnects, ms (default 10000). */
  connectTimeoutMs?: number;
  /** How long stop() waits for in-flight operations before abandoning them, ms (default 15000). */
  stopTimeoutMs?: number;
  /**
   * Runs after the tables are created and before the clients start (e.g. wait until the replicas have the
   * tables, so the first reads routed to a replica do not fail with ER_NO_SUCH_TABLE). Bounded by 60 s.
   */
  beforeStart?: () => Promise<void>;
  /** PRNG seed (default 1): the sequence of operations per client is deterministic. */
  seed?: number;
}

/** Operation kinds counted in ChaosReport.ops. */
export type ChaosOpKind = 'auto_write' | 'read' | 'tx';
/** Error kinds: the operation, or for a transaction the COMMIT itself ('tx_commit'), or a failed reconnect. */
export type ChaosErrorKind = 'auto_write' | 'read' | 'tx' | 'tx_commit' | 'connect';

export interface ChaosError {
  kind: ChaosErrorKind;
  /** Server errno (number) or a client-side code ('PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'CLIENT_TIMEOUT' …). */
  code: number | string;
  sqlState: string | null;
  message: string;
  /** The client (1-based) that saw it. */
  client: number;
  /** ms timestamp (Date.now()) when the error was seen. */
  at: number;
  /** ms timestamp when the failing operation started. */
  startedAt: number;
}

export interface ChaosDrop {
  client: number;
  at: number;
  reason: string;
}

export interface WritesAroundMark {
  /** ms from the last successful write completed before the mark to the mark (null: none). */
  lastWriteBeforeMs: number | null;
  /** ms from the mark to the completion of the first successful write that started after it (null: none). */
  firstWriteAfterMs: number | null;
  /** Client-visible errors seen at or after the mark. */
  errorsAfter: number;
}

export interface ChaosReport {
  clients: number;
  /** ms timestamps: first client started / stop() called. */
  startedAt: number;
  stoppedAt: number;
  durationMs: number;
  ops: Record<ChaosOpKind, { ok: number; errors: number }>;
  /** "<kind> <code> <sqlState>" → count, e.g. "auto_write ER1053 08S01", "tx PROTOCOL_CONNECTION_LOST -". */
  errorsByKind: Record<string, number>;
  errorCount: number;
  /** The first 50 errors. */
  errors: ChaosError[];
  connectionsDropped: number;
  /** The first 50 drops. */
  drops: ChaosDrop[];
  /** Ledger ids whose write was acknowledged (autocommit INSERT OK, or COMMIT OK). */
  acknowledged: number;
  /** Ledger ids whose write's outcome is unknown (error on the INSERT / COMMIT, or abandoned while committing). */
  outcomeUnknown: number;
  /** Transactions rolled back after an error before COMMIT (their rows must not exist). */
  failedTx: number;
  /** Reads that did not see this client's own acknowledged writes (session consistency violated). */
  readAnomalies: number;
  /** The first 20 read anomalies, as text. */
  readAnomalyDetails: string[];
  /** Longest time without a successful write completing (from start to stop). */
  maxWriteGapMs: number;
  /** ms timestamp where that gap began. */
  maxWriteGapFrom: number;
  /** Operations still running when stop() gave up waiting (abandoned). */
  abandonedOps: number;
  /** Label → ms timestamp (Date.now()) of mark(label). */
  marks: Record<string, number>;
  writesAroundMarks: Record<string, WritesAroundMark>;
}

export type LedgerState = 'acknowledged' | 'unknown' | 'failed' | 'pending';

export interface LedgerEntry {
  readonly id: number;
  readonly client: number;
  readonly kind: 'auto' | 'tx';
  /** ms timestamp when the operation (INSERT, or the transaction's BEGIN) started. */
  readonly startedAt: number;
  state: LedgerState;
}

export interface ChaosLedger {
  database: string;
  entries: ReadonlyMap<number, LedgerEntry>;
  /** client → transactions acknowledged (COMMIT OK): chaos_counter.n must be at least this. */
  txAcknowledged: ReadonlyMap<number, number>;
  /** client → transactions with an unknown outcome: chaos_counter.n may exceed txAcknowledged by up to this. */
  txUnknown: ReadonlyMap<number, number>;
}

export interface ChaosLoad {
  readonly options: Readonly<Required<Omit<ChaosLoadOptions, 'beforeStart'>>>;
  /** Records Date.now() under `label` (a second mark with the same label overwrites the first). */
  mark(label: string): void;
  markTime(label: string): number | undefined;
  /**
   * Resolves the ms from mark `label` to the completion of the first successful write (autocommit INSERT, or
   * committed transaction) that started after it; rejects after timeoutMs, or at once for an unknown label.
   */
  waitForWritesAfter(label: string, timeoutMs: number): Promise<number>;
  /** A snapshot of the running counters (same shape as the final report). */
  snapshot(): ChaosReport;
  /** Stops the clients, waits (bounded) for in-flight operations, closes the connections. Idempotent. */
  stop(): Promise<ChaosReport>;
  /** The ledger (final once stop() resolved). */
  ledger(): ChaosLedger;
}

export interface LedgerVerification {
  /** Rows on the server. */
  rows: number;
  /** Acknowledged ids with no row. */
  missing: number;
  missingIds: number[];
  /** Rows whose id was never attempted by this generator. */
  extra: number;
  extraIds: number[];
  /** Unknown-outcome ids that turned out committed (informational). */
  unknownPresent: number;
  /** Rows of transactions that failed before COMMIT and were rolled back (must be 0). */
  failedPresent: number;
  failedPresentIds: number[];
  /** Clients whose chaos_counter.n < acknowledged tx count, or > acknowledged + unknown-outcome tx count. */
  counterMismatches: number;
  counterDetails: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Internals

const ID_STRIDE = 10_000_000;
const MAX_KEPT = 50;

interface SqlError {
  code: number | string;
  sqlState: string | null;
  message: string;
  fatal: boolean;
}

class ClientTimeout extends Error {
  readonly code = 'CLIENT_TIMEOUT';
  readonly fatal = true;
}

function describeError(e: unknown): SqlError {
  const o = (typeof e === 'object' && e !== null ? e : {}) as {
    errno?: unknown;
    code?: unknown;
    sqlState?: unknown;
    sqlMessage?: unknown;
    message?: unknown;
    fatal?: unknown;
  };
  const sqlState = typeof o.sqlState === 'string' && o.sqlState !== '' ? o.sqlState : null;
  const message = String(o.sqlMessage ?? o.message ?? e);
  const serverErr = typeof o.errno === 'number' && o.errno > 0 && (sqlState !== null || (typeof o.code === 'string' && o.code.startsWith('ER_')));
  const code: number | string = serverErr ? (o.errno as number) : typeof o.code === 'string' ? o.code : typeof o.errno === 'number' ? o.errno : 'UNKNOWN';
  return { code, sqlState, message, fatal: o.fatal === true };
}

function codeKey(code: number | string): string {
  return typeof code === 'number' ? `ER${code}` : code;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves p, or rejects with `onTimeout()` after ms (the timer is always cleared). */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function quoteIdent(s: string): string {
  return '`' + s.replace(/`/g, '``') + '`';
}

interface Conn {
  conn: mysql.Connection;
  /** Gone (dropped by the other side, or destroyed by us after a timeout). */
  dead: boolean;
  /** Why it died (when dropped by the other side). */
  deadReason: string;
  /** We are closing it: events are not drops. */
  ours: boolean;
  /** The client using it (set by watch()); drops are counted for it. */
  client: ClientState | null;
}

interface ClientState {
  id: number;
  rnd: () => number;
  seq: number;
  c: Conn | null;
  /** Acknowledged ledger ids of this client (for point reads). */
  acked: number[];
  /** Acknowledged row count of this client (autocommit + tx rows). */
  ackedRows: number;
  txAcked: number;
  txUnknown: number;
}

class Load implements ChaosLoad {
  readonly options: Readonly<Required<Omit<ChaosLoadOptions, 'beforeStart'>>>;
  private readonly clients: ClientState[] = [];
  private running = false;
  /** Set once stop() gave up or finished: nothing is recorded after it. */
  private finalized = false;
  private loops: Promise<void>[] = [];
  private stopPromise: Promise<ChaosReport> | null = null;
  private startedAt = 0;
  private stopRequestedAt = 0;
  private abandoned = 0;

  private readonly ops: Record<ChaosOpKind, { ok: number; errors: number }> = {
    auto_write: { ok: 0, errors: 0 },
    read: { ok: 0, errors: 0 },
    tx: { ok: 0, errors: 0 },
  };
  private readonly errorsByKind: Record<string, number> = {};
  private readonly errors: ChaosError[] = [];
  private errorCount = 0;
  /** at timestamps of every error (for errorsAfter). */
  private readonly errorTimes: number[] = [];
  private dropped = 0;
  private readonly drops: ChaosDrop[] = [];
  private readAnomalies = 0;
  private readonly readAnomalyDetails: string[] = [];
  private readonly entries = new Map<number, LedgerEntry>();
  /** Successful writes in completion order. */
  private readonly writeStarts: number[] = [];
  private readonly writeEnds: number[] = [];
  private readonly marks = new Map<string, number>();
  private readonly waiters = new Set<{ after: number; resolve: (end: number) => void; reject: (e: Error) => void }>();

  constructor(opts: ChaosLoadOptions) {
    this.options = {
      host: opts.host,
      port: opts.port,
      user: opts.user,
      password: opts.password,
      database: opts.database,
      clients: opts.clients ?? 32,
      thinkMs: opts.thinkMs ?? 2,
      opTimeoutMs: opts.opTimeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 15_000,
      seed: opts.seed ?? 1,
    };
    if (this.options.clients < 1 || this.options.clients > 1000) throw new RangeError('clients must be 1..1000');
  }

  // --- connections

  private async connect(): Promise<Conn> {
    const o = this.options;
    let timedOut = false;
    const p = mysql.createConnection({
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password,
      database: o.database,
      multipleStatements: false,
      connectTimeout: o.connectTimeoutMs,
    });
    // A connection that arrives after our timeout is closed at once; a late rejection is swallowed.
    p.then(
      (c) => {
        if (timedOut) {
          c.on('error', () => {});
          c.destroy();
        }
      },
      () => {},
    );
    const conn = await withTimeout(p, o.connectTimeoutMs + 1000, () => {
      timedOut = true;
      return new ClientTimeout(`connect did not finish within ${o.connectTimeoutMs + 1000} ms`);
    });
    const c: Conn = { conn, dead: false, deadReason: '', ours: false, client: null };
    // Listeners from the first moment: an 'error' event without one would crash the process.
    conn.on('error', (e: unknown) => this.onDrop(c, `error event: ${describeError(e).message}`));
    conn.on('end', () => this.onDrop(c, 'end event (closed by the other side)'));
    return c;
  }

  /** Assigns a fresh connection to `client`; a drop before that moment is counted now. */
  private watch(client: ClientState, c: Conn): void {
    c.client = client;
    client.c = c;
    if (c.dead && !c.ours) this.countDrop(client, c.deadReason);
  }

  private onDrop(c: Conn, reason: string): void {
    if (c.ours || c.dead) return;
    c.dead = true;
    c.deadReason = reason;
    if (c.client) this.countDrop(c.client, reason);
  }

  private countDrop(client: ClientState, reason: string): void {
    if (this.finalized) return;
    this.dropped++;
    if (this.drops.length < MAX_KEPT) this.drops.push({ client: client.id, at: Date.now(), reason });
  }

  /** Destroys a connection on our own initiative (timeout, stop): not a drop. */
  private discard(c: Conn): void {
    c.ours = true;
    c.dead = true;
    try {
      c.conn.destroy();
    } catch {
      /* already closed */
    }
  }

  private async closeGracefully(c: Conn): Promise<void> {
    if (c.dead) {
      this.discard(c);
      return;
    }
    c.ours = true;
    try {
      await withTimeout(c.conn.end(), 2000, () => new Error('end timeout'));
    } catch {
      /* destroy below */
    }
    this.discard(c);
  }

  // --- recording

  private recordError(kind: ChaosErrorKind, client: number, startedAt: number, e: SqlError): void {
    if (this.finalized) return;
    const at = Date.now();
    this.errorCount++;
    this.errorTimes.push(at);
    const key = `${kind} ${codeKey(e.code)} ${e.sqlState ?? '-'}`;
    this.errorsByKind[key] = (this.errorsByKind[key] ?? 0) + 1;
    if (this.errors.length < MAX_KEPT) {
      this.errors.push({ kind, code: e.code, sqlState: e.sqlState, message: e.message.slice(0, 300), client, at, startedAt });
    }
  }

  private recordWrite(start: number): void {
    if (this.finalized) return;
    const end = Date.now();
    this.writeStarts.push(start);
    this.writeEnds.push(end);
    for (const w of this.waiters) {
      if (start >= w.after) {
        this.waiters.delete(w);
        w.resolve(end);
      }
    }
  }

  private anomaly(text: string): void {
    if (this.finalized) return;
    this.readAnomalies++;
    if (this.readAnomalyDetails.length < 20) this.readAnomalyDetails.push(text);
  }

  /** One statement with the op timeout; a timeout destroys the connection. Marks the connection dead on fatal errors. */
  private async q(client: ClientState, sql: string): Promise<unknown> {
    const c = client.c;
    if (!c || c.dead) throw Object.assign(new Error('connection is gone'), { code: 'CONNECTION_GONE', fatal: true });
    try {
      const [rows] = await withTimeout(c.conn.query(sql), this.options.opTimeoutMs, () => {
        this.discard(c);
        return new ClientTimeout(`no answer within ${this.options.opTimeoutMs} ms: ${sql.slice(0, 80)}`);
      });
      return rows;
    } catch (e) {
      if (describeError(e).fatal) this.onDrop(c, `fatal query error: ${describeError(e).message}`);
      throw e;
    }
  }

  // --- operations

  private nextId(client: ClientState): number {
    client.seq++;
    return client.id * ID_STRIDE + client.seq;
  }

  private async autoWrite(client: ClientState): Promise<void> {
    const id = this.nextId(client);
    const v = Math.floor(client.rnd() * 1_000_000);
    const start = Date.now();
    const entry: LedgerEntry = { id, client: client.id, kind: 'auto', startedAt: start, state: 'pending' };
    this.entries.set(id, entry);
    try {
      await this.q(client, `INSERT INTO chaos_ledger (id, client, kind, v) VALUES (${id}, ${client.id}, 'auto', ${v})`);
      if (this.finalized) return;
      entry.state = 'acknowledged';
      client.acked.push(id);
      client.ackedRows++;
      this.ops.auto_write.ok++;
      this.recordWrite(start);
    } catch (e) {
      if (this.finalized) return;
      // An autocommit write that failed may still have committed (e.g. the connection died after the commit).
      entry.state = 'unknown';
      this.ops.auto_write.errors++;
      this.recordError('auto_write', client.id, start, describeError(e));
    }
  }

  private async read(client: ClientState): Promise<void> {
    const start = Date.now();
    const point = client.acked.length > 0 && client.rnd() < 0.5;
    try {
      if (point) {
        const id = client.acked[Math.floor(client.rnd() * client.acked.length)]!;
        const rows = (await this.q(client, `SELECT id, v FROM chaos_ledger WHERE id = ${id}`)) as unknown[];
        if (this.finalized) return;
        if (!Array.isArray(rows) || rows.length !== 1) {
          this.anomaly(`client ${client.id}: acknowledged id ${id} not found by a point read at +${start - this.startedAt} ms`);
        }
      } else {
        const expected = client.ackedRows;
        const rows = (await this.q(client, `SELECT COUNT(*) AS n FROM chaos_ledger WHERE client = ${client.id}`)) as Array<{ n: unknown }>;
        if (this.finalized) return;
        const n = Number(rows[0]?.n);
        if (!(n >= expected)) {
          this.anomaly(`client ${client.id}: COUNT(*) = ${String(rows[0]?.n)} < ${expected} acknowledged rows at +${start - this.startedAt} ms`);
        }
      }
      this.ops.read.ok++;
    } catch (e) {
      if (this.finalized) return;
      this.ops.read.errors++;
      this.recordError('read', client.id, start, describeError(e));
    }
  }

  private async tx(client: ClientState): Promise<void> {
    const id = this.nextId(client);
    const v = Math.floor(client.rnd() * 1_000_000);
    const start = Date.now();
    const entry: LedgerEntry = { id, client: client.id, kind: 'tx', startedAt: start, state: 'pending' };
    this.entries.set(id, entry);
    try {
      await this.q(client, 'BEGIN');
      await this.q(client, `INSERT INTO chaos_ledger (id, client, kind, v) VALUES (${id}, ${client.id}, 'tx', ${v})`);
      await this.q(client, `UPDATE chaos_counter SET n = n + 1 WHERE client = ${client.id}`);
      await this.q(client, `SELECT n FROM chaos_counter WHERE client = ${client.id}`);
    } catch (e) {
      if (this.finalized) return;
      entry.state = 'failed';
      this.ops.tx.errors++;
      this.recordError('tx', client.id, start, describeError(e));
      if (client.c && !client.c.dead) {
        try {
          await this.q(client, 'ROLLBACK');
        } catch {
          /* ignored: the server rolls back when the connection goes */
        }
      }
      return;
    }
    // From here on the outcome is unknown until COMMIT answers (also when stop() abandons us).
    entry.state = 'unknown';
    try {
      await this.q(client, 'COMMIT');
      if (this.finalized) return;
      entry.state = 'acknowledged';
      client.acked.push(id);
      client.ackedRows++;
      client.txAcked++;
      this.ops.tx.ok++;
      this.recordWrite(start);
    } catch (e) {
      if (this.finalized) return;
      client.txUnknown++;
      this.ops.tx.errors++;
      this.recordError('tx_commit', client.id, start, describeError(e));
    }
  }

  // --- loops

  private async reconnect(client: ClientState): Promise<boolean> {
    while (this.running) {
      const start = Date.now();
      try {
        const c = await this.connect();
        if (!this.running || this.finalized) {
          this.discard(c);
          return false;
        }
        this.watch(client, c);
        return true;
      } catch (e) {
        this.recordError('connect', client.id, start, describeError(e));
        await sleep(250);
      }
    }
    return false;
  }

  private async loop(client: ClientState): Promise<void> {
    while (this.running) {
      if (!client.c || client.c.dead) {
        if (client.c) this.discard(client.c);
        client.c = null;
        if (!(await this.reconnect(client))) break;
      }
      const r = client.rnd();
      if (r < 0.4) await this.autoWrite(client);
      else if (r < 0.8) await this.read(client);
      else await this.tx(client);
      if (this.options.thinkMs > 0 && this.running) await sleep(this.options.thinkMs);
    }
  }

  async start(beforeStart?: () => Promise<void>): Promise<void> {
    const o = this.options;
    const db = o.database;
    // Setup through the endpoint.
    const setup = await this.connect();
    try {
      const run = (sql: string) => withTimeout(setup.conn.query(sql), 30_000, () => new Error(`setup statement timed out: ${sql}`));
      await run('DROP TABLE IF EXISTS chaos_ledger');
      await run('DROP TABLE IF EXISTS chaos_counter');
      await run('CREATE TABLE chaos_ledger (id BIGINT PRIMARY KEY, client INT NOT NULL, kind VARCHAR(8) NOT NULL, v INT NOT NULL)');
      await run('CREATE TABLE chaos_counter (client INT PRIMARY KEY, n INT NOT NULL)');
      const values = Array.from({ length: o.clients }, (_, i) => `(${i + 1}, 0)`).join(', ');
      await run(`INSERT INTO chaos_counter (client, n) VALUES ${values}`);
    } catch (e) {
      throw new Error(`chaos load setup in ${db} failed: ${describeError(e).message}`);
    } finally {
      await this.closeGracefully(setup);
    }
    if (beforeStart) await withTimeout(beforeStart(), 60_000, () => new Error('chaos load beforeStart() did not finish within 60 s'));

    for (let i = 1; i <= o.clients; i++) {
      this.clients.push({ id: i, rnd: prng(o.seed * 7919 + i), seq: 0, c: null, acked: [], ackedRows: 0, txAcked: 0, txUnknown: 0 });
    }
    const opened = await Promise.allSettled(this.clients.map(() => this.connect()));
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of opened) if (r.status === 'fulfilled') await this.closeGracefully(r.value);
      throw new Error(`chaos load: opening ${o.clients} connections failed: ${describeError((failed as PromiseRejectedResult).reason).message}`);
    }
    opened.forEach((r, i) => this.watch(this.clients[i]!, (r as PromiseFulfilledResult<Conn>).value));
    this.running = true;
    this.startedAt = Date.now();
    this.loops = this.clients.map((cl) =>
      this.loop(cl).catch((e: unknown) => {
        // A bug in the loop itself: record it rather than leaving an unhandled rejection.
        this.recordError('connect', cl.id, Date.now(), { code: 'LOOP_CRASH', sqlState: null, message: String((e as Error)?.stack ?? e), fatal: true });
      }),
    );
  }

  // --- public API

  mark(label: string): void {
    this.marks.set(label, Date.now());
  }

  markTime(label: string): number | undefined {
    return this.marks.get(label);
  }

  waitForWritesAfter(label: string, timeoutMs: number): Promise<number> {
    const at = this.marks.get(label);
    if (at === undefined) return Promise.reject(new Error(`waitForWritesAfter: no mark '${label}'`));
    for (let i = 0; i < this.writeStarts.length; i++) {
      if (this.writeStarts[i]! >= at) return Promise.resolve(this.writeEnds[i]! - at);
    }
    if (this.finalized) return Promise.reject(new Error(`waitForWritesAfter('${label}'): the load is stopped and no write succeeded after the mark`));
    return new Promise<number>((resolve, reject) => {
      const w = {
        after: at,
        resolve: (end: number) => {
          clearTimeout(timer);
          resolve(end - at);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        const errs = this.errorTimes.filter((t) => t >= at).length;
        const kinds = Object.entries(this.errorsByKind)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([k, n]) => `${k} ×${n}`)
          .join(', ');
        reject(
          new Error(
            `no successful write started after mark '${label}' within ${timeoutMs} ms ` +
              `(${errs} client errors since the mark; top error kinds overall: ${kinds || 'none'}; drops: ${this.dropped})`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  snapshot(): ChaosReport {
    const end = this.stopRequestedAt || Date.now();
    // Longest stretch without a successful write completing, over [startedAt, end].
    const ends = [...this.writeEnds].sort((a, b) => a - b);
    let maxGap = 0;
    let maxGapFrom = this.startedAt;
    let prev = this.startedAt;
    for (const t of [...ends, end]) {
      if (t - prev > maxGap) {
        maxGap = t - prev;
        maxGapFrom = prev;
      }
      if (t > prev) prev = t;
    }
    const marks: Record<string, number> = {};
    const around: Record<string, WritesAroundMark> = {};
    for (const [label, at] of this.marks) {
      marks[label] = at;
      let lastBefore: number | null = null;
      let firstAfter: number | null = null;
      for (let i = 0; i < this.writeEnds.length; i++) {
        const e = this.writeEnds[i]!;
        if (e <= at && (lastBefore === null || e > lastBefore)) lastBefore = e;
        if (this.writeStarts[i]! >= at && (firstAfter === null || e < firstAfter)) firstAfter = e;
      }
      around[label] = {
        lastWriteBeforeMs: lastBefore === null ? null : at - lastBefore,
        firstWriteAfterMs: firstAfter === null ? null : firstAfter - at,
        errorsAfter: this.errorTimes.filter((t) => t >= at).length,
      };
    }
    let acknowledged = 0;
    let unknown = 0;
    let failed = 0;
    for (const e of this.entries.values()) {
      if (e.state === 'acknowledged') acknowledged++;
      else if (e.state === 'unknown') unknown++;
      else if (e.state === 'failed' && e.kind === 'tx') failed++;
    }
    return {
      clients: this.options.clients,
      startedAt: this.startedAt,
      stoppedAt: end,
      durationMs: end - this.startedAt,
      ops: {
        auto_write: { ...this.ops.auto_write },
        read: { ...this.ops.read },
        tx: { ...this.ops.tx },
      },
      errorsByKind: { ...this.errorsByKind },
      errorCount: this.errorCount,
      errors: this.errors.map((e) => ({ ...e })),
      connectionsDropped: this.dropped,
      drops: this.drops.map((d) => ({ ...d })),
      acknowledged,
      outcomeUnknown: unknown,
      failedTx: failed,
      readAnomalies: this.readAnomalies,
      readAnomalyDetails: [...this.readAnomalyDetails],
      maxWriteGapMs: maxGap,
      maxWriteGapFrom: maxGapFrom,
      abandonedOps: this.abandoned,
      marks,
      writesAroundMarks: around,
    };
  }

  stop(): Promise<ChaosReport> {
    if (!this.stopPromise) this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<ChaosReport> {
    this.stopRequestedAt = Date.now();
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    const inFlight = new Set(this.loops);
    for (const l of this.loops) void l.then(() => inFlight.delete(l));
    await Promise.race([
      Promise.all(this.loops),
      new Promise<void>((r) => (timer = setTimeout(r, this.options.stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    this.abandoned = inFlight.size;
    // Anything still pending is final now: an abandoned INSERT or COMMIT has an unknown outcome; an abandoned
    // transaction that had not reached COMMIT is rolled back when its connection is destroyed.
    for (const e of this.entries.values()) {
      if (e.state === 'pending') e.state = e.kind === 'auto' ? 'unknown' : 'failed';
    }
    for (const cl of this.clients) {
      let n = 0;
      for (const e of this.entries.values()) if (e.client === cl.id && e.kind === 'tx' && e.state === 'unknown') n++;
      cl.txUnknown = n;
    }
    const report = this.snapshot();
    this.finalized = true;
    for (const w of this.waiters) w.reject(new Error('the load was stopped before a write succeeded after the mark'));
    this.waiters.clear();
    await Promise.all(
      this.clients.map(async (cl) => {
        const c = cl.c;
        cl.c = null;
        if (c) await this.closeGracefully(c);
      }),
    );
    return report;
  }

  ledger(): ChaosLedger {
    const txAcknowledged = new Map<number, number>();
    const txUnknown = new Map<number, number>();
    for (const cl of this.clients) {
      txAcknowledged.set(cl.id, cl.txAcked);
      txUnknown.set(cl.id, cl.txUnknown);
    }
    return { database: this.options.database, entries: this.entries, txAcknowledged, txUnknown };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/**
 * Creates chaos_ledger and chaos_counter through the endpoint (dropping earlier ones), opens the client
 * connections and starts the load. Rejects (with nothing left open) if the setup or a connection fails.
 */
export async function startChaosLoad(opts: ChaosLoadOptions): Promise<ChaosLoad> {
  const load = new Load(opts);
  await load.start(opts.beforeStart);
  return load;
}

/**
 * Compares the ledger of a stopped load with the rows `query` returns (run it against one server directly,
 * e.g. the current primary as root; rows as arrays). Call after stop().
 */
export async function verifyLedger(load: ChaosLoad, query: (sql: string) => Promise<unknown[][]>): Promise<LedgerVerification> {
  const ledger = load.ledger();
  const db = quoteIdent(ledger.database);
  const idRows = await query(`SELECT id FROM ${db}.chaos_ledger`);
  const present = new Set<number>();
  for (const r of idRows) present.add(Number(r[0]));

  const missingIds: number[] = [];
  let missing = 0;
  let unknownPresent = 0;
  let failedPresent = 0;
  const failedPresentIds: number[] = [];
  for (const e of ledger.entries.values()) {
    const here = present.has(e.id);
    if (e.state === 'acknowledged' && !here) {
      missing++;
      if (missingIds.length < 20) missingIds.push(e.id);
    } else if (e.state === 'unknown' && here) {
      unknownPresent++;
    } else if (e.state === 'failed' && here) {
      failedPresent++;
      if (failedPresentIds.length < 20) failedPresentIds.push(e.id);
    }
  }
  let extra = 0;
  const extraIds: number[] = [];
  for (const id of present) {
    if (!ledger.entries.has(id)) {
      extra++;
      if (extraIds.length < 20) extraIds.push(id);
    }
  }

  const counterRows = await query(`SELECT client, n FROM ${db}.chaos_counter`);
  const counters = new Map<number, number>();
  for (const r of counterRows) counters.set(Number(r[0]), Number(r[1]));
  let counterMismatches = 0;
  const counterDetails: string[] = [];
  for (const [client, acked] of ledger.txAcknowledged) {
    const unknown = ledger.txUnknown.get(client) ?? 0;
    const n = counters.get(client);
    if (n === undefined || n < acked || n > acked + unknown) {
      counterMismatches++;
      if (counterDetails.length < 10) counterDetails.push(`client ${client}: n=${n ?? 'no row'}, acknowledged tx ${acked}, unknown-outcome tx ${unknown}`);
    }
  }
  return { rows: present.size, missing, missingIds, extra, extraIds, unknownPresent, failedPresent, failedPresentIds, counterMismatches, counterDetails };
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

function rel(t: number, base: number): string {
  const d = t - base;
  return `${d >= 0 ? '+' : ''}${d} ms`;
}

function ms(v: number | null): string {
  return v === null ? 'none' : `${v} ms`;
}

/** A compact multi-line text block (times relative to the start of the load). */
export function formatReport(name: string, report: ChaosReport, extra: Record<string, string | number> = {}): string {
  const r = report;
  const base = r.startedAt;
  const lines: string[] = [];
  const total = r.ops.auto_write.ok + r.ops.read.ok + r.ops.tx.ok;
  lines.push(`chaos scenario: ${name}`);
  lines.push(
    `  load: ${r.clients} clients, ${(r.durationMs / 1000).toFixed(1)} s, ${total} ok ops ` +
      `(${r.durationMs > 0 ? Math.round((total * 1000) / r.durationMs) : 0}/s); ok/errors: ` +
      `auto_write ${r.ops.auto_write.ok}/${r.ops.auto_write.errors}, read ${r.ops.read.ok}/${r.ops.read.errors}, tx ${r.ops.tx.ok}/${r.ops.tx.errors}`,
  );
  const markList = Object.entries(r.marks).sort((a, b) => a[1] - b[1]);
  if (markList.length > 0) {
    lines.push(`  marks: ${markList.map(([l, t]) => `${l} ${rel(t, base)}`).join(', ')}`);
    for (const [l] of markList) {
      const w = r.writesAroundMarks[l]!;
      lines.push(`  around '${l}': last write ${ms(w.lastWriteBeforeMs)} before, first write started after it done ${ms(w.firstWriteAfterMs)} after; ${w.errorsAfter} errors from it on`);
    }
  }
  lines.push(`  max write gap: ${r.maxWriteGapMs} ms (from ${rel(r.maxWriteGapFrom, base)})`);
  lines.push(
    `  writes: ${r.acknowledged} acknowledged, ${r.outcomeUnknown} outcome unknown, ${r.failedTx} tx rolled back; ` +
      `read anomalies ${r.readAnomalies}; connections dropped ${r.connectionsDropped}; abandoned at stop ${r.abandonedOps}`,
  );
  const kinds = Object.entries(r.errorsByKind).sort((a, b) => b[1] - a[1]);
  lines.push(`  client-visible errors: ${r.errorCount}${kinds.length ? ' — ' + kinds.map(([k, n]) => `${k} ×${n}`).join('; ') : ''}`);
  for (const e of r.errors.slice(0, 8)) {
    lines.push(`    ${rel(e.at, base)} client ${e.client} ${e.kind} ${codeKey(e.code)} ${e.sqlState ?? '-'} (op started ${rel(e.startedAt, base)}): ${e.message.replace(/\s+/g, ' ').slice(0, 160)}`);
  }
  if (r.errors.length > 8) lines.push(`    … ${r.errorCount - 8} more`);
  for (const d of r.drops.slice(0, 5)) lines.push(`    drop ${rel(d.at, base)} client ${d.client}: ${d.reason.slice(0, 160)}`);
  for (const a of r.readAnomalyDetails.slice(0, 5)) lines.push(`    read anomaly: ${a}`);
  // Extra figures, key=value, several per line up to ~140 characters (long values get a line of their own).
  let cur = '';
  for (const [k, v] of Object.entries(extra)) {
    const item = `${k}=${v}`;
    if (cur !== '' && cur.length + 1 + item.length > 140) {
      lines.push(`  ${cur}`);
      cur = '';
    }
    cur = cur === '' ? item : `${cur} ${item}`;
  }
  if (cur !== '') lines.push(`  ${cur}`);
  return lines.join('\n');
}
