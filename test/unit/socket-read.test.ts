// readInto: an accepted plain socket moved from 'data' events to the shared read buffer. Loopback sockets,
// no server: chunks must be the callback's own (not views of the shared buffer), pause/resume must still
// stop and restart reading, the end of the stream (or a reset) must still end the socket, and TLS sockets are
// refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { socketPair, until } from '../helpers/socket-pair.js';
import { readInto } from '../../src/util/socket-read.js';

describe('readInto (shared read buffer)', () => {
  it('delivers every byte in order, each chunk owned by the callback', async () => {
    const { server, accepted, client } = await socketPair();
    const chunks: Buffer[] = [];
    assert.equal(readInto(accepted, (c) => chunks.push(c)), true);
    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const b = Buffer.alloc(100 + i * 37, i);
      sent.push(b);
      client.write(b);
      // Separate reads: earlier chunks must survive later reads into the shared buffer.
      await new Promise((r) => setImmediate(r));
    }
    const total = sent.reduce((n, b) => n + b.length, 0);
    await until(() => chunks.reduce((n, b) => n + b.length, 0) >= total, 'all bytes');
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat(sent));
    assert.ok(chunks.length > 1, 'several reads');
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('pause stops reading and resume restarts it; the end of the stream still closes the socket', async () => {
    const { server, accepted, client } = await socketPair();
    let got = 0;
    assert.equal(readInto(accepted, (c) => (got += c.length)), true);
    client.write(Buffer.alloc(10));
    await until(() => got === 10, 'first bytes');
    accepted.pause();
    client.write(Buffer.alloc(20));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, 10, 'nothing read while paused');
    accepted.resume();
    await until(() => got === 30, 'bytes after resume');
    let closed = false;
    accepted.on('close', () => (closed = true));
    client.end();
    await until(() => closed, 'close after the peer ended');
    server.close();
  });

  it('data skips Node\'s generic read callback; a reset from the peer still reaches the socket as an error', async () => {
    const { server, accepted, client } = await socketPair();
    let got = 0;
    assert.equal(readInto(accepted, (c) => (got += c.length)), true);
    const handle = (accepted as unknown as { _handle: { onread: { name: string } } })._handle;
    assert.equal(handle.onread.name, 'onRead', 'our read callback is installed on the handle');
    client.write(Buffer.alloc(7));
    await until(() => got === 7, 'bytes');
    let error: NodeJS.ErrnoException | null = null;
    let closed = false;
    accepted.on('error', (e: NodeJS.ErrnoException) => (error = e));
    accepted.on('close', () => (closed = true));
    client.resetAndDestroy();
    await until(() => closed, 'close after the reset');
    assert.equal((error as NodeJS.ErrnoException | null)?.code, 'ECONNRESET');
    server.close();
  });

  it('large chunks (more than the pool size) arrive whole', async () => {
    const { server, accepted, client } = await socketPair();
    const chunks: Buffer[] = [];
    assert.equal(readInto(accepted, (c) => chunks.push(c)), true);
    const big = Buffer.alloc(3 * 65536 + 5);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    client.write(big);
    await until(() => chunks.reduce((n, b) => n + b.length, 0) === big.length, 'all bytes');
    assert.deepEqual(Buffer.concat(chunks), big);
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('works on a unix socket too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-read-'));
    const file = path.join(dir, 's.sock');
    const server = net.createServer();
    const acceptedP = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(file, resolve));
    const client = net.connect(file);
    const accepted = await acceptedP;
    const chunks: Buffer[] = [];
    assert.equal(readInto(accepted, (c) => chunks.push(c)), true);
    client.write('hello ');
    await until(() => chunks.length > 0, 'first chunk');
    client.write('world');
    await until(() => Buffer.concat(chunks).toString() === 'hello world', 'both chunks');
    client.destroy();
    accepted.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a TLS socket and a socket with bytes already buffered', async () => {
    const { server, accepted, client } = await socketPair();
    const secure = new tls.TLSSocket(accepted);
    assert.equal(readInto(secure, () => {}), false);
    secure.destroy();
    client.destroy();
    server.close();

    const p = await socketPair();
    p.accepted.pause();
    p.client.write(Buffer.alloc(5));
    await until(() => p.accepted.readableLength > 0, 'buffered bytes');
    assert.equal(readInto(p.accepted, () => {}), false);
    p.client.destroy();
    p.accepted.destroy();
    p.server.close();
  });
});
