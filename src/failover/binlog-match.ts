// The last resort for writes cut off by a primary failure when the acknowledged GTIDs alone cannot decide:
// the surviving primary's binlog says which statements the unacknowledged GTIDs carried (Annotate_rows
// events hold the statement text in row format; Query events in statement format and for DDL). A write
// whose text no unacknowledged GTID carries did not commit; one that exactly one GTID carries, and no other
// interrupted write could claim, did. Anything else stays "outcome unknown".
import type { NodeAdmin } from './node-admin.js';
import { sqlString } from './node-admin.js';

export interface BinlogCheckpoint {
  file: string;
  pos: number;
  /** @@gtid_binlog_pos read right after (File, Position): no event before (file, pos) is newer. */
  gtid: string;
}

/** One binlogged transaction: its GTID and the statement texts it carried. */
export interface BinlogTransaction {
  domain: number;
  server: number;
  seq: number;
  texts: string[];
}

const GTID_INFO = /^(?:BEGIN\s+)?GTID\s+(\d+)-(\d+)-(\d+)/;
const USE_PREFIX = /^use\s+`(?:[^`]|``)*`;\s*/i;
const EVENTS_PER_QUERY = 20000;

/** Reads (file, pos) and then the binlog position of `node`. */
export async function readCheckpoint(node: NodeAdmin, timeoutMs: number): Promise<BinlogCheckpoint | null> {
  const status = await node.rows('SHOW MASTER STATUS', timeoutMs);
  const gtid = await node.rows('SELECT @@gtid_binlog_pos', timeoutMs);
  const file = status[0]?.[0];
  const pos = Number(status[0]?.[1]);
  if (!file || !Number.isFinite(pos)) return null;
  return { file, pos, gtid: gtid[0]?.[0] ?? '' };
}

/**
 * The transactions binlogged on `node` from `from` on (keyed "domain-seq"), at most maxEvents events.
 * Follows rotations into later files.
 */
export async function readBinlogTransactions(node: NodeAdmin, from: BinlogCheckpoint, timeoutMs: number, maxEvents = 200000): Promise<Map<string, BinlogTransaction>> {
  const out = new Map<string, BinlogTransaction>();
  const files = (await node.rows('SHOW BINARY LOGS', timeoutMs)).map((r) => r[0] ?? '').filter((f) => f >= from.file).sort();
  let seen = 0;
  let cur: BinlogTransaction | null = null;
  for (const file of files) {
    let pos = file === from.file ? from.pos : 4;
    for (;;) {
      const rows = await node.rows(`SHOW BINLOG EVENTS IN ${sqlString(file)} FROM ${pos} LIMIT ${EVENTS_PER_QUERY}`, timeoutMs);
      for (const r of rows) {
        const type = r[2] ?? '';
        const info = r[5] ?? '';
        if (type === 'Gtid') {
          const m = GTID_INFO.exec(info);
          cur = m ? { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]), texts: [] } : null;
          if (cur) out.set(`${cur.domain}-${cur.seq}`, cur);
        } else if (cur !== null && (type === 'Annotate_rows' || type === 'Query')) {
          const text = info.replace(USE_PREFIX, '').replace(/^\s+/, '').replace(/[\s;]+$/, '');
          if (!/^(BEGIN|COMMIT|XA\s)/i.test(text)) cur.texts.push(text);
        }
      }
      seen += rows.length;
      if (rows.length < EVENTS_PER_QUERY || seen >= maxEvents) break;
      pos = Number(rows[rows.length - 1]![4]); // End_log_pos of the last event read
    }
    if (seen >= maxEvents) break;
  }
  return out;
}

/** What an interrupted write would have binlogged, and the OK its client would have got if it committed. */
export interface WriteSignature {
  /** Statement texts in the order the server would binlog them (a COMMIT: the transaction's writes). */
  texts: string[];
  /** Affected rows of the OK if it committed (null: cannot be known; then "committed" is not answerable). */
  affectedRows: number | null;
  /** A table whose AUTO_INCREMENT would make the OK's insert id unknowable ('' = none to check). */
  insertTable: { schema: string | null; table: string } | null;
}

/** True when every text of `sub` occurs in `all` (as a multiset). */
export function textsWithin(sub: readonly string[], all: readonly string[]): boolean {
  if (sub.length === 0 || sub.length > all.length) return false;
  const left = new Map<string, number>();
  for (const t of all) left.set(t, (left.get(t) ?? 0) + 1);
  for (const t of sub) {
    const n = left.get(t) ?? 0;
    if (n === 0) return false;
    left.set(t, n - 1);
  }
  return true;
}

const PLAIN_INSERT = /^\s*INSERT\s+(?:INTO\s+)?((?:`(?:[^`]|``)+`|\w+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|\w+))?)\s*(?:\([^()]*\)\s*)?VALUES?\s*\(/i;

/**
 * For `INSERT [INTO] t [(cols)] VALUES (…), (…)` (no IGNORE, no ON DUPLICATE KEY, no SELECT, no comments):
 * the table and the number of rows (the affected rows of its OK). Null for anything else.
 */
export function plainInsert(sql: string): { schema: string | null; table: string; rows: number } | null {
  const m = PLAIN_INSERT.exec(sql);
  if (!m) return null;
  const parts = m[1]!.split(/\s*\.\s*(?=(?:[^`]*`[^`]*`)*[^`]*$)/).map((p) => p.replace(/^`|`$/g, '').replace(/``/g, '`'));
  const table = parts.length === 2 ? parts[1]! : parts[0]!;
  const schema = parts.length === 2 ? parts[0]! : null;
  // Count the top-level value tuples after VALUES, honouring quotes; anything after them disqualifies.
  let i = m[0].length - 1;
  let rows = 0;
  const n = sql.length;
  for (;;) {
    if (sql[i] !== '(') return null;
    let depth = 0;
    for (; i < n; i++) {
      const c = sql[i]!;
      if (c === "'" || c === '"' || c === '`') {
        const q = c;
        for (i++; i < n; i++) {
          if (sql[i] === '\\' && q !== '`') i++;
          else if (sql[i] === q) {
            if (sql[i + 1] === q) i++;
            else break;
          }
        }
        continue;
      }
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    if (i >= n) return null;
    rows++;
    i++;
    while (i < n && /\s/.test(sql[i]!)) i++;
    if (sql[i] === ',') {
      i++;
      while (i < n && /\s/.test(sql[i]!)) i++;
      continue;
    }
    if (i >= n || (sql[i] === ';' && sql.slice(i + 1).trim() === '')) return { schema, table, rows };
    return null;
  }
}
