// The failover buffer: while the primary is away, statements bound for it wait here instead of failing,
// and are released in arrival order to whichever server is the primary afterwards. Reads that may go to a
// replica never come here.
//
// Limits (failover.buffer.*): a statement is held at most window_ms; at most max_statements / max_bytes
// are held at once; a failover that lasts longer than max_duration_ms fails everything held and refuses new
// holds until the primary is back. Every refusal is a retryable error (SQLSTATE 08S01, ER_SERVER_SHUTDOWN's
// number), so drivers and ORMs that retry on connection-class errors do so.
import { BackendError } from '../backend/internal-response.js';
import type { FailoverConfig } from '../config/schema.js';

/** A session waiting for the primary. Methods, not closures (one per held statement otherwise). */
export interface HeldStatement {
  /** A primary is available again: go on (the session re-resolves the primary's pool). */
  onFailoverReleased(): void;
  /** A limit was hit: the statement will not run; tell the client. */
  onFailoverRejected(err: BackendError): void;
}

interface Entry {
  s: HeldStatement;
  bytes: number;
  timer: NodeJS.Timeout | null;
}

export const RETRYABLE = { code: 1053, sqlState: '08S01' } as const;

export class FailoverBuffer {
  private held: Entry[] = [];
  private heldBytes = 0;
  private active = false;
  /** max_duration_ms passed: new statements fail at once until release(). */
  private expired = false;
  private startedAt = 0;
  private durationTimer: NodeJS.Timeout | null = null;
  /** Statements ever held, and refused (counted by the manager's stats). */
  total = 0;
  rejected = 0;

  constructor(private limits: FailoverConfig['buffer']) {}

  updateLimits(limits: FailoverConfig['buffer']): void {
    this.limits = limits;
  }

  /** True while statements bound for the primary must come here. */
  get holding(): boolean {
    return this.active;
  }

  /** max_duration_ms has passed in this failover. */
  get timedOut(): boolean {
    return this.expired;
  }

  get count(): number {
    return this.held.length;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Starts holding (idempotent). */
  begin(): void {
    if (this.active) return;
    this.active = true;
    this.expired = false;
    this.startedAt = Date.now();
    const max = this.limits.max_duration_ms;
    this.durationTimer = setTimeout(() => {
      this.durationTimer = null;
      this.expired = true;
      this.rejectAll(`the failover has lasted longer than failover.buffer.max_duration_ms (${max} ms)`);
    }, max);
    this.durationTimer.unref();
  }

  /**
   * Holds a statement. Returns false (and holds nothing) when a limit forbids it; the caller then reports
   * `refusal()` to the client.
   */
  hold(s: HeldStatement, bytes: number): boolean {
    const l = this.limits;
    if (this.expired || this.held.length >= l.max_statements || this.heldBytes + bytes > l.max_bytes || l.window_ms === 0) {
      this.rejected++;
      return false;
    }
    const e: Entry = { s, bytes, timer: null };
    e.timer = setTimeout(() => this.expire(e), l.window_ms);
    e.timer.unref();
    this.held.push(e);
    this.heldBytes += bytes;
    this.total++;
    return true;
  }

  /** Why hold() refused, as the error the client gets. */
  refusal(): BackendError {
    const l = this.limits;
    const why = this.expired
      ? `the failover has lasted longer than failover.buffer.max_duration_ms (${l.max_duration_ms} ms)`
      : this.held.length >= l.max_statements
        ? `failover.buffer.max_statements (${l.max_statements}) statements are already held`
        : `failover.buffer.max_bytes (${l.max_bytes}) bytes are already held`;
    return retryable(why);
  }

  /** The session went away (client closed): forget its statement. */
  cancel(s: HeldStatement): void {
    const i = this.held.findIndex((e) => e.s === s);
    if (i < 0) return;
    const e = this.held[i]!;
    this.held.splice(i, 1);
    this.heldBytes -= e.bytes;
    if (e.timer) clearTimeout(e.timer);
  }

  /** A primary is available: release everything held, in arrival order. Returns how long holding lasted. */
  release(): number {
    const ms = this.active ? Date.now() - this.startedAt : 0;
    this.stop();
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const e of held) {
      if (e.timer) clearTimeout(e.timer);
      e.s.onFailoverReleased();
    }
    return ms;
  }

  /** Fails everything held (keeps holding, unless stop() follows). */
  rejectAll(why: string): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const e of held) {
      if (e.timer) clearTimeout(e.timer);
      this.rejected++;
      e.s.onFailoverRejected(retryable(why));
    }
  }

  private stop(): void {
    this.active = false;
    this.expired = false;
    if (this.durationTimer) {
      clearTimeout(this.durationTimer);
      this.durationTimer = null;
    }
  }

  private expire(e: Entry): void {
    const i = this.held.indexOf(e);
    if (i < 0) return;
    this.held.splice(i, 1);
    this.heldBytes -= e.bytes;
    e.timer = null;
    this.rejected++;
    e.s.onFailoverRejected(retryable(`the statement waited failover.buffer.window_ms (${this.limits.window_ms} ms) for a primary`));
  }
}

function retryable(why: string): BackendError {
  return new BackendError(`Sluice: the primary is unavailable (failover in progress) and the statement was not run: ${why}. It is safe to retry.`, RETRYABLE.code, RETRYABLE.sqlState, 'SLUICE_FAILOVER_BUFFER');
}
