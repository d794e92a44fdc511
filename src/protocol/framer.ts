// Splits a byte stream into logical packets. Physical packets of 0xffffff bytes are joined with their
// continuations; a packet lying inside one chunk is returned as a view (no copy).
import { Buffer } from 'node:buffer';
import { MAX_PACKET_CHUNK } from './constants.js';

export interface Packet {
  /** Logical payload (continuations joined). */
  payload: Buffer;
  /** Sequence id of the first physical packet. */
  seq: number;
  /** Sequence id of the last physical packet (differs from seq for ≥ 16 MiB payloads). */
  lastSeq: number;
  /** Header + payload bytes as received, when the packet was a single physical packet; else null. */
  raw: Buffer | null;
}

export class PacketTooLargeError extends Error {
  readonly code = 'SLUICE_PACKET_TOO_LARGE';
  constructor(readonly size: number, readonly limit: number) {
    super(`packet of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}

export class PacketFramer {
  /** Unconsumed bytes of the current buffer start at `pos`. */
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** A physical packet larger than what has arrived: preallocated, filled as chunks come (linear). */
  private filling: Buffer | null = null;
  private filled = 0;
  /** Payload parts of a logical packet spread over several physical packets. */
  private parts: Buffer[] | null = null;
  private partsLength = 0;
  private partsSeq = 0;
  readonly ready: Packet[] = [];

  constructor(private maxPayload = 1 << 30) {}

  setMaxPayload(bytes: number): void {
    this.maxPayload = bytes;
  }

  /** Bytes received but not yet part of a complete packet. */
  bufferedBytes(): number {
    return this.buf.length - this.pos + this.filled + this.partsLength;
  }

  /** Removes and returns bytes received after the last complete packet (e.g. a TLS ClientHello). */
  takeBuffered(): Buffer {
    if (this.filling) {
      const b = this.filling.subarray(0, this.filled);
      this.filling = null;
      this.filled = 0;
      return b;
    }
    const b = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.pos = 0;
    return b;
  }

  /** Feeds bytes; complete packets are appended to `ready`. Throws PacketTooLargeError. */
  push(chunk: Buffer): void {
    if (this.filling) {
      const need = this.filling.length - this.filled;
      const n = Math.min(need, chunk.length);
      chunk.copy(this.filling, this.filled, 0, n);
      this.filled += n;
      if (this.filled < this.filling.length) return;
      const whole = this.filling;
      this.filling = null;
      this.filled = 0;
      this.emitPhysical(whole, 0, whole.length);
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
    this.drain();
  }

  private drain(): void {
    const buf = this.buf;
    let pos = this.pos;
    while (buf.length - pos >= 4) {
      const len = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
      const total = this.partsLength + len;
      if (total > this.maxPayload) {
        this.pos = buf.length;
        throw new PacketTooLargeError(total, this.maxPayload);
      }
      const end = pos + 4 + len;
      if (end > buf.length) {
        if (len > 65536) {
          // Large packet: copy what we have into its final buffer and fill it as data arrives.
          this.filling = Buffer.allocUnsafe(4 + len);
          buf.copy(this.filling, 0, pos);
          this.filled = buf.length - pos;
          pos = buf.length;
        }
        break;
      }
      this.emitPhysical(buf, pos, end);
      pos = end;
    }
    this.pos = pos;
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
  }

  private emitPhysical(buf: Buffer, start: number, end: number): void {
    const len = end - start - 4;
    const seq = buf[start + 3]!;
    const payload = buf.subarray(start + 4, end);
    if (this.parts === null) {
      if (len < MAX_PACKET_CHUNK) {
        this.ready.push({ payload, seq, lastSeq: seq, raw: start === 0 && end === buf.length ? buf : buf.subarray(start, end) });
        return;
      }
      this.parts = [payload];
      this.partsLength = len;
      this.partsSeq = seq;
      return;
    }
    this.parts.push(payload);
    this.partsLength += len;
    if (len === MAX_PACKET_CHUNK) return;
    const whole = Buffer.concat(this.parts, this.partsLength);
    this.ready.push({ payload: whole, seq: this.partsSeq, lastSeq: seq, raw: null });
    this.parts = null;
    this.partsLength = 0;
  }
}

const EMPTY = Buffer.alloc(0);
