// Fuzzing (seeded, reproducible): random bytes and mutated fixtures into the framer, the payload parsers and
// the response scanner. They may reject input, but only by throwing an Error (never a non-Error, never
// hanging), and they must not hold more memory than the input justifies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseColumnDefinition } from '../../src/protocol/column.js';
import { Capability } from '../../src/protocol/constants.js';
import { PacketFramer, PacketTooLargeError } from '../../src/protocol/framer.js';
import { parseAuthSwitchRequest, parseHandshakeResponse, parseHandshakeV10 } from '../../src/protocol/handshake.js';
import { parseErr, parseOk, parseSessionState, readStatusAndWarnings } from '../../src/protocol/packets.js';
import { PayloadReader, ProtocolDecodeError } from '../../src/protocol/reader.js';
import { ResponseKind, ResponseScanner, type ControlKind, type ResponseHandler } from '../../src/protocol/response-scanner.js';
import {
  CLIENT,
  STATUS,
  columnDefPayload,
  errPayload,
  greetingPayload,
  handshakeResponsePayload,
  mutate,
  okPayload,
  prng,
  randInt,
  randomBytes,
  responseFixtures,
  sessionStateBytes,
  sslRequestPayload,
} from '../helpers/fixtures.js';

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 20240611);
const cpuAtStart = process.cpuUsage();

/** Random input: pure noise, or a mutated valid sample (more likely to get deep into a decoder). */
function input(rnd: () => number, samples: Buffer[], maxNoise = 64): Buffer {
  if (samples.length === 0 || rnd() < 0.3) return randomBytes(rnd, randInt(rnd, 0, maxNoise));
  return mutate(samples[randInt(rnd, 0, samples.length - 1)]!, rnd);
}

function chunked(rnd: () => number, buf: Buffer): Buffer[] {
  const max = [1, 2, 5, 16, 64, buf.length || 1][randInt(rnd, 0, 5)]!;
  const out: Buffer[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const n = Math.min(buf.length - pos, randInt(rnd, 1, max));
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

describe('fuzz: PacketFramer (small max payload)', () => {
  it('6000 random streams: only PacketTooLargeError, every byte accounted for, bounded buffers', () => {
    const rnd = prng(SEED);
    const samples = responseFixtures()
      .map((f) => f.bytes)
      .filter((b) => b.length < 4096);
    let rejected = 0;
    for (let iter = 0; iter < 6000; iter++) {
      const limit = randInt(rnd, 0, 2000);
      const framer = new PacketFramer(limit);
      const data = input(rnd, samples, 512);
      let fed = 0;
      let emitted = 0;
      let threw = false;
      for (const c of chunked(rnd, data)) {
        try {
          framer.push(c);
        } catch (err) {
          assert.ok(err instanceof PacketTooLargeError, `iteration ${iter}: ${String(err)}`);
          assert.ok(err.size > limit && err.limit === limit);
          threw = true;
          rejected++;
          break;
        }
        fed += c.length;
        for (const p of framer.ready.splice(0)) {
          assert.ok(p.payload.length <= limit, `iteration ${iter}: ${p.payload.length}-byte payload over the ${limit} limit`);
          assert.ok(p.raw !== null && p.raw.length === p.payload.length + 4);
          emitted += p.raw.length;
        }
        const filling = (framer as unknown as { filling: Buffer | null }).filling;
        assert.ok(filling === null || filling.length <= limit + 4, `iteration ${iter}: fill buffer ${filling?.length}`);
      }
      if (!threw) assert.equal(emitted + framer.bufferedBytes(), fed, `iteration ${iter}: bytes lost or duplicated`);
    }
    assert.ok(rejected > 100, `only ${rejected} oversized packets seen: the fuzzer is not reaching the limit`);
  });
});

// ---------------------------------------------------------------------------------------------------------

type Parser = { name: string; run: (b: Buffer) => unknown; samples: Buffer[] };

const scramble = Buffer.from('abcdefghijklmnopqrst');
const PARSERS: Parser[] = [
  {
    name: 'parseOk (SESSION_TRACK)',
    run: (b) => parseOk(b, Capability.SESSION_TRACK),
    samples: [
      okPayload({ status: STATUS.AUTOCOMMIT, info: 'i', session: [{ type: 'sysvar', name: 'a', value: 'b' }, { type: 'schema', name: 's' }, { type: 'state', changed: true }] }, CLIENT.SESSION_TRACK),
      okPayload({ affectedRows: 1 << 20, lastInsertId: 2 ** 40, status: 2 }, CLIENT.SESSION_TRACK),
    ],
  },
  { name: 'parseOk', run: (b) => parseOk(b, 0), samples: [okPayload({ affectedRows: 300, status: 2, warnings: 1, info: 'Rows matched: 1' })] },
  { name: 'parseErr', run: parseErr, samples: [errPayload(1045, '28000', 'Access denied'), errPayload(1040, null, 'x')] },
  {
    name: 'parseSessionState',
    run: parseSessionState,
    samples: [
      sessionStateBytes([
        { type: 'sysvar', name: 'autocommit', value: 'OFF' },
        { type: 'schema', name: 'db' },
        { type: 'state', changed: true },
        { type: 'gtids', gtids: 'uuid:1-2' },
        { type: 'txstate', state: 'T_______' },
      ]),
    ],
  },
  {
    name: 'readStatusAndWarnings',
    run: (b) => readStatusAndWarnings(b, { status: 0, warnings: 0 }),
    samples: [okPayload({ status: 2 }), Buffer.from([0xfe, 0, 0, 2, 0])],
  },
  {
    name: 'parseHandshakeV10',
    run: parseHandshakeV10,
    samples: [
      greetingPayload({ serverVersion: '11.4.2-MariaDB', connectionId: 5, scramble, capabilities: 0xf7fe, collation: 45, status: 2, mariaCapabilities: 0x1d, authPlugin: 'mysql_native_password' }),
      greetingPayload({ serverVersion: '8.0.36', connectionId: 5, scramble, capabilities: 0xdfffffff, collation: 255, status: 2, authPlugin: 'caching_sha2_password' }),
    ],
  },
  {
    name: 'parseHandshakeResponse',
    run: parseHandshakeResponse,
    samples: [
      handshakeResponsePayload({
        capabilities: CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.CONNECT_WITH_DB | CLIENT.CONNECT_ATTRS | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA,
        user: 'u',
        authResponse: scramble,
        database: 'd',
        attributes: [['_client_name', 'x']],
      }),
      sslRequestPayload(CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION),
    ],
  },
  { name: 'parseAuthSwitchRequest', run: parseAuthSwitchRequest, samples: [Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_native_password\0'), scramble, Buffer.from([0])])] },
  { name: 'parseColumnDefinition', run: parseColumnDefinition, samples: [columnDefPayload({ name: 'id', type: 3 })] },
  {
    name: 'PayloadReader (every primitive)',
    run: (b) => {
      const r = new PayloadReader(b);
      const ops = [() => r.lenencOrNull(), () => r.lenencString(), () => r.lenencStringOrNull(), () => r.nulString(), () => r.u16(), () => r.u24(), () => r.u64(), () => r.lenencBytes()];
      for (let i = 0; r.remaining() > 0 && i < 64; i++) ops[b[i % b.length]! % ops.length]!();
    },
    samples: [Buffer.from([0xfc, 2, 0, 0x61, 0x62, 0xfb, 0xfd, 1, 0, 0, 0x63, 0xfe, 1, 0, 0, 0, 0, 0, 0, 0, 0x64])],
  },
];

describe('fuzz: payload parsers', () => {
  const thrownBy = new Map<string, Map<string, number>>();

  it('10000 inputs: each parser returns or throws an Error, never anything else', () => {
    const rnd = prng(SEED + 1);
    for (let iter = 0; iter < 10000; iter++) {
      const p = PARSERS[iter % PARSERS.length]!;
      const data = input(rnd, p.samples, 48);
      try {
        p.run(data);
      } catch (err) {
        assert.ok(err instanceof Error, `${p.name} threw a non-Error for ${data.toString('hex')}: ${String(err)}`);
        const cls = err instanceof ProtocolDecodeError ? 'ProtocolDecodeError' : `${err.constructor.name}: ${err.message.replace(/\d+/g, 'N')}`;
        const m = thrownBy.get(p.name) ?? new Map<string, number>();
        m.set(cls, (m.get(cls) ?? 0) + 1);
        thrownBy.set(p.name, m);
      }
    }
  });

  it('non-ProtocolDecodeError rejections are only the documented "unsupported" Errors', () => {
    if (process.env.SLUICE_FUZZ_VERBOSE) console.log(thrownBy);
    const allowed = [/^Error: unsupported handshake protocol version N$/, /^Error: client does not support protocol N\.N$/];
    const unexpected: string[] = [];
    for (const [name, m] of thrownBy) {
      for (const cls of m.keys()) if (cls !== 'ProtocolDecodeError' && !allowed.some((re) => re.test(cls))) unexpected.push(`${name}: ${cls}`);
    }
    assert.deepEqual(unexpected, []);
  });
});

// ---------------------------------------------------------------------------------------------------------

class Counting implements ResponseHandler {
  onResponseChunkEnd(): void {}
  forwarded = 0;
  done = 0;
  kinds: ControlKind[] = [];
  onResponseBytes(_buf: Buffer, start: number, end: number): void {
    assert.ok(end > start, `range [${start}, ${end})`);
    assert.equal(this.done, 0, 'bytes after done');
    this.forwarded += end - start;
  }
  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    assert.equal(this.done, 0, 'packet after done');
    assert.ok(end - start >= 4);
    const len = buf[start]! | (buf[start + 1]! << 8) | (buf[start + 2]! << 16);
    assert.equal(end - start, 4 + len, 'control packet not whole');
    this.kinds.push(kind);
    this.forwarded += end - start;
  }
  onResponseDone(): void {
    this.done++;
  }
}

/**
 * A split control packet is held in a buffer of its full size, so the held buffer may exceed what has been
 * fed by the rest of that packet; real control packets (OK/ERR/EOF/column count/PREPARE_OK/LOCAL INFILE)
 * are far below 64 KiB, so anything beyond this slack is memory committed on the word of a header alone.
 */
const HELD_SLACK = 64 * 1024;

interface ScannerInternals {
  held: Buffer | null;
  heldLen: number;
}

describe('fuzz: ResponseScanner', () => {
  /** Cases where the scanner held a buffer larger than everything fed so far (the strict memory bound). */
  const oversizedHeld: string[] = [];
  const errors = new Map<string, number>();

  it('6000 random / mutated responses × random chunkings: terminates, only Errors, bytes accounted for, memory bounded', () => {
    const rnd = prng(SEED + 2);
    const fixtures = responseFixtures().filter((f) => f.bytes.length < 8192);
    const kinds = [ResponseKind.Result, ResponseKind.Prepare, ResponseKind.Fetch, ResponseKind.FieldList, ResponseKind.Single, ResponseKind.Statistics];
    const scanner = new ResponseScanner();
    let completed = 0;
    for (let iter = 0; iter < 6000; iter++) {
      let kind: ResponseKind;
      let deprecateEof: boolean;
      let binary: boolean;
      let data: Buffer;
      if (rnd() < 0.25) {
        kind = kinds[randInt(rnd, 0, kinds.length - 1)]!;
        deprecateEof = rnd() < 0.5;
        binary = rnd() < 0.5;
        data = randomBytes(rnd, randInt(rnd, 0, 300));
      } else {
        const fx = fixtures[randInt(rnd, 0, fixtures.length - 1)]!;
        kind = rnd() < 0.9 ? fx.kind : kinds[randInt(rnd, 0, kinds.length - 1)]!;
        deprecateEof = rnd() < 0.9 ? fx.deprecateEof : !fx.deprecateEof;
        binary = fx.binary;
        data = mutate(fx.bytes, rnd);
      }
      const h = new Counting();
      scanner.begin(kind, deprecateEof, binary, h);
      let fed = 0;
      const chunks = chunked(rnd, data);
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i]!;
        fed += c.length;
        let extra: number;
        try {
          extra = scanner.feed(c);
        } catch (err) {
          assert.ok(err instanceof Error, `iteration ${iter}: non-Error thrown: ${String(err)}`);
          if (err.name === 'AssertionError') throw err;
          const cls = `${err.constructor.name}: ${err.message}`;
          errors.set(cls, (errors.get(cls) ?? 0) + 1);
          break;
        }
        const { held, heldLen } = scanner as unknown as ScannerInternals;
        if (held !== null) {
          // Bounded: never more than one maximal physical packet.
          assert.ok(held.length <= 0xffffff + 4, `iteration ${iter}: held ${held.length} bytes`);
          if (held.length > fed + HELD_SLACK && oversizedHeld.length < 5) {
            oversizedHeld.push(`kind ${kind}, deprecateEof ${deprecateEof}: held ${held.length} bytes after ${fed} fed (first bytes ${data.subarray(0, 8).toString('hex')})`);
          }
        }
        if (h.done > 0) {
          assert.equal(h.done, 1);
          assert.ok(extra >= 0 && extra <= c.length, `iteration ${iter}: extra ${extra} of a ${c.length}-byte chunk`);
          assert.equal(h.forwarded + extra, fed, `iteration ${iter}: bytes lost or duplicated at done`);
          assert.equal(scanner.isActive(), false);
          completed++;
          break;
        }
        assert.equal(extra, 0);
        assert.equal(h.forwarded + (held !== null ? heldLen : 0), fed, `iteration ${iter}: bytes lost or duplicated`);
      }
      scanner.reset();
    }
    assert.ok(completed > 1000, `only ${completed} responses completed: the fuzzer is not exercising the scanner`);
  });

  it('throws only on malformed column counts (RangeError from readLenenc), nothing else', () => {
    // Documented here rather than hidden: a column-count packet whose lenenc prefix promises more bytes than
    // the packet has (e.g. payload "fc") makes feed() throw a RangeError out of the data handler.
    if (process.env.SLUICE_FUZZ_VERBOSE) console.log(errors);
    for (const cls of errors.keys()) assert.match(cls, /^RangeError: /, cls);
  });

  // BUG F (memory): a control packet's buffer is allocated from the length in its header before its bytes
  // arrive. In the First state every packet is a control packet, so 5 bytes "ff ff ff 01 00" from a server
  // make the scanner allocate 16 MiB + 3 bytes up front (bounded per scanner, but not by the input).
  it('BUG F: the scanner never holds a buffer much larger (> 64 KiB) than the bytes fed to it', () => {
    assert.deepEqual(oversizedHeld, []); // BUG: e.g. "kind 1: held 5951771 bytes after 5 fed"
  });

  it('BUG F (fixed), minimal reproduction: 5 bytes no longer make the scanner allocate 16 MiB', () => {
    const s = new ResponseScanner();
    s.begin(ResponseKind.Result, false, false, new Counting());
    s.feed(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x00]));
    const { held } = s as unknown as ScannerInternals;
    // The buffer grows with the bytes that arrive, not with what the header claims.
    assert.ok(held !== null && held.length < 1024, `held ${held?.length} bytes after 5 fed`);
  });

  it('the whole fuzz suite stays fast (< 10 s of CPU)', () => {
    // CPU time rather than wall time: the suite must not flake on a loaded machine.
    const used = process.cpuUsage(cpuAtStart);
    const ms = (used.user + used.system) / 1000;
    assert.ok(ms < 10_000, `${Math.round(ms)} ms of CPU`);
  });
});
