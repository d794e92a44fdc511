// What the admin surfaces (HTTP API, metrics) read from a running Sluice, as narrow read-only interfaces.
// ProxyContext, BackendPool, BackendMonitor and ClientSession satisfy them structurally, so the admin code
// depends on no internals and its tests can use plain objects.
import type { BackendEndpoint } from '../backend/connection.js';
import type { TopologySnapshot } from '../router/topology-snapshot.js';
import type { Counters } from '../frontend/context.js';
import type { DigestStats } from '../frontend/digest-stats.js';
import type { StatementStats } from '../frontend/statement-stats.js';
import type { FailoverControl } from '../failover/types.js';

/**
 * One client session as the admin API shows it. `id`, `userName`, `idle` and `currentBackendThreadId()` are
 * SessionHandle's; the optional members are read when the session has them (ClientSession: `remoteHost`,
 * `secure`, `state.schema`, `pinReasons()` exist; `connectedAt`, `currentStatement()` and
 * `currentBackendName()` are to be added) and shown as null otherwise.
 */
export interface AdminSessionView {
  readonly id: number;
  /** '' while the client is still logging in. */
  readonly userName: string;
  readonly idle: boolean;
  currentBackendThreadId(): number;
  /** Client address ('localhost' for a Unix socket). */
  readonly remoteHost?: string;
  /** TLS in use on the client connection. */
  readonly secure?: boolean;
  readonly state?: { readonly schema: string | null };
  /** Why the session holds its backend connection (empty: it does not). */
  pinReasons?(): readonly string[];
  /** When the client connected (ms since the epoch). */
  readonly connectedAt?: number;
  /** SQL text of the statement being served (COM_QUERY, or the prepared statement's SQL), null when idle.
   *  The admin layer shows it normalized (literals replaced by ?), never as sent. */
  currentStatement?(): string | null;
  /** Name of the backend whose connection serves the session right now, null when it holds none. */
  currentBackendName?(): string | null;
}

/** One backend connection pool (BackendPool). */
export interface AdminPoolView {
  /** backend name, NUL, backend user, NUL, profile capabilities */
  readonly key: string;
  readonly endpoint: BackendEndpoint;
  readonly profileCaps: number;
  /** Open connections plus those being opened. */
  readonly size: number;
  readonly idleCount: number;
  readonly waiting: number;
  readonly stats: {
    readonly created: number;
    readonly destroyed: number;
    readonly connectErrors: number;
    readonly acquireTimeouts: number;
    readonly waits: number;
    readonly pipelined: number;
    readonly evicted: number;
  };
}

export interface AdminRouterStats {
  readonly replicaReads: number;
  readonly primaryReads: number;
  readonly gtidWaits: number;
  readonly gtidWaitTimeouts: number;
  readonly noReplica: number;
}

/** What the admin surfaces read from the proxy (ProxyContext fits). */
export interface AdminContext {
  readonly counters: Readonly<Counters>;
  readonly sessions: ReadonlyMap<number, AdminSessionView>;
  readonly pools: { list(): readonly AdminPoolView[] };
  readonly primary: BackendEndpoint;
  readonly router: { readonly stats: AdminRouterStats } | null;
  /** Per-digest statement statistics (absent in tests that do not need them). */
  readonly digests?: DigestStats;
  /** Statements by backend and route, latency histograms, errors by code (absent in tests that do not need them). */
  readonly statementStats?: StatementStats;
  /**
   * The failover feature, read at request/scrape time (ProxyContext sets it after start; null when failover is
   * disabled or no replica is configured). Its primaryName() is the live primary shown by the backend views.
   */
  readonly failover?: FailoverControl | null;
}

/** The backend monitor (BackendMonitor fits). */
export interface AdminMonitor {
  snapshot(): TopologySnapshot;
}

/** State-changing commands, implemented by the router. */
export interface AdminActions {
  /** Takes a backend out of service (offline = true) or puts it back. Returns false for an unknown name. */
  setBackendOffline(name: string, offline: boolean): boolean;
  /** Whether a backend was taken out by setBackendOffline (optional: shown as `offline` in /api/v1/backends). */
  isBackendOffline?(name: string): boolean;
}
