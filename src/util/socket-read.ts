import { Buffer } from 'node:buffer';
import net from 'node:net';
import { streamBinding } from './stream-binding.js';

/**
 * Cheaper reads for plain TCP / unix sockets on the hot path.
 *
 * Node's default read path allocates a 64 KiB buffer per read (malloc, a new ArrayBuffer, then a realloc
 * down to the bytes read), pushes the chunk through the Readable machinery and schedules a nextTick per
 * read. With `onread` (documented for `net.connect`) the kernel reads into one buffer we own and our
 * callback runs directly. Measured on the 1-thread point-select path: about a fifth of a Node relay's
 * user-space time per statement.
 *
 * All sockets share one read buffer: reads run one at a time on the event loop, and each chunk is copied
 * out before the callback sees it (small chunks come from Node's buffer pool), so a callback owns its chunk
 * exactly as with a 'data' event and may keep views into it.
 *
 * The public `onread` option exists only for `net.connect`, and only from the start; our sockets need it
 * after login (client sockets accepted by a `net.Server`, backend sockets that may turn TLS first).
 * `readInto` installs the same mechanism on an established socket (the symbols `net.Socket` keeps for it,
 * the handle's `useUserBuffer`) and reports false, leaving the socket on 'data' events, when this Node does
 * not have them.
 */
const SHARED = Buffer.allocUnsafe(65536);
/** Chunks up to this size are copied out byte by byte. */
const SMALL_COPY = 64;

type ChunkCallback = (chunk: Buffer) => void;

function copyOut(onChunk: ChunkCallback): (nread: number, buf: Buffer) => void {
  return (nread: number, buf: Buffer): void => {
    const chunk = Buffer.allocUnsafe(nread);
    if (nread <= SMALL_COPY) {
      // Most reads are one short request or response: a byte loop beats Buffer#copy, which builds a
      // Uint8Array view of the source for every call.
      for (let i = 0; i < nread; i++) chunk[i] = buf[i]!;
    } else buf.copy(chunk, 0, 0, nread);
    onChunk(chunk);
  };
}

interface ReadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

let symbols: ReadSymbols | null | undefined;

function readSymbols(socket: net.Socket): ReadSymbols | null {
  if (symbols !== undefined) return symbols;
  const found: Partial<Record<'kBuffer' | 'kBufferCb' | 'kBufferGen', symbol>> = {};
  for (const s of Object.getOwnPropertySymbols(socket)) {
    if (s.description === 'kBuffer' || s.description === 'kBufferCb' || s.description === 'kBufferGen') found[s.description] = s;
  }
  symbols = found.kBuffer && found.kBufferCb && found.kBufferGen ? { buffer: found.kBuffer, callback: found.kBufferCb, generator: found.kBufferGen } : null;
  return symbols;
}

interface UserBufferHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
  onread?: (this: unknown, ab: unknown) => unknown;
}

/**
 * Moves an established plain socket from 'data' events to `onChunk` through the shared read buffer. The
 * caller removes its own 'data' listener when this returns true. False (socket left as it was): a TLS
 * socket, bytes already buffered in the stream, or a Node without the mechanism.
 */
export function readInto(socket: net.Socket, onChunk: ChunkCallback): boolean {
  if (socket.constructor !== net.Socket || socket.readableLength > 0 || socket.destroyed) return false;
  const handle = (socket as unknown as { _handle: UserBufferHandle | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const sym = readSymbols(socket);
  if (sym === null) return false;
  const target = socket as unknown as Record<symbol, unknown>;
  if (target[sym.buffer] !== null && target[sym.buffer] !== undefined) return false;
  const callback = copyOut(onChunk);
  target[sym.buffer] = SHARED;
  target[sym.callback] = callback;
  target[sym.generator] = null;
  handle.useUserBuffer(SHARED);
  if (streamBinding !== null && typeof handle.onread === 'function') handle.onread = directOnRead(socket, callback, handle.onread);
  return true;
}

/**
 * The handle's read callback for data: straight to our callback, skipping Node's generic `onStreamRead`
 * (which would look the stream up, refresh its timeout timer and call the same callback). End of stream,
 * errors and reads on a destroyed socket still go through Node's, which knows what to do with them.
 */
function directOnRead(socket: net.Socket, callback: (nread: number, buf: Buffer) => void, generic: (this: unknown, ab: unknown) => unknown): (this: unknown, ab: unknown) => unknown {
  const state = streamBinding!.state;
  const at = streamBinding!.readBytesOrError;
  return function onRead(this: unknown, ab: unknown): unknown {
    const nread = state[at]!;
    if (nread > 0 && !socket.destroyed) {
      callback(nread, SHARED);
      return undefined;
    }
    return generic.call(this, ab);
  };
}
