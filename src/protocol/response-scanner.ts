// Follows a server's response to one command through the byte stream without building packets.
// Bytes that need no interpretation (column definitions, rows, continuation packets) are handed on as
// ranges of the received chunk; only the packets that drive the state machine (OK/ERR/EOF, the column
// count, PREPARE_OK, LOCAL INFILE requests) are handed on whole, so the consumer can read or rewrite them.
// No allocation per packet unless a control packet is split across chunks.
import { Buffer } from 'node:buffer';
import { MAX_PACKET_CHUNK, ServerStatus } from './constants.js';
import { readStatusAndWarningsAt } from './packets.js';

export const enum ResponseKind {
  /** A result set (COM_QUERY, COM_STMT_EXECUTE): OK | ERR | LOCAL INFILE | column count, defs, rows. */
  Result = 1,
  /** COM_STMT_PREPARE: PREPARE_OK + param defs + column defs, or ERR. */
  Prepare,
  /** COM_STMT_FETCH: rows then EOF/OK, or ERR. */
  Fetch,
  /** COM_FIELD_LIST: column defs until EOF, or ERR. */
  FieldList,
  /** One packet: OK / EOF / ERR (ping, init db, reset, set option, …). */
  Single,
  /** COM_STATISTICS: one packet holding a string. */
  Statistics,
}

export const enum ControlKind {
  Ok = 1,
  Err,
  /** EOF (or OK-as-EOF) that ends a row stream, or the EOF after column definitions. */
  Eof,
  /** Column count packet that starts a result set. */
  ResultHeader,
  PrepareOk,
  LocalInfile,
  /** Statistics string. */
  Text,
}

export interface ResponseHandler {
  /** Bytes to pass through unchanged: buf[start, end). */
  onResponseBytes(buf: Buffer, start: number, end: number): void;
  /** A whole control packet, header included: buf[start, end). */
  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void;
  /** The response is complete (called once, after the last bytes were handed on). */
  onResponseDone(): void;
  /** The chunk fed so far has been handed on and the response goes on (a chance to flush writes). */
  onResponseChunkEnd(): void;
}

const enum State {
  Idle = 0,
  First,
  ColumnDefs,
  ColumnDefsEof,
  Rows,
  PrepareParams,
  PrepareParamsEof,
  PrepareColumns,
  PrepareColumnsEof,
  FieldList,
  Single,
  Statistics,
  /** Waiting for the OK/ERR that follows a LOCAL INFILE transfer. */
  InfileResult,
  Done,
}

export class ResponseScanner {
  private state: State = State.Idle;
  private kind: ResponseKind = ResponseKind.Single;
  private binary = false;
  private deprecateEof = false;
  private counter = 0;
  private prepareColumns = 0;
  /** Bytes of the current data packet still to pass through. */
  private bodyRemaining = 0;
  /** The previous physical packet was 0xffffff long: the next one is its continuation. */
  private continuation = false;
  /** A control packet (or a header) split across chunks, assembled here. */
  private held: Buffer | null = null;
  private heldLen = 0;
  private heldNeed = 0;
  /** Status flags and warnings of the last OK/EOF/ERR seen (ERR: status unchanged). */
  readonly last = { status: 0, warnings: 0 };
  /** True when the last terminal packet was an ERR. */
  lastWasError = false;
  /** `last` was read from this response (false after PREPARE_OK, statistics, a lone ERR). */
  statusSeen = false;
  /** Column count of the current result set (0 for OK results). */
  columnCount = 0;
  /** Rows seen in this response (all result sets). */
  rows = 0;
  handler: ResponseHandler | null = null;

  isActive(): boolean {
    return this.state !== State.Idle && this.state !== State.Done;
  }

  /** Arms the scanner for the response to a command. */
  begin(kind: ResponseKind, deprecateEof: boolean, binary: boolean, handler: ResponseHandler): void {
    this.kind = kind;
    this.deprecateEof = deprecateEof;
    this.binary = binary;
    this.handler = handler;
    this.bodyRemaining = 0;
    this.continuation = false;
    this.held = null;
    this.heldLen = 0;
    this.lastWasError = false;
    this.statusSeen = false;
    this.rows = 0;
    this.last.warnings = 0;
    this.columnCount = 0;
    this.state = firstState(kind);
  }

  /** After a LOCAL INFILE request: the next server packet is the statement's OK/ERR. */
  expectInfileResult(): void {
    this.state = State.InfileResult;
  }

  reset(): void {
    this.state = State.Idle;
    this.handler = null;
    this.held = null;
  }

  /**
   * Feeds bytes from the server, chunk[start..] (a pipelined response may begin inside a chunk). Returns the
   * number of bytes that came after the end of the response.
   * The handler is read at each call, so it can be replaced while a response streams (a client gone).
   */
  feed(chunk: Buffer, start = 0): number {
    const end = chunk.length;
    let pos = start;
    let fwd = start;
    if (this.held !== null) {
      pos = start + this.fillHeld(start === 0 ? chunk : chunk.subarray(start));
      fwd = pos;
      if (this.held !== null) {
        this.handler!.onResponseChunkEnd(); // still incomplete
        return 0;
      }
    }
    if (this.state === State.Idle) return end - pos;
    while (pos < end && (this.state !== State.Done || this.bodyRemaining > 0)) {
      if (this.bodyRemaining > 0) {
        const n = Math.min(this.bodyRemaining, end - pos);
        this.bodyRemaining -= n;
        pos += n;
        continue;
      }
      const avail = end - pos;
      const len = avail >= 4 ? chunk[pos]! | (chunk[pos + 1]! << 8) | (chunk[pos + 2]! << 16) : -1;
      if (avail < 4 || (avail < 5 && len > 0)) {
        // Header or first byte split: hold the few bytes and decide when the rest arrives.
        if (fwd < pos) this.handler!.onResponseBytes(chunk, fwd, pos);
        this.startHeld(chunk, pos, end, 5);
        this.handler!.onResponseChunkEnd();
        return 0;
      }
      const total = 4 + len;
      const wasContinuation = this.continuation;
      this.continuation = len === MAX_PACKET_CHUNK;
      const control = !wasContinuation && len > 0 && this.isControl(chunk[pos + 4]!, len);
      if (!control) {
        if (!wasContinuation) this.onDataPacket();
        if (avail >= total) pos += total;
        else {
          this.bodyRemaining = total - avail;
          pos = end;
        }
        continue;
      }
      if (fwd < pos) this.handler!.onResponseBytes(chunk, fwd, pos);
      if (avail < total) {
        this.startHeld(chunk, pos, end, total);
        this.handler!.onResponseChunkEnd();
        return 0;
      }
      this.onControl(chunk, pos, pos + total);
      pos += total;
      fwd = pos;
    }
    if (fwd < pos) this.handler!.onResponseBytes(chunk, fwd, pos);
    if (this.state === State.Done && this.bodyRemaining === 0 && this.held === null) {
      const h = this.handler!;
      this.handler = null;
      h.onResponseDone();
      return end - pos;
    }
    this.handler!.onResponseChunkEnd();
    return 0;
  }

  private startHeld(chunk: Buffer, pos: number, end: number, need: number): void {
    this.heldNeed = need;
    // Sized by what has arrived, not by the header's claim: a few bytes never cost megabytes.
    this.held = Buffer.allocUnsafe(Math.max(Math.min(need, 2 * (end - pos) + 64), 5));
    this.heldLen = end - pos;
    chunk.copy(this.held, 0, pos, end);
  }

  private ensureHeld(size: number): void {
    const held = this.held!;
    if (held.length >= size) return;
    const bigger = Buffer.allocUnsafe(Math.min(this.heldNeed, Math.max(size, held.length * 2)));
    held.copy(bigger, 0, 0, this.heldLen);
    this.held = bigger;
  }

  /** Completes a held packet from the start of `chunk`; returns bytes consumed from chunk. */
  private fillHeld(chunk: Buffer): number {
    let used = 0;
    // First make sure we have header + first byte, then we know the packet's real size and kind.
    if (this.heldLen < 5) {
      // Up to the header (4 bytes), then the first payload byte unless the packet is empty.
      if (this.heldLen < 4) {
        const n = Math.min(4 - this.heldLen, chunk.length);
        chunk.copy(this.held!, this.heldLen, 0, n);
        this.heldLen += n;
        used = n;
        if (this.heldLen < 4) return used;
      }
      const held = this.held!;
      const len = held[0]! | (held[1]! << 8) | (held[2]! << 16);
      if (len > 0) {
        const n = Math.min(5 - this.heldLen, chunk.length - used);
        chunk.copy(held, this.heldLen, used, used + n);
        this.heldLen += n;
        used += n;
        if (this.heldLen < 5) return used;
      }
      const wasContinuation = this.continuation;
      this.continuation = len === MAX_PACKET_CHUNK;
      if (wasContinuation || len === 0 || !this.isControl(held[4]!, len)) {
        // A data packet: pass the bytes held so far on and stream the rest.
        if (!wasContinuation && len > 0) this.onDataPacket();
        this.held = null;
        this.handler!.onResponseBytes(held, 0, this.heldLen);
        this.bodyRemaining = 4 + len - this.heldLen;
        return used;
      }
      this.heldNeed = 4 + len;
    }
    const n = Math.min(this.heldNeed - this.heldLen, chunk.length - used);
    this.ensureHeld(this.heldLen + n);
    chunk.copy(this.held!, this.heldLen, used, used + n);
    this.heldLen += n;
    used += n;
    if (this.heldLen < this.heldNeed) return used;
    const packet = this.held!;
    this.held = null;
    this.onControl(packet, 0, this.heldNeed);
    return used;
  }

  /** Decides from the state and the first payload byte whether a packet drives the state machine. */
  private isControl(first: number, len: number): boolean {
    switch (this.state) {
      case State.First:
      case State.Single:
      case State.Statistics:
      case State.InfileResult:
      case State.ColumnDefsEof:
      case State.PrepareParamsEof:
      case State.PrepareColumnsEof:
        return true;
      case State.Rows:
      case State.FieldList:
        if (first === 0xff) return true;
        if (first !== 0xfe) return false;
        return this.deprecateEof ? len < MAX_PACKET_CHUNK : len < 9;
      case State.ColumnDefs:
        // Binary-protocol cursors: an EOF follows the definitions even with DEPRECATE_EOF.
        return false;
      default:
        return first === 0xff;
    }
  }

  private onDataPacket(): void {
    switch (this.state) {
      case State.Rows:
        this.rows++;
        break;
      case State.ColumnDefs:
        if (--this.counter === 0) this.state = this.deprecateEof ? State.Rows : State.ColumnDefsEof;
        break;
      case State.PrepareParams:
        if (--this.counter === 0) {
          if (!this.deprecateEof) this.state = State.PrepareParamsEof;
          else this.enterPrepareColumns();
        }
        break;
      case State.PrepareColumns:
        if (--this.counter === 0) this.state = this.deprecateEof ? State.Done : State.PrepareColumnsEof;
        break;
      default:
        break;
    }
  }

  private enterPrepareColumns(): void {
    if (this.prepareColumns > 0) {
      this.counter = this.prepareColumns;
      this.state = State.PrepareColumns;
    } else this.state = State.Done;
  }

  private onControl(buf: Buffer, start: number, end: number): void {
    const h = this.handler!;
    // The payload is buf[p, end); no view of it is made (two control packets per result set).
    const p = start + 4;
    const first = buf[p];
    const length = end - p;
    switch (this.state) {
      case State.First:
      case State.InfileResult:
        if (this.kind === ResponseKind.Prepare) {
          if (first === 0x00 && length >= 9) {
            h.onResponsePacket(ControlKind.PrepareOk, buf, start, end);
            this.enterPrepare(buf, p, end);
          } else {
            this.lastWasError = true;
            h.onResponsePacket(ControlKind.Err, buf, start, end);
            this.state = State.Done;
          }
          return;
        }
        if (first === 0x00 && length >= 7) {
          this.readStatus(buf, p, end);
          h.onResponsePacket(ControlKind.Ok, buf, start, end);
          this.endOfResult();
        } else if (first === 0xff) {
          this.lastWasError = true;
          h.onResponsePacket(ControlKind.Err, buf, start, end);
          this.state = State.Done;
        } else if (first === 0xfb && this.state === State.First) {
          h.onResponsePacket(ControlKind.LocalInfile, buf, start, end);
          this.state = State.InfileResult;
        } else {
          this.columnCount = readLenenc(buf, p, end);
          this.counter = this.columnCount;
          h.onResponsePacket(ControlKind.ResultHeader, buf, start, end);
          this.state = this.counter > 0 ? State.ColumnDefs : State.Rows;
        }
        return;
      case State.ColumnDefsEof:
        this.readStatus(buf, p, end);
        h.onResponsePacket(ControlKind.Eof, buf, start, end);
        this.state = this.binary && this.last.status & ServerStatus.CURSOR_EXISTS ? State.Done : State.Rows;
        return;
      case State.Rows:
      case State.FieldList:
        if (first === 0xff) {
          this.lastWasError = true;
          h.onResponsePacket(ControlKind.Err, buf, start, end);
          this.state = State.Done;
          return;
        }
        this.readStatus(buf, p, end);
        h.onResponsePacket(ControlKind.Eof, buf, start, end);
        if (this.state === State.FieldList || this.kind === ResponseKind.Fetch) this.state = State.Done;
        else this.endOfResult();
        return;
      case State.Single:
        if (first === 0xff) this.lastWasError = true;
        else this.readStatus(buf, p, end);
        h.onResponsePacket(first === 0xff ? ControlKind.Err : ControlKind.Ok, buf, start, end);
        this.state = State.Done;
        return;
      case State.Statistics:
        if (first === 0xff) this.lastWasError = true;
        h.onResponsePacket(first === 0xff ? ControlKind.Err : ControlKind.Text, buf, start, end);
        this.state = State.Done;
        return;
      case State.PrepareParamsEof:
        h.onResponsePacket(ControlKind.Eof, buf, start, end);
        this.enterPrepareColumns();
        return;
      case State.PrepareColumnsEof:
        h.onResponsePacket(ControlKind.Eof, buf, start, end);
        this.state = State.Done;
        return;
      case State.ColumnDefs:
      case State.PrepareParams:
      case State.PrepareColumns:
        // Only an ERR can be control here (see isControl); a server would not send one mid-definitions.
        this.lastWasError = true;
        h.onResponsePacket(ControlKind.Err, buf, start, end);
        this.state = State.Done;
        return;
      default:
        return;
    }
  }

  private readStatus(buf: Buffer, start: number, end: number): void {
    readStatusAndWarningsAt(buf, start, end, this.last);
    this.statusSeen = true;
  }

  private endOfResult(): void {
    this.state = this.last.status & ServerStatus.MORE_RESULTS_EXISTS ? State.First : State.Done;
  }

  /** PREPARE_OK: [0x00][stmt id u32][columns u16][params u16][0][warnings u16]. */
  private enterPrepare(buf: Buffer, p: number, end: number): void {
    if (end - p >= 12) this.last.warnings = buf.readUInt16LE(p + 10);
    const columns = buf.readUInt16LE(p + 5);
    const params = buf.readUInt16LE(p + 7);
    this.prepareColumns = columns;
    if (params > 0) {
      this.counter = params;
      this.state = State.PrepareParams;
    } else this.enterPrepareColumns();
  }
}

function firstState(kind: ResponseKind): State {
  switch (kind) {
    case ResponseKind.Result:
      return State.First;
    case ResponseKind.Prepare:
      return State.First;
    case ResponseKind.Fetch:
      return State.Rows;
    case ResponseKind.FieldList:
      return State.FieldList;
    case ResponseKind.Single:
      return State.Single;
    case ResponseKind.Statistics:
      return State.Statistics;
  }
}

/** A length-encoded integer at b[at], within a payload ending at `end` (a packet cut short throws). */
function readLenenc(b: Buffer, at: number, end: number): number {
  const f = b[at]!;
  if (f < 0xfb) return f;
  if (at + (f === 0xfc ? 3 : f === 0xfd ? 4 : 9) > end) throw new RangeError('length-encoded integer past the end of the packet');
  if (f === 0xfc) return b.readUInt16LE(at + 1);
  if (f === 0xfd) return b.readUIntLE(at + 1, 3);
  return Number(b.readBigUInt64LE(at + 1));
}
