// Backend connection pools, one per (backend, backend user, connection profile). Acquire is synchronous
// when an idle connection exists (the hot path); otherwise the caller waits in a FIFO queue with a
// deadline. Idle connections are reused LIFO so a few stay warm and the rest can expire.
import { BackendConnection, type BackendCredentials, type BackendEndpoint, type BackendOwner, type BackendTlsOptions } from './connection.js';
import { BackendError } from './internal-response.js';
import type { Logger } from '../util/log.js';
import { clock } from '../util/clock.js';

export interface PoolOptions {
  min: number;
  max: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  acquireTimeoutMs: number;
  tls: BackendTlsOptions | null;
}

/** Whoever waits for a connection. Methods, not closures, so waiting allocates nothing per statement. */
export interface PoolWaiter {
  onConnectionAcquired(conn: BackendConnection): void;
  onConnectionFailed(err: Error): void;
  /** A shared connection was just handed to an earlier waiter: join it now if this waiter's statement may (pipelining). */
  joinWaiting?(conn: BackendConnection): boolean;
}

/** A client keeping a connection only as a courtesy (warnings of its last statement); gives it up on demand. */
export interface StickyHolder {
  releaseSticky(): void;
}

interface QueuedWaiter {
  waiter: PoolWaiter;
  timer: NodeJS.Timeout;
}

export class BackendPool implements BackendOwner {
  private readonly idle: BackendConnection[] = [];
  private readonly all = new Set<BackendConnection>();
  private readonly waiters: QueuedWaiter[] = [];
  private readonly sticky = new Set<StickyHolder>();
  /** Connections in shared (pipelining) mode that more pipelined statements may join. */
  readonly shared: BackendConnection[] = [];
  private connecting = 0;
  private closed = false;
  private sweeper: NodeJS.Timeout;
  /** Counters for operators. */
  readonly stats = { created: 0, destroyed: 0, connectErrors: 0, acquireTimeouts: 0, waits: 0, pipelined: 0, joined: 0, evicted: 0 };

  constructor(
    readonly key: string,
    readonly endpoint: BackendEndpoint,
    private readonly creds: BackendCredentials,
    readonly profileCaps: number,
    private opts: PoolOptions,
    private readonly log: Logger,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(opts.idleTimeoutMs, 10000)));
    this.sweeper.unref();
    this.fillMin();
  }

  /** Closed (shutdown, or the primary moved away from this backend): get a new pool from the manager. */
  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.all.size + this.connecting;
  }
  get idleCount(): number {
    return this.idle.length;
  }
  get waiting(): number {
    return this.waiters.length;
  }

  updateOptions(opts: PoolOptions): void {
    this.opts = opts;
    this.fillMin();
  }

  /** Returns an idle connection now, or null (then call wait()). */
  tryAcquire(): BackendConnection | null {
    const now = clock.now;
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.closed || conn.broken || now - conn.createdAt > this.opts.maxLifetimeMs) {
        this.discard(conn);
        continue;
      }
      return conn;
    }
    return null;
  }

  /** Queues the waiter; it is called back with a connection or an error (timeout, backend down). */
  wait(waiter: PoolWaiter): void {
    if (this.closed) {
      waiter.onConnectionFailed(new BackendError('Sluice is shutting down', 1053, '08S01', 'SLUICE_SHUTDOWN'));
      return;
    }
    this.stats.waits++;
    const timer = setTimeout(() => this.expire(waiter), this.opts.acquireTimeoutMs);
    this.waiters.push({ waiter, timer });
    if (this.all.size + this.connecting < this.opts.max) this.grow();
    else this.reclaimSticky();
  }

  addSticky(holder: StickyHolder): void {
    this.sticky.add(holder);
    if (this.waiters.length > 0) this.reclaimSticky();
  }

  removeSticky(holder: StickyHolder): void {
    this.sticky.delete(holder);
  }

  /** Someone waits and the pool is full: take a connection back from an idle client that only holds it for courtesy. */
  private reclaimSticky(): void {
    for (const holder of this.sticky) {
      this.sticky.delete(holder);
      holder.releaseSticky();
      return;
    }
  }

  /** A connection taken for a pipelinable statement opens to others' pipelined statements. */
  beginShared(conn: BackendConnection): void {
    conn.shared = true;
    conn.sharedUsers = 1;
    conn.sharedJoins = 0;
    conn.owner = this;
    this.shared.push(conn);
    this.stats.pipelined++;
  }

  /** Another session's statement joins a shared connection. */
  joinShared(conn: BackendConnection): void {
    conn.sharedUsers++;
    conn.sharedJoins++;
    this.stats.pipelined++;
    this.stats.joined++;
  }

  /** A session's pipelined statement is answered; the last one out gives the connection back. */
  leaveShared(conn: BackendConnection): void {
    if (--conn.sharedUsers > 0) return;
    this.endShared(conn);
    this.release(conn);
  }

  /** Closes a connection to further pipelined statements (the last user keeps it, or it is given back). */
  endShared(conn: BackendConnection): void {
    if (!conn.shared) return;
    conn.shared = false;
    conn.sharedUsers = 0;
    const i = this.shared.indexOf(conn);
    if (i >= 0) this.shared.splice(i, 1);
  }

  cancelWait(waiter: PoolWaiter): void {
    const i = this.waiters.findIndex((w) => w.waiter === waiter);
    if (i >= 0) {
      clearTimeout(this.waiters[i]!.timer);
      this.waiters.splice(i, 1);
    }
  }

  private expire(waiter: PoolWaiter): void {
    const i = this.waiters.findIndex((w) => w.waiter === waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    this.stats.acquireTimeouts++;
    waiter.onConnectionFailed(
      new BackendError(
        `Sluice: no connection to backend '${this.endpoint.name}' became free within ${this.opts.acquireTimeoutMs} ms (pool max ${this.opts.max})`,
        1040,
        '08004',
        'SLUICE_POOL_TIMEOUT',
      ),
    );
  }

  /** Gives a connection back. Broken, closed or expired ones are dropped. */
  release(conn: BackendConnection): void {
    conn.owner = this;
    const now = clock.now;
    if (conn.closed || conn.broken || this.closed || now - conn.createdAt > this.opts.maxLifetimeMs || this.all.size > this.opts.max) {
      this.discard(conn);
      if (this.waiters.length > 0 && !this.closed) this.grow();
      return;
    }
    conn.lastUsedAt = now;
    const next = this.waiters.shift();
    if (next) {
      clearTimeout(next.timer);
      next.waiter.onConnectionAcquired(conn);
      if (conn.shared) this.offerShared(conn);
      return;
    }
    this.idle.push(conn);
  }

  /**
   * The waiter at the head of the queue began a pipeline on `conn`: the waiters behind it whose statements
   * may be pipelined join it at once, in queue order (the queue drains in batches, fairly, rather than one
   * connection per waiting statement).
   */
  private offerShared(conn: BackendConnection): void {
    for (let i = 0; i < this.waiters.length && conn.shared; ) {
      const w = this.waiters[i]!;
      if (w.waiter.joinWaiting === undefined || !w.waiter.joinWaiting(conn)) {
        i++;
        continue;
      }
      clearTimeout(w.timer);
      this.waiters.splice(i, 1);
    }
  }

  /** A connection died (socket closed) while idle or while in use. */
  onBackendClosed(conn: BackendConnection): void {
    this.discard(conn);
  }

  discard(conn: BackendConnection): void {
    this.endShared(conn);
    if (!this.all.delete(conn)) return;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.stats.destroyed++;
    if (!conn.closed) conn.quit();
  }

  private grow(): void {
    this.connecting++;
    BackendConnection.connect(this.endpoint, this.creds, this.profileCaps, {
      connectTimeoutMs: this.opts.connectTimeoutMs,
      tls: this.opts.tls,
    }).then(
      (conn) => {
        this.connecting--;
        this.stats.created++;
        conn.pool = this;
        conn.owner = this;
        this.all.add(conn);
        if (this.closed) {
          this.discard(conn);
          return;
        }
        this.release(conn);
      },
      (err: Error) => {
        this.connecting--;
        this.stats.connectErrors++;
        this.log.warn({ backend: this.endpoint.name, err: err.message }, 'backend connect failed');
        // Tell one waiter now (clear error instead of a silent timeout); others keep waiting for retries.
        const w = this.waiters.shift();
        if (w) {
          clearTimeout(w.timer);
          const e = err instanceof BackendError ? err : new BackendError(`Sluice: cannot connect to backend '${this.endpoint.name}': ${err.message}`, 2003, 'HY000', 'SLUICE_BACKEND_UNREACHABLE');
          w.waiter.onConnectionFailed(e);
        }
        if (this.waiters.length > 0 && this.all.size + this.connecting < this.opts.max) setTimeout(() => this.grow(), 100).unref();
      },
    );
  }

  private fillMin(): void {
    while (!this.closed && this.all.size + this.connecting < this.opts.min) this.grow();
  }

  private sweep(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i]!;
      if (this.all.size <= this.opts.min) break;
      if (now - conn.lastUsedAt > this.opts.idleTimeoutMs || now - conn.createdAt > this.opts.maxLifetimeMs) this.discard(conn);
    }
    this.fillMin();
  }

  async close(reason: BackendError = new BackendError('Sluice is shutting down', 1053, '08S01', 'SLUICE_SHUTDOWN')): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.waiter.onConnectionFailed(reason);
    }
    for (const conn of [...this.all]) {
      this.discard(conn);
      // Not a polite COM_QUIT: the server may be hung, and sessions using a connection must learn now.
      if (reason.code !== 'SLUICE_SHUTDOWN') conn.destroy();
    }
  }

  /** Connections handed out and not yet back (statements running, sessions pinned). */
  get inUse(): number {
    return this.all.size - this.idle.length;
  }
}

export class PoolManager {
  private readonly pools = new Map<string, BackendPool>();

  constructor(private opts: PoolOptions, private readonly log: Logger) {}

  get(endpoint: BackendEndpoint, creds: BackendCredentials, profileCaps: number): BackendPool {
    const key = `${endpoint.name}\u0000${creds.user}\u0000${profileCaps}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new BackendPool(key, endpoint, creds, profileCaps, this.opts, this.log);
      this.pools.set(key, pool);
    }
    return pool;
  }

  list(): BackendPool[] {
    return [...this.pools.values()];
  }

  /** Pools of one backend (all users and profiles). */
  poolsOf(backend: string): BackendPool[] {
    return [...this.pools.values()].filter((p) => p.endpoint.name === backend);
  }

  /**
   * Closes every pool of `backend` and forgets them (the primary moved away from it): waiters get
   * `reason`, every connection is destroyed (sessions using one see it closed). New pools are made on
   * demand if the backend is used again (e.g. as a replica).
   */
  closeBackend(backend: string, reason: BackendError): void {
    for (const [key, pool] of this.pools) {
      if (pool.endpoint.name !== backend) continue;
      this.pools.delete(key);
      void pool.close(reason);
    }
  }

  updateOptions(opts: PoolOptions): void {
    this.opts = opts;
    for (const p of this.pools.values()) p.updateOptions(opts);
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}
