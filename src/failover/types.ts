// What the failover feature shows and offers to the rest of Sluice (admin SQL, HTTP API, metrics, CLI).
// The manager (manager.ts) implements FailoverControl; the admin layer depends only on these types.

/** Where the cluster is: serving normally, or with primary-bound statements held. */
export type FailoverPhase =
  /** The primary answers; nothing is held. */
  | 'normal'
  /** The primary stopped answering (or turned read-only); statements bound for it are held. */
  | 'primary_lost'
  /** A replica is being promoted (automatic failover). */
  | 'promoting'
  /** A planned switchover is running. */
  | 'switching_over';

export type FailoverEventKind =
  | 'primary_lost'
  | 'primary_recovered'
  | 'failover'
  | 'failover_refused'
  | 'failover_failed'
  | 'switchover'
  | 'switchover_failed'
  | 'followed'
  | 'fenced'
  | 'rejoined';

/** One entry of the failover history (newest last; bounded). */
export interface FailoverEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly kind: FailoverEventKind;
  /** Primary before the event (backend name). */
  readonly from: string | null;
  /** Primary after it (same as from when nothing changed). */
  readonly to: string | null;
  /** Human-readable account: why, what was done, what was refused. */
  readonly detail: string;
  /** For completed failovers/switchovers: milliseconds from detection (or start) to writes flowing again. */
  readonly durationMs: number | null;
}

export interface FailoverStats {
  /** Completed automatic failovers (promotions). */
  failovers: number;
  /** Completed planned switchovers. */
  switchovers: number;
  /** Primary changes made by someone else and followed by Sluice. */
  followed: number;
  /** Statements held at some point while the primary was away. */
  bufferedTotal: number;
  /** Held statements that failed (a buffer limit was hit). */
  bufferRejected: number;
  /** Interrupted statements re-run transparently (reads, and writes proven not to have committed). */
  retried: number;
  /** Interrupted transactions replayed on the new primary with matching results. */
  replayed: number;
  /** Interrupted transactions whose replay gave different results (client got an error). */
  replayMismatches: number;
  /** Interrupted COMMITs / writes whose outcome could not be proven (client got ER_ERROR_DURING_COMMIT). */
  outcomeUnknown: number;
}

export interface SwitchoverResult {
  readonly from: string;
  readonly to: string;
  /** Time statements were held, ms. */
  readonly pauseMs: number;
}

/** The failover feature as the admin layer sees it. */
export interface FailoverControl {
  /** Current phase. */
  phase(): FailoverPhase;
  /** Name of the backend serving as primary now. */
  primaryName(): string;
  /** Statements held right now, and their bytes. */
  buffered(): { statements: number; bytes: number };
  readonly stats: Readonly<FailoverStats>;
  /** History, oldest first. */
  history(): readonly FailoverEvent[];
  /**
   * Planned switchover to `target` (a replica's name; null = the most advanced healthy replica). Resolves
   * when writes flow to the new primary; rejects with an Error whose message says why it was refused or
   * failed (the old primary is then left or put back in service).
   */
  switchover(target: string | null): Promise<SwitchoverResult>;
}
