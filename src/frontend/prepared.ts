// Prepared statements under multiplexing. Clients see Sluice's statement ids; each backend connection
// keeps its own server statements (keyed by SQL + the session properties that affect parsing) and
// Sluice (re)prepares on whichever connection executes. Parameter types are remembered per statement
// because a client sends them only when they change (new-params-bound flag).
import { Buffer } from 'node:buffer';
import { Command } from '../protocol/constants.js';
import { PacketWriter } from '../protocol/writer.js';
import type { StatementInfo } from '../router/lexer.js';
import type { Digest } from '../router/digest.js';

export interface ClientStatement {
  readonly id: number;
  /** SQL bytes (COM_STMT_PREPARE payload without the command byte). */
  readonly sql: Buffer;
  readonly key: string;
  readonly params: number;
  readonly columns: number;
  /** 2 bytes per parameter, from the last execute that sent them. */
  paramTypes: Buffer | null;
  /** A cursor is open on the attached backend connection. */
  cursorOpen: boolean;
  /** COM_STMT_SEND_LONG_DATA was sent to the attached backend connection since the last reset. */
  longData: boolean;
  /** What the lexer says about the SQL (pins and user-variable captures apply per execute). */
  readonly info: StatementInfo;
  /** Normalized text + hash, computed once at prepare (digest statistics). */
  readonly digest: Digest;
}

/** Cache key of a server-side statement: what it was parsed under matters, not just its text. */
export function statementKey(sql: Buffer, schema: string | null, sqlMode: string | undefined, charset: string | undefined): string {
  const key = `${schema ?? ''}\u0000${sqlMode ?? ''}\u0000${charset ?? ''}\u0000${sql.toString('latin1')}`;
  if (key.length > MAX_INTERNED_KEY_LENGTH) return key;
  const known = internedKeys.get(key);
  if (known !== undefined) return known;
  if (internedKeys.size >= MAX_INTERNED_KEYS) internedKeys.clear();
  internedKeys.set(key, key);
  return key;
}

/**
 * One string object per statement key: each execute looks its key up in the connection's statement map, and
 * a key that is the very string stored there compares by pointer, where an equal copy (another client's
 * prepare of the same SQL) is compared character by character, sql_mode included. Bounded in count and in
 * key length (the table outlives the statements: 10,000 huge statements must not stay in memory through it);
 * only speed depends on it.
 */
const internedKeys = new Map<string, string>();
const MAX_INTERNED_KEYS = 10000;
const MAX_INTERNED_KEY_LENGTH = 4096;

export function preparePayload(sql: Buffer): Buffer {
  return new PacketWriter(sql.length + 8).u8(Command.STMT_PREPARE).bytes(sql).finish(0).subarray(4);
}

export interface ExecuteHeader {
  stmtId: number;
  flags: number;
  /** Offset of the NULL bitmap (10), and of the new-params-bound byte. */
  boundFlagOffset: number;
  newParamsBound: boolean;
}

/** Reads the fixed part of a COM_STMT_EXECUTE payload for a statement with `params` parameters. */
export function readExecuteHeader(payload: Buffer, params: number): ExecuteHeader | null {
  if (payload.length < 10) return null;
  const stmtId = payload.readUInt32LE(1);
  const flags = payload[5]!;
  if (params === 0) return { stmtId, flags, boundFlagOffset: -1, newParamsBound: false };
  const boundFlagOffset = 10 + ((params + 7) >> 3);
  if (payload.length <= boundFlagOffset) return null;
  return { stmtId, flags, boundFlagOffset, newParamsBound: payload[boundFlagOffset] === 1 };
}

/** Rebuilds an execute payload that omitted types (flag 0) into one that carries `types`. */
export function withParamTypes(payload: Buffer, boundFlagOffset: number, types: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + types.length);
  payload.copy(out, 0, 0, boundFlagOffset);
  out[boundFlagOffset] = 1;
  types.copy(out, boundFlagOffset + 1);
  payload.copy(out, boundFlagOffset + 1 + types.length, boundFlagOffset + 1);
  return out;
}
