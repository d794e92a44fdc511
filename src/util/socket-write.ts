import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { streamBinding, type WriteReq } from './stream-binding.js';

/**
 * Cheaper writes for plain TCP / unix sockets on the hot path.
 *
 * `socket.write` runs the whole Writable machinery for every chunk: state bookkeeping, a new `WriteWrap`
 * object instantiated from a C++ template, the write itself, then the completion callback and a nextTick to
 * finish it — about as much user-space time as the system call on a 100-byte response. When nothing is
 * queued anywhere (the Writable holds nothing and libuv has no write pending), `writeTo` hands the buffer to
 * the socket's handle directly. The kernel almost always takes a small write whole, and then nothing else
 * happens: no request object is bound and no callback runs.
 *
 * Order: libuv keeps one write queue per stream; a write that cannot complete at once is queued there, and
 * every later write (ours or the Writable's, which also ends in the handle) goes behind it. While anything is
 * queued, `writeTo` leaves the chunk to `socket.write`, so backpressure ('drain', `writableLength`) works as
 * before: at most one chunk of ours is pending outside the Writable's count.
 *
 * Uses Node's `stream_wrap` binding (util/stream-binding.ts); on a Node without it, and for TLS sockets, every
 * write goes through `socket.write`.
 */
interface WritableHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
  writeQueueSize: number;
}

const binding = streamBinding;
const state = binding?.state ?? new Int32Array(4);
const LAST_WRITE_WAS_ASYNC = binding?.lastWriteWasAsync ?? 0;

/**
 * A request object for the next direct write. The handle only binds it when the write cannot complete at
 * once; until then the same object serves every write.
 */
let spare: WriteReq | null = null;

function onDirectWriteComplete(this: WriteReq, status: number): void {
  const socket = this.socket!;
  this.buffer = null;
  this.socket = null;
  if (status < 0 && !socket.destroyed) socket.destroy(writeError(status));
}

function writeError(code: number): Error {
  const err = new Error(`write ${getSystemErrorName(code)}`) as NodeJS.ErrnoException;
  err.code = getSystemErrorName(code);
  err.errno = code;
  err.syscall = 'write';
  return err;
}

function handleOf(socket: net.Socket): WritableHandle | null {
  return (socket as unknown as { _handle: WritableHandle | null })._handle;
}

/** True when `writeTo` can bypass the Writable for this socket (plain TCP or unix socket, this Node). */
export function canWriteDirect(socket: net.Socket): boolean {
  const handle = handleOf(socket);
  return binding !== null && socket.constructor === net.Socket && handle !== null && typeof handle.writeBuffer === 'function';
}

/**
 * Writes `data` to `socket`; the return value means what `socket.write`'s does (false: stop until 'drain').
 * `direct` is the caller's cached `canWriteDirect(socket)`.
 */
export function writeTo(socket: net.Socket, data: Buffer, direct: boolean): boolean {
  if (!direct || data.length === 0 || socket.writableLength !== 0 || socket.writableCorked !== 0 || socket.writableEnded || socket.destroyed) {
    return socket.write(data);
  }
  const handle = handleOf(socket);
  if (handle === null || handle.writeQueueSize !== 0) return socket.write(data);
  let req = spare;
  if (req === null) {
    req = new binding!.WriteWrap();
    req.oncomplete = onDirectWriteComplete;
    req.buffer = null;
    req.socket = null;
    spare = req;
  }
  const err = handle.writeBuffer(req, data);
  if (err !== 0) {
    socket.destroy(writeError(err));
    return false;
  }
  if (state[LAST_WRITE_WAS_ASYNC] !== 0) {
    // Queued in libuv: this request object is bound to that write until it completes.
    spare = null;
    req.buffer = data;
    req.socket = socket;
  }
  return true;
}
