/**
 * Node's `stream_wrap` binding, which its own net code is built on: the `WriteWrap` request template and the
 * state array through which the handle reports a read's byte count and whether a write completed at once.
 * Reached through `process.binding` (public, deprecated in docs only); `null` when this Node does not offer it,
 * and then util/socket-read.ts and util/socket-write.ts use the public stream API for everything.
 */
/** A write request: the handle calls its `oncomplete` when a queued write ends. */
export interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  /** Keeps a queued write's bytes alive until libuv has written them. */
  buffer: Buffer | null;
  socket: import('node:net').Socket | null;
}

export interface StreamBinding {
  WriteWrap: new () => WriteReq;
  /** Index into `state`: bytes of the last read (or a negative error). */
  readBytesOrError: number;
  /** Index into `state`: 1 when the last write was queued in libuv instead of completing at once. */
  lastWriteWasAsync: number;
  state: Int32Array;
}

interface RawBinding {
  WriteWrap?: unknown;
  streamBaseState?: unknown;
  kReadBytesOrError?: unknown;
  kLastWriteWasAsync?: unknown;
}

function load(): StreamBinding | null {
  try {
    const b = (process as unknown as { binding(name: string): RawBinding }).binding('stream_wrap');
    if (typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kReadBytesOrError === 'number' && typeof b.kLastWriteWasAsync === 'number') {
      return {
        WriteWrap: b.WriteWrap as new () => WriteReq,
        readBytesOrError: b.kReadBytesOrError,
        lastWriteWasAsync: b.kLastWriteWasAsync,
        state: b.streamBaseState,
      };
    }
  } catch {
    // not offered by this Node
  }
  return null;
}

export const streamBinding: StreamBinding | null = load();
