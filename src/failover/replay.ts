// Transaction replay: while a client is in a transaction on the primary, Sluice records its statements and a
// checksum of each response. If the primary fails before the transaction ends, the statements are run again
// on the new primary and the transaction goes on there only when every response matches what the client
// already saw (MaxScale's transaction_replay is the reference). A mismatch means the client's decisions may
// rest on data that no longer holds: the transaction is rolled back and the client told so (ER 1213, 40001,
// the "retry the transaction" error applications already handle).
//
// What a checksum covers: result set headers, column definitions and rows as sent; affected rows and
// insert id of OKs; error numbers of ERRs. Not status flags, warnings counts or session tracking (the GTID
// in an OK differs on the new primary by design).
import type { BackendConnection } from '../backend/connection.js';
import { ControlKind, ResponseKind, type ResponseHandler } from '../protocol/response-scanner.js';

/** Two FNV-1a lanes over the bytes of a response (allocation-free). */
export class ResponseChecksum {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;

  reset(): void {
    this.a = 0x811c9dc5;
    this.b = 0x01000193 ^ 0x5bd1e995;
  }

  bytes(buf: Buffer, start: number, end: number): void {
    let a = this.a;
    let b = this.b;
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
  }

  number(n: number): void {
    let a = this.a;
    let b = this.b;
    for (let k = 0; k < 8; k++) {
      const c = n % 256;
      n = Math.floor(n / 256);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
  }

  /** A control packet (whole packet with its 4-byte header in buf[start, end)). */
  packet(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    const p = start + 4;
    switch (kind) {
      case ControlKind.Ok: {
        // affected rows and insert id (length-encoded) follow the 0x00 header byte.
        let i = p + 1;
        for (let k = 0; k < 2 && i < end; k++) {
          const first = buf[i]!;
          let v = first;
          let len = 1;
          if (first === 0xfc) {
            v = buf.readUInt16LE(i + 1);
            len = 3;
          } else if (first === 0xfd) {
            v = buf.readUIntLE(i + 1, 3);
            len = 4;
          } else if (first === 0xfe) {
            v = Number(buf.readBigUInt64LE(i + 1));
            len = 9;
          }
          this.number(v);
          i += len;
        }
        return;
      }
      case ControlKind.Err:
        this.number(end - p >= 3 ? buf.readUInt16LE(p + 1) : 0);
        return;
      case ControlKind.Eof:
        return;
      default:
        this.bytes(buf, start, end);
    }
  }

  value(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}

export interface RecordedStatement {
  /** The COM_QUERY / COM_STMT_EXECUTE packet as the client sent it (copied). */
  readonly bytes: Buffer;
  checksum: string;
  /** Binary protocol response (COM_STMT_EXECUTE). */
  readonly binary: boolean;
  /** The session's prepared statement for a COM_STMT_EXECUTE (opaque here), else null. */
  readonly statement: object | null;
  /** COM_STMT_EXECUTE: offset of the new-params-bound byte in the payload (-1 without parameters). */
  readonly boundFlagOffset: number;
}

/** Makes the bytes to send for a recorded statement on the replay connection (re-prepares, rebinds). */
export type ReplayBinder = (r: RecordedStatement) => Buffer | Promise<Buffer>;

/** The statements of the open transaction, while they can be replayed. */
export class TransactionLog {
  readonly statements: RecordedStatement[] = [];
  bytes = 0;
  /** False once something not replayable happened (a prepared statement, a size limit …). */
  replayable = true;
  why = '';

  /**
   * @param startState the session's state when the transaction began (opaque here): the replay connection
   *   is brought to it before the statements run again, so each sees the state it saw the first time.
   */
  constructor(
    private readonly maxBytes: number,
    readonly startState: object,
  ) {}

  add(packet: Buffer, binary = false, statement: object | null = null, boundFlagOffset = -1): RecordedStatement | null {
    if (!this.replayable) return null;
    this.bytes += packet.length;
    if (this.bytes > this.maxBytes) {
      this.giveUp(`the transaction is larger than failover.replay.max_transaction_bytes (${this.maxBytes})`);
      return null;
    }
    const r: RecordedStatement = { bytes: Buffer.from(packet), checksum: '', binary, statement, boundFlagOffset };
    this.statements.push(r);
    return r;
  }

  giveUp(why: string): void {
    if (!this.replayable) return;
    this.replayable = false;
    this.why = why;
    this.statements.length = 0;
  }
}

export class ReplayMismatch extends Error {
  readonly code = 'SLUICE_REPLAY_MISMATCH';
}

/**
 * Runs recorded statements one after the other on a connection and compares checksums. Resolves when all
 * matched; rejects with ReplayMismatch (or the connection's error).
 */
export function replayTransaction(conn: BackendConnection, log: TransactionLog, bind: ReplayBinder): Promise<void> {
  return new Promise((resolve, reject) => {
    new ReplayRunner(conn, log.statements, bind, resolve, reject).next();
  });
}

class ReplayRunner implements ResponseHandler {
  private i = -1;
  private readonly sum = new ResponseChecksum();

  constructor(
    private readonly conn: BackendConnection,
    private readonly statements: readonly RecordedStatement[],
    private readonly bind: ReplayBinder,
    private readonly resolve: () => void,
    private readonly reject: (err: Error) => void,
  ) {}

  next(): void {
    this.i++;
    if (this.i >= this.statements.length) return this.resolve();
    this.sum.reset();
    const s = this.statements[this.i]!;
    Promise.resolve(this.bind(s)).then(
      (bytes) => {
        if (this.conn.closed) return this.reject(new Error('connection closed during replay'));
        this.conn.forward(bytes, ResponseKind.Result, s.binary, this);
      },
      (err: Error) => this.reject(err),
    );
  }

  onResponseBytes(buf: Buffer, start: number, end: number): void {
    this.sum.bytes(buf, start, end);
  }

  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    this.sum.packet(kind, buf, start, end);
  }

  onResponseChunkEnd(): void {}

  onResponseDone(): void {
    const s = this.statements[this.i]!;
    const got = this.sum.value();
    if (got !== s.checksum) {
      const sql = s.bytes.toString('utf8', 5, Math.min(s.bytes.length, 200));
      return this.reject(new ReplayMismatch(`replayed statement ${this.i + 1} (${sql}) gave a different result than before the failover`));
    }
    this.next();
  }
}
