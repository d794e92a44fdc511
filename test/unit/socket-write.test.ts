// writeTo: writes straight to a plain socket's handle while nothing is queued, through socket.write otherwise.
// Loopback sockets, no server: bytes must arrive whole and in order whichever path each write took (including
// a write the kernel could not take at once, followed by more), a slow reader must still show up as
// backpressure (false, writableLength, 'drain'), a write to a reset peer must end the socket with an error, and
// TLS sockets (or a caller that says not to) must use socket.write.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { socketPair, until } from '../helpers/socket-pair.js';
import { streamBinding } from '../../src/util/stream-binding.js';
import { canWriteDirect, writeTo } from '../../src/util/socket-write.js';

/** Counts the writes that went through socket.write. */
function spyWrite(socket: net.Socket): { calls: number } {
  const spy = { calls: 0 };
  const original = socket.write.bind(socket) as (data: Buffer) => boolean;
  (socket as unknown as { write: (data: Buffer) => boolean }).write = (data: Buffer): boolean => {
    spy.calls++;
    return original(data);
  };
  return spy;
}

function collect(socket: net.Socket): Buffer[] {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return chunks;
}

const total = (chunks: Buffer[]): number => chunks.reduce((n, b) => n + b.length, 0);

describe('writeTo (direct writes)', () => {
  it('this Node offers the stream binding (otherwise every write would take the slow path)', () => {
    assert.notEqual(streamBinding, null);
  });

  it('small writes go straight to the handle, whole and in order', async () => {
    const { server, accepted, client } = await socketPair();
    assert.equal(canWriteDirect(accepted), true);
    const spy = spyWrite(accepted);
    const got = collect(client);
    const sent: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(1 + (i % 300), i & 0xff);
      sent.push(b);
      assert.equal(writeTo(accepted, b, true), true);
    }
    assert.equal(spy.calls, 0, 'no write went through the Writable');
    assert.equal(accepted.writableLength, 0);
    await until(() => total(got) >= total(sent), 'all bytes');
    assert.deepEqual(Buffer.concat(got), Buffer.concat(sent));
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('a slow reader: one write queued in libuv, later ones through the Writable, order kept, backpressure seen, drain comes', async () => {
    const { server, accepted, client } = await socketPair();
    client.pause();
    const spy = spyWrite(accepted);
    const sent: Buffer[] = [];
    let refused = false;
    // Fill the kernel buffers until writes stop completing at once.
    for (let i = 0; i < 4000 && !refused; i++) {
      const b = Buffer.alloc(16384, i & 0xff);
      b.writeUInt32BE(i, 0);
      sent.push(b);
      refused = !writeTo(accepted, b, true);
    }
    assert.ok(refused, 'writeTo reported backpressure');
    assert.ok(spy.calls > 0, 'once something was queued, writes went through socket.write');
    assert.ok(accepted.writableLength > 0, 'the Writable holds the queued bytes');
    let drained = false;
    accepted.once('drain', () => (drained = true));
    const got = collect(client);
    client.resume();
    await until(() => total(got) >= total(sent), 'all bytes');
    assert.ok(Buffer.concat(got).equals(Buffer.concat(sent)), 'bytes in order');
    await until(() => drained, "'drain'");
    // Back to the direct path once everything is written.
    const before = spy.calls;
    assert.equal(writeTo(accepted, Buffer.from('tail'), true), true);
    assert.equal(spy.calls, before);
    await until(() => total(got) >= total(sent) + 4, 'tail');
    assert.equal(Buffer.concat(got).subarray(-4).toString(), 'tail');
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('a write to a reset peer ends the socket with the error, without throwing', async () => {
    const { server, accepted, client } = await socketPair();
    let error: NodeJS.ErrnoException | null = null;
    let closed = false;
    accepted.on('error', (e: NodeJS.ErrnoException) => (error = e));
    accepted.on('close', () => (closed = true));
    client.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 100 && !accepted.destroyed; i++) {
      writeTo(accepted, Buffer.alloc(1000, 1), true);
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => closed, 'close');
    assert.ok(error !== null, 'an error was reported');
    assert.match(String((error as NodeJS.ErrnoException).code), /^(EPIPE|ECONNRESET)$/);
    server.close();
  });

  it('a corked socket, or a caller that says no, goes through socket.write', async () => {
    const { server, accepted, client } = await socketPair();
    const spy = spyWrite(accepted);
    const got = collect(client);
    writeTo(accepted, Buffer.from('a'), false);
    accepted.cork();
    writeTo(accepted, Buffer.from('b'), true);
    writeTo(accepted, Buffer.from('c'), true);
    accepted.uncork();
    assert.equal(spy.calls, 3);
    await until(() => total(got) >= 3, 'bytes');
    assert.equal(Buffer.concat(got).toString(), 'abc');
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('refuses TLS sockets', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const raw = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => raw.once('connect', resolve));
    const secure = new tls.TLSSocket(raw);
    assert.equal(canWriteDirect(secure), false);
    assert.equal(canWriteDirect(raw), true);
    secure.destroy();
    raw.destroy();
    server.close();
  });
});
