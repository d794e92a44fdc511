// Loopback socket pairs for the socket unit tests (no server involved).
import net from 'node:net';

export interface Pair {
  server: net.Server;
  accepted: net.Socket;
  client: net.Socket;
}

/** A listening server on a free loopback port, one client connected to it, and the accepted socket. */
export async function socketPair(): Promise<Pair> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  return { server, accepted: await accepted, client };
}

/** Resolves once `cond()` holds; rejects naming `what` after `ms`. */
export function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}
