// Prometheus metrics (text exposition format 0.0.4) of a running Sluice, collected from the live proxy
// state at scrape time: nothing here runs per statement. Counters mirror Sluice's own monotonic counters
// (ProxyContext.counters, pool stats, router stats); gauges are read from the pools, sessions and the
// monitor's snapshot. The process/Node.js default metrics (process_*, nodejs_*) live in one registry per
// process (their collectors install observers that are never removed, so they are set up once).
//
// Statement latencies are kept by StatementStats in fixed buckets (cheap on the hot path); prom-client's
// Histogram can only be fed by observe(), so sluice_statement_duration_seconds is a collected family that
// writes those buckets out (_bucket cumulative with le, _sum, _count). The failover families live in their
// own registry, rendered only while ctx.failover is set (absent, not zero, when failover is off).
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { PinReason } from '../frontend/context.js';
import { STATEMENT_BUCKETS_SECONDS, OTHER_ERROR_CODE } from '../frontend/statement-stats.js';
import type { FailoverControl, FailoverPhase, FailoverStats } from '../failover/types.js';
import { liveRole, usageByBackend } from './views.js';
import type { AdminContext, AdminMonitor } from './types.js';
import { busyPollState } from '../util/busy-poll.js';

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
  'sluice_backend_statements_total',
  'sluice_statement_duration_seconds',
  'sluice_statement_errors_total',
] as const;

/** The failover metrics, present while failover is active (ctx.failover set). */
export const FAILOVER_METRIC_NAMES = [
  'sluice_failovers_total',
  'sluice_switchovers_total',
  'sluice_primary_changes_followed_total',
  'sluice_failover_buffer_statements',
  'sluice_failover_buffer_bytes',
  'sluice_failover_buffered_statements_total',
  'sluice_failover_buffer_rejected_total',
  'sluice_failover_retried_statements_total',
  'sluice_failover_replayed_transactions_total',
  'sluice_failover_replay_mismatches_total',
  'sluice_failover_outcome_unknown_total',
  'sluice_failover_phase',
  'sluice_primary_info',
] as const;

/** Every phase (a Record so that a phase added to FailoverPhase must be listed here). */
const PHASES = Object.keys({ normal: 0, primary_lost: 0, promoting: 0, switching_over: 0 } satisfies Record<FailoverPhase, 0>) as FailoverPhase[];

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

/** One sample of a collected family: the full series name (with its suffix), labels, value. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A metric family whose samples are computed at scrape time by `collect` (for what prom-client's metric types
 * cannot be set to, such as a histogram from pre-aggregated buckets). It has the shape the Registry reads
 * (name, help, type, aggregator, get(), reset()).
 */
function registerCollected(reg: Registry, name: string, help: string, type: 'histogram' | 'counter' | 'gauge', collect: () => Sample[]): void {
  const family = {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    async get() {
      return { name, help, type, aggregator: 'sum' as const, values: collect() };
    },
    reset() {},
  };
  reg.registerMetric(family as unknown as Metric);
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
  mirrorCounter(reg, 'sluice_busy_poll_seconds_total', 'Time the event loop polled instead of sleeping (tuning.busy_poll_us), turns in between included.', () => busyPollState().spunMs / 1000);

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

  const poolCounter = (name: string, help: string, read: (s: { created: number; connectErrors: number; acquireTimeouts: number; pipelined: number; evicted: number }) => number): void => {
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
  poolCounter('sluice_pool_pipelined_total', 'Statements that shared a backend connection with other sessions\' statements (pool.pipelining), by backend.', (s) => s.pipelined);
  poolCounter('sluice_pool_pipeline_evicted_total', 'Pipelined statements dropped and run again because a statement ahead of them changed the shared session, by backend.', (s) => s.evicted);

  new Gauge({
    name: 'sluice_backend_up',
    help: 'Whether the backend monitor sees the backend in service (1) or not (0: down, lagging or broken). Absent without a monitor.',
    labelNames: ['backend', 'role'],
    registers: [reg],
    collect() {
      this.reset();
      if (!monitor) return;
      for (const b of monitor.snapshot().backends) this.set({ backend: b.name, role: liveRole(ctx, b.name, b.role) }, b.health === 'up' ? 1 : 0);
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

  // ---- statements by backend (StatementStats) ----
  new Counter({
    name: 'sluice_backend_statements_total',
    help: 'Statements that ran on a backend, by backend and route (primary: sent to it as the primary; replica: a read sent to it as a replica).',
    labelNames: ['backend', 'route'],
    registers: [reg],
    collect() {
      this.reset();
      const stats = ctx.statementStats;
      if (!stats) return;
      for (const e of stats.list()) this.inc({ backend: e.backend, route: e.route }, nonNegative(e.count));
    },
  });

  registerCollected(reg, 'sluice_statement_duration_seconds', 'Time from sending a statement to a backend to the end of its response, by backend and route.', 'histogram', () => {
    const stats = ctx.statementStats;
    if (!stats) return [];
    const out: Sample[] = [];
    for (const e of stats.list()) {
      const labels = { backend: e.backend, route: e.route };
      let cumulative = 0;
      for (let i = 0; i < STATEMENT_BUCKETS_SECONDS.length; i++) {
        cumulative += e.buckets[i]!;
        out.push({ metricName: 'sluice_statement_duration_seconds_bucket', labels: { ...labels, le: STATEMENT_BUCKETS_SECONDS[i]! }, value: cumulative });
      }
      out.push({ metricName: 'sluice_statement_duration_seconds_bucket', labels: { ...labels, le: '+Inf' }, value: e.count });
      out.push({ metricName: 'sluice_statement_duration_seconds_sum', labels, value: e.sumMs / 1000 });
      out.push({ metricName: 'sluice_statement_duration_seconds_count', labels, value: e.count });
    }
    return out;
  });

  new Counter({
    name: 'sluice_statement_errors_total',
    help: 'Statements a backend answered with an error, by backend and MariaDB error code (code "other": codes beyond the first 200 seen).',
    labelNames: ['backend', 'code'],
    registers: [reg],
    collect() {
      this.reset();
      const stats = ctx.statementStats;
      if (!stats) return;
      for (const e of stats.errors()) this.inc({ backend: e.backend, code: e.code === OTHER_ERROR_CODE ? 'other' : String(e.code) }, nonNegative(e.count));
    },
  });

  const failoverReg = failoverMetrics(ctx);

  const withProcess = opts.processMetrics ?? true;
  return {
    contentType: reg.contentType,
    registry: reg,
    async render() {
      let text = await reg.metrics();
      if (ctx.failover) text += `\n${await failoverReg.metrics()}`;
      if (withProcess) text += `\n${await processMetrics().metrics()}`;
      return text;
    },
  };
}

/** The failover families (rendered only while ctx.failover is set; they read it at scrape time). */
function failoverMetrics(ctx: AdminContext): Registry {
  const reg = new Registry();
  const fc = (): FailoverControl | null => ctx.failover ?? null;
  const stat = (key: keyof FailoverStats) => () => fc()?.stats[key] ?? 0;
  mirrorCounter(reg, 'sluice_failovers_total', 'Automatic failovers completed (a replica promoted after the primary was lost).', stat('failovers'));
  mirrorCounter(reg, 'sluice_switchovers_total', 'Planned switchovers completed.', stat('switchovers'));
  mirrorCounter(reg, 'sluice_primary_changes_followed_total', 'Primary changes made outside Sluice and followed by it.', stat('followed'));
  new Gauge({
    name: 'sluice_failover_buffer_statements',
    help: 'Primary-bound statements held now while the primary is away or a switchover runs.',
    registers: [reg],
    collect() {
      this.set(fc()?.buffered().statements ?? 0);
    },
  });
  new Gauge({
    name: 'sluice_failover_buffer_bytes',
    help: 'Bytes of the statements held now.',
    registers: [reg],
    collect() {
      this.set(fc()?.buffered().bytes ?? 0);
    },
  });
  mirrorCounter(reg, 'sluice_failover_buffered_statements_total', 'Statements held at some point while the primary was away.', stat('bufferedTotal'));
  mirrorCounter(reg, 'sluice_failover_buffer_rejected_total', 'Held statements that failed because a buffer limit was hit.', stat('bufferRejected'));
  mirrorCounter(reg, 'sluice_failover_retried_statements_total', 'Statements interrupted by a primary change and re-run transparently.', stat('retried'));
  mirrorCounter(reg, 'sluice_failover_replayed_transactions_total', 'Interrupted transactions replayed on the new primary with matching results.', stat('replayed'));
  mirrorCounter(reg, 'sluice_failover_replay_mismatches_total', 'Interrupted transactions whose replay gave different results (the client got an error).', stat('replayMismatches'));
  mirrorCounter(reg, 'sluice_failover_outcome_unknown_total', 'Interrupted COMMITs or writes whose outcome could not be proven (the client got ER_ERROR_DURING_COMMIT).', stat('outcomeUnknown'));
  new Gauge({
    name: 'sluice_failover_phase',
    help: 'Failover phase: 1 for the current one, 0 for the others (normal, primary_lost, promoting, switching_over).',
    labelNames: ['phase'],
    registers: [reg],
    collect() {
      this.reset();
      const f = fc();
      if (!f) return;
      const now = f.phase();
      for (const phase of PHASES) this.set({ phase }, phase === now ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sluice_primary_info',
    help: 'The backend serving as primary now (value 1).',
    labelNames: ['backend'],
    registers: [reg],
    collect() {
      this.reset();
      const f = fc();
      if (f) this.set({ backend: f.primaryName() }, 1);
    },
  });
  return reg;
}
