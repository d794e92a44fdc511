// A single connection of Sluice's own to a backend, with the monitor account: reads mysql.user and the
// collation table, issues KILL on behalf of clients. Serialised, reconnects on demand.
import { BackendConnection, type BackendEndpoint, type BackendTlsOptions } from './connection.js';
import { Capability } from '../protocol/constants.js';

export class AdminChannel {
  private conn: BackendConnection | null = null;
  private connecting: Promise<BackendConnection> | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private endpoint: BackendEndpoint,
    private readonly user: string,
    private readonly password: string,
    private readonly opts: { connectTimeoutMs: number; tls: BackendTlsOptions | null },
  ) {}

  private async connection(): Promise<BackendConnection> {
    if (this.conn && !this.conn.closed) return this.conn;
    if (!this.connecting) {
      this.connecting = BackendConnection.connect(
        this.endpoint,
        { user: this.user, password: this.password },
        Capability.DEPRECATE_EOF,
        this.opts,
      ).finally(() => {
        this.connecting = null;
      });
    }
    this.conn = await this.connecting;
    return this.conn;
  }

  /** Runs SQL (serialised with other calls) and returns text rows. */
  rows(sql: string): Promise<Array<Array<string | null>>> {
    const run = this.tail.then(
      () => this.connection().then((c) => c.queryRows(sql)),
      () => this.connection().then((c) => c.queryRows(sql)),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  get serverVersion(): string {
    return this.conn?.serverVersion ?? '';
  }

  async version(): Promise<string> {
    return (await this.connection()).serverVersion;
  }

  /** The primary moved: later calls go to `endpoint` (calls in flight finish or fail on the old one). */
  retarget(endpoint: BackendEndpoint): void {
    this.endpoint = endpoint;
    const c = this.conn;
    this.conn = null;
    c?.destroy();
  }

  close(): void {
    this.conn?.quit();
    this.conn = null;
  }
}
