// Admin statements on the main port (users with `admin: true` in the config), for the mariadb CLI:
//   SLUICE SHOW BACKENDS | POOLS | SESSIONS | STATS | DIGESTS, SLUICE RESET DIGESTS
//   SLUICE SET BACKEND <name> OFFLINE | ONLINE
//   SLUICE RELOAD (re-reads the config file; handled by ClientSession, which has the loader)
// The result sets carry the same documents as the HTTP API (views.ts), one column per field.
import type { Cell } from '../protocol/resultset.js';
import type { AdminActions, AdminContext, AdminMonitor } from './types.js';
import { backendsDoc, digestsDoc, poolsDoc, sessionsDoc, statsDoc } from './views.js';

export type AdminSqlResult =
  | { kind: 'rows'; columns: string[]; rows: Cell[][] }
  | { kind: 'ok'; message: string }
  | { kind: 'error'; code: number; sqlState: string; message: string };

const RELOAD = /^\s*SLUICE\s+RELOAD\s*;?\s*$/i;
const DIGESTS = /^\s*SLUICE\s+(SHOW|RESET)\s+DIGESTS\s*;?\s*$/i;
const SHOW = /^\s*SLUICE\s+SHOW\s+(BACKENDS|POOLS|SESSIONS|STATS)\s*;?\s*$/i;
const SET_BACKEND = /^\s*SLUICE\s+SET\s+BACKEND\s+`?([A-Za-z0-9_.-]+)`?\s+(OFFLINE|ONLINE)\s*;?\s*$/i;

export function isAdminStatement(sql: string): boolean {
  return SHOW.test(sql) || SET_BACKEND.test(sql) || RELOAD.test(sql) || DIGESTS.test(sql);
}

export function isReloadStatement(sql: string): boolean {
  return RELOAD.test(sql);
}

export function runAdminStatement(sql: string, ctx: AdminContext, monitor: AdminMonitor | null, actions: AdminActions | null): AdminSqlResult {
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
  return { kind: 'error', code: 1064, sqlState: '42000', message: 'Unknown Sluice statement; supported: SLUICE EXPLAIN <stmt>, SLUICE SHOW BACKENDS|POOLS|SESSIONS|STATS, SLUICE SET BACKEND <name> OFFLINE|ONLINE, SLUICE RELOAD' };
}

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
