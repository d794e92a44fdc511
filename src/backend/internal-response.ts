// Collects the response to a command Sluice sends on its own (session sync, re-prepare, monitor
// queries). Off the hot path: it buffers the bytes and splits them into packets at the end.
import { PacketFramer, type Packet } from '../protocol/framer.js';
import { ControlKind, type ResponseHandler } from '../protocol/response-scanner.js';
import { parseErr } from '../protocol/packets.js';

export class BackendError extends Error {
  constructor(
    message: string,
    readonly errno: number,
    readonly sqlState: string,
    readonly code = 'SLUICE_BACKEND_ERROR',
  ) {
    super(message);
  }
}

export class InternalResponse implements ResponseHandler {
  private readonly chunks: Buffer[] = [];
  private error: BackendError | null = null;

  constructor(
    private readonly resolve: (packets: Packet[]) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  onResponseBytes(buf: Buffer, start: number, end: number): void {
    this.chunks.push(buf.subarray(start, end));
  }

  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    const bytes = buf.subarray(start, end);
    if (kind === ControlKind.Err && this.error === null) {
      const e = parseErr(bytes.subarray(4));
      this.error = new BackendError(e.message, e.code, e.sqlState);
    }
    this.chunks.push(bytes);
  }

  onResponseDone(): void {
    if (this.error) {
      this.reject(this.error);
      return;
    }
    const framer = new PacketFramer();
    framer.push(Buffer.concat(this.chunks));
    this.resolve(framer.ready);
  }

  onResponseChunkEnd(): void {}

  fail(err: Error): void {
    this.reject(err);
  }
}
