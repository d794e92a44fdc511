// The routing decision for one statement: a pure function of what the lexer saw, the session's
// situation and the configured/session preferences. ClientSession applies it; SLUICE EXPLAIN shows it.
import { StatementFlag, StatementKind, type StatementInfo } from './lexer.js';

export type RoutePreference = 'auto' | 'primary' | 'replica';

export interface RouteDecision {
  target: 'primary' | 'replica';
  reason: string;
}

/** Flags that make a read unfit for a replica (locks, side effects, values only the primary knows). */
const PRIMARY_ONLY_FLAGS =
  StatementFlag.FOR_UPDATE |
  StatementFlag.FOR_SHARE |
  StatementFlag.INTO |
  StatementFlag.USER_VAR_WRITE |
  StatementFlag.GET_LOCK |
  StatementFlag.RELEASE_LOCK |
  StatementFlag.LOCK_FUNCTION |
  StatementFlag.LAST_INSERT_ID |
  StatementFlag.SQL_CALC_FOUND_ROWS |
  StatementFlag.FOUND_ROWS |
  StatementFlag.NEXTVAL |
  StatementFlag.CONNECTION_ID |
  StatementFlag.SYSTEM_SCHEMA |
  StatementFlag.TEMPORARY;

const FLAG_REASONS: Array<[number, string]> = [
  [StatementFlag.FOR_UPDATE, 'FOR UPDATE takes locks'],
  [StatementFlag.FOR_SHARE, 'FOR SHARE / LOCK IN SHARE MODE takes locks'],
  [StatementFlag.INTO, 'SELECT … INTO writes'],
  [StatementFlag.USER_VAR_WRITE, 'assigns user variables'],
  [StatementFlag.GET_LOCK, 'lock function'],
  [StatementFlag.RELEASE_LOCK, 'lock function'],
  [StatementFlag.LOCK_FUNCTION, 'lock function'],
  [StatementFlag.LAST_INSERT_ID, 'LAST_INSERT_ID() is per primary session'],
  [StatementFlag.SQL_CALC_FOUND_ROWS, 'SQL_CALC_FOUND_ROWS / FOUND_ROWS()'],
  [StatementFlag.FOUND_ROWS, 'SQL_CALC_FOUND_ROWS / FOUND_ROWS()'],
  [StatementFlag.NEXTVAL, 'sequence function'],
  [StatementFlag.CONNECTION_ID, 'CONNECTION_ID()'],
  [StatementFlag.SYSTEM_SCHEMA, 'reads a system schema'],
  [StatementFlag.TEMPORARY, 'temporary table'],
];

export function isReadKind(kind: StatementKind): boolean {
  return kind === StatementKind.Select || kind === StatementKind.Show || kind === StatementKind.Values || kind === StatementKind.Table || kind === StatementKind.Help;
}

export function replicaEligible(info: StatementInfo): boolean {
  return isReadKind(info.kind) && (info.flags & PRIMARY_ONLY_FLAGS) === 0;
}

/** Route preference from a `/* sluice:route=… *\/` hint, or null. */
export function hintRoute(info: StatementInfo): RoutePreference | null {
  const h = info.hint;
  if (h === null) return null;
  const m = /(?:^|[\s,;])route\s*=\s*(primary|replica|auto)\b/i.exec(h);
  return m ? (m[1]!.toLowerCase() as RoutePreference) : null;
}

export interface RouteSituation {
  /** For a multi-statement: whether every part is replica-eligible (ClientSession splits and lexes them). */
  multiAllReads?: boolean;
  /** read_write_split on and at least one replica configured. */
  splitting: boolean;
  /** The session keeps a connection (transaction, locks …) or runs with autocommit off. */
  pinnedOrTransactional: boolean;
  preference: RoutePreference;
  /** routing.read_only_transactions = replica: START TRANSACTION READ ONLY (and all of it) goes to a replica. */
  readOnlyTransactionsToReplica?: boolean;
}

export function decideRoute(info: StatementInfo, s: RouteSituation): RouteDecision {
  const hinted = hintRoute(info);
  const pref = hinted ?? s.preference;
  const via = hinted !== null ? 'hint' : 'session/user setting';
  if (!s.splitting) return { target: 'primary', reason: 'read/write splitting is off or no replica is configured' };
  if (s.pinnedOrTransactional) return { target: 'primary', reason: 'inside a transaction or pinned session' };
  if (info.kind === StatementKind.Begin && info.flags & StatementFlag.READ_ONLY_TRANSACTION && !(info.flags & StatementFlag.MULTI_STATEMENT) && s.readOnlyTransactionsToReplica && pref !== 'primary') {
    return { target: 'replica', reason: 'read-only transaction (routing.read_only_transactions = replica)' };
  }
  if (pref === 'primary') return { target: 'primary', reason: `route=primary (${via})` };
  // Only reads can be forced onto a replica: a write there would fail (read_only) or, for accounts that
  // bypass read_only, silently diverge from the primary.
  if (!isReadKind(info.kind)) return { target: 'primary', reason: pref === 'replica' ? 'not a read (route=replica applies to reads only)' : 'not a read' };
  if (info.flags & StatementFlag.MULTI_STATEMENT && !s.multiAllReads) return { target: 'primary', reason: 'multi-statement with a part that is not a plain read' };
  if (pref === 'replica') return { target: 'replica', reason: `route=replica (${via})` };
  for (const [flag, why] of FLAG_REASONS) if (info.flags & flag) return { target: 'primary', reason: why };
  return { target: 'replica', reason: 'read-only statement' };
}
