// Listeners (TCP and unix socket) that turn accepted sockets into client sessions, and graceful stop.
import net from 'node:net';
import { existsSync, unlinkSync } from 'node:fs';
import { ClientSession } from './client-session.js';
import type { ProxyContext } from './context.js';
import type { ListenerConfig } from '../config/schema.js';

export class FrontendServer {
  private readonly servers: net.Server[] = [];
  readonly tcpAddresses: Array<{ host: string; port: number }> = [];
  readonly socketPaths: string[] = [];

  constructor(private readonly ctx: ProxyContext) {}

  async listen(listeners: ListenerConfig[]): Promise<void> {
    for (const l of listeners) {
      const unix = 'socket' in l;
      const server = net.createServer({ noDelay: true }, (socket) => {
        const session = new ClientSession(this.ctx, socket, unix);
        void session.start();
      });
      server.maxConnections = this.ctx.config.limits.max_client_connections + 100;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        if ('socket' in l) {
          if (existsSync(l.socket)) unlinkSync(l.socket); // a stale socket file from an earlier run
          server.listen(l.socket, () => resolve());
        } else {
          server.listen(l.port, l.host, () => resolve());
        }
      });
      server.on('error', (err) => this.ctx.log.error({ err: err.message }, 'listener error'));
      this.servers.push(server);
      const addr = server.address();
      if (typeof addr === 'string') this.socketPaths.push(addr);
      else if (addr) this.tcpAddresses.push({ host: addr.address, port: addr.port });
    }
  }

  /** Stops accepting; idle sessions close now, busy ones after their statement, all by graceMs. */
  async close(graceMs: number): Promise<void> {
    this.ctx.draining = true;
    // net.Server#close calls back only once every connection has ended: start it, drain, then wait.
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of [...this.ctx.sessions.values()]) s.drain();
    const deadline = Date.now() + graceMs;
    while (this.ctx.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of [...this.ctx.sessions.values()]) s.kill();
    await closed;
    for (const p of this.socketPaths) if (existsSync(p)) unlinkSync(p);
  }
}
