// Builds packet payloads and frames them. A writer grows one buffer; finish() returns framed packets
// (split at 0xffffff bytes as the protocol requires) ready for one socket write.
import { Buffer } from 'node:buffer';
import { MAX_PACKET_CHUNK } from './constants.js';

export class PacketWriter {
  private buf: Buffer;
  private len = 4; // room for the first header

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(initial, 16));
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.len);
    this.len += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf.writeUIntLE(v & 0xffffff, this.len, 3);
    this.len += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  u64(v: number | bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.len);
    this.len += 8;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }

  lenenc(v: number): this {
    if (v < 0xfb) return this.u8(v);
    if (v < 0x10000) return this.u8(0xfc).u16(v);
    if (v < 0x1000000) return this.u8(0xfd).u24(v);
    return this.u8(0xfe).u64(v);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n);
    this.buf.write(s, this.len, 'utf8');
    this.len += n;
    return this;
  }

  nulString(s: string): this {
    return this.string(s).u8(0);
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  lenencString(s: string): this {
    return this.lenenc(Buffer.byteLength(s)).string(s);
  }

  payloadLength(): number {
    return this.len - 4;
  }

  /** Frames the payload with sequence id `seq` and returns header+payload (split when ≥ 16 MiB). */
  finish(seq: number): Buffer {
    const payloadLen = this.len - 4;
    if (payloadLen < MAX_PACKET_CHUNK) {
      this.buf.writeUIntLE(payloadLen, 0, 3);
      this.buf[3] = seq & 0xff;
      return this.buf.subarray(0, this.len);
    }
    return framePayload(this.buf.subarray(4, this.len), seq);
  }
}

/** Frames an arbitrary payload into one or more physical packets starting at sequence id `seq`. */
export function framePayload(payload: Buffer, seq: number): Buffer {
  const chunks = Math.floor(payload.length / MAX_PACKET_CHUNK) + 1;
  const out = Buffer.allocUnsafe(payload.length + chunks * 4);
  let src = 0;
  let dst = 0;
  for (let i = 0; i < chunks; i++) {
    const n = Math.min(MAX_PACKET_CHUNK, payload.length - src);
    out.writeUIntLE(n, dst, 3);
    out[dst + 3] = (seq + i) & 0xff;
    payload.copy(out, dst + 4, src, src + n);
    src += n;
    dst += 4 + n;
  }
  return out;
}

/** Sequence id that follows a payload of `payloadLength` framed starting at `seq`. */
export function nextSeqAfter(payloadLength: number, seq: number): number {
  return (seq + Math.floor(payloadLength / MAX_PACKET_CHUNK) + 1) & 0xff;
}
