// A session's state as Sluice keeps it: for each client (what it asked for) and for each backend
// connection (what that server session holds). Moving a client to a backend connection means bringing
// the latter's state in line with the former's, sending only the differences.

/** Variables never copied between sessions: Sluice's own tracking setup and values the server owns. */
export function isSyncableVariable(name: string): boolean {
  // insert_id is consumed by the next insert: replaying it elsewhere would reuse the value.
  return !(name.startsWith('session_track_') || name === 'last_gtid' || name === 'gtid_seq_no' || name === 'in_transaction' || name === 'insert_id');
}

export class SessionState {
  /** System variables that differ from a fresh connection (lower-case name → value as the server reports it). */
  readonly vars = new Map<string, string>();
  /** User variables (lower-case name without '@' → SQL literal that recreates the value). */
  readonly userVars = new Map<string, string>();
  schema: string | null = null;
  /** Value LAST_INSERT_ID() returns in this session. */
  lastInsertId = 0;
  private sig: string | null = null;
  /** sql_mode flags the lexer needs, derived once per sql_mode change (read per statement). */
  private modeFlags = -1;

  setVar(name: string, value: string): void {
    const key = name.toLowerCase();
    if (!isSyncableVariable(key)) return;
    if (this.vars.get(key) === value) return;
    this.vars.set(key, value);
    this.sig = null;
    if (key === 'sql_mode') this.modeFlags = -1;
  }

  setSchema(schema: string | null): void {
    if (schema === '') schema = null;
    if (this.schema === schema) return;
    this.schema = schema;
    this.sig = null;
  }

  setUserVar(name: string, literal: string): void {
    const key = name.toLowerCase();
    if (literal === 'NULL') {
      if (this.userVars.delete(key)) this.sig = null;
      return;
    }
    if (this.userVars.get(key) === literal) return;
    this.userVars.set(key, literal);
    this.sig = null;
  }

  setLastInsertId(id: number): void {
    this.lastInsertId = id;
  }

  /** A string equal for two states exactly when they need no sync; cached until the next change. */
  signature(): string {
    if (this.sig !== null) return this.sig;
    // LAST_INSERT_ID is left out: it is synced only for statements that read it (see ClientSession).
    let s = this.schema ?? '';
    const names = [...this.vars.keys()].sort();
    for (const n of names) s += '\u0000' + n + '=' + this.vars.get(n);
    s += '\u0001';
    const unames = [...this.userVars.keys()].sort();
    for (const n of unames) s += '\u0000' + n + '=' + this.userVars.get(n);
    this.sig = s;
    return s;
  }

  copyFrom(other: SessionState): void {
    this.vars.clear();
    for (const [k, v] of other.vars) this.vars.set(k, v);
    this.userVars.clear();
    for (const [k, v] of other.userVars) this.userVars.set(k, v);
    this.schema = other.schema;
    this.lastInsertId = other.lastInsertId;
    this.sig = other.sig;
    this.modeFlags = -1;
  }

  clear(baseline: ReadonlyMap<string, string>): void {
    this.vars.clear();
    for (const [k, v] of baseline) this.vars.set(k, v);
    this.userVars.clear();
    this.schema = null;
    this.lastInsertId = 0;
    this.sig = null;
    this.modeFlags = -1;
  }

  noBackslashEscapes(): boolean {
    return (this.sqlModeFlags() & 1) !== 0;
  }

  ansiQuotes(): boolean {
    return (this.sqlModeFlags() & 2) !== 0;
  }

  private sqlModeFlags(): number {
    if (this.modeFlags < 0) {
      const mode = this.vars.get('sql_mode') ?? '';
      this.modeFlags = (/NO_BACKSLASH_ESCAPES/i.test(mode) ? 1 : 0) | (/ANSI_QUOTES|\bANSI\b/i.test(mode) ? 2 : 0);
    }
    return this.modeFlags;
  }
}

export interface SyncPlan {
  /** One SET statement for variables, user variables and LAST_INSERT_ID; null when none differ. */
  setSql: string | null;
  /** Schema to select with COM_INIT_DB; undefined when unchanged. */
  schema: string | null | undefined;
}

/**
 * Computes what must run on a backend session in state `current` to give it state `target`.
 * String literals are escaped for the backend's current sql_mode (the SET is parsed before it runs).
 */
export function planSync(target: SessionState, current: SessionState): SyncPlan {
  const parts: string[] = [];
  const nbe = current.noBackslashEscapes();
  // Sorted so character_set_* come before collation_* (setting a charset resets its collation).
  const names = new Set<string>([...target.vars.keys(), ...current.vars.keys()]);
  for (const name of [...names].sort()) {
    const want = target.vars.get(name);
    const have = current.vars.get(name);
    if (want === have) continue;
    // An empty character_set_results is how the server reports NULL (no conversion of results).
    const value = want === undefined ? 'DEFAULT' : want === '' && name === 'character_set_results' ? 'NULL' : sqlValue(want, nbe);
    parts.push(`@@session.${name}=${value}`);
  }
  for (const [name, lit] of target.userVars) {
    if (current.userVars.get(name) !== lit) parts.push(`@${quoteUserVar(name)}=${lit}`);
  }
  for (const name of current.userVars.keys()) {
    if (!target.userVars.has(name)) parts.push(`@${quoteUserVar(name)}=NULL`);
  }
  if (target.lastInsertId !== current.lastInsertId) parts.push(`@@session.last_insert_id=${target.lastInsertId}`);
  return {
    setSql: parts.length > 0 ? 'SET ' + parts.join(',') : null,
    schema: target.schema !== current.schema ? target.schema : undefined,
  };
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

export function sqlValue(value: string, noBackslashEscapes: boolean): string {
  if (NUMERIC.test(value)) return value;
  return sqlString(value, noBackslashEscapes);
}

export function sqlString(value: string, noBackslashEscapes: boolean): string {
  let s = value.replace(/'/g, "''");
  if (!noBackslashEscapes) s = s.replace(/\\/g, '\\\\');
  return `'${s.replace(/\u0000/g, noBackslashEscapes ? '\u0000' : '\\0')}'`;
}

export function quoteUserVar(name: string): string {
  return /^[a-z0-9_$.]+$/i.test(name) ? name : '`' + name.replace(/`/g, '``') + '`';
}
