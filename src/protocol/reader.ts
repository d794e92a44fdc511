// Reads the protocol's primitive types from a payload. One reader object can be reused with reset().

export class PayloadReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  reset(buf: Buffer, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtocolDecodeError(`packet too short: need ${n} bytes at ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** Length-encoded integer. Returns null for the NULL marker 0xfb. Values above 2^53 lose precision. */
  lenencOrNull(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      this.need(8);
      const lo = this.buf.readUInt32LE(this.pos);
      const hi = this.buf.readUInt32LE(this.pos + 4);
      this.pos += 8;
      return hi * 0x100000000 + lo;
    }
    throw new ProtocolDecodeError('invalid length-encoded integer prefix 0xff');
  }

  lenenc(): number {
    const v = this.lenencOrNull();
    if (v === null) throw new ProtocolDecodeError('unexpected NULL length');
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  lenencBytes(): Buffer {
    return this.bytes(this.lenenc());
  }

  lenencString(): string {
    const n = this.lenenc();
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  lenencStringOrNull(): string | null {
    const n = this.lenencOrNull();
    if (n === null) return null;
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** NUL-terminated string; if no NUL is found, takes the rest of the payload. */
  nulString(): string {
    let i = this.buf.indexOf(0, this.pos);
    if (i < 0 || i > this.end) i = this.end;
    const s = this.buf.toString('utf8', this.pos, i);
    this.pos = Math.min(i + 1, this.end);
    return s;
  }

  nulBytes(): Buffer {
    let i = this.buf.indexOf(0, this.pos);
    if (i < 0 || i > this.end) i = this.end;
    const b = this.buf.subarray(this.pos, i);
    this.pos = Math.min(i + 1, this.end);
    return b;
  }

  restBytes(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }

  restString(): string {
    const s = this.buf.toString('utf8', this.pos, this.end);
    this.pos = this.end;
    return s;
  }
}

export class ProtocolDecodeError extends Error {
  readonly code = 'SLUICE_PROTOCOL_DECODE';
}

/** Size in bytes of a length-encoded integer whose first byte is `first`. */
export function lenencSize(first: number): number {
  if (first < 0xfb) return 1;
  if (first === 0xfc) return 3;
  if (first === 0xfd) return 4;
  if (first === 0xfe) return 9;
  return 1;
}
