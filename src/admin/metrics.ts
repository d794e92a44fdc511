// Prometheus metrics (text exposition format 0.0.4) of a running Sluice, collected from the live proxy
// state at scrape time: nothing here runs per statement. Counters mirror Sluice's own monotonic counters
// (ProxyContext.counters, pool stats, router stats); gauges are read from the pools, sessions and the
// monitor's snapshot. The process/Node.js default metrics (process_*, nodejs_*) live in one registry per
// process (their collectors install observers that are never removed, so they are set up once).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { PinReason } from '../frontend/context.js';
import { usageByBackend } from './views.js';
import type { AdminContext, AdminMonitor } from './types.js';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Every metric name Sluice itself exports (without the process/nodejs defaults). */
export const SLUICE_METRIC_NAMES = [
  'sluice_client_connections',
  'sluice_client_connections_total',
  'sluice_statements_total',
  'sluice_session_syncs_total',
  'sluice_pinned_total',
  'sluice_pinned_sessions',
  'sluice_auth_failures_total',
  'sluice_pool_connections',
  'sluice_pool_waiters',
  'sluice_pool_connections_created_total',
  'sluice_pool_connect_errors_total',
  'sluice_pool_acquire_timeouts_total',
  'sluice_backend_up',
  'sluice_replication_lag_seconds',
  'sluice_replica_reads_total',
  'sluice_replica_unavailable_total',
  'sluice_gtid_waits_total',
  'sluice_gtid_wait_timeouts_total',
] as const;

export interface SluiceMetrics {
  readonly contentType: string;
  /** The full exposition: Sluice's metrics, then the process/Node.js defaults (unless left out). */
  render(): Promise<string>;
  readonly registry: Registry;
}

/** A counter whose value is read from Sluice at scrape time. */
function mirrorCounter(reg: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [reg],
    collect() {
      this.reset();
      this.inc(nonNegative(read()));
    },
  });
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function createSluiceMetrics(
  ctx: AdminContext,
  monitor: AdminMonitor | null,
  opts: { processMetrics?: boolean } = {},
): SluiceMetrics {
  const reg = new Registry();
  const c = ctx.counters;

  new Gauge({
    name: 'sluice_client_connections',
    help: 'Client connections open now.',
    registers: [reg],
    collect() {
      this.set(c.clientConnections);
    },
  });
  mirrorCounter(reg, 'sluice_client_connections_total', 'Client connections accepted since start.', () => c.clientConnectionsTotal);
  mirrorCounter(reg, 'sluice_statements_total', 'Client commands served since start.', () => c.statements);
  mirrorCounter(reg, 'sluice_session_syncs_total', 'Session state syncs (SET / COM_INIT_DB) sent to backend connections.', () => c.syncs);
  mirrorCounter(reg, 'sluice_auth_failures_total', 'Client logins refused.', () => c.authFailures);

  new Counter({
    name: 'sluice_pinned_total',
    help: 'Times a session was pinned to its backend connection, by reason.',
    labelNames: ['reason'],
    registers: [reg],
    collect() {
      this.reset();
      for (const reason of Object.values(PinReason)) this.inc({ reason }, 0);
      for (const [reason, n] of Object.entries(c.pins)) this.inc({ reason }, nonNegative(n));
    },
  });

  new Gauge({
    name: 'sluice_pinned_sessions',
    help: 'Client sessions pinned to their backend connection now, by reason (a session may count under several).',
    labelNames: ['reason'],
    registers: [reg],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const reason of Object.values(PinReason)) counts.set(reason, 0);
      for (const s of ctx.sessions.values()) {
        if (!s.pinReasons) continue;
        for (const reason of s.pinReasons()) counts.set(reason, (counts.get(reason) ?? 0) + 1);
      }
      for (const [reason, n] of counts) this.set({ reason }, n);
    },
  });

  /** Backend names: the monitor's, else the primary; plus any backend a pool points at. */
  const backendNames = (): string[] => {
    const names = new Set<string>();
    if (monitor) for (const b of monitor.snapshot().backends) names.add(b.name);
    else names.add(ctx.primary.name);
    for (const p of ctx.pools.list()) names.add(p.endpoint.name);
    return [...names];
  };

  new Gauge({
    name: 'sluice_pool_connections',
    help: 'Backend connections held by Sluice, by backend and state (in_use includes connections being opened).',
    labelNames: ['backend', 'state'],
    registers: [reg],
    collect() {
      this.reset();
      const usage = usageByBackend(ctx.pools.list());
      for (const backend of backendNames()) {
        const u = usage.get(backend);
        this.set({ backend, state: 'idle' }, u?.idle ?? 0);
        this.set({ backend, state: 'in_use' }, u?.in_use ?? 0);
      }
    },
  });

  new Gauge({
    name: 'sluice_pool_waiters',
    help: 'Client statements waiting for a backend connection, by backend.',
    labelNames: ['backend'],
    registers: [reg],
    collect() {
      this.reset();
      const usage = usageByBackend(ctx.pools.list());
      for (const backend of backendNames()) this.set({ backend }, usage.get(backend)?.waiting ?? 0);
    },
  });

  const poolCounter = (name: string, help: string, read: (s: { created: number; connectErrors: number; acquireTimeouts: number }) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['backend'],
      registers: [reg],
      collect() {
        this.reset();
        const sums = new Map<string, number>();
        for (const backend of backendNames()) sums.set(backend, 0);
        for (const p of ctx.pools.list()) sums.set(p.endpoint.name, (sums.get(p.endpoint.name) ?? 0) + nonNegative(read(p.stats)));
        for (const [backend, n] of sums) this.inc({ backend }, n);
      },
    });
  };
  poolCounter('sluice_pool_connections_created_total', 'Backend connections opened, by backend.', (s) => s.created);
  poolCounter('sluice_pool_connect_errors_total', 'Backend connection attempts that failed, by backend.', (s) => s.connectErrors);
  poolCounter('sluice_pool_acquire_timeouts_total', 'Statements that gave up waiting for a backend connection, by backend.', (s) => s.acquireTimeouts);

  new Gauge({
    name: 'sluice_backend_up',
    help: 'Whether the backend monitor sees the backend in service (1) or not (0: down, lagging or broken). Absent without a monitor.',
    labelNames: ['backend', 'role'],
    registers: [reg],
    collect() {
      this.reset();
      if (!monitor) return;
      for (const b of monitor.snapshot().backends) this.set({ backend: b.name, role: b.role }, b.health === 'up' ? 1 : 0);
    },
  });

  new Gauge({
    name: 'sluice_replication_lag_seconds',
    help: "Replica's Seconds_Behind_Master as the monitor last saw it. Absent while unknown.",
    labelNames: ['backend'],
    registers: [reg],
    collect() {
      this.reset();
      if (!monitor) return;
      for (const b of monitor.snapshot().replicas) if (b.lagSeconds !== null) this.set({ backend: b.name }, b.lagSeconds);
    },
  });

  const routerStat = (read: (s: NonNullable<AdminContext['router']>['stats']) => number) => () => (ctx.router ? read(ctx.router.stats) : 0);
  mirrorCounter(reg, 'sluice_replica_reads_total', 'Reads served by a replica.', routerStat((s) => s.replicaReads));
  mirrorCounter(reg, 'sluice_replica_unavailable_total', 'Replica-eligible reads served by the primary because no replica was in service.', routerStat((s) => s.noReplica));
  mirrorCounter(reg, 'sluice_gtid_waits_total', 'MASTER_GTID_WAIT calls sent before replica reads (read-your-writes).', routerStat((s) => s.gtidWaits));
  mirrorCounter(reg, 'sluice_gtid_wait_timeouts_total', 'GTID waits that timed out (the read went to the primary or failed).', routerStat((s) => s.gtidWaitTimeouts));

  const withProcess = opts.processMetrics ?? true;
  return {
    contentType: reg.contentType,
    registry: reg,
    async render() {
      const own = await reg.metrics();
      if (!withProcess) return own;
      return `${own}\n${await processMetrics().metrics()}`;
    },
  };
}
