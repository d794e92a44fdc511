// ResponseScanner: follows every response shape through arbitrary chunkings of the byte stream.
//
// For each fixture and each chunking, a recording handler checks that
//  (a) the bytes handed on (pass-through ranges and control packets, in call order) are exactly the
//      response's bytes — nothing lost, duplicated or reordered;
//  (b) control packets are reported whole, at the right stream offsets, with the expected kinds;
//  (c) onResponseDone is called exactly once, after the last byte, during the feed() of the chunk that
//      holds the response's last byte;
//  (d) feed() returns how many bytes of that chunk came after the response (0 for every other chunk).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlKind, ResponseKind, ResponseScanner, type ResponseHandler } from '../../src/protocol/response-scanner.js';
import {
  CLIENT,
  STATUS,
  TYPE,
  Wire,
  columnDefPayload,
  eofPayload,
  errPayload,
  frame,
  largeResponseFixtures,
  okEofPayload,
  okPayload,
  okResponse,
  prepareResponse,
  prng,
  randInt,
  randomChunks,
  resultSet,
  responseFixtures,
  splitAt,
  textRowPayload,
  localInfileRequest,
  type PhysicalPacket,
  type ResponseFixture,
} from '../helpers/fixtures.js';

const KIND_NAME: Record<number, string> = {
  [ControlKind.Ok]: 'Ok',
  [ControlKind.Err]: 'Err',
  [ControlKind.Eof]: 'Eof',
  [ControlKind.ResultHeader]: 'ResultHeader',
  [ControlKind.PrepareOk]: 'PrepareOk',
  [ControlKind.LocalInfile]: 'LocalInfile',
  [ControlKind.Text]: 'Text',
};
const names = (ks: ControlKind[]) => ks.map((k) => KIND_NAME[k] ?? `?${k}`);

/** Bytes that follow a response on the wire (a stray OK): feed() must report them as extra. */
const TRAILING = frame(okPayload({ status: STATUS.AUTOCOMMIT }), 1);

/** Internals read for invariants only (never written). */
interface ScannerInternals {
  held: Buffer | null;
  heldLen: number;
}
const internals = (s: ResponseScanner) => s as unknown as ScannerInternals;

/** Records what the scanner hands on and checks it against the expected stream as it goes (no copies). */
class Recorder implements ResponseHandler {
  onResponseChunkEnd(): void {}
  forwarded = 0;
  controls: ControlKind[] = [];
  doneCount = 0;
  doneAtForwarded = -1;
  readonly errors: string[] = [];
  private readonly byStart = new Map<number, PhysicalPacket>();

  constructor(private readonly expected: Buffer, physical: PhysicalPacket[]) {
    for (const p of physical) this.byStart.set(p.start, p);
  }

  private compare(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.forwarded + n > this.expected.length) {
      this.errors.push(`handed on ${this.forwarded + n} bytes, response has ${this.expected.length}`);
      return;
    }
    if (buf.compare(this.expected, this.forwarded, this.forwarded + n, start, end) !== 0) {
      let i = 0;
      while (buf[start + i] === this.expected[this.forwarded + i]) i++;
      this.errors.push(`byte mismatch at stream offset ${this.forwarded + i}`);
    }
  }

  onResponseBytes(buf: Buffer, start: number, end: number): void {
    if (this.doneCount > 0) this.errors.push('onResponseBytes after onResponseDone');
    if (end <= start) this.errors.push(`empty/negative range [${start}, ${end})`);
    this.compare(buf, start, end);
    this.forwarded += end - start;
  }

  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    if (this.doneCount > 0) this.errors.push('onResponsePacket after onResponseDone');
    const len = buf[start]! | (buf[start + 1]! << 8) | (buf[start + 2]! << 16);
    if (end - start !== 4 + len) this.errors.push(`control packet not whole: ${end - start} bytes, header says ${4 + len}`);
    const p = this.byStart.get(this.forwarded);
    if (!p) this.errors.push(`control ${KIND_NAME[kind]} at offset ${this.forwarded}, which is not a packet start`);
    else if (p.control !== kind) this.errors.push(`control ${KIND_NAME[kind]} at offset ${this.forwarded}, expected ${p.control === null ? 'data' : KIND_NAME[p.control]}`);
    this.compare(buf, start, end);
    this.forwarded += end - start;
    this.controls.push(kind);
  }

  onResponseDone(): void {
    this.doneCount++;
    this.doneAtForwarded = this.forwarded;
  }
}

interface RunOptions {
  trailing?: boolean;
  /** Reuse this scanner (begin() must fully re-arm it). */
  scanner?: ResponseScanner;
}

/** Feeds `fx` cut at `cuts` (plus its pause point) and returns every violated expectation. */
const withTrailing = new WeakMap<ResponseFixture, Buffer>();

function runCuts(fx: ResponseFixture, cuts: number[], opts: RunOptions = {}): string[] {
  let stream = fx.bytes;
  if (opts.trailing) {
    stream = withTrailing.get(fx) ?? Buffer.concat([fx.bytes, TRAILING]);
    withTrailing.set(fx, stream);
  }
  const responseEnd = fx.bytes.length;
  const scanner = opts.scanner ?? new ResponseScanner();
  const rec = new Recorder(fx.bytes, fx.wire.physical);
  const errors = rec.errors;
  const maxControl = Math.max(5, ...fx.wire.physical.filter((p) => p.control !== null).map((p) => p.end - p.start));
  scanner.begin(fx.kind, fx.deprecateEof, fx.binary, rec);
  const chunks = splitAt(stream, fx.pauseAt !== undefined ? [...cuts, fx.pauseAt] : cuts);
  let cum = 0;
  let doneSeen = false;
  for (const chunk of chunks) {
    const before = cum;
    cum += chunk.length;
    let extra: number;
    try {
      extra = scanner.feed(chunk);
    } catch (err) {
      errors.push(`feed threw on chunk [${before}, ${cum}): ${String(err)}`);
      break;
    }
    const { held, heldLen } = internals(scanner);
    if (held !== null && held.length > maxControl) errors.push(`held buffer of ${held.length} bytes (largest control packet: ${maxControl})`);
    if (rec.doneCount > 0) {
      doneSeen = true;
      if (cum < responseEnd) errors.push(`done early: in chunk [${before}, ${cum}), response is ${responseEnd} bytes`);
      if (extra !== cum - responseEnd) errors.push(`feed returned ${extra} extra bytes, expected ${cum - responseEnd}`);
      if (rec.doneAtForwarded !== responseEnd) errors.push(`done after ${rec.doneAtForwarded} bytes handed on, expected ${responseEnd}`);
      break;
    }
    if (extra !== 0) errors.push(`feed returned ${extra} before the response ended (chunk [${before}, ${cum}))`);
    const pending = held !== null ? heldLen : 0;
    if (rec.forwarded + pending !== cum) errors.push(`after ${cum} bytes fed: ${rec.forwarded} handed on + ${pending} held`);
    if (cum >= responseEnd) {
      errors.push(`not done after all ${responseEnd} response bytes (chunk [${before}, ${cum}))`);
      break;
    }
    if (fx.pauseAt === cum) {
      if (rec.controls.at(-1) !== ControlKind.LocalInfile) errors.push(`at pause: last control ${names(rec.controls).at(-1)}, expected LocalInfile`);
      if (!scanner.isActive()) errors.push('at pause: scanner not active');
    }
    if (errors.length > 0) break;
  }
  if (!doneSeen && errors.length === 0) errors.push('never done');
  if (rec.doneCount > 1) errors.push(`onResponseDone called ${rec.doneCount} times`);
  const want = names(fx.wire.controls()).join(',');
  const got = names(rec.controls).join(',');
  if (got !== want) errors.push(`controls ${got}, expected ${want}`);
  if (doneSeen) {
    if (scanner.isActive()) errors.push('scanner still active after done');
    // BUG D (checked in its own test.todo below): an ERR answering COM_STATISTICS leaves lastWasError false.
    const bugD = fx.kind === ResponseKind.Statistics && fx.expect.lastWasError;
    if (!bugD && scanner.lastWasError !== fx.expect.lastWasError) errors.push(`lastWasError ${scanner.lastWasError}`);
    if (fx.expect.status !== undefined && scanner.last.status !== fx.expect.status) {
      errors.push(`last.status 0x${scanner.last.status.toString(16)}, expected 0x${fx.expect.status.toString(16)}`);
    }
    if (fx.expect.columnCount !== undefined && scanner.columnCount !== fx.expect.columnCount) errors.push(`columnCount ${scanner.columnCount}`);
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------------------
// Known src bugs: chunkings that hit them are checked in separate test.todo entries (see the bottom).

/**
 * BUG A (response-scanner.ts onDataPacket/feed): the state goes to Done when the *header* of the last
 * definition of a DEPRECATE_EOF prepare response is seen, before its body has arrived. A chunk boundary
 * inside that last packet ends the response early.
 */
function hitsBugA(fx: ResponseFixture, cuts: number[]): boolean {
  if (fx.kind !== ResponseKind.Prepare || !fx.deprecateEof) return false;
  const last = fx.wire.physical.at(-1)!;
  if (last.control !== null) return false;
  return cuts.some((c) => c > last.start && c < last.end);
}

/**
 * BUG B (response-scanner.ts feed/fillHeld): an empty continuation packet (after a payload of exactly
 * 0xffffff bytes) that is not followed by at least one more byte in the same chunk is held with a 5-byte
 * need; completing it swallows the first byte of the next packet and the scanner loses packet alignment.
 */
function hitsBugB(fx: ResponseFixture, cuts: number[], streamLength: number): boolean {
  const sorted = [...new Set(cuts.filter((c) => c > 0 && c < streamLength))].sort((a, b) => a - b);
  for (const p of fx.wire.physical) {
    if (p.length !== 0) continue;
    const chunkEnd = sorted.find((c) => c > p.start) ?? streamLength;
    if (chunkEnd < p.start + 5) return true;
  }
  return false;
}

function knownBug(fx: ResponseFixture, cuts: number[], streamLength: number): string | null {
  if (hitsBugA(fx, cuts)) return 'A';
  if (hitsBugB(fx, cuts, streamLength)) return 'B';
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Chunkings

interface Chunking {
  label: string;
  cuts: number[];
  trailing: boolean;
}

function* chunkings(fx: ResponseFixture, big: boolean): Generator<Chunking> {
  const len = fx.bytes.length;
  for (const trailing of [false, true]) {
    yield { label: 'whole', cuts: [], trailing };
    if (!big && len <= 100_000) yield { label: 'byte by byte', cuts: Array.from({ length: len + TRAILING.length }, (_, i) => i), trailing };
  }
  // Around every physical packet start (header split at every offset, first byte alone, …) and the end.
  const starts = [...fx.wire.physical.map((p) => p.start), len];
  for (const s of starts) {
    for (let d = -2; d <= 6; d++) yield { label: `cut at ${s}${d >= 0 ? '+' : ''}${d}`, cuts: [s + d], trailing: true };
    for (let d = 0; d <= 5; d++) {
      for (let k = 1; k <= 5; k++) yield { label: `cuts at ${s}+${d}, +${d + k}`, cuts: [s + d, s + d + k], trailing: d % 2 === 0 };
    }
  }
  const rnd = prng(len * 31 + fx.name.length);
  const sizes = big ? [1 << 20, 1 << 16, 7] : [3, 16, 256, len];
  for (let i = 0; i < (big ? 3 : 24); i++) {
    const max = sizes[i % sizes.length]!;
    const cuts: number[] = [];
    if (big && max === 7) {
      // Tiny chunks only around the interesting places, big ones elsewhere.
      for (const s of starts) for (let j = 0; j < 12; j++) cuts.push(s - 3 + j + randInt(rnd, 0, 2));
      for (let j = 0; j < 8; j++) cuts.push(randInt(rnd, 1, len - 1));
    } else {
      for (let pos = randInt(rnd, 1, max); pos < len + TRAILING.length; pos += randInt(rnd, 1, max)) cuts.push(pos);
    }
    yield { label: `random #${i} (max ${max})`, cuts, trailing: i % 2 === 1 };
  }
}

function exercise(fx: ResponseFixture, big: boolean): { failures: string[]; buggy: Array<{ bug: string; c: Chunking }> } {
  const failures: string[] = [];
  const buggy: Array<{ bug: string; c: Chunking }> = [];
  const shared = new ResponseScanner();
  let n = 0;
  for (const c of chunkings(fx, big)) {
    const streamLength = fx.bytes.length + (c.trailing ? TRAILING.length : 0);
    const bug = knownBug(fx, fx.pauseAt !== undefined ? [...c.cuts, fx.pauseAt] : c.cuts, streamLength);
    if (bug !== null) {
      buggy.push({ bug, c });
      continue;
    }
    // Alternate fresh and reused scanners: begin() must fully re-arm one.
    const errors = runCuts(fx, c.cuts, { trailing: c.trailing, ...(n++ % 2 === 0 ? { scanner: shared } : {}) });
    if (errors.length > 0) failures.push(`${c.label}${c.trailing ? ' +trailing' : ''}: ${errors.slice(0, 3).join('; ')}`);
  }
  return { failures, buggy };
}

function check(fx: ResponseFixture, big: boolean): Array<{ bug: string; c: Chunking }> {
  const { failures, buggy } = exercise(fx, big);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} chunkings failed`);
  return buggy;
}

// ---------------------------------------------------------------------------------------------------------

const fixtures = responseFixtures();

describe('ResponseScanner: every response shape, every chunking', () => {
  for (const fx of fixtures) {
    let buggy: Array<{ bug: string; c: Chunking }> = [];
    it(fx.name, () => {
      buggy = check(fx, false);
    });
    if (hitsBugA(fx, fx.wire.physical.length > 0 ? [fx.wire.physical.at(-1)!.start + 5] : [])) {
      // BUG A: the chunkings skipped above (boundary inside the last definition packet) fail today.
      it(`BUG A: ${fx.name}: chunk boundary inside the last definition ends the response early`, () => {
        assert.ok(buggy.length > 0);
        const failures = buggy.map(({ c }) => runCuts(fx, c.cuts, { trailing: c.trailing })).filter((e) => e.length > 0);
        assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${buggy.length} chunkings cut inside the last definition fail`);
      });
    }
  }
});

describe('ResponseScanner: 16 MiB rows (continuation packets)', () => {
  for (const { name, build } of largeResponseFixtures()) {
    let predicted = 0;
    let failing: string[] = [];
    it(name, () => {
      const fx = build();
      const buggy = check(fx, true);
      // BUG B: the chunkings skipped by check() are retried in the todo below; run them here while the
      // 16 MiB fixture is alive.
      predicted = buggy.length;
      failing = buggy.filter(({ c }) => runCuts(fx, c.cuts, { trailing: c.trailing }).length > 0).map(({ c }) => c.label);
    });
    if (name.includes('exactly 0xffffff')) {
      it(`BUG B: ${name}: chunk ending within 5 bytes of the empty continuation packet`, () => {
        assert.ok(predicted > 0);
        assert.deepEqual(failing, [], `${failing.length} of ${predicted} chunkings ending within 5 bytes of the empty packet fail`);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// Targeted cases

class Collect implements ResponseHandler {
  onResponseChunkEnd(): void {}
  bytes: Buffer[] = [];
  kinds: ControlKind[] = [];
  packetBufs: Buffer[] = [];
  done = 0;
  onResponseBytes(buf: Buffer, start: number, end: number): void {
    this.bytes.push(Buffer.from(buf.subarray(start, end)));
  }
  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    this.kinds.push(kind);
    this.packetBufs.push(buf);
    this.bytes.push(Buffer.from(buf.subarray(start, end)));
  }
  onResponseDone(): void {
    this.done++;
  }
  all(): Buffer {
    return Buffer.concat(this.bytes);
  }
}

describe('ResponseScanner: targeted behaviour', () => {
  it('hands control packets over as views of the received chunk when they are not split (no copy)', () => {
    const w = resultSet(new Wire(), { columns: [{ name: 'a' }], rows: [textRowPayload(['1'])], deprecateEof: false });
    const bytes = w.bytes();
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(ResponseKind.Result, false, false, h);
    assert.equal(s.feed(bytes), 0);
    assert.equal(h.done, 1);
    for (const b of h.packetBufs) assert.equal(b, bytes);
    // Pass-through data is handed on as ranges: definition + row in one call between the two EOFs.
    assert.deepEqual(h.all(), bytes);
  });

  it('reports the bytes after the end of the response, in the same chunk', () => {
    const fx = fixtures.find((f) => f.name === 'text result (EOF)')!;
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(fx.kind, false, false, h);
    const extra = Buffer.from('0123456789');
    assert.equal(s.feed(Buffer.concat([fx.bytes, extra])), extra.length);
    assert.deepEqual(h.all(), fx.bytes);
    assert.equal(s.isActive(), false);
  });

  it('reads status and warnings of a terminating EOF', () => {
    const w = resultSet(new Wire(), { columns: [{ name: 'a' }], rows: [], deprecateEof: false, status: STATUS.AUTOCOMMIT | STATUS.IN_TRANS, warnings: 3 });
    const s = new ResponseScanner();
    s.begin(ResponseKind.Result, false, false, new Collect());
    s.feed(w.bytes());
    assert.deepEqual({ ...s.last }, { status: STATUS.AUTOCOMMIT | STATUS.IN_TRANS, warnings: 3 });
  });

  it('reads status and warnings of an OK (single)', () => {
    const s = new ResponseScanner();
    s.begin(ResponseKind.Single, true, false, new Collect());
    s.feed(frame(okPayload({ status: STATUS.IN_TRANS, warnings: 2, affectedRows: 70000, lastInsertId: 2 ** 40 }), 1));
    assert.deepEqual({ ...s.last }, { status: STATUS.IN_TRANS, warnings: 2 });
  });

  it('reads status and warnings of an OK (0xfe) ending rows under DEPRECATE_EOF, when it is 9+ bytes long', () => {
    const w = new Wire();
    resultSet(w, {
      columns: [{ name: 'a' }],
      rows: [],
      deprecateEof: true,
      terminator: { payload: okPayload({ header: 0xfe, status: STATUS.AUTOCOMMIT, warnings: 4, info: 'x' }, CLIENT.SESSION_TRACK), control: ControlKind.Eof },
    });
    const s = new ResponseScanner();
    s.begin(ResponseKind.Result, true, false, new Collect());
    s.feed(w.bytes());
    assert.deepEqual({ ...s.last }, { status: STATUS.AUTOCOMMIT, warnings: 4 });
  });

  // BUG C (packets.ts readStatusAndWarnings): any 0xfe payload shorter than 9 bytes is read as an old EOF
  // (fe, warnings, status). The usual OK-as-EOF `fe 00 00 <status:2> <warnings:2>` is 7 bytes long, so its
  // warnings are read from the affected-rows/insert-id bytes (→ 0). client-session.ts uses last.warnings to
  // pin the session for SHOW WARNINGS, which therefore never happens under DEPRECATE_EOF.
  it('BUG C: reads the warnings of the 7-byte OK (0xfe) that ends rows under DEPRECATE_EOF', () => {
    const w = resultSet(new Wire(), { columns: [{ name: 'a' }], rows: [textRowPayload(['1'])], deprecateEof: true, status: STATUS.AUTOCOMMIT, warnings: 3 });
    const s = new ResponseScanner();
    s.begin(ResponseKind.Result, true, false, new Collect());
    s.feed(w.bytes());
    assert.equal(s.last.status, STATUS.AUTOCOMMIT);
    assert.equal(s.last.warnings, 3); // BUG: actual 0
  });

  it('after a LOCAL INFILE request waits for the OK/ERR (also when re-armed with expectInfileResult())', () => {
    for (const explicit of [false, true]) {
      const s = new ResponseScanner();
      const h = new Collect();
      s.begin(ResponseKind.Result, false, false, h);
      const req = localInfileRequest(new Wire(), '/etc/passwd').bytes();
      assert.equal(s.feed(req), 0);
      assert.deepEqual(h.kinds, [ControlKind.LocalInfile]);
      assert.equal(h.done, 0);
      assert.ok(s.isActive());
      if (explicit) s.expectInfileResult();
      const ok = frame(okPayload({ affectedRows: 5, status: STATUS.AUTOCOMMIT }), 4);
      assert.equal(s.feed(ok), 0);
      assert.deepEqual(h.kinds, [ControlKind.LocalInfile, ControlKind.Ok]);
      assert.equal(h.done, 1);
      assert.equal(s.isActive(), false);
    }
  });

  it('with DEPRECATE_EOF, the EOF sent after the definitions of a cursor ends the response', () => {
    const w = new Wire();
    w.packet(Buffer.from([2]), ControlKind.ResultHeader);
    w.packet(columnDefPayload({ name: 'a', type: TYPE.LONG }));
    w.packet(columnDefPayload({ name: 'b' }));
    w.packet(eofPayload(STATUS.AUTOCOMMIT | STATUS.CURSOR_EXISTS), ControlKind.Eof);
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(ResponseKind.Result, true, true, h);
    const bytes = w.bytes();
    assert.equal(s.feed(Buffer.concat([bytes, TRAILING])), TRAILING.length);
    assert.deepEqual(h.kinds, [ControlKind.ResultHeader, ControlKind.Eof]);
    assert.equal(h.done, 1);
    assert.ok(s.last.status & STATUS.CURSOR_EXISTS);
  });

  it('one scanner follows many responses in a row (begin() re-arms, also after an abandoned response)', () => {
    const s = new ResponseScanner();
    const rnd = prng(7);
    for (let round = 0; round < 3; round++) {
      for (const fx of fixtures) {
        // Abandon a response half-way with a held partial packet, as on a connection reset.
        const h0 = new Collect();
        s.begin(fx.kind, fx.deprecateEof, fx.binary, h0);
        s.feed(fx.bytes.subarray(0, Math.min(3, fx.bytes.length)));
        s.reset();
        assert.equal(s.isActive(), false);
        const cuts: number[] = [];
        for (let pos = randInt(rnd, 1, 8); pos < fx.bytes.length; pos += randInt(rnd, 1, 8)) cuts.push(pos);
        if (knownBug(fx, fx.pauseAt !== undefined ? [...cuts, fx.pauseAt] : cuts, fx.bytes.length) !== null) continue;
        const errors = runCuts(fx, cuts, { scanner: s });
        assert.deepEqual(errors, [], fx.name);
      }
    }
  });

  it('is inactive before begin() and after reset()', () => {
    const s = new ResponseScanner();
    assert.equal(s.isActive(), false);
    s.begin(ResponseKind.Single, false, false, new Collect());
    assert.equal(s.isActive(), true);
    s.reset();
    assert.equal(s.isActive(), false);
    assert.equal(s.handler, null);
  });

  it('control packets split across chunks are assembled and handed on whole', () => {
    const ok = frame(okPayload({ status: STATUS.AUTOCOMMIT, info: 'x'.repeat(200) }), 1);
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(ResponseKind.Single, false, false, h);
    for (let i = 0; i < ok.length; i += 7) s.feed(ok.subarray(i, i + 7));
    assert.equal(h.done, 1);
    assert.equal(h.bytes.length, 1);
    assert.deepEqual(h.bytes[0], ok);
  });

  // BUG D (response-scanner.ts onControl, State.Statistics): the ERR is reported as ControlKind.Err but
  // lastWasError is not set (every other state sets it for an ERR).
  it('BUG D: an ERR answering COM_STATISTICS sets lastWasError', () => {
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(ResponseKind.Statistics, false, false, h);
    s.feed(frame(errPayload(1227, '42000', 'Access denied; you need the PROCESS privilege'), 1));
    assert.deepEqual(h.kinds, [ControlKind.Err]);
    assert.equal(s.lastWasError, true); // BUG: actual false
  });

  // BUG A, minimal reproduction.
  it('BUG A: DEPRECATE_EOF prepare (1 param, 0 cols) with the param definition split across two chunks', () => {
    const bytes = prepareResponse(new Wire(), { params: [{ name: '?' }], columns: [], deprecateEof: true }).bytes();
    const split = 16 + 10; // PREPARE_OK is 4 + 12 bytes; cut 10 bytes into the definition packet
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(ResponseKind.Prepare, true, false, h);
    assert.equal(s.feed(bytes.subarray(0, split)), 0);
    // BUG: onResponseDone has already been called here, with only 26 of the response's bytes handed on.
    assert.equal(h.done, 0);
    s.feed(bytes.subarray(split)); // BUG: throws TypeError (handler is null) — or, in connection.ts, the rest is "unsolicited bytes"
    assert.equal(h.done, 1);
    assert.deepEqual(h.all(), bytes);
  });

  // BUG B, minimal reproduction (needs a 16 MiB row).
  it('BUG B: a chunk that ends right after the empty packet following a 0xffffff-byte row', () => {
    const w = resultSet(new Wire(), { columns: [{ name: 'a' }], rows: [textRowPayload([Buffer.alloc(0xffffff - 4)])], deprecateEof: false });
    const bytes = w.bytes();
    const empty = w.physical.find((p) => p.length === 0)!;
    const s = new ResponseScanner();
    const h = new Collect();
    s.begin(ResponseKind.Result, false, false, h);
    s.feed(bytes.subarray(0, empty.end)); // ends with the empty packet "00 00 00 05"
    s.feed(bytes.subarray(empty.end)); // the final EOF "05 00 00 06 fe 00 00 02 00"
    // BUG: the empty packet is completed with the EOF's first byte; the scanner then reads a bogus header
    // from "00 00 06 fe" (length 0x060000) and waits for 393 KiB that never come.
    assert.equal(h.done, 1);
    assert.deepEqual(h.kinds, [ControlKind.ResultHeader, ControlKind.Eof, ControlKind.Eof]);
  });
});

// A pipelined response usually begins inside a chunk that held the end of the previous one: connection.ts
// feeds it by offset (feed(chunk, start)) instead of cutting a view.
describe('ResponseScanner: a response that begins inside a chunk (feed by offset)', () => {
  const JUNK = Buffer.from([0xff, 0x05, 0x00, 0x00, 0x01, 0xfe, 0x00, 0x00, 0x02]); // must never be read
  for (const fx of fixtures) {
    if (fx.pauseAt !== undefined) continue; // LOCAL INFILE pauses mid-response
    it(fx.name, () => {
      const rng = prng(fx.bytes.length);
      for (const cut of [fx.bytes.length + TRAILING.length, randInt(rng, 1, fx.bytes.length), randInt(rng, 1, fx.bytes.length)]) {
        const stream = Buffer.concat([JUNK, fx.bytes, TRAILING]);
        const first = stream.subarray(0, JUNK.length + cut);
        const rest = stream.subarray(JUNK.length + cut);
        const s = new ResponseScanner();
        const rec = new Recorder(fx.bytes, fx.wire.physical);
        s.begin(fx.kind, fx.deprecateEof, fx.binary, rec);
        let extra = s.feed(first, JUNK.length);
        if (rec.doneCount === 0) extra = s.feed(rest);
        assert.deepEqual(rec.errors, [], `cut ${cut}`);
        assert.equal(rec.doneCount, 1, `cut ${cut}: done once`);
        assert.equal(rec.doneAtForwarded, fx.bytes.length);
        assert.equal(extra, rec.doneCount === 1 && cut >= fx.bytes.length ? cut - fx.bytes.length : TRAILING.length, `cut ${cut}: bytes after the response`);
        assert.deepEqual(names(rec.controls), names(fx.wire.controls()));
      }
    });
  }

  it('a column count cut short by the end of its packet throws (the connection is then dropped), it is not read from the next packet', () => {
    const s = new ResponseScanner();
    s.begin(ResponseKind.Result, false, false, new Recorder(Buffer.alloc(0), []));
    // Column-count packet of 1 byte announcing a 2-byte integer (0xfc), followed by other bytes.
    const bytes = Buffer.concat([frame(Buffer.from([0xfc]), 1), frame(Buffer.from([0x03, 0x64, 0x65, 0x66]), 2)]);
    assert.throws(() => s.feed(bytes), RangeError);
  });
});

// Guard against fixtures silently losing coverage.
describe('scanner fixtures', () => {
  it('cover every control kind and response kind', () => {
    const kinds = new Set(fixtures.flatMap((f) => f.wire.controls()));
    for (const k of [ControlKind.Ok, ControlKind.Err, ControlKind.Eof, ControlKind.ResultHeader, ControlKind.PrepareOk, ControlKind.LocalInfile, ControlKind.Text]) {
      assert.ok(kinds.has(k), KIND_NAME[k]);
    }
    const rk = new Set(fixtures.map((f) => f.kind));
    assert.equal(rk.size, 6);
    assert.ok(fixtures.length >= 60, String(fixtures.length));
  });

  it('okEofPayload is the 7-byte form', () => {
    assert.equal(okEofPayload(2, 0).length, 7);
    assert.deepEqual(errPayload(1, 'HY000', 'm').subarray(0, 4), Buffer.from([0xff, 1, 0, 0x23]));
    assert.ok(okResponse(new Wire(), {}).bytes().length > 0);
  });
});
