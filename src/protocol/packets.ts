// Codecs for the generic response packets: OK, ERR, EOF, plus session-state tracking entries.
import { Capability, ServerStatus, SessionTrackType } from './constants.js';
import type { ErrorSpec } from './errors.js';
import { PayloadReader } from './reader.js';
import { PacketWriter } from './writer.js';

export interface SessionStateChanges {
  /** System variables changed by the statement (name → new value), in order reported. */
  variables: Array<[string, string]>;
  schema: string | null;
  /** The server's "something in the session changed" flag (user variables, temp tables, …). */
  stateChanged: boolean;
  gtids: string | null;
  transactionState: string | null;
}

export interface OkPacket {
  header: number; // 0x00, or 0xfe for an OK that replaces EOF
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info: string;
  sessionState: SessionStateChanges | null;
}

export function isOkPayload(p: Buffer): boolean {
  return p.length >= 7 && p[0] === 0x00;
}

export function isErrPayload(p: Buffer): boolean {
  return p.length >= 3 && p[0] === 0xff;
}

/** Old-style EOF: 0xfe with a payload shorter than 9 bytes. */
export function isEofPayload(p: Buffer): boolean {
  return p.length > 0 && p.length < 9 && p[0] === 0xfe;
}

export function parseOk(payload: Buffer, capabilities: number): OkPacket {
  const r = new PayloadReader(payload);
  const header = r.u8();
  const affectedRows = r.lenenc();
  const lastInsertId = r.lenenc();
  const status = r.remaining() >= 2 ? r.u16() : 0;
  const warnings = r.remaining() >= 2 ? r.u16() : 0;
  let info = '';
  let sessionState: SessionStateChanges | null = null;
  if (capabilities & Capability.SESSION_TRACK) {
    if (r.remaining() > 0) info = r.lenencString();
    if (status & ServerStatus.SESSION_STATE_CHANGED && r.remaining() > 0) {
      sessionState = parseSessionState(r.lenencBytes());
    }
  } else if (r.remaining() > 0) {
    info = r.restString();
  }
  return { header, affectedRows, lastInsertId, status, warnings, info, sessionState };
}

export function parseSessionState(data: Buffer): SessionStateChanges {
  const out: SessionStateChanges = {
    variables: [],
    schema: null,
    stateChanged: false,
    gtids: null,
    transactionState: null,
  };
  const r = new PayloadReader(data);
  while (r.remaining() > 0) {
    const type = r.u8();
    const entry = r.lenencBytes();
    const e = new PayloadReader(entry);
    switch (type) {
      case SessionTrackType.SYSTEM_VARIABLES: {
        const name = e.lenencString();
        const value = e.remaining() > 0 ? e.lenencString() : '';
        out.variables.push([name, value]);
        break;
      }
      case SessionTrackType.SCHEMA:
        out.schema = e.lenencString();
        break;
      case SessionTrackType.STATE_CHANGE:
        // MariaDB sends the bare "1"; MySQL documents a length-encoded "1": accept both.
        out.stateChanged = entry.includes(0x31);
        break;
      case SessionTrackType.GTIDS:
        // [encoding spec byte][length-encoded GTID set]
        e.u8();
        out.gtids = e.remaining() > 0 ? e.lenencString() : '';
        break;
      case SessionTrackType.TRANSACTION_STATE:
        out.transactionState = e.remaining() > 0 ? e.lenencString() : '';
        break;
      default:
        break; // unknown entry types are skipped, as the protocol allows
    }
  }
  return out;
}

export interface OkFields {
  affectedRows?: number;
  lastInsertId?: number;
  status: number;
  warnings?: number;
  info?: string;
  header?: number;
}

/** Encodes an OK payload for a client with `capabilities` (session state is never included). */
export function writeOk(w: PacketWriter, f: OkFields, capabilities: number): PacketWriter {
  w.u8(f.header ?? 0x00)
    .lenenc(f.affectedRows ?? 0)
    .lenenc(f.lastInsertId ?? 0)
    .u16(f.status & ~ServerStatus.SESSION_STATE_CHANGED)
    .u16(f.warnings ?? 0);
  const info = f.info ?? '';
  if (capabilities & Capability.SESSION_TRACK) {
    if (info.length > 0) w.lenencString(info);
  } else {
    w.string(info);
  }
  return w;
}

export function okPacket(seq: number, f: OkFields, capabilities: number): Buffer {
  return writeOk(new PacketWriter(32), f, capabilities).finish(seq);
}

export interface ErrPacket {
  code: number;
  sqlState: string;
  message: string;
}

export function parseErr(payload: Buffer): ErrPacket {
  const r = new PayloadReader(payload);
  r.u8();
  const code = r.u16();
  let sqlState = 'HY000';
  if (r.remaining() > 0 && payload[r.pos] === 0x23 /* # */) {
    r.u8();
    sqlState = r.bytes(5).toString('latin1');
  }
  return { code, sqlState, message: r.restString() };
}

export function errPacket(seq: number, spec: ErrorSpec, message: string): Buffer {
  const w = new PacketWriter(16 + message.length);
  w.u8(0xff).u16(spec.code).u8(0x23).string(spec.sqlState).string(message);
  return w.finish(seq);
}

export function eofPacket(seq: number, status: number, warnings = 0): Buffer {
  return new PacketWriter(9).u8(0xfe).u16(warnings).u16(status).finish(seq);
}

/** Status and warnings of an OK (0x00/0xfe long form) or EOF payload. */
export function readStatusAndWarnings(payload: Buffer, out: { status: number; warnings: number }): void {
  readStatusAndWarningsAt(payload, 0, payload.length, out);
}

/**
 * The same for the payload at buf[start, end): no view is made (the response scanner reads two of these per
 * result set on the hot path, and a Buffer view costs more than the read).
 */
export function readStatusAndWarningsAt(buf: Buffer, start: number, end: number, out: { status: number; warnings: number }): void {
  const length = end - start;
  if (buf[start] === 0xfe && length < 7) {
    // Old EOF (5 bytes). An OK that replaces EOF (DEPRECATE_EOF) is at least 7 bytes.
    out.warnings = length >= 3 ? buf[start + 1]! | (buf[start + 2]! << 8) : 0;
    out.status = length >= 5 ? buf[start + 3]! | (buf[start + 4]! << 8) : 0;
    return;
  }
  let pos = start + 1;
  pos += lenencLen(buf, pos, end);
  pos += lenencLen(buf, pos, end);
  out.status = pos + 2 <= end ? buf[pos]! | (buf[pos + 1]! << 8) : 0;
  out.warnings = pos + 4 <= end ? buf[pos + 2]! | (buf[pos + 3]! << 8) : 0;
}

function lenencLen(b: Buffer, pos: number, end: number): number {
  if (pos >= end) return 1;
  const f = b[pos]!;
  if (f < 0xfb) return 1;
  if (f === 0xfc) return 3;
  if (f === 0xfd) return 4;
  if (f === 0xfe) return 9;
  return 1;
}
