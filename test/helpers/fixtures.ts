// Wire-byte builders for protocol tests, in the spirit of node-postgres's pg-protocol `testing/` builders.
//
// Everything here is written independently of src/protocol/writer.ts (plain Buffer arithmetic), so codec
// tests compare Sluice's encoders and decoders against a second implementation of the wire format rather
// than against themselves. Payload builders return a payload (no header); `frame()` adds headers, splitting
// payloads of 0xffffff bytes or more into continuation packets; `Wire` strings framed packets together and
// remembers where each physical packet starts, what it is, and which control kind the ResponseScanner is
// expected to report for it. Response builders (`textResult`, `prepareResponse`, …) append a whole response
// shape to a Wire.
import { ControlKind, ResponseKind } from '../../src/protocol/response-scanner.js';

// ---------------------------------------------------------------------------------------------------------
// Constants (copied from the protocol documentation, deliberately not imported from src/)

export const MAX_CHUNK = 0xffffff;

export const CLIENT = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 2,
  LONG_FLAG: 4,
  CONNECT_WITH_DB: 8,
  LOCAL_FILES: 0x80,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PS_MULTI_RESULTS: 0x40000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
} as const;

export const STATUS = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
  CURSOR_EXISTS: 0x0040,
  LAST_ROW_SENT: 0x0080,
  SESSION_STATE_CHANGED: 0x4000,
} as const;

export const TYPE = {
  LONG: 0x03,
  LONGLONG: 0x08,
  VAR_STRING: 0xfd,
  BLOB: 0xfc,
} as const;

// ---------------------------------------------------------------------------------------------------------
// Primitives

export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

export function u24(v: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntLE(v, 0, 3);
  return b;
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** Length-encoded integer, always in its shortest form. */
export function lenenc(v: number | bigint): Buffer {
  const n = BigInt(v);
  if (n < 0xfbn) return Buffer.from([Number(n)]);
  if (n < 0x10000n) return Buffer.concat([Buffer.from([0xfc]), u16(Number(n))]);
  if (n < 0x1000000n) return Buffer.concat([Buffer.from([0xfd]), u24(Number(n))]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(n, 1);
  return b;
}

export function lenencBytes(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([lenenc(data.length), data]);
}

export function nul(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

// ---------------------------------------------------------------------------------------------------------
// Framing

/** Header + payload; payloads of ≥ 0xffffff bytes become several physical packets (seq, seq+1, …). */
export function frame(payload: Buffer, seq: number): Buffer {
  return Buffer.concat(framePhysical(payload, seq));
}

/** The physical packets `frame()` would produce, one buffer each. */
export function framePhysical(payload: Buffer, seq: number): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  let s = seq;
  for (;;) {
    const n = Math.min(MAX_CHUNK, payload.length - off);
    const header = Buffer.alloc(4);
    header.writeUIntLE(n, 0, 3);
    header[3] = s & 0xff;
    out.push(Buffer.concat([header, payload.subarray(off, off + n)]));
    off += n;
    s++;
    if (n < MAX_CHUNK) return out;
  }
}

/** Frames several payloads with consecutive sequence ids. */
export function framePackets(payloads: Buffer[], firstSeq = 0): Buffer {
  const parts: Buffer[] = [];
  let seq = firstSeq;
  for (const p of payloads) {
    const phys = framePhysical(p, seq);
    parts.push(...phys);
    seq += phys.length;
  }
  return Buffer.concat(parts);
}

/** One physical packet of a Wire: [start, end) in Wire.bytes(). */
export interface PhysicalPacket {
  start: number;
  end: number;
  seq: number;
  /** Payload length of this physical packet. */
  length: number;
  /** Control kind the scanner must report for this packet; null for pass-through data packets. */
  control: ControlKind | null;
  /** True for the second and later physical packets of one logical packet. */
  continuation: boolean;
}

/** A sequence of framed packets being built, with the position and role of every physical packet. */
export class Wire {
  readonly parts: Buffer[] = [];
  readonly physical: PhysicalPacket[] = [];
  length = 0;

  constructor(public seq = 1) {}

  /** Appends a logical packet (split when ≥ 16 MiB). `control` applies to its first physical packet. */
  packet(payload: Buffer, control: ControlKind | null = null): this {
    const phys = framePhysical(payload, this.seq);
    phys.forEach((p, i) => {
      this.physical.push({
        start: this.length,
        end: this.length + p.length,
        seq: (this.seq + i) & 0xff,
        length: p.length - 4,
        control: i === 0 ? control : null,
        continuation: i > 0,
      });
      this.parts.push(p);
      this.length += p.length;
    });
    this.seq = (this.seq + phys.length) & 0xff;
    return this;
  }

  /** Appends already-framed bytes that are not part of the response model (e.g. trailing bytes). */
  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    this.length += bytes.length;
    return this;
  }

  /** All bytes so far (the parts are then kept as one buffer, so big fixtures are not held twice). */
  bytes(): Buffer {
    const whole = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts.splice(0, this.parts.length, whole);
    return whole;
  }

  controls(): ControlKind[] {
    return this.physical.filter((p) => p.control !== null).map((p) => p.control!);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Generic response payloads

export type SessionEntry =
  | { type: 'sysvar'; name: string; value: string }
  | { type: 'schema'; name: string }
  | { type: 'state'; changed: boolean }
  | { type: 'gtids'; gtids: string; spec?: number }
  | { type: 'txstate'; state: string }
  | { type: 'txchar'; text: string }
  | { type: 'raw'; code: number; data: Buffer };

function sessionEntry(e: SessionEntry): Buffer {
  let code: number;
  let data: Buffer;
  switch (e.type) {
    case 'sysvar':
      code = 0;
      data = Buffer.concat([lenencBytes(e.name), lenencBytes(e.value)]);
      break;
    case 'schema':
      code = 1;
      data = lenencBytes(e.name);
      break;
    case 'state':
      code = 2;
      data = lenencBytes(e.changed ? '1' : '0');
      break;
    case 'gtids':
      // MySQL: FixedInt<1> encoding specification, then the GTID set as a length-encoded string.
      code = 3;
      data = Buffer.concat([Buffer.from([e.spec ?? 0]), lenencBytes(e.gtids)]);
      break;
    case 'txchar':
      code = 4;
      data = lenencBytes(e.text);
      break;
    case 'txstate':
      code = 5;
      data = lenencBytes(e.state);
      break;
    case 'raw':
      code = e.code;
      data = e.data;
      break;
  }
  return Buffer.concat([Buffer.from([code]), lenencBytes(data)]);
}

/** The session-state-info block of an OK packet (without its own length prefix). */
export function sessionStateBytes(entries: SessionEntry[]): Buffer {
  return Buffer.concat(entries.map(sessionEntry));
}

export interface OkSpec {
  /** 0x00, or 0xfe for the OK that replaces EOF under CLIENT_DEPRECATE_EOF. */
  header?: number;
  affectedRows?: number | bigint;
  lastInsertId?: number | bigint;
  status?: number;
  warnings?: number;
  info?: string;
  /** Session-state changes; only encoded with CLIENT_SESSION_TRACK (and then sets SESSION_STATE_CHANGED). */
  session?: SessionEntry[];
}

/** OK payload as a server sends it to a client with `capabilities` (only SESSION_TRACK matters). */
export function okPayload(spec: OkSpec = {}, capabilities = 0): Buffer {
  const track = (capabilities & CLIENT.SESSION_TRACK) !== 0;
  const session = track && spec.session && spec.session.length > 0 ? spec.session : null;
  let status = spec.status ?? STATUS.AUTOCOMMIT;
  if (session) status |= STATUS.SESSION_STATE_CHANGED;
  const parts = [
    Buffer.from([spec.header ?? 0x00]),
    lenenc(spec.affectedRows ?? 0),
    lenenc(spec.lastInsertId ?? 0),
    u16(status),
    u16(spec.warnings ?? 0),
  ];
  const info = spec.info ?? '';
  if (track) {
    if (info.length > 0 || session) parts.push(lenencBytes(info));
    if (session) parts.push(lenencBytes(sessionStateBytes(session)));
  } else if (info.length > 0) {
    parts.push(Buffer.from(info, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** The 7-byte OK that ends a row stream under CLIENT_DEPRECATE_EOF. */
export function okEofPayload(status: number, warnings = 0): Buffer {
  return okPayload({ header: 0xfe, status, warnings });
}

export function errPayload(code: number, sqlState: string | null, message: string): Buffer {
  const parts = [Buffer.from([0xff]), u16(code)];
  if (sqlState !== null) parts.push(Buffer.from('#' + sqlState, 'latin1'));
  parts.push(Buffer.from(message, 'utf8'));
  return Buffer.concat(parts);
}

/** 4.1 EOF: 0xfe, warnings, status. */
export function eofPayload(status: number, warnings = 0): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), u16(warnings), u16(status)]);
}

export function columnCountPayload(n: number | bigint): Buffer {
  return lenenc(n);
}

export interface ColumnSpec {
  name: string;
  type?: number;
  schema?: string;
  table?: string;
  orgTable?: string;
  orgName?: string;
  catalog?: string;
  collation?: number;
  length?: number;
  flags?: number;
  decimals?: number;
}

/** Protocol::ColumnDefinition41. */
export function columnDefPayload(c: ColumnSpec): Buffer {
  const fixed = Buffer.alloc(13);
  fixed[0] = 0x0c;
  fixed.writeUInt16LE(c.collation ?? 45, 1);
  fixed.writeUInt32LE(c.length ?? 255, 3);
  fixed[7] = c.type ?? TYPE.VAR_STRING;
  fixed.writeUInt16LE(c.flags ?? 0, 8);
  fixed[10] = c.decimals ?? 0;
  // fixed[11..12]: filler
  return Buffer.concat([
    lenencBytes(c.catalog ?? 'def'),
    lenencBytes(c.schema ?? 'test'),
    lenencBytes(c.table ?? 't'),
    lenencBytes(c.orgTable ?? c.table ?? 't'),
    lenencBytes(c.name),
    lenencBytes(c.orgName ?? c.name),
    fixed,
  ]);
}

export type TextCell = string | Buffer | null;

/** Text-protocol row: each cell a length-encoded string, NULL as 0xfb. */
export function textRowPayload(cells: TextCell[]): Buffer {
  return Buffer.concat(cells.map((c) => (c === null ? Buffer.from([0xfb]) : lenencBytes(c))));
}

/** Binary-protocol row: 0x00, NULL bitmap (offset 2), then the already-encoded non-NULL values. */
export function binaryRowPayload(values: Array<Buffer | null>): Buffer {
  const bitmap = Buffer.alloc(Math.floor((values.length + 7 + 2) / 8));
  values.forEach((v, i) => {
    if (v === null) bitmap[(i + 2) >> 3] |= 1 << ((i + 2) & 7);
  });
  return Buffer.concat([Buffer.from([0x00]), bitmap, ...values.filter((v): v is Buffer => v !== null)]);
}

/** Binary encoding of a MYSQL_TYPE_LONG value. */
export function binLong(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/** COM_STMT_PREPARE OK: 0x00, stmt id, columns, params, filler, warnings. */
export function prepareOkPayload(stmtId: number, columns: number, params: number, warnings = 0): Buffer {
  return Buffer.concat([Buffer.from([0x00]), u32(stmtId), u16(columns), u16(params), Buffer.from([0]), u16(warnings)]);
}

export function localInfilePayload(filename: string): Buffer {
  return Buffer.concat([Buffer.from([0xfb]), Buffer.from(filename, 'utf8')]);
}

export function statisticsPayload(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Handshake payloads

export interface GreetingSpec {
  serverVersion: string;
  connectionId: number;
  scramble: Buffer; // 20 bytes
  capabilities: number;
  collation: number;
  status: number;
  mariaCapabilities?: number;
  authPlugin: string;
  /** auth-plugin-data length byte; defaults to scramble.length + 1. */
  authDataLength?: number;
}

/** Protocol::HandshakeV10 as MySQL/MariaDB servers send it. */
export function greetingPayload(g: GreetingSpec): Buffer {
  const reserved = Buffer.alloc(10);
  reserved.writeUInt32LE(g.mariaCapabilities ?? 0, 6);
  return Buffer.concat([
    Buffer.from([10]),
    nul(g.serverVersion),
    u32(g.connectionId),
    g.scramble.subarray(0, 8),
    Buffer.from([0]),
    u16(g.capabilities & 0xffff),
    Buffer.from([g.collation]),
    u16(g.status),
    u16((g.capabilities >>> 16) & 0xffff),
    Buffer.from([g.authDataLength ?? g.scramble.length + 1]),
    reserved,
    g.scramble.subarray(8),
    Buffer.from([0]),
    nul(g.authPlugin),
  ]);
}

export interface HandshakeResponseSpec {
  capabilities: number;
  maxPacketSize?: number;
  collation?: number;
  mariaCapabilities?: number;
  user: string;
  authResponse: Buffer;
  database?: string;
  authPlugin?: string;
  attributes?: Array<[string, string]>;
}

/** The 32-byte fixed prefix of HandshakeResponse41 (an SSLRequest is exactly this). */
export function handshakePrefix(capabilities: number, maxPacketSize = 0x1000000, collation = 45, mariaCapabilities = 0): Buffer {
  const filler = Buffer.alloc(23);
  filler.writeUInt32LE(mariaCapabilities >>> 0, 19);
  return Buffer.concat([u32(capabilities), u32(maxPacketSize), Buffer.from([collation]), filler]);
}

export function sslRequestPayload(capabilities: number, maxPacketSize = 0x1000000, collation = 45): Buffer {
  return handshakePrefix(capabilities | CLIENT.SSL, maxPacketSize, collation);
}

/** Protocol::HandshakeResponse41. Optional parts are written according to the capability flags. */
export function handshakeResponsePayload(r: HandshakeResponseSpec): Buffer {
  const c = r.capabilities;
  const parts = [handshakePrefix(c, r.maxPacketSize, r.collation, r.mariaCapabilities), nul(r.user)];
  if (c & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) parts.push(lenencBytes(r.authResponse));
  else if (c & CLIENT.SECURE_CONNECTION) parts.push(Buffer.from([r.authResponse.length]), r.authResponse);
  else parts.push(r.authResponse, Buffer.from([0]));
  if (c & CLIENT.CONNECT_WITH_DB) parts.push(nul(r.database ?? ''));
  if (c & CLIENT.PLUGIN_AUTH) parts.push(nul(r.authPlugin ?? 'mysql_native_password'));
  if (c & CLIENT.CONNECT_ATTRS) {
    const kv = Buffer.concat((r.attributes ?? []).flatMap(([k, v]) => [lenencBytes(k), lenencBytes(v)]));
    parts.push(lenencBytes(kv));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------
// Whole responses, appended to a Wire

export interface ResultSetSpec {
  columns: ColumnSpec[];
  rows: Buffer[]; // row payloads (textRowPayload / binaryRowPayload / anything)
  deprecateEof: boolean;
  /** Status of the terminating EOF/OK. */
  status?: number;
  warnings?: number;
  /** Status of the EOF after the column definitions (non-DEPRECATE_EOF only). */
  defsEofStatus?: number;
  /** End the rows with this payload instead of EOF/OK (e.g. an ERR); its control kind is given too. */
  terminator?: { payload: Buffer; control: ControlKind };
}

/** Column count, definitions, [EOF], rows, EOF | OK(0xfe) — text or binary, the shape is the same. */
export function resultSet(w: Wire, r: ResultSetSpec): Wire {
  const status = r.status ?? STATUS.AUTOCOMMIT;
  w.packet(columnCountPayload(r.columns.length), ControlKind.ResultHeader);
  for (const c of r.columns) w.packet(columnDefPayload(c));
  if (!r.deprecateEof) w.packet(eofPayload(r.defsEofStatus ?? STATUS.AUTOCOMMIT), ControlKind.Eof);
  for (const row of r.rows) w.packet(row);
  if (r.terminator) w.packet(r.terminator.payload, r.terminator.control);
  else if (r.deprecateEof) w.packet(okEofPayload(status, r.warnings ?? 0), ControlKind.Eof);
  else w.packet(eofPayload(status, r.warnings ?? 0), ControlKind.Eof);
  return w;
}

/**
 * COM_STMT_EXECUTE that opened a cursor: column count, definitions, then an EOF carrying
 * SERVER_STATUS_CURSOR_EXISTS — also under DEPRECATE_EOF (the server still sends an EOF there) — and no rows.
 */
export function cursorResult(w: Wire, columns: ColumnSpec[], status = STATUS.AUTOCOMMIT | STATUS.CURSOR_EXISTS): Wire {
  w.packet(columnCountPayload(columns.length), ControlKind.ResultHeader);
  for (const c of columns) w.packet(columnDefPayload(c));
  w.packet(eofPayload(status), ControlKind.Eof);
  return w;
}

/** COM_STMT_FETCH response: binary rows, then EOF (OK 0xfe under DEPRECATE_EOF), LAST_ROW_SENT when done. */
export function fetchResponse(w: Wire, rows: Buffer[], deprecateEof: boolean, lastRowSent: boolean, warnings = 0): Wire {
  const status = STATUS.AUTOCOMMIT | STATUS.CURSOR_EXISTS | (lastRowSent ? STATUS.LAST_ROW_SENT : 0);
  for (const row of rows) w.packet(row);
  w.packet(deprecateEof ? okEofPayload(status, warnings) : eofPayload(status, warnings), ControlKind.Eof);
  return w;
}

export interface PrepareSpec {
  stmtId?: number;
  params: ColumnSpec[];
  columns: ColumnSpec[];
  deprecateEof: boolean;
  warnings?: number;
}

/** COM_STMT_PREPARE OK, param definitions [EOF], column definitions [EOF]. */
export function prepareResponse(w: Wire, p: PrepareSpec): Wire {
  w.packet(prepareOkPayload(p.stmtId ?? 1, p.columns.length, p.params.length, p.warnings ?? 0), ControlKind.PrepareOk);
  for (const c of p.params) w.packet(columnDefPayload(c));
  if (p.params.length > 0 && !p.deprecateEof) w.packet(eofPayload(STATUS.AUTOCOMMIT), ControlKind.Eof);
  for (const c of p.columns) w.packet(columnDefPayload(c));
  if (p.columns.length > 0 && !p.deprecateEof) w.packet(eofPayload(STATUS.AUTOCOMMIT), ControlKind.Eof);
  return w;
}

/** COM_FIELD_LIST: column definitions then EOF (OK 0xfe under DEPRECATE_EOF). */
export function fieldListResponse(w: Wire, columns: ColumnSpec[], deprecateEof: boolean): Wire {
  for (const c of columns) w.packet(columnDefPayload(c));
  w.packet(deprecateEof ? okEofPayload(STATUS.AUTOCOMMIT) : eofPayload(STATUS.AUTOCOMMIT), ControlKind.Eof);
  return w;
}

export function okResponse(w: Wire, spec: OkSpec = {}, capabilities = 0): Wire {
  return w.packet(okPayload(spec, capabilities), ControlKind.Ok);
}

export function errResponse(w: Wire, code = 1064, sqlState = '42000', message = 'You have an error in your SQL syntax'): Wire {
  return w.packet(errPayload(code, sqlState, message), ControlKind.Err);
}

export function localInfileRequest(w: Wire, filename: string): Wire {
  return w.packet(localInfilePayload(filename), ControlKind.LocalInfile);
}

export function statisticsResponse(w: Wire, text: string): Wire {
  return w.packet(statisticsPayload(text), ControlKind.Text);
}

// ---------------------------------------------------------------------------------------------------------
// Response fixtures for the scanner

export interface ResponseFixture {
  name: string;
  kind: ResponseKind;
  deprecateEof: boolean;
  binary: boolean;
  wire: Wire;
  bytes: Buffer;
  /**
   * For LOCAL INFILE: offset just after the 0xFB request. The server sends nothing more until the client
   * has sent the file, so a chunk never spans this point.
   */
  pauseAt?: number;
  expect: { lastWasError: boolean; status?: number; warnings?: number; columnCount?: number };
}

export function fixture(
  name: string,
  kind: ResponseKind,
  opts: { deprecateEof: boolean; binary?: boolean; pauseAt?: number },
  wire: Wire,
  expect: ResponseFixture['expect'],
): ResponseFixture {
  return {
    name,
    kind,
    deprecateEof: opts.deprecateEof,
    binary: opts.binary ?? false,
    wire,
    bytes: wire.bytes(),
    ...(opts.pauseAt !== undefined ? { pauseAt: opts.pauseAt } : {}),
    expect,
  };
}

const COLS2: ColumnSpec[] = [
  { name: 'id', type: TYPE.LONG, length: 11 },
  { name: 'name', type: TYPE.VAR_STRING, length: 1020 },
];

const TEXT_ROWS: Buffer[] = [
  textRowPayload(['1', 'alice']),
  textRowPayload(['2', null]),
  textRowPayload(['3', '']),
  // lenenc prefixes 0xfc and 0xfd inside rows (the row's first byte is a length, never a marker).
  textRowPayload([Buffer.alloc(300, 0x61), 'x']),
  textRowPayload(['4', Buffer.alloc(70000, 0xfe)]),
];

const BIN_ROWS: Buffer[] = [
  binaryRowPayload([binLong(1), lenencBytes('alice')]),
  binaryRowPayload([binLong(2), null]),
  binaryRowPayload([binLong(-1), lenencBytes(Buffer.alloc(300, 0xff))]),
];

/** Every response shape the scanner must follow, small enough to feed byte by byte. */
export function responseFixtures(): ResponseFixture[] {
  const out: ResponseFixture[] = [];
  const A = STATUS.AUTOCOMMIT;
  const MORE = STATUS.MORE_RESULTS_EXISTS;
  const R = ResponseKind.Result;

  for (const de of [false, true]) {
    const tag = de ? 'DEPRECATE_EOF' : 'EOF';
    const caps = de ? CLIENT.DEPRECATE_EOF | CLIENT.SESSION_TRACK : 0;

    out.push(fixture(`OK (${tag})`, R, { deprecateEof: de }, okResponse(new Wire(), { affectedRows: 3, lastInsertId: 7, status: A, info: 'Rows matched: 3' }, caps), { lastWasError: false, status: A, columnCount: 0 }));
    if (de) {
      out.push(
        fixture(
          'OK with session state (SESSION_TRACK)',
          R,
          { deprecateEof: true },
          okResponse(new Wire(), { status: A | STATUS.IN_TRANS, session: [{ type: 'sysvar', name: 'autocommit', value: 'OFF' }, { type: 'schema', name: 'shop' }, { type: 'state', changed: true }] }, caps),
          { lastWasError: false, status: A | STATUS.IN_TRANS | STATUS.SESSION_STATE_CHANGED },
        ),
      );
    }
    out.push(fixture(`ERR (${tag})`, R, { deprecateEof: de }, errResponse(new Wire()), { lastWasError: true }));

    out.push(
      fixture(`text result (${tag})`, R, { deprecateEof: de }, resultSet(new Wire(), { columns: COLS2, rows: TEXT_ROWS, deprecateEof: de, status: A, warnings: 0 }), {
        lastWasError: false,
        status: A,
        columnCount: 2,
      }),
    );
    out.push(
      fixture(`text result, no rows (${tag})`, R, { deprecateEof: de }, resultSet(new Wire(), { columns: COLS2, rows: [], deprecateEof: de, status: A | STATUS.IN_TRANS }), {
        lastWasError: false,
        status: A | STATUS.IN_TRANS,
        columnCount: 2,
      }),
    );
    out.push(
      fixture(
        `text result, 300 columns (${tag})`,
        R,
        { deprecateEof: de },
        resultSet(new Wire(), { columns: Array.from({ length: 300 }, (_, i) => ({ name: `c${i}` })), rows: [textRowPayload(Array.from({ length: 300 }, (_, i) => String(i)))], deprecateEof: de }),
        { lastWasError: false, status: A, columnCount: 300 },
      ),
    );
    out.push(
      fixture(`binary result (${tag})`, R, { deprecateEof: de, binary: true }, resultSet(new Wire(), { columns: COLS2, rows: BIN_ROWS, deprecateEof: de, status: A }), {
        lastWasError: false,
        status: A,
        columnCount: 2,
      }),
    );
    out.push(
      fixture(`binary result with cursor (${tag})`, R, { deprecateEof: de, binary: true }, cursorResult(new Wire(), COLS2), {
        lastWasError: false,
        status: A | STATUS.CURSOR_EXISTS,
        columnCount: 2,
      }),
    );
    out.push(
      fixture(`fetch, more rows to come (${tag})`, ResponseKind.Fetch, { deprecateEof: de, binary: true }, fetchResponse(new Wire(), BIN_ROWS.slice(0, 2), de, false), {
        lastWasError: false,
        status: A | STATUS.CURSOR_EXISTS,
      }),
    );
    out.push(
      fixture(`fetch, LAST_ROW_SENT (${tag})`, ResponseKind.Fetch, { deprecateEof: de, binary: true }, fetchResponse(new Wire(), BIN_ROWS, de, true), {
        lastWasError: false,
        status: A | STATUS.CURSOR_EXISTS | STATUS.LAST_ROW_SENT,
      }),
    );
    out.push(
      fixture(`fetch, no rows (${tag})`, ResponseKind.Fetch, { deprecateEof: de, binary: true }, fetchResponse(new Wire(), [], de, true), {
        lastWasError: false,
        status: A | STATUS.CURSOR_EXISTS | STATUS.LAST_ROW_SENT,
      }),
    );
    out.push(fixture(`fetch, ERR (${tag})`, ResponseKind.Fetch, { deprecateEof: de, binary: true }, errResponse(new Wire(), 1243, 'HY000', 'Unknown prepared statement handler'), { lastWasError: true }));

    // Multi-statement: OK, result set, OK — MORE_RESULTS_EXISTS on all but the last.
    {
      const w = new Wire();
      okResponse(w, { affectedRows: 1, status: A | MORE }, caps);
      resultSet(w, { columns: COLS2, rows: TEXT_ROWS.slice(0, 2), deprecateEof: de, status: A | MORE });
      okResponse(w, { status: A }, caps);
      out.push(fixture(`multi: OK, result, OK (${tag})`, R, { deprecateEof: de }, w, { lastWasError: false, status: A }));
    }
    {
      const w = new Wire();
      resultSet(w, { columns: COLS2.slice(0, 1), rows: [textRowPayload(['1'])], deprecateEof: de, status: A | MORE });
      resultSet(w, { columns: COLS2, rows: TEXT_ROWS.slice(0, 1), deprecateEof: de, status: A | MORE });
      okResponse(w, { status: A | STATUS.IN_TRANS }, caps);
      out.push(fixture(`multi: result, result, OK (${tag})`, R, { deprecateEof: de }, w, { lastWasError: false, status: A | STATUS.IN_TRANS }));
    }
    {
      const w = new Wire();
      okResponse(w, { status: A | MORE }, caps);
      okResponse(w, { status: A | MORE }, caps);
      errResponse(w, 1146, '42S02', "Table 'test.nope' doesn't exist");
      out.push(fixture(`multi: OK, OK, ERR (${tag})`, R, { deprecateEof: de }, w, { lastWasError: true }));
    }
    {
      // CALL of a procedure through COM_STMT_EXECUTE: binary result set(s) then the CALL's OK.
      const w = new Wire();
      resultSet(w, { columns: COLS2, rows: BIN_ROWS, deprecateEof: de, status: A | MORE });
      okResponse(w, { status: A }, caps);
      out.push(fixture(`binary: CALL result + OK (${tag})`, R, { deprecateEof: de, binary: true }, w, { lastWasError: false, status: A }));
    }
    {
      const w = new Wire();
      resultSet(w, { columns: COLS2, rows: TEXT_ROWS.slice(0, 3), deprecateEof: de, terminator: { payload: errPayload(1317, '70100', 'Query execution was interrupted'), control: ControlKind.Err } });
      out.push(fixture(`ERR mid-rows (${tag})`, R, { deprecateEof: de }, w, { lastWasError: true, columnCount: 2 }));
    }
    {
      const w = new Wire();
      localInfileRequest(w, '/tmp/data.csv');
      const pauseAt = w.length;
      w.seq = 4; // the client sent the file in seq 2 and the empty packet in seq 3
      okResponse(w, { affectedRows: 2, status: A, info: 'Records: 2  Deleted: 0  Skipped: 0  Warnings: 0' }, caps);
      out.push(fixture(`LOCAL INFILE then OK (${tag})`, R, { deprecateEof: de, pauseAt }, w, { lastWasError: false, status: A }));
    }
    {
      const w = new Wire();
      localInfileRequest(w, 'x');
      const pauseAt = w.length;
      w.seq = 3;
      errResponse(w, 1148, '42000', 'The used command is not allowed with this MariaDB version');
      out.push(fixture(`LOCAL INFILE then ERR (${tag})`, R, { deprecateEof: de, pauseAt }, w, { lastWasError: true }));
    }
    {
      // LOAD DATA LOCAL as the first statement of a multi-statement query.
      const w = new Wire();
      localInfileRequest(w, 'a.csv');
      const pauseAt = w.length;
      w.seq = 3;
      okResponse(w, { affectedRows: 1, status: A | MORE }, caps);
      resultSet(w, { columns: COLS2.slice(0, 1), rows: [textRowPayload(['1'])], deprecateEof: de, status: A });
      out.push(fixture(`LOCAL INFILE, OK with MORE_RESULTS, result (${tag})`, R, { deprecateEof: de, pauseAt }, w, { lastWasError: false, status: A }));
    }

    const P = ResponseKind.Prepare;
    const params = [{ name: '?' }, { name: '?' }];
    out.push(fixture(`prepare: 0 params, 0 cols (${tag})`, P, { deprecateEof: de }, prepareResponse(new Wire(), { params: [], columns: [], deprecateEof: de }), { lastWasError: false }));
    out.push(fixture(`prepare: params only (${tag})`, P, { deprecateEof: de }, prepareResponse(new Wire(), { params, columns: [], deprecateEof: de }), { lastWasError: false }));
    out.push(fixture(`prepare: cols only (${tag})`, P, { deprecateEof: de }, prepareResponse(new Wire(), { params: [], columns: COLS2, deprecateEof: de }), { lastWasError: false }));
    out.push(fixture(`prepare: params and cols (${tag})`, P, { deprecateEof: de }, prepareResponse(new Wire(), { params, columns: COLS2, deprecateEof: de, warnings: 1 }), { lastWasError: false }));
    out.push(fixture(`prepare: ERR (${tag})`, P, { deprecateEof: de }, errResponse(new Wire()), { lastWasError: true }));

    out.push(fixture(`field list (${tag})`, ResponseKind.FieldList, { deprecateEof: de }, fieldListResponse(new Wire(), COLS2, de), { lastWasError: false }));
    out.push(fixture(`field list, no columns (${tag})`, ResponseKind.FieldList, { deprecateEof: de }, fieldListResponse(new Wire(), [], de), { lastWasError: false }));
    out.push(fixture(`field list, ERR (${tag})`, ResponseKind.FieldList, { deprecateEof: de }, errResponse(new Wire(), 1146, '42S02', "Table 'test.x' doesn't exist"), { lastWasError: true }));
  }

  out.push(fixture('single: OK', ResponseKind.Single, { deprecateEof: false }, okResponse(new Wire(), { status: A | STATUS.IN_TRANS }), { lastWasError: false, status: A | STATUS.IN_TRANS }));
  out.push(fixture('single: ERR', ResponseKind.Single, { deprecateEof: false }, errResponse(new Wire(), 1049, '42000', "Unknown database 'x'"), { lastWasError: true }));
  out.push(fixture('single: EOF (COM_SET_OPTION)', ResponseKind.Single, { deprecateEof: false }, new Wire().packet(eofPayload(A), ControlKind.Ok), { lastWasError: false, status: A }));
  out.push(
    fixture(
      'statistics',
      ResponseKind.Statistics,
      { deprecateEof: false },
      statisticsResponse(new Wire(), 'Uptime: 1234  Threads: 1  Questions: 10  Slow queries: 0  Opens: 17  Open tables: 10  Queries per second avg: 0.008'),
      { lastWasError: false },
    ),
  );
  out.push(fixture('statistics: ERR', ResponseKind.Statistics, { deprecateEof: false }, errResponse(new Wire(), 1227, '42000', 'Access denied'), { lastWasError: true }));
  return out;
}

/**
 * Responses with rows of 16 MiB and more (continuation packets). Built lazily: ~16–32 MiB each.
 *  - a text row whose payload is exactly 0xffffff bytes: sent as 0xffffff + an empty packet;
 *  - a text row whose first byte is 0xfe (a ≥ 16 MiB first column) and whose continuation packet also
 *    starts with 0xfe and is short (an EOF / OK look-alike);
 *  - a row whose continuation packet starts with 0xff (an ERR look-alike).
 */
export function largeResponseFixtures(): Array<{ name: string; build: () => ResponseFixture }> {
  const out: Array<{ name: string; build: () => ResponseFixture }> = [];
  const lazy = (name: string, build: (name: string) => ResponseFixture) => out.push({ name, build: () => build(name) });
  for (const de of [false, true]) {
    const tag = de ? 'DEPRECATE_EOF' : 'EOF';
    const cols = [{ name: 'big', type: TYPE.BLOB }];
    lazy(`row of exactly 0xffffff bytes + empty continuation (${tag})`, (name) => {
      // 0xfd + 3-byte length + data = exactly 0xffffff bytes.
      const row = textRowPayload([Buffer.alloc(MAX_CHUNK - 4, 0x62)]);
      if (row.length !== MAX_CHUNK) throw new Error('fixture: row size');
      const w = resultSet(new Wire(), { columns: cols, rows: [row, textRowPayload(['small'])], deprecateEof: de });
      return fixture(name, ResponseKind.Result, { deprecateEof: de }, w, { lastWasError: false, columnCount: 1 });
    });
    lazy(`text row starting with 0xfe, 16 MiB (${tag})`, (name) => {
      // 0xfe + 8-byte length 2^24: payload 2^24 + 9 = 0xffffff + 10; the continuation's 10 bytes start with 0xfe.
      const data = Buffer.alloc(2 ** 24, 0x63);
      data.fill(0xfe, data.length - 10);
      const row = textRowPayload([data]);
      if (row[0] !== 0xfe || row.length !== MAX_CHUNK + 10) throw new Error('fixture: row shape');
      const w = resultSet(new Wire(), { columns: cols, rows: [row], deprecateEof: de, status: STATUS.AUTOCOMMIT | STATUS.IN_TRANS });
      return fixture(name, ResponseKind.Result, { deprecateEof: de }, w, { lastWasError: false, status: STATUS.AUTOCOMMIT | STATUS.IN_TRANS, columnCount: 1 });
    });
    lazy(`row with an ERR-like continuation (${tag})`, (name) => {
      // Row of 0xffffff + 3 bytes whose continuation is "ff ff ff": an ERR look-alike.
      const data = Buffer.alloc(MAX_CHUNK - 1, 0x64);
      data.fill(0xff, data.length - 3);
      const row = textRowPayload([data]);
      if (row.length !== MAX_CHUNK + 3) throw new Error('fixture: row size');
      const w = resultSet(new Wire(), { columns: cols, rows: [row], deprecateEof: de, status: STATUS.AUTOCOMMIT });
      return fixture(name, ResponseKind.Result, { deprecateEof: de }, w, { lastWasError: false, columnCount: 1 });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

export function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
  return b;
}

/** Splits `buf` into consecutive views of random sizes in [1, maxChunk]. */
export function randomChunks(buf: Buffer, rnd: () => number, maxChunk: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const n = Math.min(buf.length - pos, randInt(rnd, 1, Math.max(1, maxChunk)));
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

/** Splits `buf` at the given offsets (sorted, deduplicated, clipped to (0, length)). */
export function splitAt(buf: Buffer, offsets: number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((o) => o > 0 && o < buf.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** Random mutation of a fixture: bit flips, byte overwrites, truncation, insertion, duplication. */
export function mutate(buf: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(buf);
  const ops = randInt(rnd, 1, 4);
  for (let i = 0; i < ops; i++) {
    const op = randInt(rnd, 0, 5);
    const at = b.length === 0 ? 0 : randInt(rnd, 0, b.length - 1);
    switch (op) {
      case 0:
        if (b.length > 0) b[at] = b[at]! ^ (1 << randInt(rnd, 0, 7));
        break;
      case 1:
        if (b.length > 0) b[at] = [0x00, 0xfb, 0xfc, 0xfd, 0xfe, 0xff][randInt(rnd, 0, 5)]!;
        break;
      case 2:
        b = b.subarray(0, at);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), randomBytes(rnd, randInt(rnd, 1, 8)), b.subarray(at)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + randInt(rnd, 1, 16)), b.subarray(at)]);
        break;
      default:
        if (b.length > 0) b[at] = (rnd() * 256) | 0;
    }
  }
  return b;
}
