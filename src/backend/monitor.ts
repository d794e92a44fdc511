// Watches every backend with one connection of the monitor account each and keeps a TopologySnapshot
// current for the router.
//
// Every interval (default 1 s) each backend is checked in parallel, each check bounded by
// min(interval, 2000) ms so a hung server (SIGSTOP, stuck network) counts as a failure instead of stalling:
//   SELECT @@read_only, @@gtid_current_pos, @@gtid_slave_pos
//   SHOW SLAVE STATUS                                       (replicas only)
// Observed health of one check:
//   failure (connect error/timeout, query error/timeout)   → counts; 'down' after downAfterFailures in a row
//   replica: no replication configured, Slave_SQL_Running ≠ Yes or Slave_IO_Running = No → 'broken'
//   replica: Seconds_Behind_Master > maxLagSeconds, or NULL (IO thread still connecting: staleness unknown)
//            → 'lagging' — except while the primary itself does not answer: then a replica whose IO thread
//            is reconnecting has all there is and stays 'up' (reads keep flowing during a primary outage)
//   otherwise                                              → 'up'
// Hysteresis: a backend that is not 'up' becomes 'up' only after it has been observed healthy continuously
// for upAfterMs (no flapping). Going out of service is immediate (down: after the failure count). The very
// first check after start() is taken as is (a server healthy at startup serves at once).
//
// Snapshots are immutable per check round: each round makes fresh BackendView objects (the previous
// snapshot stays consistent for whoever holds it). The two proxy-fed figures (latencyEwmaMs,
// activeConnections) are the exception: recordLatency()/setActiveConnections() update them in place on the
// current views, since they change per statement. 'change' fires (with the new snapshot, version + 1) when
// health, role, read_only or "lag beyond the bound" changed; gtidPosition, lagSeconds, lastCheckAt and
// lastError are refreshed every round without an event.
//
// gtidPosition: the primary's @@gtid_current_pos; a replica's @@gtid_slave_pos (what replication applied:
// what MASTER_GTID_WAIT waits on), or gtid_current_pos if the slave position is empty.
import { EventEmitter } from 'node:events';
import { BackendConnection, type BackendTlsOptions } from './connection.js';
import { Capability } from '../protocol/constants.js';
import { parseColumnDefinition } from '../protocol/column.js';
import type { Packet } from '../protocol/framer.js';
import { decodeTextRows } from './connection.js';
import type { Logger } from '../util/log.js';
import {
  buildSnapshot,
  type BackendHealth,
  type BackendRole,
  type BackendView,
  type TopologySnapshot,
} from '../router/topology-snapshot.js';

export interface MonitoredBackend {
  name: string;
  host: string;
  port: number;
  role: BackendRole;
  weight: number;
}

export interface BackendMonitorOptions {
  backends: MonitoredBackend[];
  user: string;
  password: string;
  /** Check interval (default 1000 ms). */
  intervalMs?: number;
  /** Connect timeout (default 2000 ms; never more than the per-check timeout). */
  connectTimeoutMs?: number;
  /** Per-check timeout (default min(intervalMs, 2000) ms). */
  checkTimeoutMs?: number;
  /** Replicas further behind than this are 'lagging' (default 30 s). */
  maxLagSeconds?: number;
  /** Consecutive failed checks before a backend is 'down' (default 2). */
  downAfterFailures?: number;
  /** How long a backend must be continuously healthy before it is put back (default 2000 ms). */
  upAfterMs?: number;
  /** Smoothing factor of recordLatency()'s EWMA (default 0.2: the newest sample weighs 20 %). */
  latencyAlpha?: number;
  tls?: BackendTlsOptions | null;
}

export interface BackendMonitorEvents {
  change: [TopologySnapshot];
}

/** What one check saw (a failure has ok = false). */
interface Observation {
  ok: boolean;
  error: string | null;
  readOnly: boolean;
  gtidPosition: string;
  lagSeconds: number | null;
  /** Health this check alone indicates (when ok). */
  health: BackendHealth;
  /** Replicating, but the IO thread is (re)connecting to its primary: lag unknown. */
  ioConnecting?: boolean;
}

interface BackendState {
  cfg: MonitoredBackend;
  conn: BackendConnection | null;
  /** Live view (current snapshot's object for this backend). */
  view: BackendView;
  failures: number;
  /** Since when observations have been healthy without a break (null: last one was not). */
  healthySince: number | null;
  checked: boolean;
  /** Id of the latest check: a check that timed out finds it changed and stops touching the connection. */
  checkId: number;
  latencyEwmaMs: number;
  activeConnections: number;
}

export class BackendMonitor extends EventEmitter<BackendMonitorEvents> {
  private readonly states: BackendState[];
  private readonly byName = new Map<string, BackendState>();
  private readonly intervalMs: number;
  private readonly checkTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxLagSeconds: number;
  private readonly downAfterFailures: number;
  private readonly upAfterMs: number;
  private readonly latencyAlpha: number;
  private current: TopologySnapshot;
  private version = 1;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  /** Bumped by stop(): connects that finish after it are dropped. */
  private epoch = 0;

  constructor(
    private readonly opts: BackendMonitorOptions,
    private readonly log: Logger,
  ) {
    super();
    this.intervalMs = Math.max(10, opts.intervalMs ?? 1000);
    this.checkTimeoutMs = Math.max(10, opts.checkTimeoutMs ?? Math.min(this.intervalMs, 2000));
    this.connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? 2000, this.checkTimeoutMs);
    this.maxLagSeconds = opts.maxLagSeconds ?? 30;
    this.downAfterFailures = Math.max(1, opts.downAfterFailures ?? 2);
    this.upAfterMs = Math.max(0, opts.upAfterMs ?? 2000);
    this.latencyAlpha = opts.latencyAlpha ?? 0.2;
    this.states = opts.backends.map((cfg) => ({
      cfg: { ...cfg },
      conn: null,
      view: {
        name: cfg.name,
        host: cfg.host,
        port: cfg.port,
        role: cfg.role,
        weight: cfg.weight,
        // Not checked yet: out of service until the first check says otherwise.
        health: 'down',
        lagSeconds: null,
        gtidPosition: '',
        readOnly: cfg.role === 'replica',
        latencyEwmaMs: 0,
        activeConnections: 0,
        lastCheckAt: 0,
        lastError: 'not checked yet',
      },
      failures: 0,
      healthySince: null,
      checked: false,
      checkId: 0,
      latencyEwmaMs: 0,
      activeConnections: 0,
    }));
    for (const s of this.states) this.byName.set(s.cfg.name, s);
    this.current = buildSnapshot(this.version, this.states.map((s) => s.view));
  }

  /** The current snapshot (its views are not mutated later, except latencyEwmaMs / activeConnections). */
  snapshot(): TopologySnapshot {
    return this.current;
  }

  /** Starts periodic checks; resolves after the first round (the snapshot is meaningful from then on). */
  start(): Promise<void> {
    if (this.running) return this.round ?? Promise.resolve();
    this.running = true;
    return this.runRound();
  }

  /** Stops checking, closes the connections. The snapshot stays readable. */
  stop(): void {
    this.running = false;
    this.epoch++;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const s of this.states) {
      const c = s.conn;
      s.conn = null;
      if (c) closePolitely(c);
    }
  }

  /** Runs a check round now (after the one in flight, if any). Never rejects. */
  async checkNow(): Promise<void> {
    if (this.round) await this.round;
    await this.runRound();
  }

  /**
   * The primary changed (failover, switchover, or followed): `name` becomes the primary, every other
   * backend a replica. Published at once as a new snapshot. A backend that just stopped being the primary
   * is out of service until a check shows it replicating (it never serves reads straight away); the new
   * primary is 'up' (it was promoted because it answered).
   */
  setPrimary(name: string): void {
    if (!this.byName.has(name)) return;
    const views: BackendView[] = [];
    for (const s of this.states) {
      const role: BackendRole = s.cfg.name === name ? 'primary' : 'replica';
      if (s.cfg.role !== role) {
        s.cfg.role = role;
        s.failures = 0;
        s.healthySince = null;
        s.view = { ...s.view, role, health: role === 'primary' ? 'up' : 'down', lagSeconds: role === 'primary' ? 0 : null, lastError: role === 'primary' ? null : 'was the primary; waiting for it to replicate' };
      }
      views.push(s.view);
    }
    this.version++;
    this.current = buildSnapshot(this.version, views);
    this.emitChange();
  }

  /** Feeds one observed statement latency (ms) into the backend's EWMA. Unknown names are ignored. */
  recordLatency(name: string, ms: number): void {
    const s = this.byName.get(name);
    if (!s) return;
    const v = s.latencyEwmaMs === 0 ? ms : s.latencyEwmaMs + this.latencyAlpha * (ms - s.latencyEwmaMs);
    s.latencyEwmaMs = v;
    s.view.latencyEwmaMs = v;
  }

  /** Sets how many connections of this proxy are in use on the backend. Unknown names are ignored. */
  setActiveConnections(name: string, n: number): void {
    const s = this.byName.get(name);
    if (!s) return;
    s.activeConnections = n;
    s.view.activeConnections = n;
  }

  // -------------------------------------------------------------------------------------------------------

  private runRound(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const started = Date.now();
    const p = this.doRound()
      .catch((err: unknown) => {
        // doRound handles per-backend errors itself; this is a bug guard, never an unhandled rejection.
        this.log.error({ err }, 'backend monitor round failed');
      })
      .finally(() => {
        if (this.round === p) this.round = null;
        if (this.running && this.timer === null) {
          const wait = Math.max(0, this.intervalMs - (Date.now() - started));
          this.timer = setTimeout(() => {
            this.timer = null;
            if (this.running && this.round === null) void this.runRound();
          }, wait);
        }
      });
    this.round = p;
    return p;
  }

  private async doRound(): Promise<void> {
    const epoch = this.epoch;
    const observations = await Promise.all(this.states.map((s) => this.observe(s)));
    if (epoch !== this.epoch) return; // stop() ran meanwhile: its connections were closed under the checks
    // The primary does not answer: replicas whose IO thread is reconnecting to it have everything there is to
    // read (nothing newer can reach them) and keep serving reads instead of being taken out as "lag unknown".
    const primaryIndex = this.states.findIndex((s) => s.cfg.role === 'primary');
    if (primaryIndex >= 0 && !observations[primaryIndex]!.ok) {
      for (const o of observations) {
        if (o.ok && o.ioConnecting) {
          o.health = 'up';
          o.error = 'its primary is unreachable: serving what it has applied';
        }
      }
    }
    const now = Date.now();
    let changed = false;
    const views: BackendView[] = [];
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i]!;
      const o = observations[i]!;
      const prev = s.view;
      const health = this.nextHealth(s, o, now);
      const view: BackendView = {
        name: prev.name,
        host: prev.host,
        port: prev.port,
        role: s.cfg.role,
        weight: s.cfg.weight,
        health,
        lagSeconds: o.ok ? o.lagSeconds : prev.lagSeconds,
        gtidPosition: o.ok ? o.gtidPosition : prev.gtidPosition,
        readOnly: o.ok ? o.readOnly : prev.readOnly,
        latencyEwmaMs: s.latencyEwmaMs,
        activeConnections: s.activeConnections,
        lastCheckAt: now,
        lastError: o.error,
      };
      if (
        view.health !== prev.health ||
        view.role !== prev.role ||
        view.readOnly !== prev.readOnly ||
        this.beyondBound(view.lagSeconds) !== this.beyondBound(prev.lagSeconds)
      ) {
        changed = true;
        if (view.health !== prev.health) {
          const fields = { backend: view.name, from: prev.health, to: health, lag: view.lagSeconds, error: view.lastError };
          if (health === 'up') this.log.info(fields, 'backend health changed');
          else this.log.warn(fields, 'backend health changed');
        }
      }
      s.view = view;
      views.push(view);
    }
    if (changed) this.version++;
    this.current = buildSnapshot(this.version, views);
    if (changed) this.emitChange();
  }

  private emitChange(): void {
    try {
      this.emit('change', this.current);
    } catch (err) {
      this.log.error({ err }, 'backend monitor change listener threw');
    }
  }

  private beyondBound(lag: number | null): boolean {
    return lag === null || lag > this.maxLagSeconds;
  }

  private nextHealth(s: BackendState, o: Observation, now: number): BackendHealth {
    const prev = s.view.health;
    if (!o.ok) {
      s.failures++;
      s.healthySince = null;
      if (!s.checked) {
        s.checked = true;
        return 'down';
      }
      return s.failures >= this.downAfterFailures ? 'down' : prev;
    }
    s.failures = 0;
    if (!s.checked) {
      // First check: taken as is.
      s.checked = true;
      s.healthySince = o.health === 'up' ? now : null;
      return o.health;
    }
    if (o.health !== 'up') {
      s.healthySince = null;
      return o.health;
    }
    if (prev === 'up') return 'up';
    if (s.healthySince === null) s.healthySince = now;
    if (now - s.healthySince >= this.upAfterMs) return 'up';
    // Healthy, but not for long enough: stays out of service in its previous state.
    return prev;
  }

  /** One check of one backend, bounded by checkTimeoutMs. Never rejects. */
  private async observe(s: BackendState): Promise<Observation> {
    const id = ++s.checkId;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`check timed out after ${this.checkTimeoutMs} ms`)),
        this.checkTimeoutMs,
      );
    });
    try {
      return await Promise.race([this.probe(s, id), timeout]);
    } catch (err) {
      s.checkId++; // the probe, if still running, is abandoned
      // Whatever state the connection is in, it cannot be trusted any more.
      const c = s.conn;
      s.conn = null;
      if (c) c.destroy();
      return { ok: false, error: errorText(err), readOnly: s.view.readOnly, gtidPosition: s.view.gtidPosition, lagSeconds: null, health: 'down' };
    } finally {
      clearTimeout(timer);
    }
  }

  private async probe(s: BackendState, id: number): Promise<Observation> {
    const conn = await this.connection(s, id);
    const [vars] = await conn.queryRows('SELECT @@read_only, @@gtid_current_pos, @@gtid_slave_pos');
    if (!vars) throw new Error('no row from SELECT @@read_only, ...');
    const readOnly = vars[0] === '1' || vars[0]?.toUpperCase() === 'ON';
    const currentPos = vars[1] ?? '';
    const slavePos = vars[2] ?? '';
    if (s.cfg.role === 'primary') {
      return { ok: true, error: null, readOnly, gtidPosition: currentPos, lagSeconds: 0, health: 'up' };
    }
    const gtidPosition = slavePos !== '' ? slavePos : currentPos;
    if (s.checkId !== id) throw new Error('check abandoned');
    const status = await queryNamedRows(conn, 'SHOW SLAVE STATUS');
    const row = status[0];
    if (!row) {
      return { ok: true, error: 'replication is not configured', readOnly, gtidPosition, lagSeconds: null, health: 'broken' };
    }
    const io = row.get('Slave_IO_Running') ?? null;
    const sql = row.get('Slave_SQL_Running') ?? null;
    const sbm = row.get('Seconds_Behind_Master') ?? null;
    const lagSeconds = sbm === null || sbm === '' ? null : Number(sbm);
    const lag = lagSeconds !== null && Number.isFinite(lagSeconds) ? lagSeconds : null;
    if (sql !== 'Yes' || io === 'No' || io === null) {
      const lastError = row.get('Last_Error') || row.get('Last_SQL_Error') || row.get('Last_IO_Error') || '';
      const why = `replication stopped (Slave_IO_Running=${io ?? 'NULL'}, Slave_SQL_Running=${sql ?? 'NULL'})` + (lastError ? `: ${lastError}` : '');
      return { ok: true, error: why, readOnly, gtidPosition, lagSeconds: lag, health: 'broken' };
    }
    if (lag === null) {
      return { ok: true, error: `replication lag unknown (Slave_IO_Running=${io})`, readOnly, gtidPosition, lagSeconds: null, health: 'lagging', ioConnecting: io === 'Connecting' };
    }
    if (lag > this.maxLagSeconds) {
      return { ok: true, error: `replication lag ${lag} s > ${this.maxLagSeconds} s`, readOnly, gtidPosition, lagSeconds: lag, health: 'lagging' };
    }
    return { ok: true, error: null, readOnly, gtidPosition, lagSeconds: lag, health: 'up' };
  }

  private async connection(s: BackendState, id: number): Promise<BackendConnection> {
    if (s.conn && !s.conn.closed && !s.conn.broken) return s.conn;
    if (s.conn) {
      s.conn.destroy();
      s.conn = null;
    }
    const epoch = this.epoch;
    const conn = await BackendConnection.connect(
      s.cfg,
      { user: this.opts.user, password: this.opts.password },
      Capability.DEPRECATE_EOF,
      { connectTimeoutMs: this.connectTimeoutMs, tls: this.opts.tls ?? null },
    );
    if (epoch !== this.epoch || s.checkId !== id) {
      // stop() ran, or this check timed out, while connecting: do not keep it.
      closePolitely(conn);
      throw new Error(epoch !== this.epoch ? 'monitor stopped' : 'check abandoned');
    }
    s.conn = conn;
    return conn;
  }
}

/** Runs `sql` and returns its rows keyed by column name (from the column definitions). */
export async function queryNamedRows(conn: BackendConnection, sql: string): Promise<Array<Map<string, string | null>>> {
  const packets = await conn.query(sql);
  const deprecateEof = (conn.capabilities & Capability.DEPRECATE_EOF) !== 0;
  const names = columnNames(packets);
  const rows = decodeTextRows(packets, deprecateEof);
  return rows.map((r) => {
    const m = new Map<string, string | null>();
    for (let i = 0; i < names.length; i++) m.set(names[i]!, r[i] ?? null);
    return m;
  });
}

/** Column names of a text result set's packets ([] for an OK/ERR response). */
export function columnNames(packets: Packet[]): string[] {
  const first = packets[0]?.payload;
  if (!first || first.length === 0 || first[0] === 0x00 || first[0] === 0xff) return [];
  const count = first[0]!; // < 0xfb: internal result sets are small
  const names: string[] = [];
  for (let i = 1; i <= count && i < packets.length; i++) names.push(parseColumnDefinition(packets[i]!.payload).name);
  return names;
}

/** COM_QUIT, but never wait on a server that does not answer (a paused one would keep the socket open). */
function closePolitely(c: BackendConnection): void {
  c.quit();
  setTimeout(() => c.destroy(), 1000).unref();
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
