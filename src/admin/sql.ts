// Admin statements on the main port (users with `admin: true` in the config), for the mariadb CLI:
//   SLUICE SHOW BACKENDS | POOLS | SESSIONS | STATS | DIGESTS, SLUICE RESET DIGESTS
//   SLUICE SHOW FAILOVER | FAILOVERS
//   SLUICE SET BACKEND <name> OFFLINE | ONLINE
//   SLUICE RELOAD (re-reads the config file; handled by ClientSession, which has the loader)
//   SLUICE SWITCHOVER [TO <name>] (asynchronous: ClientSession calls runSwitchover and answers when it settles)
// The result sets carry the same documents as the HTTP API (views.ts), one column per field.
import type { Cell } from '../protocol/resultset.js';
import type { SwitchoverResult } from '../failover/types.js';
import type { AdminActions, AdminContext, AdminMonitor } from './types.js';
import { backendsDoc, digestsDoc, failoverDoc, failoverEventsDoc, poolsDoc, sessionsDoc, statsDoc, FAILOVER_DISABLED_MESSAGE } from './views.js';

export type AdminSqlResult =
  | { kind: 'rows'; columns: string[]; rows: Cell[][] }
  | { kind: 'ok'; message: string }
  | { kind: 'error'; code: number; sqlState: string; message: string };

const RELOAD = /^\s*SLUICE\s+RELOAD\s*;?\s*$/i;
const DIGESTS = /^\s*SLUICE\s+(SHOW|RESET)\s+DIGESTS\s*;?\s*$/i;
const SHOW = /^\s*SLUICE\s+SHOW\s+(BACKENDS|POOLS|SESSIONS|STATS|FAILOVERS|FAILOVER)\s*;?\s*$/i;
const SET_BACKEND = /^\s*SLUICE\s+SET\s+BACKEND\s+`?([A-Za-z0-9_.-]+)`?\s+(OFFLINE|ONLINE)\s*;?\s*$/i;
/** SLUICE SWITCHOVER [TO <name>] (name bare, `quoted` or 'quoted'). */
const SWITCHOVER = /^\s*SLUICE\s+SWITCHOVER(?:\s+TO\s+(?:`([^`]+)`|'([^']+)'|([A-Za-z0-9_.-]+)))?\s*;?\s*$/i;
/** Any statement that starts like a switchover (so a malformed one still needs the admin privilege). */
const SWITCHOVER_PREFIX = /^\s*SLUICE\s+SWITCHOVER\b/i;

/** Error number (ER_UNKNOWN_ERROR, SQLSTATE HY000) of a switchover that was refused or failed. */
export const SWITCHOVER_ERROR_CODE = 1105;
/** Error number of Sluice admin commands that cannot run in this configuration (as SLUICE RELOAD uses). */
export const ADMIN_UNAVAILABLE_CODE = 1210;

export function isAdminStatement(sql: string): boolean {
  return SHOW.test(sql) || SET_BACKEND.test(sql) || RELOAD.test(sql) || DIGESTS.test(sql) || SWITCHOVER_PREFIX.test(sql);
}

export function isReloadStatement(sql: string): boolean {
  return RELOAD.test(sql);
}

/** SLUICE SWITCHOVER … (well-formed or not: runSwitchover answers a malformed one with a syntax error). */
export function isSwitchoverStatement(sql: string): boolean {
  return SWITCHOVER_PREFIX.test(sql);
}

/** The target of `SLUICE SWITCHOVER [TO <name>]` (null: let Sluice pick the most advanced healthy replica); null when malformed. */
export function parseSwitchover(sql: string): { target: string | null } | null {
  const m = SWITCHOVER.exec(sql);
  if (!m) return null;
  return { target: m[1] ?? m[2] ?? m[3] ?? null };
}

/** The OK packet's info text for a switchover that completed. */
export function switchoverMessage(r: SwitchoverResult): string {
  return `switched over from ${r.from} to ${r.to}, pause ${Math.round(r.pauseMs)} ms`;
}

/**
 * Runs `SLUICE SWITCHOVER [TO <name>]` (the caller has checked the admin privilege). Never rejects: resolves
 * with an OK (info: "switched over from A to B, pause N ms") or an error to send (1064 malformed, 1210
 * failover not active, 1105 refused or failed, with the manager's reason).
 */
export async function runSwitchover(sql: string, ctx: AdminContext): Promise<AdminSqlResult & { kind: 'ok' | 'error' }> {
  const parsed = parseSwitchover(sql);
  if (parsed === null) {
    return { kind: 'error', code: 1064, sqlState: '42000', message: 'Sluice: malformed statement; expected SLUICE SWITCHOVER [TO <backend name>]' };
  }
  const failover = ctx.failover ?? null;
  if (failover === null) return { kind: 'error', code: ADMIN_UNAVAILABLE_CODE, sqlState: 'HY000', message: `Sluice: ${FAILOVER_DISABLED_MESSAGE}` };
  try {
    const result = await failover.switchover(parsed.target);
    return { kind: 'ok', message: switchoverMessage(result) };
  } catch (err) {
    return { kind: 'error', code: SWITCHOVER_ERROR_CODE, sqlState: 'HY000', message: `Sluice: switchover not done: ${errorText(err)}` };
  }
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.slice(0, 2000);
}

export function runAdminStatement(sql: string, ctx: AdminContext, monitor: AdminMonitor | null, actions: AdminActions | null): AdminSqlResult {
  if (isSwitchoverStatement(sql)) {
    // Asynchronous: the session must call runSwitchover() and answer when it settles.
    return { kind: 'error', code: ADMIN_UNAVAILABLE_CODE, sqlState: 'HY000', message: 'Sluice: SLUICE SWITCHOVER is not available on this connection (use POST /api/v1/switchover)' };
  }
  const dig = DIGESTS.exec(sql);
  if (dig && ctx.digests) {
    if (dig[1]!.toUpperCase() === 'RESET') {
      ctx.digests.reset();
      return { kind: 'ok', message: 'digest statistics reset' };
    }
    return table(digestsDoc(ctx));
  }
  const show = SHOW.exec(sql);
  if (show) {
    switch (show[1]!.toUpperCase()) {
      case 'BACKENDS':
        return table(backendsDoc(ctx, monitor?.snapshot() ?? null, actions));
      case 'POOLS':
        return table(poolsDoc(ctx));
      case 'SESSIONS':
        return table(sessionsDoc(ctx));
      case 'FAILOVER':
      case 'FAILOVERS': {
        const f = ctx.failover ?? null;
        if (f === null) return { kind: 'error', code: ADMIN_UNAVAILABLE_CODE, sqlState: 'HY000', message: `Sluice: ${FAILOVER_DISABLED_MESSAGE}` };
        if (show[1]!.toUpperCase() === 'FAILOVERS') {
          return { kind: 'rows', columns: FAILOVER_EVENT_COLUMNS, rows: failoverEventsDoc(f).map((e) => [e.at, e.kind, e.from, e.to, e.duration_ms, e.detail]) };
        }
        const d = failoverDoc(f);
        const stats = Object.entries(d.stats);
        return {
          kind: 'rows',
          columns: ['phase', 'primary', 'buffered_statements', 'buffered_bytes', ...stats.map(([k]) => k)],
          rows: [[d.phase, d.primary, d.buffered.statements, d.buffered.bytes, ...stats.map(([, v]) => v)]],
        };
      }
      default: {
        const stats = statsDoc(ctx) as unknown as Record<string, unknown>;
        return { kind: 'rows', columns: ['name', 'value'], rows: flatten(stats).map(([k, v]) => [k, v]) };
      }
    }
  }
  const set = SET_BACKEND.exec(sql);
  if (set) {
    const [name, state] = [set[1]!, set[2]!.toUpperCase()];
    if (actions === null || !actions.setBackendOffline(name, state === 'OFFLINE')) {
      return { kind: 'error', code: 1210, sqlState: 'HY000', message: `Sluice: no replica named '${name}' (only replicas can be taken offline)` };
    }
    return { kind: 'ok', message: `backend ${name} ${state.toLowerCase()}` };
  }
  return {
    kind: 'error',
    code: 1064,
    sqlState: '42000',
    message:
      'Unknown Sluice statement; supported: SLUICE EXPLAIN <stmt>, SLUICE SHOW BACKENDS|POOLS|SESSIONS|STATS|DIGESTS|FAILOVER|FAILOVERS, SLUICE RESET DIGESTS, SLUICE SET BACKEND <name> OFFLINE|ONLINE, SLUICE SWITCHOVER [TO <name>], SLUICE RELOAD',
  };
}

const FAILOVER_EVENT_COLUMNS = ['at', 'kind', 'from', 'to', 'duration_ms', 'detail'];

/** One row per document, one column per (flattened) field. */
function table(docs: readonly object[]): AdminSqlResult {
  const rows = docs.map((d) => flatten(d as Record<string, unknown>));
  const columns = rows[0]?.map(([k]) => k) ?? ['(none)'];
  return { kind: 'rows', columns, rows: rows.map((r) => r.map(([, v]) => v)) };
}

function flatten(doc: Record<string, unknown>, prefix = ''): Array<[string, Cell]> {
  const out: Array<[string, Cell]> = [];
  for (const [k, v] of Object.entries(doc)) {
    const key = prefix + k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v as Record<string, unknown>, key + '.'));
    else if (Array.isArray(v)) out.push([key, v.join(',')]);
    else if (typeof v === 'boolean') out.push([key, v ? 1 : 0]);
    else out.push([key, (v ?? null) as Cell]);
  }
  return out;
}
