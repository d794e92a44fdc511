// One administrative connection to one MariaDB node (the monitor account), for the failover manager.
// Unlike the pooled connections, every query is bounded by a timeout: a hung node (SIGSTOP, a network
// partition) must not stall a failover. On a timeout the connection is destroyed and the next query
// opens a new one.
import { BackendConnection, type BackendEndpoint, type BackendTlsOptions } from '../backend/connection.js';
import { queryNamedRows } from '../backend/monitor.js';
import { Capability } from '../protocol/constants.js';

export interface NodeAdminOptions {
  user: string;
  password: string;
  tls: BackendTlsOptions | null;
}

export class NodeAdmin {
  private conn: BackendConnection | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Bumped when the connection is dropped: a connect that finishes after that is not kept. */
  private generation = 0;

  constructor(
    readonly endpoint: BackendEndpoint,
    private readonly opts: NodeAdminOptions,
  ) {}

  /** Text rows of `sql`, within timeoutMs (connect included). Queries on one node run one at a time. */
  rows(sql: string, timeoutMs: number): Promise<Array<Array<string | null>>> {
    return this.serialise(timeoutMs, (c) => c.queryRows(sql));
  }

  /** Rows keyed by column name (SHOW SLAVE STATUS). */
  namedRows(sql: string, timeoutMs: number): Promise<Array<Map<string, string | null>>> {
    return this.serialise(timeoutMs, (c) => queryNamedRows(c, sql));
  }

  /** Runs statements in order; stops at the first error. */
  async exec(statements: readonly string[], timeoutMs: number): Promise<void> {
    for (const sql of statements) await this.rows(sql, timeoutMs);
  }

  /** Drops the connection; `final` also refuses later queries (the manager stopped). */
  close(final = false): void {
    if (final) this.closed = true;
    this.generation++;
    const c = this.conn;
    this.conn = null;
    c?.destroy();
  }

  private serialise<T>(timeoutMs: number, run: (c: BackendConnection) => Promise<T>): Promise<T> {
    const p = this.tail.then(
      () => this.bounded(timeoutMs, run),
      () => this.bounded(timeoutMs, run),
    );
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async bounded<T>(timeoutMs: number, run: (c: BackendConnection) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NodeTimeout(`${this.endpoint.name}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.connection(timeoutMs).then(run), timeout]);
    } catch (err) {
      // Whatever the connection's state is now, it cannot be trusted.
      this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async connection(timeoutMs: number): Promise<BackendConnection> {
    if (this.closed) throw new Error(`${this.endpoint.name}: administrative connection closed`);
    if (this.conn !== null && !this.conn.closed) return this.conn;
    const generation = this.generation;
    const c = await BackendConnection.connect(
      this.endpoint,
      { user: this.opts.user, password: this.opts.password },
      Capability.DEPRECATE_EOF,
      { connectTimeoutMs: timeoutMs, tls: this.opts.tls },
    );
    // Never what keeps the process alive; and a connection made after close() is dropped at once.
    c.socket.unref();
    if (this.closed || generation !== this.generation) {
      c.destroy();
      throw new Error(`${this.endpoint.name}: administrative connection closed`);
    }
    this.conn = c;
    return c;
  }
}

export class NodeTimeout extends Error {
  readonly code = 'SLUICE_NODE_TIMEOUT';
}

/** True for errors that mean "nothing listens there" (the process is gone), as opposed to a hang. */
export function isRefusal(err: unknown): boolean {
  const m = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` : String(err);
  return /ECONNREFUSED|ECONNRESET|EPIPE|ENOENT|closed the connection|connection closed|socket hang up/i.test(m);
}

/** SQL string literal (backslashes and quotes escaped). */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
