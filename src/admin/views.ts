// The JSON documents of the admin HTTP API (docs/openapi.yaml), built from the live proxy state. Pure
// functions of their inputs: field names are snake_case and stable; a value Sluice does not know is null,
// never a missing field. Nothing here may carry a password: users are shown by name, statements only in
// normalized form (literals replaced by ?).
import { quantileMs } from '../frontend/digest-stats.js';
import { statementQuantileMs, type StatementStats } from '../frontend/statement-stats.js';
import type { FailoverControl, FailoverEvent, FailoverEventKind, FailoverPhase, SwitchoverResult } from '../failover/types.js';
import { Capability, PROFILE_CAPABILITIES } from '../protocol/constants.js';
import { PinReason } from '../frontend/context.js';
import { digest } from '../router/digest.js';
import type { BackendHealth, BackendRole, TopologySnapshot } from '../router/topology-snapshot.js';
import type { AdminActions, AdminContext, AdminPoolView, AdminSessionView } from './types.js';

export interface PoolUsage {
  size: number;
  idle: number;
  in_use: number;
  waiting: number;
}

export interface BackendDoc {
  name: string;
  host: string;
  port: number;
  role: BackendRole;
  weight: number | null;
  /** 'unknown' when no monitor watches the backends (no replica configured). */
  health: BackendHealth | 'unknown';
  lag_seconds: number | null;
  gtid_position: string | null;
  read_only: boolean | null;
  last_error: string | null;
  last_check_at: string | null;
  /** Taken out of service by an operator (null: not known to the API). */
  offline: boolean | null;
  pools: PoolUsage;
  /** Statements that ran on the backend since start (null when Sluice keeps no statement statistics). */
  statements: BackendStatementsDoc | null;
}

export interface BackendStatementsDoc {
  /** Statements finished on the backend (both routes). */
  total: number;
  /** Of those, statements the backend answered with an error. */
  errors: number;
  /** By route: sent to the backend as the primary, or as a replica (reads). */
  primary: number;
  replica: number;
  total_ms: number;
  avg_ms: number;
  /** Upper bounds of the latency buckets holding the median and the 99th percentile (since start). */
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface PoolDoc extends PoolUsage {
  backend: string;
  user: string;
  /** Capability flags of the client profile (part of the pool key), lower-case names. */
  profile: string[];
  profile_caps: number;
  stats: {
    created: number;
    destroyed: number;
    connect_errors: number;
    acquire_timeouts: number;
    waits: number;
    /** Statements that ran on a shared connection (pool.pipelining), and those of them evicted and run again. */
    pipelined: number;
    evicted: number;
  };
}

export type SessionStateName = 'login' | 'idle' | 'active';

export interface SessionDoc {
  id: number;
  user: string | null;
  host: string | null;
  state: SessionStateName;
  schema: string | null;
  secure: boolean | null;
  pinned: boolean;
  pin_reasons: string[];
  backend: string | null;
  backend_thread_id: number | null;
  connected_at: string | null;
  current_statement: string | null;
}

export interface StatsDoc {
  client_connections: number;
  client_connections_total: number;
  auth_failures: number;
  statements: number;
  session_syncs: number;
  pins: Record<string, number>;
  /** null when read/write splitting is not set up (no replica configured). */
  routing: {
    replica_reads: number;
    primary_reads: number;
    gtid_waits: number;
    gtid_wait_timeouts: number;
    no_replica: number;
  } | null;
}

/** Longest statement text shown (characters, after normalization). */
export const STATEMENT_TEXT_LIMIT = 1024;

const PROFILE_FLAGS: Array<[string, number]> = Object.entries(Capability)
  .filter(([, bit]) => (PROFILE_CAPABILITIES & bit) !== 0)
  .map(([name, bit]) => [name.toLowerCase(), bit]);

export function profileFlags(caps: number): string[] {
  return PROFILE_FLAGS.filter(([, bit]) => (caps & bit) !== 0).map(([name]) => name);
}

/** Parts of a pool key: backend name, backend user, profile capabilities. */
export function poolKeyParts(pool: AdminPoolView): { backend: string; user: string } {
  const parts = pool.key.split('\u0000');
  return { backend: pool.endpoint.name, user: parts[1] ?? '' };
}

export function poolUsage(pool: AdminPoolView): PoolUsage {
  const size = pool.size;
  const idle = pool.idleCount;
  // size counts connections being opened too: they are not idle, so they count as in use.
  return { size, idle, in_use: Math.max(0, size - idle), waiting: pool.waiting };
}

/** Pool usage summed per backend name. */
export function usageByBackend(pools: readonly AdminPoolView[]): Map<string, PoolUsage> {
  const out = new Map<string, PoolUsage>();
  for (const p of pools) {
    const u = poolUsage(p);
    const sum = out.get(p.endpoint.name);
    if (sum === undefined) out.set(p.endpoint.name, u);
    else {
      sum.size += u.size;
      sum.idle += u.idle;
      sum.in_use += u.in_use;
      sum.waiting += u.waiting;
    }
  }
  return out;
}

const NO_USAGE: PoolUsage = { size: 0, idle: 0, in_use: 0, waiting: 0 };

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** A backend's statement totals from the statement statistics (zeros when none ran there yet). */
export function backendStatementsDoc(stats: StatementStats | undefined, name: string): BackendStatementsDoc | null {
  if (stats === undefined) return null;
  const s = stats.backend(name);
  if (s === null) return { total: 0, errors: 0, primary: 0, replica: 0, total_ms: 0, avg_ms: 0, p50_ms: 0, p99_ms: 0, max_ms: 0 };
  return {
    total: s.count,
    errors: s.errors,
    primary: s.primary,
    replica: s.replica,
    total_ms: round3(s.sumMs),
    avg_ms: round3(s.count > 0 ? s.sumMs / s.count : 0),
    p50_ms: round3(statementQuantileMs(s, 0.5)),
    p99_ms: round3(statementQuantileMs(s, 0.99)),
    max_ms: round3(s.maxMs),
  };
}

/**
 * The role a backend plays now: with failover on, the backend its manager serves as primary is the primary
 * and every other one a replica (the live answer, even between two monitor rounds); else the monitor's view.
 */
export function liveRole(ctx: AdminContext, name: string, monitorRole: BackendRole): BackendRole {
  const f = ctx.failover;
  if (f === undefined || f === null) return monitorRole;
  return f.primaryName() === name ? 'primary' : 'replica';
}

export function backendsDoc(ctx: AdminContext, snapshot: TopologySnapshot | null, actions: AdminActions | null): BackendDoc[] {
  const usage = usageByBackend(ctx.pools.list());
  const offline = (name: string): boolean | null => (actions?.isBackendOffline ? actions.isBackendOffline(name) : null);
  const statements = (name: string) => backendStatementsDoc(ctx.statementStats, name);
  if (snapshot === null) {
    const p = ctx.primary;
    return [
      {
        name: p.name,
        host: p.host,
        port: p.port,
        role: 'primary',
        weight: null,
        health: 'unknown',
        lag_seconds: null,
        gtid_position: null,
        read_only: null,
        last_error: null,
        last_check_at: null,
        offline: offline(p.name),
        pools: { ...(usage.get(p.name) ?? NO_USAGE) },
        statements: statements(p.name),
      },
    ];
  }
  return snapshot.backends.map((b) => ({
    name: b.name,
    host: b.host,
    port: b.port,
    role: liveRole(ctx, b.name, b.role),
    weight: b.weight,
    health: b.health,
    lag_seconds: b.lagSeconds,
    gtid_position: b.gtidPosition === '' && b.lastCheckAt === 0 ? null : b.gtidPosition,
    read_only: b.readOnly,
    last_error: b.lastError,
    last_check_at: b.lastCheckAt > 0 ? new Date(b.lastCheckAt).toISOString() : null,
    offline: offline(b.name),
    pools: { ...(usage.get(b.name) ?? NO_USAGE) },
    statements: statements(b.name),
  }));
}

export function poolsDoc(ctx: AdminContext): PoolDoc[] {
  return ctx.pools
    .list()
    .map((p) => {
      const { backend, user } = poolKeyParts(p);
      const s = p.stats;
      return {
        backend,
        user,
        profile: profileFlags(p.profileCaps),
        profile_caps: p.profileCaps,
        ...poolUsage(p),
        stats: {
          created: s.created,
          destroyed: s.destroyed,
          connect_errors: s.connectErrors,
          acquire_timeouts: s.acquireTimeouts,
          waits: s.waits,
          pipelined: s.pipelined,
          evicted: s.evicted,
        },
      };
    })
    .sort((a, b) => a.backend.localeCompare(b.backend) || a.user.localeCompare(b.user) || a.profile_caps - b.profile_caps);
}

/** A statement as the API may show it: normalized (no literal values), bounded. */
export function displayStatement(sql: string | null | undefined): string | null {
  if (sql === null || sql === undefined || sql === '') return null;
  let text: string;
  try {
    const buf = Buffer.from(sql, 'utf8');
    text = digest(buf, 0, buf.length, { noBackslashEscapes: false, ansiQuotes: false }).text;
  } catch {
    // Never show what could not be normalized: it may hold a password.
    return '(unparsable statement)';
  }
  return text.length > STATEMENT_TEXT_LIMIT ? `${text.slice(0, STATEMENT_TEXT_LIMIT)}…` : text;
}

export function sessionDoc(s: AdminSessionView): SessionDoc {
  const loggingIn = s.userName === '';
  const reasons = s.pinReasons ? [...s.pinReasons()].sort() : [];
  const threadId = s.currentBackendThreadId();
  return {
    id: s.id,
    user: loggingIn ? null : s.userName,
    host: s.remoteHost ?? null,
    state: loggingIn ? 'login' : s.idle ? 'idle' : 'active',
    schema: s.state?.schema ?? null,
    secure: s.secure ?? null,
    pinned: reasons.length > 0,
    pin_reasons: reasons,
    backend: s.currentBackendName ? s.currentBackendName() : null,
    backend_thread_id: threadId > 0 ? threadId : null,
    connected_at: s.connectedAt !== undefined && s.connectedAt > 0 ? new Date(s.connectedAt).toISOString() : null,
    current_statement: s.currentStatement ? displayStatement(s.currentStatement()) : null,
  };
}

export function sessionsDoc(ctx: AdminContext): SessionDoc[] {
  return [...ctx.sessions.values()].map(sessionDoc).sort((a, b) => a.id - b.id);
}

export function statsDoc(ctx: AdminContext): StatsDoc {
  const c = ctx.counters;
  const pins: Record<string, number> = {};
  for (const reason of Object.values(PinReason)) pins[reason] = 0;
  for (const [reason, n] of Object.entries(c.pins)) pins[reason] = n;
  const r = ctx.router?.stats ?? null;
  return {
    client_connections: c.clientConnections,
    client_connections_total: c.clientConnectionsTotal,
    auth_failures: c.authFailures,
    statements: c.statements,
    session_syncs: c.syncs,
    pins,
    routing:
      r === null
        ? null
        : {
            replica_reads: r.replicaReads,
            primary_reads: r.primaryReads,
            gtid_waits: r.gtidWaits,
            gtid_wait_timeouts: r.gtidWaitTimeouts,
            no_replica: r.noReplica,
          },
  };
}

export interface DigestDoc {
  digest: string;
  hash: string;
  count: number;
  total_ms: number;
  avg_ms: number;
  p99_ms: number;
  max_ms: number;
  rows: number;
  errors: number;
}

/** Query digests by total time (like ProxySQL's stats_mysql_query_digest), at most `limit` of them. */
export function digestsDoc(ctx: AdminContext, limit = 100): DigestDoc[] {
  if (!ctx.digests) return [];
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return ctx.digests
    .list()
    .slice(0, limit)
    .map((e) => ({
      digest: e.text,
      hash: e.hash,
      count: e.count,
      total_ms: round(e.totalMs),
      avg_ms: round(e.count > 0 ? e.totalMs / e.count : 0),
      p99_ms: round(quantileMs(e, 0.99)),
      max_ms: round(e.maxMs),
      rows: e.rows,
      errors: e.errors,
    }));
}

// ---- failover -------------------------------------------------------------------------------------------

export interface FailoverDoc {
  phase: FailoverPhase;
  /** Backend serving as primary now. */
  primary: string;
  /** Statements held right now (primary away or switching over), and their bytes. */
  buffered: { statements: number; bytes: number };
  stats: {
    failovers: number;
    switchovers: number;
    followed: number;
    buffered_total: number;
    buffer_rejected: number;
    retried: number;
    replayed: number;
    replay_mismatches: number;
    outcome_unknown: number;
  };
}

export interface FailoverEventDoc {
  at: string;
  kind: FailoverEventKind;
  from: string | null;
  to: string | null;
  duration_ms: number | null;
  detail: string;
}

export interface SwitchoverDoc {
  from: string;
  to: string;
  pause_ms: number;
}

export function failoverDoc(f: FailoverControl): FailoverDoc {
  const b = f.buffered();
  const s = f.stats;
  return {
    phase: f.phase(),
    primary: f.primaryName(),
    buffered: { statements: b.statements, bytes: b.bytes },
    stats: {
      failovers: s.failovers,
      switchovers: s.switchovers,
      followed: s.followed,
      buffered_total: s.bufferedTotal,
      buffer_rejected: s.bufferRejected,
      retried: s.retried,
      replayed: s.replayed,
      replay_mismatches: s.replayMismatches,
      outcome_unknown: s.outcomeUnknown,
    },
  };
}

export function failoverEventDoc(e: FailoverEvent): FailoverEventDoc {
  return {
    at: new Date(e.at).toISOString(),
    kind: e.kind,
    from: e.from,
    to: e.to,
    duration_ms: e.durationMs === null ? null : round3(e.durationMs),
    detail: e.detail,
  };
}

/** The failover history, oldest first (as kept: bounded). */
export function failoverEventsDoc(f: FailoverControl): FailoverEventDoc[] {
  return f.history().map(failoverEventDoc);
}

export function switchoverDoc(r: SwitchoverResult): SwitchoverDoc {
  return { from: r.from, to: r.to, pause_ms: round3(r.pauseMs) };
}

/** Why failover commands and documents are not available on this Sluice. */
export const FAILOVER_DISABLED_MESSAGE = 'failover is not active on this Sluice (failover.enabled is false, or no replica is configured)';
