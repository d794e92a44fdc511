// The pure parts of failover: the buffer's limits and order, the acknowledged-GTID proof, the response
// checksum used for transaction replay, and the choice of the replica to promote.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FailoverBuffer, type HeldStatement } from '../../src/failover/buffer.js';
import { AckLedger, outcomeEvidence } from '../../src/failover/ack-ledger.js';
import { plainInsert, textsWithin } from '../../src/failover/binlog-match.js';
import { ResponseChecksum, TransactionLog } from '../../src/failover/replay.js';
import { chooseCandidate, type ReplicaSurvey } from '../../src/failover/candidate.js';
import { ControlKind } from '../../src/protocol/response-scanner.js';
import type { BackendError } from '../../src/backend/internal-response.js';

class Held implements HeldStatement {
  released = 0;
  rejected: BackendError | null = null;
  constructor(readonly log: string[], readonly name: string) {}
  onFailoverReleased(): void {
    this.released++;
    this.log.push(this.name);
  }
  onFailoverRejected(err: BackendError): void {
    this.rejected = err;
  }
}

const limits = (o: Partial<{ window_ms: number; max_statements: number; max_bytes: number; max_duration_ms: number }> = {}) => ({
  window_ms: 10000,
  max_statements: 100,
  max_bytes: 1 << 20,
  max_duration_ms: 30000,
  ...o,
});

describe('FailoverBuffer', () => {
  test('releases held statements in arrival order and stops holding', () => {
    const b = new FailoverBuffer(limits());
    b.begin();
    assert.equal(b.holding, true);
    const log: string[] = [];
    const xs = ['a', 'b', 'c'].map((n) => new Held(log, n));
    for (const x of xs) assert.equal(b.hold(x, 10), true);
    assert.deepEqual([b.count, b.bytes], [3, 30]);
    b.release();
    assert.deepEqual(log, ['a', 'b', 'c']);
    assert.equal(b.holding, false);
    assert.equal(b.count, 0);
    assert.equal(b.total, 3);
  });

  test('max_statements and max_bytes refuse with a retryable error naming the limit', () => {
    const b = new FailoverBuffer(limits({ max_statements: 1, max_bytes: 15 }));
    b.begin();
    const log: string[] = [];
    assert.equal(b.hold(new Held(log, 'a'), 10), true);
    assert.equal(b.hold(new Held(log, 'b'), 1), false);
    let e = b.refusal();
    assert.equal(e.errno, 1053);
    assert.equal(e.sqlState, '08S01');
    assert.match(e.message, /max_statements \(1\)/);
    assert.match(e.message, /safe to retry/);
    const b2 = new FailoverBuffer(limits({ max_bytes: 15 }));
    b2.begin();
    assert.equal(b2.hold(new Held(log, 'a'), 10), true);
    assert.equal(b2.hold(new Held(log, 'b'), 10), false);
    e = b2.refusal();
    assert.match(e.message, /max_bytes \(15\)/);
    assert.equal(b2.rejected, 1);
    b.release();
    b2.release();
  });

  test('a statement held longer than window_ms fails; the others stay', async () => {
    const b = new FailoverBuffer(limits({ window_ms: 30 }));
    b.begin();
    const log: string[] = [];
    const a = new Held(log, 'a');
    b.hold(a, 1);
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(a.rejected);
    assert.match(a.rejected.message, /window_ms \(30 ms\)/);
    assert.equal(b.count, 0);
    const c = new Held(log, 'c');
    b.hold(c, 1);
    b.release();
    assert.equal(a.released, 0);
    assert.equal(c.released, 1);
  });

  test('max_duration_ms fails everything held and refuses new holds until release', async () => {
    const b = new FailoverBuffer(limits({ max_duration_ms: 30 }));
    b.begin();
    const log: string[] = [];
    const a = new Held(log, 'a');
    b.hold(a, 1);
    await new Promise((r) => setTimeout(r, 60));
    assert.match(a.rejected!.message, /max_duration_ms \(30 ms\)/);
    assert.equal(b.timedOut, true);
    assert.equal(b.hold(new Held(log, 'b'), 1), false);
    assert.match(b.refusal().message, /max_duration_ms/);
    b.release();
    b.begin();
    assert.equal(b.hold(new Held(log, 'c'), 1), true);
    b.release();
  });

  test('cancel forgets a statement (its client went away)', () => {
    const b = new FailoverBuffer(limits());
    b.begin();
    const log: string[] = [];
    const a = new Held(log, 'a');
    b.hold(a, 5);
    b.cancel(a);
    assert.deepEqual([b.count, b.bytes], [0, 0]);
    b.release();
    assert.equal(a.released, 0);
  });
});

describe('acknowledged GTIDs prove an interrupted write did not commit', () => {
  const reason = (position: string, sentAfter: string[], acks: AckLedger) => outcomeEvidence(position, sentAfter, acks).reason;
  const ledger = (...gtids: string[]) => {
    const l = new AckLedger();
    for (const g of gtids) l.note(g);
    return l;
  };

  test('every GTID after the floor was acknowledged → not committed', () => {
    const acks = ledger('0-1-11', '0-1-12', '0-1-13');
    assert.equal(reason('0-2-13', ['0-1-10', ''], acks), '');
  });

  test('an unacknowledged GTID after the floor → unknown, and says which', () => {
    const acks = ledger('0-1-11', '0-1-13');
    assert.match(reason('0-2-13', ['0-1-10', ''], acks), /0-\?-12 \(newer than 0-\?-10, .*a write no client was told about/);
  });

  test('the floor is the highest of the positions known before the send', () => {
    const acks = ledger('0-1-13');
    // 11 and 12 were committed before the write left (probe position 12): only 13 matters.
    assert.equal(reason('0-2-13', ['0-1-10', '0-1-12'], acks), '');
  });

  test('nothing known of a domain, or no position at all → unknown', () => {
    assert.match(reason('0-1-5', ['', ''], ledger()), /no position of domain 0/);
    assert.match(reason('', ['0-1-5'], ledger()), /position is unknown/);
  });

  test('malformed acknowledgements are ignored', () => {
    const acks = ledger('junk', '0-1-x', '0-1-11');
    assert.deepEqual([...acks.acknowledged(0).seqs], [11]);
  });
});

describe('ResponseChecksum', () => {
  const packet = (payload: number[], seq = 1) => Buffer.from([payload.length & 0xff, payload.length >> 8, 0, seq, ...payload]);
  const ok = (affected: number, insertId: number, status: number, tail: number[] = []) => packet([0x00, affected, insertId, status & 0xff, status >> 8, 0, 0, ...tail]);

  test('the same bytes give the same value however they are chunked', () => {
    const rows = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const a = new ResponseChecksum();
    a.bytes(rows, 0, rows.length);
    const b = new ResponseChecksum();
    b.bytes(rows, 0, 7);
    b.bytes(rows, 7, 20);
    b.bytes(rows, 20, rows.length);
    assert.equal(a.value(), b.value());
    const c = new ResponseChecksum();
    c.bytes(Buffer.from('0123456789abcdefghijklmnopqrstuvwxyZ'), 0, rows.length);
    assert.notEqual(a.value(), c.value());
  });

  test('OKs compare affected rows and insert id, not status flags or session tracking', () => {
    const sum = (p: Buffer) => {
      const s = new ResponseChecksum();
      s.packet(ControlKind.Ok, p, 0, p.length);
      return s.value();
    };
    const base = ok(1, 7, 0x0002);
    assert.equal(sum(base), sum(ok(1, 7, 0x4003, [3, 1, 2, 3])));
    assert.notEqual(sum(base), sum(ok(2, 7, 0x0002)));
    assert.notEqual(sum(base), sum(ok(1, 8, 0x0002)));
  });

  test('ERRs compare the error number', () => {
    const err = (code: number) => packet([0xff, code & 0xff, code >> 8, 0x23, ...Buffer.from('HY000msg')]);
    const sum = (p: Buffer) => {
      const s = new ResponseChecksum();
      s.packet(ControlKind.Err, p, 0, p.length);
      return s.value();
    };
    assert.equal(sum(err(1062)), sum(err(1062)));
    assert.notEqual(sum(err(1062)), sum(err(1213)));
  });

  test('TransactionLog copies statements and gives up past its size limit', () => {
    const log = new TransactionLog(20, {});
    const bytes = Buffer.from('0123456789');
    const r = log.add(bytes)!;
    bytes[0] = 0x41;
    assert.equal(r.bytes[0], 0x30, 'recorded bytes are a copy');
    assert.equal(log.add(Buffer.alloc(15)), null);
    assert.equal(log.replayable, false);
    assert.match(log.why, /max_transaction_bytes \(20\)/);
    assert.equal(log.statements.length, 0);
  });
});

describe('chooseCandidate', () => {
  const r = (name: string, received: string, o: Partial<ReplicaSurvey> = {}): ReplicaSurvey => ({
    name,
    endpoint: { name, host: '127.0.0.1', port: 1 },
    ok: true,
    error: '',
    readOnly: true,
    received,
    applied: received,
    masterPort: 3306,
    sqlRunning: true,
    sqlError: '',
    semiSyncSlave: false,
    ...o,
  });
  const none = new Set<string>();

  test('the replica that received the most', () => {
    const { best } = chooseCandidate([r('a', '0-1-10'), r('b', '0-1-12'), r('c', '0-1-11')], 'p', null, none);
    assert.equal(best?.name, 'b');
  });

  test('a named target only if it has everything the others have', () => {
    assert.equal(chooseCandidate([r('a', '0-1-12'), r('b', '0-1-12')], 'p', 'b', none).best?.name, 'b');
    const { best, why } = chooseCandidate([r('a', '0-1-12'), r('b', '0-1-10')], 'p', 'b', none);
    assert.equal(best, null);
    assert.match(why, /b has received less than another replica/);
  });

  test('planned switchover: a named target need not be ahead (it catches up first)', () => {
    assert.equal(chooseCandidate([r('a', '0-1-12'), r('b', '0-1-10')], 'p', 'b', none, true).best?.name, 'b');
    assert.equal(chooseCandidate([r('a', '0-1-12'), r('b', '0-1-10')], 'p', null, none, true).best?.name, 'a');
    assert.match(chooseCandidate([r('a', '0-1-12')], 'p', 'x', none, true).why, /x is not a replica/);
  });

  test('refuses, saying why: unreachable, SQL errors, fenced, diverged', () => {
    assert.match(chooseCandidate([r('a', '', { ok: false, error: 'ECONNREFUSED' })], 'p', null, none).why, /no reachable replica \(a: ECONNREFUSED\)/);
    assert.match(chooseCandidate([r('a', '0-1-1', { sqlError: 'Duplicate entry' })], 'p', null, none).why, /replication error \(a: Duplicate entry\)/);
    assert.equal(chooseCandidate([r('a', '0-1-1')], 'p', null, new Set(['a'])).best, null);
    assert.match(chooseCandidate([r('a', '0-1-5,1-1-1'), r('b', '0-1-4,1-1-2')], 'p', null, none).why, /diverge/);
  });
});

describe('binlog matching helpers', () => {
  test('outcomeEvidence lists the unacknowledged GTIDs to look up', () => {
    const acks = new AckLedger();
    acks.note('0-1-11');
    acks.note('0-1-13');
    const ev = outcomeEvidence('0-2-14', ['0-1-10'], acks);
    assert.deepEqual(ev.unacknowledged, [
      [0, 12],
      [0, 14],
    ]);
    assert.equal(ev.resolvable, true);
    assert.equal(outcomeEvidence('0-2-14', [''], acks).resolvable, false);
  });

  test('plainInsert counts value tuples and names the table; anything fancier is not plain', () => {
    assert.deepEqual(plainInsert("INSERT INTO chaos_ledger (id, client, kind, v) VALUES (1, 2, 'auto', 3)"), { schema: null, table: 'chaos_ledger', rows: 1 });
    assert.deepEqual(plainInsert("insert into `db`.`t` values (1,'a),(b'),(2,\"x\"), (3, ')')"), { schema: 'db', table: 't', rows: 3 });
    assert.deepEqual(plainInsert('INSERT t VALUE (1);'), { schema: null, table: 't', rows: 1 });
    assert.equal(plainInsert('INSERT IGNORE INTO t VALUES (1)'), null);
    assert.equal(plainInsert('INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1'), null);
    assert.equal(plainInsert('INSERT INTO t SELECT * FROM u'), null);
    assert.equal(plainInsert('UPDATE t SET a = 1'), null);
  });

  test('textsWithin is a multiset inclusion', () => {
    assert.equal(textsWithin(['a'], ['a', 'b']), true);
    assert.equal(textsWithin(['a', 'a'], ['a', 'b']), false);
    assert.equal(textsWithin([], ['a']), false);
  });
});
