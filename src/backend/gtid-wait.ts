// The response to `SELECT MASTER_GTID_WAIT(…)` sent right before a client's read on a replica (one round
// trip): read synchronously, so the session knows whether to pass the read's result on or discard it.
import { ControlKind, type ResponseHandler } from '../protocol/response-scanner.js';
import { PacketWriter } from '../protocol/writer.js';
import { Command } from '../protocol/constants.js';
import { decodeTextRows } from './connection.js';
import { PacketFramer } from '../protocol/framer.js';

export class GtidWaitResponse implements ResponseHandler {
  private readonly chunks: Buffer[] = [];
  /** True once the wait returned 0 (the replica reached the GTID). */
  reached = false;
  done = false;

  constructor(private readonly deprecateEof: boolean) {}

  static query(gtid: string, timeoutMs: number): Buffer {
    const sql = `SELECT MASTER_GTID_WAIT('${gtid.replace(/[^0-9,-]/g, '')}', ${(timeoutMs / 1000).toFixed(3)})`;
    return new PacketWriter(sql.length + 8).u8(Command.QUERY).string(sql).finish(0);
  }

  onResponseBytes(buf: Buffer, start: number, end: number): void {
    this.chunks.push(buf.subarray(start, end));
  }

  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    if (kind === ControlKind.Err) this.reached = false;
    this.chunks.push(buf.subarray(start, end));
  }

  onResponseChunkEnd(): void {}

  onResponseDone(): void {
    this.done = true;
    const framer = new PacketFramer();
    framer.push(Buffer.concat(this.chunks));
    const rows = decodeTextRows(framer.ready, this.deprecateEof);
    this.reached = rows[0]?.[0] === '0';
  }
}
