// One connection from Sluice to a MariaDB/MySQL server: connect, TLS, authenticate, turn on session
// tracking, then carry commands. While a client's command runs, response bytes go through the
// ResponseScanner straight to that client's handler; Sluice's own commands use InternalResponse.
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import tls from 'node:tls';
import { Capability, Command, DEFAULT_COLLATION_ID, ServerStatus } from '../protocol/constants.js';
import { PacketFramer, type Packet } from '../protocol/framer.js';
import { parseHandshakeV10, parseAuthSwitchRequest, writeHandshakeResponse, writeSslRequest } from '../protocol/handshake.js';
import { nativeStage1, nativeToken, sha2Token } from '../protocol/auth.js';
import { parseErr } from '../protocol/packets.js';
import { PacketWriter } from '../protocol/writer.js';
import { PayloadReader } from '../protocol/reader.js';
import { ResponseKind, ResponseScanner, type ResponseHandler } from '../protocol/response-scanner.js';
import { BackendError, InternalResponse } from './internal-response.js';
import { SessionState } from './session-state.js';
import { charsetVariables } from './collations.js';
import { publicEncrypt, constants as cryptoConstants } from 'node:crypto';
import type { BackendPool } from './pool.js';
import { readInto } from '../util/socket-read.js';
import { canWriteDirect, writeTo } from '../util/socket-write.js';
import { backendBusy, backendIdle, noteActivity } from '../util/busy-poll.js';

export interface BackendEndpoint {
  name: string;
  host: string;
  port: number;
}

export interface BackendTlsOptions {
  ca?: string | Buffer;
  rejectUnauthorized: boolean;
}

export interface BackendCredentials {
  user: string;
  /** Plaintext password, when known. */
  password?: string;
  /** SHA1(password): enough for mysql_native_password. */
  stage1?: Buffer;
}

/** Notified when the connection dies; the pool and the client session serving on it listen. */
export interface BackendOwner {
  onBackendClosed(conn: BackendConnection, err: Error | null): void;
}

/** A client statement pipelined on a shared connection: it hears of its response and of a lost connection. */
export interface PipelineClient extends ResponseHandler, BackendOwner {
  /** Its statement ran behind one that changed the connection's session: the response is discarded; run it again. */
  onPipelineEvicted(conn: BackendConnection): void;
}

/** A response expected after the one in progress (statements pipelined on one connection). */
interface ExpectedResponse {
  kind: ResponseKind;
  binary: boolean;
  handler: ResponseHandler;
  /** Set for a client statement on a shared connection (told if the connection dies or it is evicted). */
  client: PipelineClient | null;
}

/** Consumes a response nobody wants any more (an evicted or abandoned pipelined statement). */
class DiscardResponse implements ResponseHandler {
  onResponseBytes(): void {}
  onResponsePacket(): void {}
  onResponseDone(): void {}
  onResponseChunkEnd(): void {}
}
/** The response of a statement evicted from the pipeline (its session runs it again elsewhere). */
const EVICTED = new DiscardResponse();
/** The response of a session that went away: it still counts as a user of the shared connection until it ends. */
const ABANDONED = new DiscardResponse();

/** Status flags of a discarded response that mean the session changed under the statements behind it. */
const SESSION_CHANGED = ServerStatus.SESSION_STATE_CHANGED | ServerStatus.IN_TRANS;

/**
 * Pipelined writes are gathered per connection and written once per event-loop turn, after every client
 * socket that became readable in this turn has been read: statements of several clients leave in one write.
 */
const dirty: BackendConnection[] = [];
let flushScheduled = false;
function flushDirty(): void {
  flushScheduled = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flushBatch();
  dirty.length = 0;
}

const BASE_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.LONG_FLAG |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CONNECT_ATTRS |
  Capability.SESSION_TRACK;

/** The baseline of a fresh backend session (what SessionState diffs are relative to). */
export const BACKEND_BASELINE = charsetVariables(DEFAULT_COLLATION_ID);

const TRACKING_SQL =
  "SET SESSION session_track_system_variables='*', session_track_schema=ON, session_track_state_change=ON";

let nextLocalId = 1;

export class BackendConnection {
  readonly localId = nextLocalId++;
  socket: net.Socket;
  /** Past authentication on a plain socket: `writeTo` may bypass its Writable (util/socket-write.ts). */
  private directWrite = false;
  threadId = 0;
  serverVersion = '';
  capabilities = 0;
  readonly scanner = new ResponseScanner();
  readonly state = new SessionState();
  /** Prepared statements on this server session: cache key → backend statement. LRU by Map order. */
  readonly statements = new Map<string, BackendStatement>();
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  closed = false;
  owner: BackendOwner | null = null;
  /** The pool this connection belongs to (null for Sluice's own channels). */
  pool: BackendPool | null = null;
  /** When set, the connection was left in an unknown state and must not be reused. */
  broken = false;
  private framer: PacketFramer | null = new PacketFramer();
  private pendingInternal: InternalResponse | null = null;
  /** Responses expected after the one the scanner follows now, in order (pipelined commands). */
  private readonly expected: Array<ExpectedResponse | null> = [];
  private expectedHead = 0;
  /** The client whose pipelined statement the scanner follows now (null for exclusive use). */
  private activeClient: PipelineClient | null = null;
  /** Inside onData: a response that completes there must not start the next one itself. */
  private feeding = false;
  /** Pipelined bytes not yet written (flushed once per event-loop turn). */
  private batch: Buffer[] = [];
  /** Shared (pipelining) mode: client statements of several sessions in flight at once. */
  shared = false;
  /** Sessions with a pipelined statement in flight on this connection. */
  sharedUsers = 0;
  /** Statements that joined since the connection became shared (bounds how long it stays away from waiters). */
  sharedJoins = 0;
  /** When the server started on the pipelined statement answered now (performance.now()). */
  busySince = 0;
  /** A response is outstanding (counted in util/busy-poll.ts). */
  private busy = false;

  /** The server's first scramble and our login, kept for COM_CHANGE_USER (clearing the schema). */
  private handshakeScramble: Buffer = Buffer.alloc(0);
  private creds: BackendCredentials = { user: '' };
  /** The client changed the MULTI_STATEMENTS option (COM_SET_OPTION); restore it before reuse. */
  optionChanged = false;
  /** The MULTI_STATEMENTS option this connection's pool expects. */
  private multiStatements = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.state.clear(BACKEND_BASELINE);
  }

  static async connect(
    endpoint: BackendEndpoint,
    creds: BackendCredentials,
    profileCaps: number,
    opts: { connectTimeoutMs: number; tls?: BackendTlsOptions | null },
  ): Promise<BackendConnection> {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const conn = new BackendConnection(socket);
    conn.creds = creds;
    conn.multiStatements = (profileCaps & Capability.MULTI_STATEMENTS) !== 0;
    const timer = setTimeout(() => {
      socket.destroy(new BackendError(`connect to ${endpoint.name} (${endpoint.host}:${endpoint.port}) timed out`, 2013, 'HY000', 'SLUICE_BACKEND_CONNECT_TIMEOUT'));
    }, opts.connectTimeoutMs);
    try {
      await conn.handshake(endpoint, creds, profileCaps, opts.tls ?? null);
      await conn.query(TRACKING_SQL);
    } catch (err) {
      conn.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return conn;
  }

  private handshake(endpoint: BackendEndpoint, creds: BackendCredentials, profileCaps: number, tlsOpts: BackendTlsOptions | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let seq = 0;
      let scramble: Buffer = Buffer.alloc(0);
      let step: 'greeting' | 'auth' = 'greeting';
      let secure = false;
      const fail = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onError = (err: Error) => fail(err);
      const onClose = () => fail(new BackendError(`connection to ${endpoint.name} closed during handshake`, 2013, 'HY000', 'SLUICE_BACKEND_LOST'));
      const cleanup = () => {
        this.socket.off('data', onData);
        this.socket.off('error', onError);
        this.socket.off('close', onClose);
      };
      const send = (w: PacketWriter) => {
        seq = (seq + 1) & 0xff;
        this.socket.write(w.finish(seq));
      };
      const onPacket = (p: Packet) => {
        seq = p.seq;
        const first = p.payload[0];
        if (step === 'greeting') {
          if (first === 0xff) {
            const e = parseErr(p.payload);
            fail(new BackendError(e.message, e.code, e.sqlState));
            return;
          }
          const h = parseHandshakeV10(p.payload);
          this.threadId = h.connectionId;
          this.serverVersion = h.serverVersion;
          scramble = h.scramble;
          this.handshakeScramble = h.scramble;
          let caps = (BASE_CAPABILITIES | profileCaps) & (h.capabilities | Capability.LONG_PASSWORD);
          caps |= profileCaps & h.capabilities;
          if (tlsOpts) {
            if (!(h.capabilities & Capability.SSL)) {
              fail(new BackendError(`backend ${endpoint.name} does not support TLS`, 2026, 'HY000', 'SLUICE_BACKEND_TLS'));
              return;
            }
            caps |= Capability.SSL;
          }
          this.capabilities = caps;
          const fields = { capabilities: caps, mariaCapabilities: 0, maxPacketSize: 0x40000000, collation: DEFAULT_COLLATION_ID };
          step = 'auth';
          if (tlsOpts) {
            send(writeSslRequest(fields));
            this.socket.off('data', onData);
            this.socket.off('error', onError);
            this.socket.off('close', onClose);
            const secureSocket = tls.connect({
              socket: this.socket,
              ca: tlsOpts.ca,
              rejectUnauthorized: tlsOpts.rejectUnauthorized,
              servername: net.isIP(endpoint.host) ? undefined : endpoint.host,
            });
            this.socket = secureSocket;
            secure = true;
            secureSocket.on('data', onData);
            secureSocket.on('error', onError);
            secureSocket.on('close', onClose);
            secureSocket.once('secureConnect', () => sendResponse(fields));
            return;
          }
          sendResponse(fields);
          return;
        }
        // auth step
        if (first === 0x00) {
          cleanup();
          this.framer = null;
          this.attachDataPath();
          resolve();
          return;
        }
        if (first === 0xff) {
          const e = parseErr(p.payload);
          fail(new BackendError(e.message, e.code, e.sqlState));
          return;
        }
        if (first === 0xfe) {
          const sw = parseAuthSwitchRequest(p.payload);
          scramble = sw.data;
          const token = authToken(sw.plugin, creds, scramble, secure);
          if (token === null) {
            fail(new BackendError(`backend ${endpoint.name} asks for auth plugin ${sw.plugin}, which Sluice cannot answer for user ${creds.user}`, 1251, '08004', 'SLUICE_BACKEND_AUTH_PLUGIN'));
            return;
          }
          send(new PacketWriter(64).bytes(token));
          return;
        }
        if (first === 0x01) {
          // caching_sha2_password (MySQL 8 backends): 0x03 fast auth ok, 0x04 full auth needed.
          const status = p.payload[1];
          if (status === 0x03) return;
          if (status === 0x04) {
            if (creds.password === undefined) {
              fail(new BackendError(`backend ${endpoint.name} needs the plaintext password of ${creds.user}`, 1045, '28000', 'SLUICE_BACKEND_AUTH'));
              return;
            }
            if (secure) send(new PacketWriter(64).string(creds.password).u8(0));
            else send(new PacketWriter(8).u8(0x02));
            return;
          }
          // Public key for RSA full auth.
          const pem = p.payload.subarray(1).toString('utf8');
          const pw = Buffer.from(creds.password + '\0', 'utf8');
          for (let i = 0; i < pw.length; i++) pw[i] = pw[i]! ^ scramble[i % scramble.length]!;
          const enc = publicEncrypt({ key: pem, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING }, pw);
          send(new PacketWriter(enc.length + 4).bytes(enc));
          return;
        }
        fail(new BackendError(`unexpected packet 0x${(first ?? 0).toString(16)} during authentication`, 2027, 'HY000', 'SLUICE_BACKEND_PROTOCOL'));
      };
      const sendResponse = (fields: { capabilities: number; mariaCapabilities: number; maxPacketSize: number; collation: number }) => {
        const token = authToken('mysql_native_password', creds, scramble, secure) ?? Buffer.alloc(0);
        send(
          writeHandshakeResponse({
            ...fields,
            user: creds.user,
            authResponse: token,
            database: null,
            authPlugin: 'mysql_native_password',
            attributes: { _client_name: 'sluice', program_name: 'sluice' },
          }),
        );
      };
      const onData = (chunk: Buffer) => {
        try {
          this.framer!.push(chunk);
          while (this.framer!.ready.length > 0) onPacket(this.framer!.ready.shift()!);
        } catch (err) {
          fail(err as Error);
        }
      };
      this.socket.on('data', onData);
      this.socket.on('error', onError);
      this.socket.on('close', onClose);
    });
  }

  private attachDataPath(): void {
    const onChunk = (chunk: Buffer): void => {
      noteActivity();
      this.onData(chunk);
    };
    if (!readInto(this.socket, onChunk)) this.socket.on('data', onChunk);
    this.directWrite = canWriteDirect(this.socket);
    this.socket.on('error', (err: Error) => this.onSocketGone(err));
    this.socket.on('close', () => this.onSocketGone(null));
  }

  private onData(chunk: Buffer): void {
    if (!this.scanner.isActive() && !this.startNext()) {
      this.markBroken('unsolicited bytes from server');
      this.destroy();
      return;
    }
    this.feeding = true;
    try {
      let from = 0;
      for (;;) {
        const handler = this.scanner.handler;
        const extra = this.scanner.feed(chunk, from);
        if (!this.scanner.isActive() && (handler === EVICTED || handler === ABANDONED)) this.discardedResponseDone(handler);
        if (this.scanner.isActive()) {
          // Still streaming, or Sluice began a command of its own once the response ended (nothing can follow).
          if (extra > 0) this.markBroken('bytes after the end of a response');
          return;
        }
        // Response complete: the next pipelined command's response may follow in the same chunk.
        if (!this.startNext()) {
          if (extra > 0) this.markBroken('bytes after the end of a response');
          return;
        }
        if (extra === 0) return;
        from = chunk.length - extra;
      }
    } catch (err) {
      // A response we cannot follow: this connection's stream is unusable; the owner hears of it.
      this.markBroken((err as Error).message);
      this.destroy();
    } finally {
      this.feeding = false;
    }
  }

  /**
   * A response nobody reads any more has ended. If it changed the server session (a stored function, a
   * transaction left open), the statements behind it ran in that changed session: they are evicted and the
   * connection's tracked state is wrong, so it is not reused. An abandoned session's share of the connection
   * ends only now, so the connection cannot go back to the pool while its response still streams.
   */
  private discardedResponseDone(handler: ResponseHandler): void {
    if (this.scanner.statusSeen && (this.scanner.last.status & SESSION_CHANGED) !== 0) {
      this.markBroken('a discarded pipelined statement changed the session');
      if (this.shared) this.evictPipeline();
    }
    if (handler === ABANDONED && this.shared) this.pool?.leaveShared(this);
  }

  /** Arms the scanner for the next expected response; false when none is expected. */
  private startNext(): boolean {
    if (this.expectedHead === this.expected.length) {
      this.activeClient = null;
      this.setIdle();
      return false;
    }
    const next = this.expected[this.expectedHead]!;
    this.expected[this.expectedHead++] = null; // the entry holds a session: let it go
    if (this.expectedHead === this.expected.length) {
      this.expected.length = 0;
      this.expectedHead = 0;
    } else if (this.expectedHead >= 64 && this.expectedHead * 2 >= this.expected.length) {
      // A connection that never drains (joiners keep coming) must not grow its queue forever.
      this.expected.splice(0, this.expectedHead);
      this.expectedHead = 0;
    }
    this.activeClient = next.client;
    if (next.client !== null) this.busySince = performance.now();
    this.scanner.begin(next.kind, (this.capabilities & Capability.DEPRECATE_EOF) !== 0, next.binary, next.handler);
    return true;
  }

  /** No response outstanding any more (counted for busy polling, util/busy-poll.ts). */
  private setIdle(): void {
    if (!this.busy) return;
    this.busy = false;
    backendIdle();
  }

  /** Expects a response: followed now if nothing else is in flight, else queued behind. */
  private expect(kind: ResponseKind, binary: boolean, handler: ResponseHandler, client: PipelineClient | null): void {
    if (!this.busy) {
      this.busy = true;
      backendBusy();
    }
    if (!this.feeding && !this.scanner.isActive() && this.expectedHead === this.expected.length) {
      this.activeClient = client;
      if (client !== null) this.busySince = performance.now();
      this.scanner.begin(kind, (this.capabilities & Capability.DEPRECATE_EOF) !== 0, binary, handler);
      return;
    }
    this.expected.push({ kind, binary, handler, client });
  }

  /** Client statements queued behind the current response (not counting evicted or abandoned ones). */
  queuedClients(): number {
    let n = 0;
    for (let i = this.expectedHead; i < this.expected.length; i++) if (this.expected[i]!.client !== null) n++;
    return n;
  }

  /** Writes now, or behind pipelined bytes that are still waiting for the end of the turn. */
  private write(bytes: Buffer): void {
    if (this.batch.length > 0) this.batch.push(bytes);
    else writeTo(this.socket, bytes, this.directWrite);
  }

  /** Pipelined bytes are written at the end of the event-loop turn (see flushDirty). */
  private writeBatched(bytes: Buffer): void {
    if (this.batch.length === 0) {
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushDirty);
      }
    }
    this.batch.push(bytes);
  }

  /** True while pipelined bytes wait for the end of the turn: a statement joining now shares that write. */
  get batchPending(): boolean {
    return this.batch.length > 0;
  }

  flushBatch(): void {
    const b = this.batch;
    if (b.length === 0) return;
    this.batch = [];
    if (this.closed) return;
    writeTo(this.socket, b.length === 1 ? b[0]! : Buffer.concat(b), this.directWrite);
  }

  /**
   * A client statement on a shared connection: queued behind the statements already in flight, written
   * with the other statements of this turn (or at once: `now`, when nothing else is in flight and waiting for
   * the end of the turn would only add latency).
   */
  forwardPipelined(bytes: Buffer, kind: ResponseKind, binary: boolean, client: PipelineClient, now: boolean): void {
    this.expect(kind, binary, client, client);
    if (now) this.write(bytes);
    else this.writeBatched(bytes);
  }

  /**
   * A statement changed this connection's session: the pipelined statements queued behind it ran in that
   * changed session, so their responses are dropped and their sessions run them again elsewhere.
   */
  evictPipeline(): void {
    const evicted: PipelineClient[] = [];
    for (let i = this.expectedHead; i < this.expected.length; i++) {
      const e = this.expected[i]!;
      if (e.client === null) continue;
      evicted.push(e.client);
      e.handler = EVICTED;
      e.client = null;
      this.sharedUsers--;
    }
    if (this.pool !== null) this.pool.stats.evicted += evicted.length;
    for (const c of evicted) c.onPipelineEvicted(this);
  }

  /**
   * A pipelined client went away (closed) before its response: the response is consumed and dropped, and the
   * client's share of the connection ends with it (see discardedResponseDone).
   */
  abandonPipelined(client: PipelineClient): void {
    if (this.activeClient === client) {
      this.activeClient = null;
      this.scanner.handler = ABANDONED;
      return;
    }
    for (let i = this.expectedHead; i < this.expected.length; i++) {
      const e = this.expected[i]!;
      if (e.client !== client) continue;
      e.handler = ABANDONED;
      e.client = null;
      return;
    }
  }

  private onSocketGone(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    const error = err ?? new BackendError('backend connection closed', 2013, 'HY000', 'SLUICE_BACKEND_LOST');
    const pending = this.pendingInternal;
    this.pendingInternal = null;
    if (pending) pending.fail(error);
    this.scanner.reset();
    this.setIdle();
    // Pipelined statements still waiting for the end of the turn never reached the server: their sessions
    // run them again elsewhere (the last `unsent` expected responses are theirs).
    let unsent = this.shared ? this.batch.length : 0;
    this.batch = [];
    const rerun: PipelineClient[] = [];
    for (let i = this.expected.length - 1; i >= this.expectedHead && unsent > 0; i--, unsent--) {
      const e = this.expected[i]!;
      if (e.client === null) continue;
      rerun.push(e.client);
      e.client = null;
    }
    // Every other session with a pipelined statement in flight here hears of it, besides the owner.
    const clients: PipelineClient[] = [];
    if (this.activeClient !== null) clients.push(this.activeClient);
    for (let i = this.expectedHead; i < this.expected.length; i++) {
      const c = this.expected[i]!.client;
      if (c !== null) clients.push(c);
    }
    this.expected.length = 0;
    this.expectedHead = 0;
    this.activeClient = null;
    this.owner?.onBackendClosed(this, err);
    for (const c of clients) if (c !== this.owner) c.onBackendClosed(this, err);
    for (let i = rerun.length - 1; i >= 0; i--) rerun[i]!.onPipelineEvicted(this);
  }

  markBroken(_why: string): void {
    this.broken = true;
  }

  /** Forwards a client's command bytes; the response goes to `handler`. */
  forward(bytes: Buffer, kind: ResponseKind, binary: boolean, handler: ResponseHandler): void {
    if (kind !== NO_RESPONSE) this.expect(kind, binary, handler, null);
    this.write(bytes);
  }

  /**
   * Sends a command of Sluice's own (`first`, a COM_QUERY whose response goes to `firstHandler`) and the
   * client's command right behind it, in one write: one round trip. The first handler learns its result
   * synchronously, before any byte of the second response is handed on.
   */
  forwardBehind(first: Buffer, firstHandler: ResponseHandler, bytes: Buffer, kind: ResponseKind, binary: boolean, handler: ResponseHandler): void {
    this.expect(ResponseKind.Result, false, firstHandler, null);
    this.expect(kind, binary, handler, null);
    this.write(Buffer.concat([first, bytes]));
  }

  /** Sends a command of Sluice's own and collects its response. */
  command(payload: Buffer | PacketWriter, kind: ResponseKind, binary = false): Promise<Packet[]> {
    const bytes = payload instanceof PacketWriter ? payload.finish(0) : new PacketWriter(payload.length + 8).bytes(payload).finish(0);
    return this.commandFramed(bytes, kind, binary);
  }

  /** Like command(), with the packet(s) already framed (e.g. an auth reply continuing a sequence). */
  commandFramed(bytes: Buffer, kind: ResponseKind, binary = false): Promise<Packet[]> {
    if (this.closed) return Promise.reject(new BackendError('backend connection closed', 2013, 'HY000', 'SLUICE_BACKEND_LOST'));
    return new Promise<Packet[]>((resolve, reject) => {
      const collector = new InternalResponse(
        (packets) => {
          this.pendingInternal = null;
          resolve(packets);
        },
        (err) => {
          this.pendingInternal = null;
          reject(err);
        },
      );
      this.pendingInternal = collector;
      this.expect(kind, binary, collector, null);
      this.write(bytes);
    });
  }

  /** Runs SQL of Sluice's own; resolves with the packets of the (last) result. */
  query(sql: string): Promise<Packet[]> {
    return this.command(new PacketWriter(sql.length + 8).u8(Command.QUERY).string(sql), ResponseKind.Result);
  }

  /** Runs SQL and returns text rows (strings or null); for small internal result sets. */
  async queryRows(sql: string): Promise<Array<Array<string | null>>> {
    const packets = await this.query(sql);
    return decodeTextRows(packets, (this.capabilities & Capability.DEPRECATE_EOF) !== 0);
  }

  /** Sends a command that has no response (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA). */
  sendNoResponse(bytes: Buffer): void {
    this.write(bytes);
  }

  /**
   * COM_RESET_CONNECTION: back to a fresh session (tracking turned on again). The server keeps the current
   * schema and the MULTI_STATEMENTS option across a reset, so the schema stays tracked and the option is
   * set back to what the pool's profile expects.
   */
  async resetSession(restoreOption = true): Promise<void> {
    const schema = this.state.schema;
    await this.command(Buffer.from([Command.RESET_CONNECTION]), ResponseKind.Single);
    this.statements.clear();
    this.state.clear(BACKEND_BASELINE);
    this.state.setSchema(schema);
    await this.query(TRACKING_SQL);
    if (restoreOption) await this.restoreOption();
  }

  /** Sets the MULTI_STATEMENTS option back to the pool profile's value after a client changed it. */
  async restoreOption(): Promise<void> {
    if (!this.optionChanged) return;
    const option = this.multiStatements ? 0 : 1; // MYSQL_OPTION_MULTI_STATEMENTS_ON / _OFF
    await this.command(new PacketWriter(8).u8(Command.SET_OPTION).u16(option), ResponseKind.Single);
    this.optionChanged = false;
  }

  /**
   * Leaves the current schema (no statement can do that): COM_CHANGE_USER to the same account with no
   * database. The session starts afresh, as after a reset.
   */
  async clearSchema(): Promise<void> {
    const w = new PacketWriter(128)
      .u8(Command.CHANGE_USER)
      .nulString(this.creds.user);
    const token = authToken('mysql_native_password', this.creds, this.handshakeScramble, false) ?? Buffer.alloc(0);
    w.u8(token.length).bytes(token).u8(0).u16(DEFAULT_COLLATION_ID).nulString('mysql_native_password');
    if (this.capabilities & Capability.CONNECT_ATTRS) w.u8(0);
    let packets = await this.command(w, ResponseKind.Single);
    const first = packets[0]!;
    if (first.payload[0] === 0xfe) {
      const sw = parseAuthSwitchRequest(first.payload);
      const answer = authToken(sw.plugin, this.creds, sw.data, false);
      if (answer === null) throw new BackendError(`cannot answer auth plugin ${sw.plugin} on change user`, 1251, '08004');
      packets = await this.commandFramed(new PacketWriter(64).bytes(answer).finish((first.seq + 1) & 0xff), ResponseKind.Single);
    }
    this.statements.clear();
    this.state.clear(BACKEND_BASELINE);
    await this.query(TRACKING_SQL);
    await this.restoreOption();
    void packets;
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    if (!this.closed) this.onSocketGone(null);
  }

  /** Polite close: COM_QUIT then end. */
  quit(): void {
    if (this.closed) return;
    this.flushBatch(); // pipelined bytes of this turn go before the QUIT
    try {
      this.socket.end(Buffer.from([1, 0, 0, 0, Command.QUIT]));
    } catch {
      this.socket.destroy();
    }
  }
}

export interface BackendStatement {
  id: number;
  params: number;
  columns: number;
  /** The parameter types this server statement was last given (it remembers them); null before the first. */
  boundTypes: Buffer | null;
}

/** ResponseKind sentinel for commands without a response. */
export const NO_RESPONSE = 0 as ResponseKind;

function authToken(plugin: string, creds: BackendCredentials, scramble: Buffer, secure: boolean): Buffer | null {
  switch (plugin) {
    case 'mysql_native_password': {
      const stage1 = creds.stage1 ?? (creds.password !== undefined && creds.password !== '' ? sha1Of(creds.password) : null);
      return nativeToken(stage1, scramble);
    }
    case 'caching_sha2_password':
      return creds.password !== undefined ? sha2Token(creds.password, scramble) : null;
    case 'mysql_clear_password':
      return secure && creds.password !== undefined ? Buffer.from(creds.password + '\0') : null;
    default:
      return null;
  }
}

function sha1Of(pw: string): Buffer {
  return nativeStage1(pw);
}

/** Decodes a text result set into rows of strings (NULL → null). */
export function decodeTextRows(packets: Packet[], deprecateEof: boolean): Array<Array<string | null>> {
  if (packets.length === 0) return [];
  const first = packets[0]!.payload;
  if (first[0] === 0x00 || first[0] === 0xff) return [];
  const columns = first[0]!;
  let i = 1 + columns + (deprecateEof ? 0 : 1);
  const rows: Array<Array<string | null>> = [];
  for (; i < packets.length; i++) {
    const p = packets[i]!.payload;
    if ((p[0] === 0xfe && p.length < 0xffffff && (deprecateEof || p.length < 9)) || p[0] === 0xff) break;
    const row: Array<string | null> = [];
    const r = new PayloadReader(p);
    for (let c = 0; c < columns; c++) row.push(r.lenencStringOrNull());
    rows.push(row);
  }
  return rows;
}
