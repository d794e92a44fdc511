// Codecs: reader/writer primitives, handshake, handshake response, OK/ERR/EOF, session state, column
// definitions, Sluice's own result sets, and the authentication math.
import assert from 'node:assert/strict';
import { constants as cryptoConstants, createHash, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  cleartextPassword,
  decryptRsaPassword,
  formatNativeHash,
  nativeStage1,
  nativeStage2FromStage1,
  nativeToken,
  newScramble,
  parseNativeHash,
  sha2Stage2,
  sha2Token,
  verifyNativeToken,
  verifySha2Token,
} from '../../src/protocol/auth.js';
import { ColumnType, parseColumnDefinition, writeColumnDefinition } from '../../src/protocol/column.js';
import { Capability, MariaCapability, SLUICE_SERVER_CAPABILITIES, ServerStatus } from '../../src/protocol/constants.js';
import { ER } from '../../src/protocol/errors.js';
import {
  authMoreDataPacket,
  authSwitchRequestPacket,
  parseAuthSwitchRequest,
  parseHandshakeResponse,
  parseHandshakeV10,
  writeHandshakeResponse,
  writeHandshakeV10,
  writeSslRequest,
} from '../../src/protocol/handshake.js';
import {
  eofPacket,
  errPacket,
  isEofPayload,
  isErrPayload,
  isOkPayload,
  okPacket,
  parseErr,
  parseOk,
  parseSessionState,
  readStatusAndWarnings,
  readStatusAndWarningsAt,
  writeOk,
} from '../../src/protocol/packets.js';
import { PayloadReader, ProtocolDecodeError, lenencSize } from '../../src/protocol/reader.js';
import { textResultSet } from '../../src/protocol/resultset.js';
import { PacketWriter, framePayload, nextSeqAfter } from '../../src/protocol/writer.js';
import {
  CLIENT,
  MAX_CHUNK,
  STATUS,
  columnCountPayload,
  columnDefPayload,
  eofPayload,
  errPayload,
  frame,
  framePackets,
  greetingPayload,
  handshakeResponsePayload,
  hex,
  lenenc,
  lenencBytes,
  okEofPayload,
  okPayload,
  sessionStateBytes,
  sslRequestPayload,
  textRowPayload,
} from '../helpers/fixtures.js';

const payloadOf = (w: PacketWriter) => w.finish(0).subarray(4);

describe('PayloadReader / PacketWriter primitives', () => {
  const ints: Array<[number, string]> = [
    [0, '00'],
    [250, 'fa'],
    [251, 'fcfb00'],
    [0xffff, 'fcffff'],
    [0x10000, 'fd000001'],
    [0xffffff, 'fdffffff'],
    [0x1000000, 'fe0000000100000000'],
    [2 ** 40 + 5, 'fe0500000000010000'],
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f00'],
  ];

  it('length-encoded integers: writer produces the shortest form, reader reads it back', () => {
    for (const [v, h] of ints) {
      assert.equal(payloadOf(new PacketWriter().lenenc(v)).toString('hex'), h, `write ${v}`);
      assert.deepEqual(lenenc(v), hex(h), `fixture ${v}`);
      const r = new PayloadReader(hex(h));
      assert.equal(r.lenenc(), v, `read ${v}`);
      assert.equal(r.remaining(), 0);
      assert.equal(lenencSize(hex(h)[0]!), hex(h).length);
    }
  });

  it('NULL (0xfb), invalid 0xff and truncated length-encoded integers', () => {
    assert.equal(new PayloadReader(hex('fb')).lenencOrNull(), null);
    assert.throws(() => new PayloadReader(hex('fb')).lenenc(), ProtocolDecodeError);
    assert.throws(() => new PayloadReader(hex('ff')).lenencOrNull(), ProtocolDecodeError);
    for (const h of ['fc', 'fc01', 'fd0102', 'fe01020304050607', '']) {
      assert.throws(() => new PayloadReader(hex(h)).lenencOrNull(), ProtocolDecodeError, h);
    }
    assert.equal(new PayloadReader(hex('fb')).lenencStringOrNull(), null);
  });

  it('fixed-size integers, strings and bounds', () => {
    const w = new PacketWriter(4)
      .u8(0x1ff)
      .u16(0x10203)
      .u24(0x1020304)
      .u32(0xfffffffe)
      .u64(2n ** 63n + 1n)
      .zeros(2)
      .nulString('héllo')
      .lenencString('wörld')
      .lenencBytes(Buffer.from([1, 2]))
      .string('rest');
    const p = payloadOf(w);
    assert.equal(w.payloadLength(), p.length);
    const r = new PayloadReader(p);
    assert.equal(r.u8(), 0xff);
    assert.equal(r.u16(), 0x0203);
    assert.equal(r.u24(), 0x020304);
    assert.equal(r.u32(), 0xfffffffe);
    assert.equal(r.u64(), 2n ** 63n + 1n);
    r.skip(2);
    assert.equal(r.nulString(), 'héllo');
    assert.equal(r.lenencString(), 'wörld');
    assert.deepEqual(r.lenencBytes(), Buffer.from([1, 2]));
    assert.equal(r.restString(), 'rest');
    assert.equal(r.remaining(), 0);
    for (const f of [() => r.u8(), () => r.u16(), () => r.u24(), () => r.u32(), () => r.u64(), () => r.skip(1), () => r.bytes(1)]) {
      assert.throws(f, ProtocolDecodeError);
    }
  });

  it('nulString without a NUL takes the rest; a reader never reads past its end', () => {
    const buf = Buffer.from('abc\0def\0ghi');
    const r = new PayloadReader(buf, 4, 6); // "de"
    assert.equal(r.nulString(), 'de');
    assert.equal(r.remaining(), 0);
    const r2 = new PayloadReader(Buffer.from('xyz'));
    assert.equal(r2.nulString(), 'xyz');
    assert.equal(r2.nulString(), '');
    assert.deepEqual(new PayloadReader(Buffer.from('ab')).nulBytes(), Buffer.from('ab'));
    // A length pointing past the end of the reader's window (though inside the buffer) is an error.
    assert.throws(() => new PayloadReader(Buffer.from([5, 1, 2, 3, 4, 5]), 0, 3).lenencString(), ProtocolDecodeError);
    const reused = new PayloadReader(Buffer.alloc(0)).reset(Buffer.from([7, 8]), 1);
    assert.equal(reused.u8(), 8);
  });

  it('finish() frames the payload; ≥ 0xffffff bytes are split, exactly 0xffffff gets an empty trailer', () => {
    assert.deepEqual(new PacketWriter().u8(1).u8(2).finish(5), hex('020000 05 0102'));
    assert.deepEqual(new PacketWriter().finish(0), hex('000000 00'));
    for (const n of [MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 2 * MAX_CHUNK]) {
      const payload = Buffer.alloc(n, 0x5a);
      const framed = new PacketWriter(16).bytes(payload).finish(254);
      assert.ok(framed.equals(frame(payload, 254)), `${n} bytes`);
      assert.ok(framePayload(payload, 254).equals(frame(payload, 254)), `framePayload ${n}`);
      assert.equal(nextSeqAfter(n, 254), (254 + Math.floor(n / MAX_CHUNK) + 1) & 0xff);
    }
    assert.deepEqual(framePayload(Buffer.alloc(0), 3), hex('000000 03'));
  });
});

describe('handshake v10', () => {
  const scramble = Buffer.from('0123456789abcdefghij');

  it('write → parse roundtrip (MariaDB-style: no CLIENT_MYSQL bit, extended capabilities kept)', () => {
    const caps = SLUICE_SERVER_CAPABILITIES & ~Capability.LONG_PASSWORD;
    const h = {
      serverVersion: '5.5.5-11.4.2-MariaDB-sluice',
      connectionId: 0xdeadbeef,
      scramble,
      capabilities: caps >>> 0,
      mariaCapabilities: MariaCapability.PROGRESS | MariaCapability.CACHE_METADATA,
      collation: 45,
      status: ServerStatus.AUTOCOMMIT,
      authPlugin: 'mysql_native_password',
    };
    const payload = payloadOf(writeHandshakeV10(h));
    assert.deepEqual(payload, greetingPayload(h), 'same bytes as the independent fixture');
    assert.deepEqual(parseHandshakeV10(payload), { protocolVersion: 10, ...h });
  });

  it('MySQL-style greeting (CLIENT_MYSQL / LONG_PASSWORD set): mariaCapabilities reads as 0', () => {
    const h = {
      serverVersion: '8.0.36',
      connectionId: 12,
      scramble,
      capabilities: SLUICE_SERVER_CAPABILITIES >>> 0,
      mariaCapabilities: 7,
      collation: 255,
      status: 2,
      authPlugin: 'caching_sha2_password',
    };
    const parsed = parseHandshakeV10(payloadOf(writeHandshakeV10(h)));
    assert.equal(parsed.mariaCapabilities, 0);
    assert.equal(parsed.capabilities, h.capabilities);
    assert.deepEqual(parsed.scramble, scramble);
    assert.equal(parsed.authPlugin, 'caching_sha2_password');
  });

  it('capabilities with bit 31 set stay unsigned', () => {
    const caps = (CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | 0x80000000) >>> 0;
    const p = greetingPayload({ serverVersion: 'x', connectionId: 1, scramble, capabilities: caps, collation: 8, status: 0, authPlugin: 'p' });
    assert.equal(parseHandshakeV10(p).capabilities, caps);
  });

  it('parses a greeting with a 21-byte auth data length and a trailing NUL', () => {
    // Hand-written MySQL 8 greeting (auth-plugin-data-len 21, part 2 = 12 bytes + NUL).
    const p = Buffer.concat([
      hex('0a'),
      Buffer.from('8.0.36\0'),
      hex('0b000000'),
      scramble.subarray(0, 8),
      hex('00 ffff 21 0200 ffdf 15 00000000000000000000'),
      scramble.subarray(8),
      hex('00'),
      Buffer.from('caching_sha2_password\0'),
    ]);
    const h = parseHandshakeV10(p);
    assert.equal(h.serverVersion, '8.0.36');
    assert.equal(h.connectionId, 11);
    assert.equal(h.collation, 0x21);
    assert.equal(h.status, 2);
    assert.equal(h.capabilities, 0xdfffffff);
    assert.deepEqual(h.scramble, scramble);
    assert.equal(h.authPlugin, 'caching_sha2_password');
  });

  it('an old, short greeting (no data after the lower capability flags) gets defaults', () => {
    const p = Buffer.concat([hex('0a'), Buffer.from('4.0\0'), hex('01000000'), scramble.subarray(0, 8), hex('00 2c82')]);
    const h = parseHandshakeV10(p);
    assert.equal(h.capabilities, 0x822c);
    assert.equal(h.authPlugin, 'mysql_native_password');
    assert.deepEqual(h.scramble, scramble.subarray(0, 8));
  });

  it('rejects other protocol versions and truncated greetings', () => {
    assert.throws(() => parseHandshakeV10(hex('09 00')), /protocol version 9/);
    assert.throws(() => parseHandshakeV10(hex('0a 41 00 01 00')), ProtocolDecodeError);
  });
});

describe('handshake response', () => {
  const base =
    CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.LONG_PASSWORD | CLIENT.TRANSACTIONS | CLIENT.MULTI_RESULTS;
  const token = Buffer.from('0123456789abcdefghij');

  it('minimal: user + 1-byte-length auth response, no database, no attributes', () => {
    const p = handshakeResponsePayload({ capabilities: base, user: 'app', authResponse: token, authPlugin: 'mysql_native_password' });
    const r = parseHandshakeResponse(p);
    assert.equal(r.sslRequest, false);
    assert.equal(r.user, 'app');
    assert.deepEqual(r.authResponse, token);
    assert.equal(r.database, null);
    assert.equal(r.authPlugin, 'mysql_native_password');
    assert.deepEqual(r.attributes, {});
    assert.equal(r.capabilities, base);
    assert.equal(r.maxPacketSize, 0x1000000);
    assert.equal(r.collation, 45);
    assert.equal(r.mariaCapabilities, 0);
  });

  it('CONNECT_WITH_DB, PLUGIN_AUTH_LENENC_CLIENT_DATA (long token), CONNECT_ATTRS', () => {
    const caps = base | CLIENT.CONNECT_WITH_DB | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.CONNECT_ATTRS;
    const longToken = Buffer.alloc(300, 7); // needs the 0xfc lenenc form
    const attributes: Array<[string, string]> = [
      ['_client_name', 'libmariadb'],
      ['_pid', '4242'],
      ['program_name', 'x'.repeat(260)],
    ];
    const p = handshakeResponsePayload({ capabilities: caps, user: 'ü', authResponse: longToken, database: 'shop', authPlugin: 'client_ed25519', attributes });
    const r = parseHandshakeResponse(p);
    assert.equal(r.user, 'ü');
    assert.deepEqual(r.authResponse, longToken);
    assert.equal(r.database, 'shop');
    assert.equal(r.authPlugin, 'client_ed25519');
    assert.deepEqual(r.attributes, Object.fromEntries(attributes));
  });

  it('CONNECT_WITH_DB with an empty database name gives null', () => {
    const p = handshakeResponsePayload({ capabilities: base | CLIENT.CONNECT_WITH_DB, user: 'u', authResponse: Buffer.alloc(0), database: '' });
    const r = parseHandshakeResponse(p);
    assert.equal(r.database, null);
    assert.equal(r.authPlugin, 'mysql_native_password');
  });

  it('without SECURE_CONNECTION the auth response is NUL-terminated', () => {
    const caps = CLIENT.PROTOCOL_41 | CLIENT.LONG_PASSWORD;
    const r = parseHandshakeResponse(handshakeResponsePayload({ capabilities: caps, user: 'old', authResponse: Buffer.from('12345678') }));
    assert.deepEqual(r.authResponse, Buffer.from('12345678'));
  });

  it('MariaDB extended capabilities are read when CLIENT_MYSQL (LONG_PASSWORD) is clear', () => {
    const caps = (base & ~CLIENT.LONG_PASSWORD) >>> 0;
    const p = handshakeResponsePayload({ capabilities: caps, mariaCapabilities: MariaCapability.PROGRESS | MariaCapability.STMT_BULK_OPERATIONS, user: 'm', authResponse: token });
    assert.equal(parseHandshakeResponse(p).mariaCapabilities, 5);
    const p2 = handshakeResponsePayload({ capabilities: base, mariaCapabilities: 5, user: 'm', authResponse: token });
    assert.equal(parseHandshakeResponse(p2).mariaCapabilities, 0);
  });

  it('a 32-byte packet is an SSLRequest', () => {
    const p = sslRequestPayload(base, 0x40000000, 224);
    assert.equal(p.length, 32);
    const r = parseHandshakeResponse(p);
    assert.equal(r.sslRequest, true);
    assert.equal(r.maxPacketSize, 0x40000000);
    assert.equal(r.collation, 224);
    assert.ok(r.capabilities & CLIENT.SSL);
    assert.equal(r.user, '');
    // Sluice's own SSLRequest (to backends) has the same shape.
    const own = payloadOf(writeSslRequest({ capabilities: base | CLIENT.SSL, mariaCapabilities: 0, maxPacketSize: 1 << 24, collation: 45 }));
    assert.deepEqual(own, sslRequestPayload(base));
    assert.equal(parseHandshakeResponse(own).sslRequest, true);
  });

  it('writeHandshakeResponse → parse roundtrip, and matches the fixture bytes', () => {
    for (const extra of [0, CLIENT.CONNECT_WITH_DB, CLIENT.CONNECT_ATTRS, CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.CONNECT_WITH_DB | CLIENT.CONNECT_ATTRS]) {
      const caps = base | extra;
      const f = {
        capabilities: caps,
        mariaCapabilities: 0,
        maxPacketSize: 0x1000000,
        collation: 45,
        user: 'sluice',
        authResponse: token,
        database: 'db1',
        authPlugin: 'mysql_native_password',
        attributes: { _client_name: 'sluice', _os: 'linux' },
      };
      const p = payloadOf(writeHandshakeResponse(f));
      assert.deepEqual(p, handshakeResponsePayload({ ...f, attributes: Object.entries(f.attributes) }), `caps 0x${caps.toString(16)}`);
      const r = parseHandshakeResponse(p);
      assert.equal(r.user, 'sluice');
      assert.deepEqual(r.authResponse, token);
      assert.equal(r.database, caps & CLIENT.CONNECT_WITH_DB ? 'db1' : null);
      assert.deepEqual(r.attributes, caps & CLIENT.CONNECT_ATTRS ? f.attributes : {});
    }
  });

  it('rejects clients without PROTOCOL_41 and truncated responses', () => {
    assert.throws(() => parseHandshakeResponse(hex('00000000 00000001 21') /* no 4.1 */), /protocol 4\.1/);
    const p = handshakeResponsePayload({ capabilities: base | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA, user: 'u', authResponse: token });
    assert.throws(() => parseHandshakeResponse(p.subarray(0, 20)), ProtocolDecodeError);
    // Auth response length pointing past the end.
    const bad = Buffer.concat([p.subarray(0, 34), hex('fc ff 00')]);
    assert.throws(() => parseHandshakeResponse(bad), ProtocolDecodeError);
  });
});

describe('auth switch / more data', () => {
  it('AuthSwitchRequest encode → parse, trailing NUL dropped', () => {
    const scramble = Buffer.from('abcdefghijklmnopqrst');
    const bytes = authSwitchRequestPacket(2, 'mysql_native_password', scramble);
    assert.deepEqual(bytes, frame(Buffer.concat([hex('fe'), Buffer.from('mysql_native_password\0'), scramble, hex('00')]), 2));
    assert.deepEqual(parseAuthSwitchRequest(bytes.subarray(4)), { plugin: 'mysql_native_password', data: scramble });
    assert.deepEqual(parseAuthSwitchRequest(hex('fe')), { plugin: '', data: Buffer.alloc(0) });
  });

  it('AuthMoreData is 0x01 + data', () => {
    assert.deepEqual(authMoreDataPacket(4, hex('03')), hex('020000 04 01 03'));
  });
});

describe('OK / ERR / EOF', () => {
  it('parses an OK without SESSION_TRACK (info is the rest of the packet)', () => {
    const p = okPayload({ affectedRows: 70000, lastInsertId: 2 ** 33, status: STATUS.AUTOCOMMIT | STATUS.IN_TRANS, warnings: 2, info: 'Rows matched: 1  Changed: 1' });
    assert.ok(isOkPayload(p));
    assert.deepEqual(parseOk(p, 0), {
      header: 0,
      affectedRows: 70000,
      lastInsertId: 2 ** 33,
      status: STATUS.AUTOCOMMIT | STATUS.IN_TRANS,
      warnings: 2,
      info: 'Rows matched: 1  Changed: 1',
      sessionState: null,
    });
  });

  it('parses a minimal OK (no status/warnings, as pre-4.1 servers and some proxies send)', () => {
    const ok = parseOk(hex('00 00 00'), 0);
    assert.equal(ok.status, 0);
    assert.equal(ok.warnings, 0);
    assert.equal(ok.info, '');
  });

  it('parses an OK with SESSION_TRACK: lenenc info, no session state', () => {
    const p = okPayload({ status: STATUS.AUTOCOMMIT, info: 'hello' }, CLIENT.SESSION_TRACK);
    const ok = parseOk(p, Capability.SESSION_TRACK);
    assert.equal(ok.info, 'hello');
    assert.equal(ok.sessionState, null);
    assert.equal(parseOk(okPayload({ status: 2 }, CLIENT.SESSION_TRACK), Capability.SESSION_TRACK).info, '');
  });

  it('parses an OK with session state: system variables, schema, state change, transaction state', () => {
    const p = okPayload(
      {
        status: STATUS.AUTOCOMMIT,
        session: [
          { type: 'sysvar', name: 'autocommit', value: 'OFF' },
          { type: 'sysvar', name: 'character_set_client', value: 'utf8mb4' },
          { type: 'schema', name: 'shop' },
          { type: 'state', changed: true },
          { type: 'txchar', text: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;' },
          { type: 'txstate', state: 'T_______' },
          { type: 'raw', code: 0x42, data: Buffer.from('future') }, // unknown types are skipped
          { type: 'sysvar', name: 'sql_mode', value: '' },
        ],
      },
      CLIENT.SESSION_TRACK,
    );
    const ok = parseOk(p, Capability.SESSION_TRACK);
    assert.ok(ok.status & ServerStatus.SESSION_STATE_CHANGED);
    assert.deepEqual(ok.sessionState, {
      variables: [
        ['autocommit', 'OFF'],
        ['character_set_client', 'utf8mb4'],
        ['sql_mode', ''],
      ],
      schema: 'shop',
      stateChanged: true,
      gtids: null,
      transactionState: 'T_______',
    });
  });

  it('session state entries: state change "0", many variables, long values (lenenc 0xfc)', () => {
    const long = 'v'.repeat(1000);
    const vars = Array.from({ length: 50 }, (_, i) => ({ type: 'sysvar' as const, name: `var${i}`, value: i === 7 ? long : String(i) }));
    const s = parseSessionState(sessionStateBytes([...vars, { type: 'state', changed: false }]));
    assert.equal(s.variables.length, 50);
    assert.deepEqual(s.variables[7], ['var7', long]);
    assert.equal(s.stateChanged, false);
    assert.equal(parseSessionState(Buffer.alloc(0)).schema, null);
  });

  it('STATE_CHANGE: MySQL\'s length-encoded "1" and MariaDB\'s bare "1" both mean changed', () => {
    assert.equal(parseSessionState(sessionStateBytes([{ type: 'state', changed: true }])).stateChanged, true);
    assert.equal(parseSessionState(sessionStateBytes([{ type: 'raw', code: 2, data: Buffer.from('1') }])).stateChanged, true);
    assert.equal(parseSessionState(sessionStateBytes([{ type: 'raw', code: 2, data: Buffer.from('0') }])).stateChanged, false);
    assert.equal(parseSessionState(sessionStateBytes([{ type: 'raw', code: 2, data: Buffer.alloc(0) }])).stateChanged, false);
  });

  it('a SYSTEM_VARIABLES entry without a value (MariaDB sends name only for some) reads as empty', () => {
    const entry = Buffer.concat([hex('00'), lenencBytes(lenencBytes('tx_isolation'))]);
    assert.deepEqual(parseSessionState(entry).variables, [['tx_isolation', '']]);
  });

  // BUG E (packets.ts parseSessionState, SESSION_TRACK_GTIDS): MySQL sends the entry as
  // <encoding spec: 1 byte> <lenenc GTID set>; the parser keeps the whole entry as the string, so gtids is
  // "\u0000*3E11FA47-…" (spec byte + length byte prepended) instead of the GTID set. MariaDB never sends
  // type 3, so only MySQL backends are affected.
  it('BUG E: SESSION_TRACK_GTIDS yields the GTID set without the encoding-spec and length bytes', () => {
    const gtid = '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5';
    const s = parseSessionState(sessionStateBytes([{ type: 'gtids', gtids: gtid }]));
    assert.equal(s.gtids, gtid); // BUG: actual '\x00(' + gtid
  });

  it('truncated session state throws ProtocolDecodeError', () => {
    const full = sessionStateBytes([{ type: 'schema', name: 'shop' }]);
    for (let n = 1; n < full.length; n++) assert.throws(() => parseSessionState(full.subarray(0, n)), ProtocolDecodeError, `${n} bytes`);
  });

  it('OK with SESSION_STATE_CHANGED but no session data (only info) parses', () => {
    const p = Buffer.concat([hex('00 00 00'), Buffer.from([STATUS.AUTOCOMMIT, STATUS.SESSION_STATE_CHANGED >> 8]), hex('0000'), lenencBytes('i')]);
    const ok = parseOk(p, Capability.SESSION_TRACK);
    assert.equal(ok.info, 'i');
    assert.equal(ok.sessionState, null);
  });

  it('writeOk / okPacket: exact bytes, with and without SESSION_TRACK; never claims session state', () => {
    const f = { affectedRows: 1, lastInsertId: 300, status: STATUS.AUTOCOMMIT | STATUS.SESSION_STATE_CHANGED, warnings: 1, info: 'x' };
    const plain = okPacket(3, f, 0);
    assert.deepEqual(plain, frame(okPayload({ ...f, status: STATUS.AUTOCOMMIT }, 0), 3));
    const tracked = okPacket(3, f, Capability.SESSION_TRACK);
    assert.deepEqual(tracked, frame(okPayload({ ...f, status: STATUS.AUTOCOMMIT }, CLIENT.SESSION_TRACK), 3));
    const parsed = parseOk(tracked.subarray(4), Capability.SESSION_TRACK);
    assert.equal(parsed.info, 'x');
    assert.equal(parsed.status, STATUS.AUTOCOMMIT);
    assert.equal(parsed.lastInsertId, 300);
    // OK-as-EOF and an empty info.
    const eofOk = payloadOf(writeOk(new PacketWriter(), { header: 0xfe, status: 2 }, Capability.SESSION_TRACK | Capability.DEPRECATE_EOF));
    assert.deepEqual(eofOk, okEofPayload(2, 0));
    assert.equal(parseOk(eofOk, Capability.SESSION_TRACK).header, 0xfe);
  });

  it('ERR: parse with and without SQLSTATE marker; errPacket bytes', () => {
    assert.deepEqual(parseErr(errPayload(1045, '28000', "Access denied for user 'x'@'y'")), {
      code: 1045,
      sqlState: '28000',
      message: "Access denied for user 'x'@'y'",
    });
    assert.deepEqual(parseErr(errPayload(1040, null, 'Too many connections')), { code: 1040, sqlState: 'HY000', message: 'Too many connections' });
    assert.deepEqual(parseErr(hex('ff 1504')), { code: 1045, sqlState: 'HY000', message: '' });
    const e = errPacket(1, ER.UNKNOWN_STMT_HANDLER, 'Unknown prepared statement handler (7) given to mysqld_stmt_execute');
    assert.deepEqual(e, frame(errPayload(1243, 'HY000', 'Unknown prepared statement handler (7) given to mysqld_stmt_execute'), 1));
    assert.ok(isErrPayload(e.subarray(4)));
    assert.throws(() => parseErr(hex('ff 15')), ProtocolDecodeError);
    assert.throws(() => parseErr(hex('ff 1504 23 3238')), ProtocolDecodeError);
  });

  it('EOF: eofPacket bytes, isEofPayload, readStatusAndWarnings', () => {
    assert.deepEqual(eofPacket(5, STATUS.AUTOCOMMIT | STATUS.MORE_RESULTS_EXISTS, 3), frame(eofPayload(STATUS.AUTOCOMMIT | STATUS.MORE_RESULTS_EXISTS, 3), 5));
    assert.deepEqual(eofPayload(0x0a0b, 0x0102), hex('fe 0201 0b0a'));
    assert.ok(isEofPayload(eofPayload(2)));
    assert.ok(isEofPayload(hex('fe')));
    assert.ok(!isEofPayload(Buffer.concat([hex('fe'), Buffer.alloc(8)])));
    assert.ok(!isEofPayload(Buffer.alloc(0)));
    assert.ok(!isOkPayload(hex('00 00 00 02 00 00')), 'too short for OK');
    assert.ok(isOkPayload(hex('00 00 00 02 00 00 00')));
    assert.ok(!isErrPayload(hex('ff 00')));

    const out = { status: -1, warnings: -1 };
    readStatusAndWarnings(eofPayload(0x22, 7), out);
    assert.deepEqual(out, { status: 0x22, warnings: 7 });
    readStatusAndWarnings(okPayload({ affectedRows: 0x10000, lastInsertId: 2 ** 40, status: 0x4003, warnings: 9 }), out);
    assert.deepEqual(out, { status: 0x4003, warnings: 9 });
    readStatusAndWarnings(hex('fe'), out);
    assert.deepEqual(out, { status: 0, warnings: 0 });
    readStatusAndWarnings(hex('00 00 00'), out);
    assert.deepEqual(out, { status: 0, warnings: 0 });
    // OK-as-EOF long enough (≥ 9 bytes) to be recognised as an OK.
    readStatusAndWarnings(okPayload({ header: 0xfe, status: 0x22, warnings: 4, info: 'ab' }, CLIENT.SESSION_TRACK), out);
    assert.deepEqual(out, { status: 0x22, warnings: 4 });
  });

  it('readStatusAndWarningsAt reads a payload in place and never past its end', () => {
    const out = { status: -1, warnings: -1 };
    const junk = hex('ff ff ff ff ff ff');
    const embed = (payload: Buffer): Buffer => Buffer.concat([junk, payload, junk]);
    const ok = okPayload({ affectedRows: 0x10000, lastInsertId: 2 ** 40, status: 0x4003, warnings: 9 });
    readStatusAndWarningsAt(embed(ok), junk.length, junk.length + ok.length, out);
    assert.deepEqual(out, { status: 0x4003, warnings: 9 });
    const eof = eofPayload(0x22, 7);
    readStatusAndWarningsAt(embed(eof), junk.length, junk.length + eof.length, out);
    assert.deepEqual(out, { status: 0x22, warnings: 7 });
    // Cut short: what lies after `end` (0xff bytes) is not read as status or warnings.
    readStatusAndWarningsAt(embed(hex('00 00 00')), junk.length, junk.length + 3, out);
    assert.deepEqual(out, { status: 0, warnings: 0 });
    readStatusAndWarningsAt(embed(hex('fe')), junk.length, junk.length + 1, out);
    assert.deepEqual(out, { status: 0, warnings: 0 });
    readStatusAndWarningsAt(embed(hex('00 fc')), junk.length, junk.length + 2, out); // lenenc past the end
    assert.deepEqual(out, { status: 0, warnings: 0 });
  });

  // BUG C (packets.ts readStatusAndWarnings): a 0xfe payload shorter than 9 bytes is always read as an
  // old-style EOF (fe <warnings:2> <status:2>), but the OK that replaces EOF under DEPRECATE_EOF is
  // usually 7 bytes: fe <affected=00> <insert id=00> <status:2> <warnings:2>. For `fe 00 00 22 00 04 00`
  // the status comes out right by coincidence (bytes 3–4), the warnings are read from bytes 1–2 (→ 0 not 4).
  it('BUG C: readStatusAndWarnings on the 7-byte OK-as-EOF returns its warnings', () => {
    const out = { status: -1, warnings: -1 };
    readStatusAndWarnings(okEofPayload(0x22, 4), out); // fe 00 00 22 00 04 00
    assert.deepEqual(out, { status: 0x22, warnings: 4 }); // BUG: actual { status: 0x22, warnings: 0 }
  });
});

describe('column definitions and Sluice result sets', () => {
  it('writeColumnDefinition matches the fixture bytes (plus MariaDB 2-byte filler) and parses back', () => {
    const c = { name: 'email', type: ColumnType.VAR_STRING, collation: 224, length: 1020, flags: 0x1001, decimals: 0, schema: 'shop', table: 'users' };
    const written = payloadOf(writeColumnDefinition(c));
    const fx = columnDefPayload({ ...c, catalog: 'def' });
    assert.deepEqual(written, fx);
    assert.deepEqual(parseColumnDefinition(written), c);
  });

  it('parseColumnDefinition reads hand-written bytes and rejects truncation', () => {
    const p = columnDefPayload({ name: 'n', type: 0x08, schema: 's', table: 't', orgTable: 'ot', orgName: 'on', collation: 63, length: 20, flags: 0x4203, decimals: 0 });
    assert.deepEqual(parseColumnDefinition(p), { schema: 's', table: 't', name: 'n', collation: 63, length: 20, type: 8, flags: 0x4203, decimals: 0 });
    for (let n = 0; n < p.length - 2; n++) assert.throws(() => parseColumnDefinition(p.subarray(0, n)), ProtocolDecodeError, `${n} bytes`);
  });

  it('textResultSet with and without DEPRECATE_EOF equals the fixture framing', () => {
    const cols = ['id', 'name'];
    const rows = [
      ['1', 'a'],
      [null, 'b'],
      [3n, 4],
    ];
    const defs = cols.map((name) => columnDefPayload({ name, type: ColumnType.VAR_STRING, length: 1024, schema: '', table: '' }));
    const rowPayloads = rows.map((r) => textRowPayload(r.map((c) => (c === null ? null : String(c)))));
    const status = STATUS.AUTOCOMMIT;
    const classic = framePackets([columnCountPayload(2), ...defs, eofPayload(status), ...rowPayloads, eofPayload(status)], 1);
    assert.deepEqual(textResultSet(cols, rows, 0, status), classic);
    const modern = framePackets([columnCountPayload(2), ...defs, ...rowPayloads, okEofPayload(status)], 1);
    assert.deepEqual(textResultSet(cols, rows, Capability.DEPRECATE_EOF, status), modern);
    assert.deepEqual(textResultSet(cols, [], Capability.DEPRECATE_EOF | Capability.SESSION_TRACK, status, 3).subarray(3, 4), hex('03'));
  });
});

describe('authentication math', () => {
  it("mysql_native_password: 'password' → *2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", () => {
    const stage1 = nativeStage1('password');
    assert.deepEqual(stage1, createHash('sha1').update('password').digest());
    const stage2 = nativeStage2FromStage1(stage1);
    assert.equal(formatNativeHash(stage2), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    assert.deepEqual(parseNativeHash('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'), stage2);
    assert.deepEqual(parseNativeHash('*2470c0c06dee42fd1618bb99005adca2ec9d1e19'), stage2);
    for (const bad of ['', '2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19A', '*Z470C0C06DEE42FD1618BB99005ADCA2EC9D1E19']) {
      assert.equal(parseNativeHash(bad), null, bad);
    }
  });

  it('native token: computed like a client, verified by the server with the stored hash, recovers SHA1(pw)', () => {
    const scramble = Buffer.from('abcdefghijklmnopqrst');
    const stage1 = nativeStage1('s3cret');
    const stage2 = nativeStage2FromStage1(stage1);
    // Independent computation: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
    const sha1 = (...b: Buffer[]) => createHash('sha1').update(Buffer.concat(b)).digest();
    const mix = sha1(scramble, sha1(sha1(Buffer.from('s3cret'))));
    const expected = Buffer.from(stage1.map((b, i) => b ^ mix[i]!));
    const token = nativeToken(stage1, scramble);
    assert.deepEqual(token, expected);
    assert.deepEqual(verifyNativeToken(token, scramble, stage2), stage1);
    // A 21-byte scramble (with the trailing NUL) gives the same token: only 20 bytes are used.
    assert.deepEqual(nativeToken(stage1, Buffer.concat([scramble, hex('00')])), token);
    // Wrong password, wrong scramble, wrong length, empty.
    assert.equal(verifyNativeToken(nativeToken(nativeStage1('other'), scramble), scramble, stage2), null);
    assert.equal(verifyNativeToken(token, Buffer.from('tsrqponmlkjihgfedcba'), stage2), null);
    assert.equal(verifyNativeToken(token.subarray(0, 19), scramble, stage2), null);
    assert.equal(verifyNativeToken(Buffer.alloc(0), scramble, stage2), null);
    assert.equal(nativeToken(null, scramble).length, 0);
  });

  it('caching_sha2_password fast-auth token', () => {
    const nonce = Buffer.from('ABCDEFGHIJKLMNOPQRST');
    const sha256 = (...b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest();
    const p1 = sha256(Buffer.from('pässword'));
    const mix = sha256(sha256(p1), nonce);
    const expected = Buffer.from(p1.map((b, i) => b ^ mix[i]!));
    const token = sha2Token('pässword', nonce);
    assert.deepEqual(token, expected);
    const stage2 = sha2Stage2('pässword');
    assert.deepEqual(stage2, sha256(p1));
    assert.equal(verifySha2Token(token, nonce, stage2), true);
    assert.equal(verifySha2Token(token, Buffer.concat([nonce, hex('00')]), stage2), true, 'nonce with trailing NUL');
    assert.equal(verifySha2Token(sha2Token('wrong', nonce), nonce, stage2), false);
    assert.equal(verifySha2Token(token.subarray(1), nonce, stage2), false);
    assert.equal(verifySha2Token(token, Buffer.from('ABCDEFGHIJKLMNOPQRSU'), stage2), false);
    assert.equal(sha2Token('', nonce).length, 0);
  });

  it('caching_sha2_password full auth: RSA-OAEP encrypted (password + NUL) XOR nonce decrypts', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const nonce = Buffer.from('0123456789ABCDEFGHIJ');
    for (const password of ['secret', '', 'a much longer password than the twenty-byte nonce, with ünïcödé']) {
      // What a client does: XOR the NUL-terminated password with the nonce, repeated, then encrypt.
      const plain = Buffer.concat([Buffer.from(password, 'utf8'), hex('00')]);
      const mixed = Buffer.from(plain.map((b, i) => b ^ nonce[i % 20]!));
      const encrypted = publicEncrypt({ key: publicKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING }, mixed);
      assert.equal(decryptRsaPassword(encrypted, privateKey, nonce), password);
      assert.equal(decryptRsaPassword(encrypted, privateKey, Buffer.concat([nonce, hex('00')])), password);
    }
    assert.throws(() => decryptRsaPassword(Buffer.alloc(256, 1), privateKey, nonce));
  });

  it('cleartext password and new scrambles', () => {
    assert.equal(cleartextPassword(Buffer.from('pw\0junk')), 'pw');
    assert.equal(cleartextPassword(Buffer.from('pw')), 'pw');
    for (let i = 0; i < 200; i++) {
      const s = newScramble();
      assert.equal(s.length, 20);
      for (const b of s) {
        assert.ok(b > 0 && b < 0x80 && b !== 0x24, `byte ${b}`);
      }
    }
  });
});
