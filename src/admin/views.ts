// The JSON documents of the admin HTTP API (docs/openapi.yaml), built from the live proxy state. Pure
// functions of their inputs: field names are snake_case and stable; a value Sluice does not know is null,
// never a missing field. Nothing here may carry a password: users are shown by name, statements only in
// normalized form (literals replaced by ?).
import { quantileMs } from '../frontend/digest-stats.js';
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

export function backendsDoc(ctx: AdminContext, snapshot: TopologySnapshot | null, actions: AdminActions | null): BackendDoc[] {
  const usage = usageByBackend(ctx.pools.list());
  const offline = (name: string): boolean | null => (actions?.isBackendOffline ? actions.isBackendOffline(name) : null);
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
      },
    ];
  }
  return snapshot.backends.map((b) => ({
    name: b.name,
    host: b.host,
    port: b.port,
    role: b.role,
    weight: b.weight,
    health: b.health,
    lag_seconds: b.lagSeconds,
    gtid_position: b.gtidPosition === '' && b.lastCheckAt === 0 ? null : b.gtidPosition,
    read_only: b.readOnly,
    last_error: b.lastError,
    last_check_at: b.lastCheckAt > 0 ? new Date(b.lastCheckAt).toISOString() : null,
    offline: offline(b.name),
    pools: { ...(usage.get(b.name) ?? NO_USAGE) },
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
