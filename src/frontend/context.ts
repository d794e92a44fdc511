// What every client session shares: config, pools, users, the session registry and counters.
import { readFileSync } from 'node:fs';
import type { SecureContext } from 'node:tls';
import type { KeyObject } from 'node:crypto';
import type { SluiceConfig } from '../config/schema.js';
import type { PoolManager, PoolOptions } from '../backend/pool.js';
import type { BackendEndpoint } from '../backend/connection.js';
import { AdminChannel } from '../backend/admin-channel.js';
import { DigestStats } from './digest-stats.js';
import { StatementStats } from './statement-stats.js';
import type { FailoverManager } from '../failover/manager.js';
import type { UserDirectory } from './users.js';
import type { Router } from '../router/router.js';
import type { Logger } from '../util/log.js';

export interface SessionHandle {
  readonly id: number;
  readonly userName: string;
  /** Thread id of the backend connection serving the session right now, or 0. */
  currentBackendThreadId(): number;
  /** Name of the backend that connection belongs to, or null. */
  currentBackendName(): string | null;
  /** Ends the session (KILL CONNECTION). */
  kill(): void;
  /** Finishes the current statement then closes (graceful shutdown). */
  drain(): void;
  readonly idle: boolean;
}

export type ConsistencyLevel = 'eventual' | 'session' | 'instance' | 'global';

export const PinReason = {
  TRANSACTION: 'transaction',
  LOCK_TABLES: 'lock_tables',
  USER_LOCK: 'user_lock',
  TEMP_TABLE: 'temp_table',
  PREPARE_SQL: 'prepared_sql',
  CURSOR: 'cursor',
  LONG_DATA: 'long_data',
  SET_OPTION: 'set_option',
  UNTRACKED_STATE: 'untracked_state',
  WARNINGS: 'warnings',
  FOUND_ROWS: 'found_rows',
  SET_TRANSACTION: 'set_transaction',
  NO_MULTIPLEXING: 'multiplexing_off',
} as const;
export type PinReasonName = (typeof PinReason)[keyof typeof PinReason];

export interface Counters {
  clientConnections: number;
  clientConnectionsTotal: number;
  authFailures: number;
  statements: number;
  syncs: number;
  pins: Record<string, number>;
}

export class ProxyContext {
  readonly sessions = new Map<number, SessionHandle>();
  readonly userConnections = new Map<string, number>();
  readonly counters: Counters = {
    clientConnections: 0,
    clientConnectionsTotal: 0,
    authFailures: 0,
    statements: 0,
    syncs: 0,
    pins: {},
  };
  private nextId = 1;
  serverVersion = '10.11.0-MariaDB-sluice';
  secureContext: SecureContext | null = null;
  rsaPrivateKey: KeyObject | null = null;
  rsaPublicPem = '';
  draining = false;
  /** Read/write splitting; null when no replica is configured. */
  router: Router | null = null;
  /** Per-digest statement statistics (SLUICE SHOW DIGESTS, /api/v1/digests). */
  readonly digests = new DigestStats();
  /** Statements by backend and route, latency histograms, errors by code (/metrics). */
  readonly statementStats = new StatementStats();
  /** The failover feature (null when disabled or without replicas). */
  failover: FailoverManager | null = null;
  /** Re-reads the config file and applies it (set by app.ts when started from a file); throws with the reason. */
  reloadFromFile: (() => string[]) | null = null;

  constructor(
    public config: SluiceConfig,
    readonly pools: PoolManager,
    readonly users: UserDirectory,
    readonly admin: AdminChannel | null,
    public primary: BackendEndpoint,
    readonly log: Logger,
  ) {}

  /** Bumped whenever the primary changes; sessions re-resolve their primary pool when it moved. */
  primaryEpoch = 0;

  /**
   * The primary is now `endpoint` (failover, switchover, followed change). Sessions pick up new pools on
   * their next statement; the monitor account's channel follows. The caller closes the old pools.
   */
  setPrimary(endpoint: BackendEndpoint): void {
    this.primary = endpoint;
    this.primaryEpoch++;
    this.admin?.retarget(endpoint);
    // The old primary's channel (if any) is kept under its name for KILLs on it as a replica.
    const ch = this.adminChannels.get(endpoint.name);
    if (ch) {
      ch.close();
      this.adminChannels.delete(endpoint.name);
    }
  }

  private readonly adminChannels = new Map<string, AdminChannel>();

  /** The monitor account's channel to a backend (the primary's is `admin`), for KILL. */
  adminFor(backend: string | null): AdminChannel | null {
    if (backend === null || backend === this.primary.name) return this.admin;
    let ch = this.adminChannels.get(backend);
    if (!ch) {
      const b = this.config.backends.find((x) => x.name === backend);
      if (!b) return null;
      const opts = poolOptionsFrom(this.config);
      ch = new AdminChannel({ name: b.name, host: b.host, port: b.port }, this.config.monitor.user, this.config.monitor.password, { connectTimeoutMs: opts.connectTimeoutMs, tls: opts.tls });
      this.adminChannels.set(backend, ch);
    }
    return ch;
  }

  closeAdminChannels(): void {
    for (const ch of this.adminChannels.values()) ch.close();
    this.adminChannels.clear();
  }

  allocateId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    return id;
  }

  countPin(reason: PinReasonName): void {
    this.counters.pins[reason] = (this.counters.pins[reason] ?? 0) + 1;
  }

  poolOptions(): PoolOptions {
    return poolOptionsFrom(this.config);
  }
}

export function poolOptionsFrom(config: SluiceConfig): PoolOptions {
  const p = config.pool;
  return {
    min: p.min,
    max: p.max,
    connectTimeoutMs: p.connect_timeout_ms,
    // 0 means "never" in the config.
    idleTimeoutMs: p.idle_timeout_ms === 0 ? Infinity : p.idle_timeout_ms,
    maxLifetimeMs: p.max_lifetime_ms === 0 ? Infinity : p.max_lifetime_ms,
    acquireTimeoutMs: p.acquire_timeout_ms,
    tls: config.backend_tls.enabled
      ? { ca: config.backend_tls.ca ? readFileSync(config.backend_tls.ca) : undefined, rejectUnauthorized: config.backend_tls.reject_unauthorized }
      : null,
  };
}
