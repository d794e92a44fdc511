// PacketFramer: splits a byte stream into logical packets, whatever the chunking.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketFramer, PacketTooLargeError, type Packet } from '../../src/protocol/framer.js';
import { MAX_CHUNK, frame, framePhysical, prng, randInt, randomBytes, splitAt } from '../helpers/fixtures.js';

interface Expected {
  payload: Buffer;
  seq: number;
}

/** Frames `packets` back to back; returns the stream and each packet's [start, end). */
function stream(packets: Expected[]): { bytes: Buffer; spans: Array<[number, number]> } {
  const parts: Buffer[] = [];
  const spans: Array<[number, number]> = [];
  let off = 0;
  for (const p of packets) {
    const f = frame(p.payload, p.seq);
    parts.push(f);
    spans.push([off, off + f.length]);
    off += f.length;
  }
  return { bytes: Buffer.concat(parts), spans };
}

function feed(framer: PacketFramer, chunks: Buffer[]): Packet[] {
  const out: Packet[] = [];
  for (const c of chunks) {
    framer.push(c);
    out.push(...framer.ready.splice(0));
  }
  return out;
}

/** Compares framed packets with what was sent; returns a description of the first difference or null. */
function diff(got: Packet[], want: Expected[]): string | null {
  if (got.length !== want.length) return `${got.length} packets, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const physical = Math.floor(w.payload.length / MAX_CHUNK) + 1;
    if (!g.payload.equals(w.payload)) return `packet ${i}: payload differs (${g.payload.length} vs ${w.payload.length} bytes)`;
    if (g.seq !== (w.seq & 0xff)) return `packet ${i}: seq ${g.seq}, expected ${w.seq & 0xff}`;
    if (g.lastSeq !== ((w.seq + physical - 1) & 0xff)) return `packet ${i}: lastSeq ${g.lastSeq}`;
    if (physical === 1) {
      if (g.raw === null) return `packet ${i}: raw is null for a single physical packet`;
      if (!g.raw.equals(frame(w.payload, w.seq))) return `packet ${i}: raw differs from the received bytes`;
    } else if (g.raw !== null) return `packet ${i}: raw is not null for a ${physical}-packet payload`;
  }
  return null;
}

const pl = (n: number, fill = 0x41) => Buffer.alloc(n, fill);

describe('PacketFramer: basic framing', () => {
  it('one packet in one chunk: payload and raw are views of the chunk (no copy)', () => {
    const chunk = frame(Buffer.from('hello'), 7);
    const f = new PacketFramer();
    f.push(chunk);
    assert.equal(f.ready.length, 1);
    const p = f.ready[0]!;
    assert.deepEqual(p.payload, Buffer.from('hello'));
    assert.equal(p.seq, 7);
    assert.equal(p.lastSeq, 7);
    assert.ok(p.raw);
    assert.equal(p.raw.buffer, chunk.buffer);
    assert.equal(p.raw.byteOffset, chunk.byteOffset);
    assert.equal(p.raw.length, chunk.length);
    assert.equal(p.payload.buffer, chunk.buffer);
    assert.equal(p.payload.byteOffset, chunk.byteOffset + 4);
    assert.equal(f.bufferedBytes(), 0);
  });

  it('several packets in one chunk, including empty payloads', () => {
    const want: Expected[] = [
      { payload: pl(0), seq: 0 },
      { payload: pl(1), seq: 1 },
      { payload: Buffer.from([0xfe, 0, 0, 2, 0]), seq: 2 },
      { payload: pl(0), seq: 3 },
      { payload: pl(300, 0x99), seq: 4 },
    ];
    const { bytes, spans } = stream(want);
    const f = new PacketFramer();
    f.push(bytes);
    const got = f.ready.splice(0);
    assert.equal(diff(got, want), null);
    got.forEach((p, i) => {
      assert.equal(p.raw!.buffer, bytes.buffer, 'raw is a view of the chunk');
      assert.equal(p.raw!.byteOffset - bytes.byteOffset, spans[i]![0]);
    });
  });

  it('keeps a partial header/payload until the rest arrives (bufferedBytes counts it)', () => {
    const bytes = frame(pl(10), 1);
    const f = new PacketFramer();
    f.push(bytes.subarray(0, 2));
    assert.equal(f.ready.length, 0);
    assert.equal(f.bufferedBytes(), 2);
    f.push(bytes.subarray(2, 9));
    assert.equal(f.ready.length, 0);
    assert.equal(f.bufferedBytes(), 9);
    f.push(bytes.subarray(9));
    assert.equal(f.ready.length, 1);
    assert.equal(f.bufferedBytes(), 0);
    // A packet assembled from several chunks still has a correct raw (a copy).
    assert.deepEqual(f.ready[0]!.raw, bytes);
  });

  it('splits at every offset of a stream (2 chunks) and at every pair of offsets (3 chunks)', () => {
    const want: Expected[] = [
      { payload: pl(0), seq: 0 },
      { payload: pl(1, 1), seq: 1 },
      { payload: pl(7, 2), seq: 2 },
      { payload: pl(250, 3), seq: 3 },
      { payload: pl(3, 4), seq: 4 },
    ];
    const { bytes } = stream(want);
    for (let a = 0; a <= bytes.length; a++) {
      const got = feed(new PacketFramer(), splitAt(bytes, [a]));
      assert.equal(diff(got, want), null, `cut at ${a}`);
    }
    const small = stream(want.filter((w) => w.payload.length < 10)).bytes;
    const wantSmall = want.filter((w) => w.payload.length < 10);
    for (let a = 1; a < small.length; a++) {
      for (let b = a + 1; b < small.length; b++) {
        const got = feed(new PacketFramer(), splitAt(small, [a, b]));
        assert.equal(diff(got, wantSmall), null, `cuts at ${a}, ${b}`);
      }
    }
  });

  it('byte-by-byte feeding', () => {
    const want: Expected[] = Array.from({ length: 20 }, (_, i) => ({ payload: pl(i * 13, i), seq: i }));
    const { bytes } = stream(want);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    assert.equal(diff(feed(new PacketFramer(), chunks), want), null);
  });

  it('packets above 64 KiB that span chunks (preallocated fill path), split around every header', () => {
    const want: Expected[] = [
      { payload: randomBytes(prng(1), 65536), seq: 1 }, // at the threshold: concat path
      { payload: randomBytes(prng(2), 65537), seq: 2 }, // just above: fill path
      { payload: pl(5), seq: 3 },
      { payload: randomBytes(prng(3), 300000), seq: 4 },
      { payload: pl(2), seq: 5 },
    ];
    const { bytes, spans } = stream(want);
    const cuts = new Set<number>();
    for (const [s, e] of spans) {
      for (let d = -5; d <= 6; d++) {
        cuts.add(s + d);
        cuts.add(e + d);
      }
    }
    for (const c of cuts) {
      assert.equal(diff(feed(new PacketFramer(), splitAt(bytes, [c])), want), null, `cut at ${c}`);
      // …and a tiny chunk right after the cut, then the rest in big pieces.
      assert.equal(diff(feed(new PacketFramer(), splitAt(bytes, [c, c + 1, c + 3, c + 50000])), want), null, `cuts at ${c}+`);
    }
  });

  it('raw of a fill-path packet is header + payload', () => {
    const payload = randomBytes(prng(9), 100000);
    const bytes = frame(payload, 9);
    const f = new PacketFramer();
    const got = feed(f, splitAt(bytes, [10, 5000, 99999]));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.raw, bytes);
    assert.deepEqual(got[0]!.payload, payload);
  });
});

describe('PacketFramer: payloads of 16 MiB and more', () => {
  const big = randomBytes(prng(42), 64 * 1024); // pattern source
  const payloadOf = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; off += big.length) big.copy(b, off, 0, Math.min(big.length, n - off));
    return b;
  };

  it('joins 0xffffff + continuation', () => {
    const payload = payloadOf(MAX_CHUNK + 100);
    const bytes = frame(payload, 3);
    assert.equal(bytes.length, payload.length + 8);
    const phys = framePhysical(payload, 3);
    const boundary = phys[0]!.length;
    for (const cuts of [[], [1 << 20, 2 << 20, 15 << 20], ...[-1, 0, 1, 2, 3, 4, 5].map((d) => [boundary + d]), [boundary - 1, boundary + 2]]) {
      const f = new PacketFramer();
      const got = feed(f, splitAt(bytes, cuts));
      assert.equal(diff(got, [{ payload, seq: 3 }]), null, `cuts ${cuts.join(',')}`);
      assert.equal(got[0]!.lastSeq, 4);
      assert.equal(f.bufferedBytes(), 0);
    }
  });

  it('a payload of exactly 0xffffff bytes is followed by an empty packet', () => {
    const payload = payloadOf(MAX_CHUNK);
    const next = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
    const bytes = Buffer.concat([frame(payload, 254), frame(next, 0)]);
    assert.equal(bytes.readUIntLE(MAX_CHUNK + 4, 3), 0, 'empty continuation');
    const emptyAt = MAX_CHUNK + 4;
    for (const cuts of [[], [emptyAt], [emptyAt + 2], [emptyAt + 4], [emptyAt + 5], [emptyAt - 1, emptyAt + 4]]) {
      const got = feed(new PacketFramer(), splitAt(bytes, cuts));
      assert.equal(diff(got, [{ payload, seq: 254 }, { payload: next, seq: 0 }]), null, `cuts ${cuts.join(',')}`);
      assert.equal(got[0]!.lastSeq, 255);
    }
  });

  it('three physical packets (2 × 0xffffff + 1), sequence ids wrapping past 255', () => {
    const payload = payloadOf(2 * MAX_CHUNK + 1);
    const bytes = frame(payload, 255);
    const got = feed(new PacketFramer(), splitAt(bytes, [MAX_CHUNK + 2, 2 * MAX_CHUNK + 9]));
    assert.equal(diff(got, [{ payload, seq: 255 }]), null);
    assert.equal(got[0]!.seq, 255);
    assert.equal(got[0]!.lastSeq, 1);
  });

  it('0xfffffe bytes is a single physical packet', () => {
    const payload = payloadOf(MAX_CHUNK - 1);
    const got = feed(new PacketFramer(), [frame(payload, 1)]);
    assert.equal(diff(got, [{ payload, seq: 1 }]), null);
  });
});

describe('PacketFramer: size limit', () => {
  it('accepts a payload of exactly the limit and rejects limit + 1 as soon as its header arrives', () => {
    const f = new PacketFramer(100);
    f.push(frame(pl(100), 0));
    assert.equal(f.ready.length, 1);
    const f2 = new PacketFramer(100);
    const bytes = frame(pl(101), 0);
    assert.throws(
      () => f2.push(bytes.subarray(0, 4)),
      (err: unknown) => err instanceof PacketTooLargeError && err.size === 101 && err.limit === 100 && err.code === 'SLUICE_PACKET_TOO_LARGE',
    );
  });

  it('packets before the oversized one in the same chunk are still delivered', () => {
    const f = new PacketFramer(10);
    const bytes = Buffer.concat([frame(pl(3), 0), frame(pl(10), 1), frame(pl(11), 2)]);
    assert.throws(() => f.push(bytes), PacketTooLargeError);
    assert.deepEqual(
      f.ready.map((p) => p.payload.length),
      [3, 10],
    );
  });

  it('counts continuation packets towards the limit', () => {
    const limit = MAX_CHUNK + 10;
    const ok = Buffer.alloc(limit);
    const f = new PacketFramer(limit);
    f.push(frame(ok, 0));
    assert.equal(f.ready.length, 1);
    assert.equal(f.ready[0]!.payload.length, limit);
    const tooBig = frame(Buffer.alloc(limit + 1), 0);
    const f2 = new PacketFramer(limit);
    f2.push(tooBig.subarray(0, MAX_CHUNK + 4)); // the first physical packet alone is fine
    assert.throws(
      () => f2.push(tooBig.subarray(MAX_CHUNK + 4)),
      (err: unknown) => err instanceof PacketTooLargeError && err.size === limit + 1,
    );
  });
});

describe('PacketFramer: takeBuffered()', () => {
  it('returns the bytes after the last complete packet (SSLRequest followed by a TLS ClientHello)', () => {
    const sslRequest = frame(pl(32), 1);
    const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const f = new PacketFramer();
    f.push(Buffer.concat([sslRequest, clientHello]));
    assert.equal(f.ready.length, 1);
    assert.equal(f.bufferedBytes(), clientHello.length);
    assert.deepEqual(f.takeBuffered(), clientHello);
    assert.equal(f.bufferedBytes(), 0);
    assert.equal(f.takeBuffered().length, 0);
    // The framer keeps working afterwards.
    f.ready.length = 0;
    f.push(frame(Buffer.from('x'), 2));
    assert.deepEqual(f.ready[0]!.payload, Buffer.from('x'));
  });

  it('returns the partial bytes of a large packet being filled', () => {
    const bytes = frame(pl(200000), 1);
    const f = new PacketFramer();
    f.push(bytes.subarray(0, 1000));
    f.push(bytes.subarray(1000, 5000));
    assert.equal(f.bufferedBytes(), 5000);
    assert.deepEqual(f.takeBuffered(), bytes.subarray(0, 5000));
    assert.equal(f.bufferedBytes(), 0);
    f.push(frame(Buffer.from('y'), 3));
    assert.equal(f.ready.length, 1);
    assert.deepEqual(f.ready[0]!.payload, Buffer.from('y'));
  });

  it('returns nothing on a fresh framer, and a split header on its own', () => {
    const f = new PacketFramer();
    assert.equal(f.takeBuffered().length, 0);
    f.push(Buffer.from([5, 0]));
    assert.deepEqual(f.takeBuffered(), Buffer.from([5, 0]));
  });
});

describe('PacketFramer: property — any chunking yields the same packets', () => {
  function randomPackets(rnd: () => number, count: number): Expected[] {
    const out: Expected[] = [];
    let seq = randInt(rnd, 0, 255);
    for (let i = 0; i < count; i++) {
      const r = rnd();
      let n: number;
      if (r < 0.4) n = randInt(rnd, 0, 12);
      else if (r < 0.7) n = randInt(rnd, 245, 260);
      else if (r < 0.85) n = randInt(rnd, 1000, 5000);
      else if (r < 0.95) n = randInt(rnd, 65530, 65545);
      else n = randInt(rnd, 65546, 300000);
      out.push({ payload: randomBytes(rnd, n), seq });
      seq = (seq + 1) & 0xff;
    }
    return out;
  }

  it('300 random streams × random chunkings (seeded)', () => {
    const rnd = prng(0x5eed);
    for (let iter = 0; iter < 300; iter++) {
      const want = randomPackets(rnd, randInt(rnd, 1, 12));
      const { bytes } = stream(want);
      // Tiny chunks only on small streams (packets ≤ 64 KiB are re-concatenated on every push).
      const maxChunk = bytes.length < 20000 ? [1, 3, 7, 64, bytes.length][iter % 5]! : [512, 4096, 70000, bytes.length][iter % 4]!;
      const cuts: number[] = [];
      for (let pos = randInt(rnd, 1, maxChunk); pos < bytes.length; pos += randInt(rnd, 1, maxChunk)) cuts.push(pos);
      const got = feed(new PacketFramer(), splitAt(bytes, cuts));
      assert.equal(diff(got, want), null, `iteration ${iter} (max chunk ${maxChunk})`);
    }
  });

  it('random streams with 16 MiB+ payloads (seeded)', () => {
    const rnd = prng(77);
    for (let iter = 0; iter < 3; iter++) {
      const want = randomPackets(rnd, 3);
      want.splice(1, 0, { payload: Buffer.alloc(MAX_CHUNK + [0, 1, 1234][iter]!, iter + 1), seq: 9 });
      want.forEach((w, i) => (w.seq = (i === 0 ? 250 : want[i - 1]!.seq + Math.floor(want[i - 1]!.payload.length / MAX_CHUNK) + 1) & 0xff));
      const { bytes } = stream(want);
      const cuts: number[] = [];
      for (let pos = randInt(rnd, 1, 3 << 20); pos < bytes.length; pos += randInt(rnd, 1, 3 << 20)) cuts.push(pos);
      const f = new PacketFramer();
      assert.equal(diff(feed(f, splitAt(bytes, cuts)), want), null, `iteration ${iter}`);
      assert.equal(f.bufferedBytes(), 0);
    }
  });
});
