// One client connection: login, then the command loop. The loop is a small state machine:
//   Idle → (Acquiring) → (Syncing) → Forwarding → Idle
// A command takes a backend connection from the pool (or keeps the one it is pinned to), brings that
// connection's session in line with the client's (only the differences), forwards the client's bytes
// and streams the response back through the ResponseScanner. When the response ends, the server's
// status flags and the statement's lexer flags decide whether the client must stay pinned; otherwise
// the connection goes back to the pool at once.
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { BackendConnection, NO_RESPONSE, type PipelineClient } from '../backend/connection.js';
import type { BackendPool, PoolWaiter, StickyHolder } from '../backend/pool.js';
import { SessionState, planSync, quoteUserVar } from '../backend/session-state.js';
import { charsetVariables, collationById } from '../backend/collations.js';
import { BackendError } from '../backend/internal-response.js';
import { GtidWaitResponse } from '../backend/gtid-wait.js';
import { Capability, Command, CursorType, PROFILE_CAPABILITIES, ServerStatus } from '../protocol/constants.js';
import { PacketFramer, PacketTooLargeError, type Packet } from '../protocol/framer.js';
import { ControlKind, ResponseKind, type ResponseHandler } from '../protocol/response-scanner.js';
import { ER, type ErrorSpec } from '../protocol/errors.js';
import { errPacket, okPacket, parseOk, writeOk } from '../protocol/packets.js';
import { PacketWriter, framePayload } from '../protocol/writer.js';
import { PayloadReader } from '../protocol/reader.js';
import { newScramble } from '../protocol/auth.js';
import { parseColumnDefinition, ColumnType } from '../protocol/column.js';
import { textResultSet } from '../protocol/resultset.js';
import { isAdminStatement, isReloadStatement, isSwitchoverStatement, runAdminStatement, runSwitchover } from '../admin/sql.js';
import { StatementFlag, StatementKind, lexStatement, type LexOptions, type StatementInfo } from '../router/lexer.js';
import { decideRoute, isReadKind, replicaEligible, type RoutePreference } from '../router/route.js';
import { digest, type Digest } from '../router/digest.js';
import { splitStatements } from '../router/split-statements.js';
import { BALANCE_POLICIES, Balancer, type BalancePolicy } from '../router/balancer.js';
import { mergeGtidPositions, type BackendView } from '../router/topology-snapshot.js';
import type { ConsistencyLevel } from './context.js';
import { AuthFailure, authenticate, parseChangeUser, verifyUser, type AuthIO } from './authenticate.js';
import { PinReason, type PinReasonName, type ProxyContext, type SessionHandle } from './context.js';
import { preparePayload, readExecuteHeader, statementKey, withParamTypes, type ClientStatement } from './prepared.js';
import type { ClientUser } from './users.js';
import type { HeldStatement } from '../failover/buffer.js';
import type { OutcomeWaiter, VerdictWaiter } from '../failover/manager.js';
import { ReplayMismatch, ResponseChecksum, TransactionLog, replayTransaction, type RecordedStatement } from '../failover/replay.js';
import { plainInsert, type WriteSignature } from '../failover/binlog-match.js';
import { readInto } from '../util/socket-read.js';
import { canWriteDirect, writeTo } from '../util/socket-write.js';
import { noteActivity } from '../util/busy-poll.js';

const LOGIN_PACKET_LIMIT = 65536;
const EMPTY = Buffer.alloc(0);

const enum LoginStage {
  /** Waiting for the client's first packet (handshake response or SSLRequest). */
  First = 0,
  /** SSLRequest seen: bytes are TLS records until the socket is upgraded. */
  TlsPending,
  /** Later login packets go through the framer. */
  Framed,
}

const enum Phase {
  Handshake = 0,
  Idle,
  Acquiring,
  /** Sluice's own commands on the backend before the client's (session sync, re-prepare). */
  Preparing,
  Forwarding,
  /** LOAD DATA LOCAL INFILE: client packets go to the backend until the empty packet. */
  Infile,
  /** Sluice's own commands after the response (user variable capture, reset). */
  Finishing,
  Closed,
}

export class ClientSession implements PipelineClient, PoolWaiter, SessionHandle, AuthIO, StickyHolder, HeldStatement, OutcomeWaiter, VerdictWaiter {
  readonly id: number;
  userName = '';
  readonly connectedAt = Date.now();
  private socket: net.Socket;
  /** The socket is past login and plain: `writeTo` may bypass its Writable. */
  private directWrite = false;
  private readonly framer: PacketFramer;
  private phase = Phase.Handshake as Phase;
  private scramble = newScramble();
  remoteHost: string;
  secure = false;

  // --- login
  private loginStage = LoginStage.First as LoginStage;
  private preLogin: Buffer = EMPTY;
  private earlyTls: Buffer[] = [];
  private authQueue: Packet[] = [];
  private authWaiter: ((p: Packet) => void) | null = null;
  private authReject: ((e: Error) => void) | null = null;
  private user: ClientUser | null = null;

  // --- session
  private capabilities = 0;
  private profileCaps = 0;
  private collation = 45;
  /** The primary's pool for this user and profile (re-resolved when the primary moves: poolEpoch). */
  private pool: BackendPool | null = null;
  private poolEpoch = 0;
  readonly state = new SessionState();
  private backend: BackendConnection | null = null;
  private readonly pins = new Set<PinReasonName>();
  /** Keep the backend for the next statement only (unread warnings, FOUND_ROWS). */
  private stickyNext = false;
  private lastStatus: number = ServerStatus.AUTOCOMMIT;
  private readonly statements = new Map<number, ClientStatement>();
  private nextStatementId = 1;
  private lastPreparedId = 0;

  // --- the command in flight
  private readonly queue: Packet[] = [];
  private pumping = false;
  private cur: Packet | null = null;
  private curBytes: Buffer = Buffer.alloc(0);
  private curKind: ResponseKind = ResponseKind.Result;
  private curBinary = false;
  private curInfo: StatementInfo | null = null;
  private curStmt: ClientStatement | null = null;
  /** The replica chosen for the current statement, or null when it runs on the primary. */
  private curReplica: BackendView | null = null;
  private routeError: BackendError | null = null;
  /** Times the current statement was moved to another backend after a replica failed before answering. */
  private retries = 0;
  private waitingPool: BackendPool | null = null;
  /** Read/write splitting and consistency settings of this session (user defaults, SET sluice_*). */
  private routePreference: RoutePreference = 'auto';
  private consistencyLevel: ConsistencyLevel = 'session';
  private consistencyTimeoutMs = 1000;
  /** A balancer of the session's own after SET sluice_policy; null = the cluster's. */
  private balancer: Balancer | null = null;
  /** Reused per statement (the lexer only reads it). */
  private readonly lexOpts: LexOptions = { noBackslashEscapes: false, ansiQuotes: false };
  /** Digest of the statement in flight (COM_QUERY / COM_STMT_EXECUTE) and when it was received. */
  private curDigest: Digest | null = null;
  private startedAt = 0;
  /** GTID of this session's last write (from session tracking), for `session` consistency. */
  private lastWriteGtid = '';
  /** GTID to wait for on the replica, sent in the same write as the statement; '' = none. */
  private waitGtid = '';
  /** When the current replica read was written (performance.now()), for the latency EWMA. */
  private sentAt = 0;
  /** The wait's response while the statement behind it is being answered. */
  private waitResponse: GtidWaitResponse | null = null;
  /** COM_STMT_EXECUTE: offset of the new-params-bound byte in the payload (-1 without parameters). */
  private curBoundFlagOffset = -1;
  private curStateChanged = false;
  private curVarsChanged = false;
  /** Bytes of the current response already went to the client. */
  private responded = false;
  private draining = false;
  private backendPaused = false;

  // --- pipelining (pool.pipelining): short reads of several sessions on one shared connection
  /** The current statement runs on a shared connection (this.backend), queued with others' statements. */
  private shared = false;
  /** The current statement may be pipelined (decided when acquiring a connection). */
  private curPipelinable = false;
  /** The current statement was evicted from a pipeline once: it runs on a connection of its own now. */
  private noPipeline = false;

  // --- failover
  /** Held in the failover buffer, or waiting to learn whether an interrupted write committed. */
  private held = false;
  /** The open transaction's statements and response checksums (failover.replay), or null. */
  private txLog: TransactionLog | null = null;
  /** The statement of txLog whose response is being checksummed now. */
  private recording: RecordedStatement | null = null;
  private readonly checksum = new ResponseChecksum();
  /** A transaction cut off by a failover: replayed on the primary before the next statement runs there. */
  private replayLog: TransactionLog | null = null;
  /** The transaction was lost and cannot be replayed: the next statement gets this error (not a ROLLBACK). */
  private txLostReason: string | null = null;
  /** Positions committed before the current primary statement was sent (to prove an interrupted write did not commit). */
  readonly sentAfter: string[] = ['', ''];
  /** Server thread id of the primary connection that was cut last (failover outcome proof). */
  lostThreadId = 0;
  /** The current statement's bytes were written to a backend (until then it cannot have run). */
  private curSent = false;
  /** Error number of the ERR that ended the current response (0 = none), for statement stats. */
  private curErrno = 0;
  /**
   * Response bytes not yet written: one contiguous range of one received chunk. Ranges that follow each
   * other are merged, so an unmodified response chunk goes out in one write, as a plain relay would.
   */
  private outBuf: Buffer | null = null;
  private outStart = 0;
  private outEnd = 0;
  private readonly resumeClient = (): void => {
    this.socket.resume();
  };
  private readonly onDrain = (): void => {
    if (this.backendPaused && this.backend) {
      this.backendPaused = false;
      this.backend.socket.resume();
    }
  };

  constructor(
    private readonly ctx: ProxyContext,
    socket: net.Socket,
    unixSocket: boolean,
  ) {
    this.id = ctx.allocateId();
    this.socket = socket;
    this.remoteHost = unixSocket ? 'localhost' : normalizeHost(socket.remoteAddress ?? 'unknown');
    // Login packets are small; a huge length here means a client that does not speak MySQL.
    this.framer = new PacketFramer(LOGIN_PACKET_LIMIT);
    socket.setNoDelay(true);
    this.attachSocket(socket);
  }

  /** For operators (admin API): what the session is doing. */
  currentStatement(): string | null {
    const p = this.cur;
    if (p === null) return null;
    if (p.payload[0] === Command.QUERY) return p.payload.toString('utf8', 1, Math.min(p.payload.length, 4097));
    return this.curStmt !== null ? this.curStmt.sql.toString('utf8', 0, Math.min(this.curStmt.sql.length, 4096)) : null;
  }

  currentBackendName(): string | null {
    return this.backend?.pool?.endpoint.name ?? null;
  }

  private isClosed(): boolean {
    return this.phase === Phase.Closed;
  }

  get idle(): boolean {
    return this.phase === Phase.Idle && this.queue.length === 0;
  }

  currentBackendThreadId(): number {
    // A shared connection runs other sessions' statements too: KILL must not reach them.
    return this.shared ? 0 : (this.backend?.threadId ?? 0);
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    noteActivity();
    this.onClientData(chunk);
  };

  private attachSocket(socket: net.Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('drain', this.onDrain);
  }

  async start(): Promise<void> {
    const ctx = this.ctx;
    ctx.counters.clientConnections++;
    ctx.counters.clientConnectionsTotal++;
    ctx.sessions.set(this.id, this);
    if (ctx.counters.clientConnections > ctx.config.limits.max_client_connections || ctx.draining) {
      this.socket.end(errPacket(0, ER.TOO_MANY_CONNECTIONS, 'Too many connections'));
      this.close();
      return;
    }
    const timer = setTimeout(() => this.failAuth(new Error('login timed out')), 10000);
    try {
      const result = await authenticate(ctx, this, this.id, this.scramble);
      // Commands are read through the shared read buffer (plain sockets; TLS ones keep 'data' events).
      if (!this.secure && readInto(this.socket, this.onSocketData)) this.socket.off('data', this.onSocketData);
      // Responses are written straight to the handle when nothing is queued (plain sockets; util/socket-write.ts).
      this.directWrite = canWriteDirect(this.socket);
      this.capabilities = result.capabilities;
      this.profileCaps = result.capabilities & PROFILE_CAPABILITIES;
      await this.beginSession(result.user, result.collation, result.database ?? result.user.defaultSchema, result.nextSeq);
    } catch (err) {
      this.rejectLogin(err);
    } finally {
      clearTimeout(timer);
    }
  }

  private rejectLogin(err: unknown): void {
    if (this.phase === Phase.Closed) return;
    if (err instanceof AuthFailure && err.packet) this.socket.end(err.packet);
    else if (err instanceof BackendError) this.socket.end(errPacket(2, { code: err.errno, sqlState: err.sqlState }, err.message));
    else this.socket.end(errPacket(2, ER.HANDSHAKE_ERROR, 'Bad handshake'));
    this.ctx.log.debug({ session: this.id, host: this.remoteHost, err: (err as Error).message }, 'login failed');
    this.close();
  }

  /** After authentication (login or COM_CHANGE_USER): limits, session state, default schema, OK. */
  private async beginSession(user: ClientUser, collation: number, database: string | null, okSeq: number): Promise<void> {
    const ctx = this.ctx;
    if (this.user) this.releaseUserSlot();
    if (user.maxConnections > 0 && (ctx.userConnections.get(user.name) ?? 0) >= user.maxConnections) {
      throw new AuthFailure('user limit', errPacket(okSeq, ER.TOO_MANY_USER_CONNECTIONS, `User ${user.name} already has more than 'max_user_connections' active connections`));
    }
    ctx.userConnections.set(user.name, (ctx.userConnections.get(user.name) ?? 0) + 1);
    this.user = user;
    this.userName = user.name;
    this.collation = collation;
    this.state.clear(charsetVariables(collation));
    this.pool = ctx.pools.get(ctx.primary, user.backend, this.profileCaps);
    this.poolEpoch = ctx.primaryEpoch;
    this.applyUserRouting(user);
    if (database !== null) {
      // The server would refuse an unknown or forbidden schema at login: ask it.
      const conn = await this.acquireNow();
      if (this.isClosed()) {
        this.giveBack(conn);
        return;
      }
      try {
        await this.syncTo(conn);
        await conn.command(new PacketWriter(database.length + 4).u8(Command.INIT_DB).string(database), ResponseKind.Single);
        conn.state.setSchema(database);
        this.state.setSchema(database);
      } catch (err) {
        // Its state is unknown now (a sync may have stopped half way).
        conn.broken = true;
        this.giveBack(conn);
        if (err instanceof BackendError) throw new AuthFailure(err.message, errPacket(okSeq, { code: err.errno, sqlState: err.sqlState }, err.message));
        throw err;
      }
      this.giveBack(conn);
    }
    if (this.isClosed()) return;
    this.phase = Phase.Idle;
    this.framer.setMaxPayload(ctx.config.limits.max_packet_size);
    this.socket.write(okPacket(okSeq, { status: ServerStatus.AUTOCOMMIT }, this.capabilities));
    this.lastStatus = ServerStatus.AUTOCOMMIT;
    this.pump();
  }

  /** The user's routing defaults (also what COM_RESET_CONNECTION returns SET sluice_* to). */
  private applyUserRouting(user: ClientUser): void {
    this.routePreference = user.route;
    this.consistencyLevel = user.consistency ?? this.ctx.config.routing.consistency;
    this.consistencyTimeoutMs = this.ctx.config.routing.consistency_timeout_ms;
    this.balancer = null;
  }

  private acquireNow(): Promise<BackendConnection> {
    const pool = this.primaryPool();
    const conn = pool.tryAcquire();
    if (conn) return Promise.resolve(conn);
    return new Promise((resolve, reject) => {
      pool.wait({ onConnectionAcquired: resolve, onConnectionFailed: reject });
    });
  }

  private giveBack(conn: BackendConnection): void {
    conn.pool!.release(conn);
  }

  // ------------------------------------------------------------------------------------------------
  // AuthIO

  readPacket(): Promise<Packet> {
    const p = this.authQueue.shift();
    if (p) return Promise.resolve(p);
    return new Promise((resolve, reject) => {
      this.authWaiter = resolve;
      this.authReject = reject;
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  upgradeTls(): Promise<void> {
    return new Promise((resolve, reject) => {
      const raw = this.socket;
      raw.removeAllListeners('data');
      raw.removeAllListeners('error');
      raw.removeAllListeners('close');
      raw.removeAllListeners('drain');
      // The client may have sent its TLS ClientHello right behind the SSLRequest (see onLoginBytes).
      const early = Buffer.concat(this.earlyTls);
      this.earlyTls = [];
      this.loginStage = LoginStage.Framed;
      const transport = early.length > 0 ? replayingDuplex(raw, Buffer.from(early)) : raw;
      const secure = new tls.TLSSocket(transport as net.Socket, { isServer: true, secureContext: this.ctx.secureContext! });
      this.socket = secure;
      this.secure = true;
      secure.once('secure', () => resolve());
      secure.once('error', (err) => reject(err));
      this.attachSocket(secure);
    });
  }

  private failAuth(err: Error): void {
    const reject = this.authReject;
    this.authWaiter = null;
    this.authReject = null;
    if (reject) reject(err);
  }

  // ------------------------------------------------------------------------------------------------
  // Client input

  private onClientData(chunk: Buffer): void {
    if (this.phase === Phase.Handshake && this.loginStage !== LoginStage.Framed) {
      this.onLoginBytes(chunk);
      return;
    }
    try {
      this.framer.push(chunk);
    } catch (err) {
      if (this.phase === Phase.Handshake) {
        this.sendError(ER.HANDSHAKE_ERROR, 'Bad handshake', 2);
      } else if (err instanceof PacketTooLargeError) {
        this.sendError(ER.NET_PACKET_TOO_LARGE, "Got a packet bigger than 'max_allowed_packet' bytes", 1);
        this.ctx.log.info({ session: this.id, size: err.size }, 'client packet too large; closing');
      }
      this.socket.end();
      this.close();
      return;
    }
    const ready = this.framer.ready;
    if (ready.length === 0) return;
    if (this.phase === Phase.Handshake) {
      while (ready.length > 0) this.deliverLoginPacket(ready.shift()!);
      return;
    }
    if (this.phase === Phase.Infile) {
      this.forwardInfile();
      if (ready.length === 0) return;
    }
    for (let i = 0; i < ready.length; i++) this.queue.push(ready[i]!);
    ready.length = 0;
    this.pump();
  }

  /**
   * The client's first packet is read here, not by the framer: if it is an SSLRequest, the bytes behind it
   * are the TLS ClientHello (possibly in the same chunk), which must reach the TLS layer untouched.
   */
  private onLoginBytes(chunk: Buffer): void {
    if (this.loginStage === LoginStage.TlsPending) {
      this.earlyTls.push(chunk);
      return;
    }
    this.preLogin = this.preLogin.length === 0 ? chunk : Buffer.concat([this.preLogin, chunk]);
    const pre = this.preLogin;
    if (pre.length < 4) return;
    const len = pre.readUIntLE(0, 3);
    if (len > LOGIN_PACKET_LIMIT) {
      this.sendError(ER.HANDSHAKE_ERROR, 'Bad handshake', 2);
      this.socket.end();
      this.close();
      return;
    }
    if (pre.length < 4 + len) return;
    const packet: Packet = { payload: pre.subarray(4, 4 + len), seq: pre[3]!, lastSeq: pre[3]!, raw: pre.subarray(0, 4 + len) };
    const rest = pre.subarray(4 + len);
    this.preLogin = EMPTY;
    const sslRequest = len === 32 && (pre.readUInt32LE(4) & Capability.SSL) !== 0;
    this.loginStage = sslRequest ? LoginStage.TlsPending : LoginStage.Framed;
    if (sslRequest) {
      if (rest.length > 0) this.earlyTls.push(rest);
      this.deliverLoginPacket(packet);
      return;
    }
    this.deliverLoginPacket(packet);
    if (rest.length > 0) this.onClientData(rest);
  }

  private deliverLoginPacket(p: Packet): void {
    const waiter = this.authWaiter;
    if (waiter) {
      this.authWaiter = null;
      this.authReject = null;
      waiter(p);
    } else this.authQueue.push(p);
  }

  private forwardInfile(): void {
    const ready = this.framer.ready;
    const conn = this.backend!;
    while (ready.length > 0 && this.phase === Phase.Infile) {
      const p = ready.shift()!;
      if (!conn.socket.write(p.raw ?? framePayload(p.payload, p.seq))) {
        // The server reads the file slower than the client sends it: stop reading the client meanwhile.
        this.socket.pause();
        conn.socket.once('drain', this.resumeClient);
      }
      if (p.payload.length === 0) this.phase = Phase.Forwarding; // end of file; the server answers OK/ERR
    }
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.phase === Phase.Idle && this.queue.length > 0) this.dispatch(this.queue.shift()!);
      if (this.phase === Phase.Idle && this.draining) this.closeGracefully();
    } finally {
      this.pumping = false;
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Commands

  private dispatch(p: Packet): void {
    if (this.stickyNext) this.backend?.pool?.removeSticky(this);
    this.retries = 0;
    this.noPipeline = false;
    this.readOnlyRetried = false;
    this.curDigest = null;
    this.cur = p;
    this.responded = false;
    this.curInfo = null;
    this.curStmt = null;
    this.curStateChanged = false;
    this.curVarsChanged = false;
    this.ctx.counters.statements++;
    const payload = p.payload;
    if (payload.length === 0) {
      this.sendError(ER.MALFORMED_PACKET, 'Malformed communication packet.', 1);
      this.socket.end();
      this.close();
      return;
    }
    switch (payload[0]) {
      case Command.QUERY:
        return this.onQuery(p);
      case Command.PING:
        return this.replyOk();
      case Command.QUIT:
        this.socket.end();
        this.close();
        return;
      case Command.INIT_DB:
        return this.execute(p, ResponseKind.Single, false);
      case Command.FIELD_LIST:
        return this.execute(p, ResponseKind.FieldList, false);
      case Command.STATISTICS:
        return this.execute(p, ResponseKind.Statistics, false);
      case Command.REFRESH:
      case Command.DEBUG:
        return this.execute(p, ResponseKind.Single, false);
      case Command.SET_OPTION:
        this.addPin(PinReason.SET_OPTION);
        return this.execute(p, ResponseKind.Single, false);
      case Command.STMT_PREPARE:
        this.lastPreparedId = 0; // as the server: EXECUTE(-1) after a failed prepare is unknown
        return this.execute(p, ResponseKind.Prepare, false);
      case Command.STMT_EXECUTE:
        return this.onExecute(p);
      case Command.STMT_FETCH:
        return this.onFetch(p);
      case Command.STMT_SEND_LONG_DATA:
        return this.onLongData(p);
      case Command.STMT_CLOSE:
        return this.onStmtClose(p);
      case Command.STMT_RESET:
        return this.onStmtReset(p);
      case Command.RESET_CONNECTION:
        return void this.onResetConnection();
      case Command.CHANGE_USER:
        return void this.onChangeUser(p);
      case Command.PROCESS_KILL:
        return this.onKill(payload.length >= 5 ? payload.readUInt32LE(1) : 0, false);
      default:
        this.sendError(ER.UNKNOWN_COM, 'Unknown command', 1);
        this.finishLocal();
    }
  }

  private onQuery(p: Packet): void {
    const opts = this.lexOptions();
    const info = lexStatement(p.payload, 1, p.payload.length, opts);
    this.curInfo = info;
    this.curDigest = digest(p.payload, 1, p.payload.length, opts);
    this.startedAt = performance.now();
    if (info.kind === StatementKind.Kill && info.kill !== null && !info.kill.queryId) {
      return this.onKill(info.kill.id, info.kill.query);
    }
    if (info.kind === StatementKind.Sluice) return this.onSluiceStatement(p.payload.toString('utf8', 1));
    if (info.kind === StatementKind.Set && p.payload.length < 256 && SLUICE_SET.test(p.payload.toString('latin1', 1))) {
      return this.onSluiceSet(p.payload.toString('utf8', 1));
    }
    this.execute(p, ResponseKind.Result, false);
  }

  /** Starts a command that runs on a backend connection. */
  private execute(p: Packet, kind: ResponseKind, binary: boolean): void {
    if (this.txLostReason !== null) {
      // The transaction this statement belongs to was lost in a failover and could not be replayed.
      const why = this.txLostReason;
      this.txLostReason = null;
      if (this.curInfo?.kind === StatementKind.Rollback) return this.replyOk();
      this.curKind = kind;
      return this.failStatement(transactionLost(why));
    }
    this.curBytes = p.raw ?? framePayload(p.payload, p.seq);
    this.curSent = false;
    this.curKind = kind;
    this.curBinary = binary;
    this.curReplica = null;
    this.routeError = null;
    this.waitGtid = '';
    this.waitResponse = null;
    this.curPipelinable = false;
    let conn = this.backend;
    if (conn !== null && this.ctx.config.multiplexing && conn.pool !== null && conn.pool.endpoint.name !== this.ctx.primary.name && !this.mayStayOnReplica()) {
      // A replica connection held for this session, and a statement the primary must run: the replica's
      // session state (a pin taken there) cannot follow, so it is reset and left behind.
      this.ctx.log.warn({ session: this.id, replica: conn.pool.endpoint.name, pins: [...this.pins] }, 'leaving a replica connection for a statement that must run on the primary');
      this.backend = null;
      conn.pool.removeSticky(this);
      this.pins.delete(PinReason.UNTRACKED_STATE);
      this.pins.delete(PinReason.TRANSACTION);
      this.stickyNext = false;
      const pool = conn.pool;
      const left = conn;
      void left.resetSession().then(
        () => pool.release(left),
        () => {
          pool.discard(left);
          left.destroy();
        },
      );
      conn = null;
    }
    if (conn !== null && this.pins.size === 0 && this.ctx.config.multiplexing) {
      // Held only as a courtesy (warnings of the last statement): keep it if this statement goes there
      // too, or if it reads those warnings.
      const target = this.curInfo !== null && readsDiagnostics(p.payload, this.curInfo) ? conn.pool : this.choosePool();
      if (target !== conn.pool || this.routeError !== null) {
        this.backend = null;
        conn.pool?.removeSticky(this);
        this.stickyNext = false;
        conn.pool!.release(conn);
        conn = null;
        return this.acquireFrom(target ?? this.primaryPool());
      }
    }
    if (conn) return this.onConnectionReady(conn);
    this.acquireFrom(this.ctx.config.multiplexing ? this.choosePool() : this.primaryPool());
  }

  /** The primary's pool for this session (follows the primary when it moves). */
  private primaryPool(): BackendPool {
    const ctx = this.ctx;
    if (this.poolEpoch !== ctx.primaryEpoch || this.pool!.isClosed) {
      this.poolEpoch = ctx.primaryEpoch;
      this.pool = ctx.pools.get(ctx.primary, this.user!.backend, this.profileCaps);
    }
    return this.pool!;
  }

  // ------------------------------------------------------------------------------------------------
  // Failover: holding, re-running, replaying

  /** Waits in the failover buffer for a primary (or fails at once when a buffer limit forbids it). */
  private holdForPrimary(): void {
    const fo = this.ctx.failover!;
    if (!fo.buffer.hold(this, this.curBytes.length)) return this.failStatement(fo.buffer.refusal());
    this.phase = Phase.Acquiring;
    this.held = true;
  }

  onFailoverReleased(): void {
    this.held = false;
    if (this.phase === Phase.Closed || this.cur === null) return;
    this.phase = Phase.Idle;
    this.execute(this.cur, this.curKind, this.curBinary);
  }

  onFailoverRejected(err: BackendError): void {
    this.held = false;
    if (this.phase === Phase.Closed) return;
    this.failStatement(err);
  }

  /** An interrupted write's fate is known: run it again (it did not commit), or say the outcome is unknown. */
  /** What the interrupted write would have binlogged, to look for it on the new primary (failover). */
  outcomeSignature(): WriteSignature | null {
    // Only statements whose binlogged text is known to be the text sent (row DML: Annotate_rows holds the
    // query as received). Anything else (prepared statements, multi-statements, DDL the server may rewrite)
    // could be missed in the binlog and wrongly judged "not committed": those stay unknown.
    const cur = this.cur;
    if (cur === null || cur.payload[0] !== Command.QUERY) return null;
    const opts = this.lexOptions();
    const log = this.replayLog;
    if (log !== null) {
      // An interrupted COMMIT: the transaction's writes, in order; its OK has no affected rows.
      if (this.curInfo?.kind !== StatementKind.Commit) return null;
      const texts: string[] = [];
      for (const st of log.statements) {
        if (st.binary || !isAscii(st.bytes, 5)) return null;
        const info = lexStatement(st.bytes, 5, st.bytes.length, opts);
        if (info.flags & StatementFlag.MULTI_STATEMENT) return null;
        if (info.kind === StatementKind.Begin || info.kind === StatementKind.Commit || (isReadKind(info.kind) && !(info.flags & StatementFlag.USER_VAR_WRITE))) continue;
        if (!isRowDml(info.kind)) return null;
        texts.push(binlogText(st.bytes.toString('latin1', 5)));
      }
      return { texts, affectedRows: texts.length > 0 ? 0 : null, insertTable: null };
    }
    const info = this.curInfo;
    if (info === null || !isRowDml(info.kind) || info.flags & StatementFlag.MULTI_STATEMENT || !isAscii(cur.payload, 1)) return null;
    const sql = binlogText(cur.payload.toString('latin1', 1));
    const insert = plainInsert(sql);
    if (insert === null) return { texts: [sql], affectedRows: null, insertTable: null };
    const schema = insert.schema ?? this.state.schema;
    return { texts: [sql], affectedRows: insert.rows, insertTable: schema === null ? null : { schema, table: insert.table } };
  }

  onOutcome(outcome: 'not_committed' | 'committed' | 'unknown', why: string, affectedRows = 0, gtid = ''): void {
    this.held = false;
    if (this.phase === Phase.Closed || this.cur === null) return;
    if (outcome === 'committed') {
      if (gtid !== '') this.lastWriteGtid = this.lastWriteGtid === '' ? gtid : mergeGtidPositions(this.lastWriteGtid, gtid);
      // It committed before the failure; the client gets the OK it would have got.
      this.ctx.log.info({ session: this.id, why }, 'interrupted write had committed; answering OK');
      const wasCommit = this.replayLog !== null;
      this.replayLog = null;
      this.lastStatus = ServerStatus.AUTOCOMMIT;
      this.writeClient(okPacket((this.cur.lastSeq + 1) & 0xff, { affectedRows: wasCommit ? 0 : affectedRows, status: this.lastStatus }, this.capabilities));
      return this.finishLocal();
    }
    if (outcome === 'not_committed') {
      this.ctx.log.info({ session: this.id, why }, 'interrupted write did not commit; running it again');
      this.phase = Phase.Idle;
      this.execute(this.cur, this.curKind, this.curBinary);
      return;
    }
    this.replayLog = null;
    this.ctx.log.warn({ session: this.id, why }, 'interrupted write: outcome unknown');
    this.failStatement(
      new BackendError(
        `Sluice: the primary failed while this statement was being committed; its outcome is unknown (it may or may not have been committed): ${why}`,
        ER.ERROR_DURING_COMMIT.code,
        ER.ERROR_DURING_COMMIT.sqlState,
        'SLUICE_OUTCOME_UNKNOWN',
      ),
    );
  }

  private failStatement(e: BackendError): void {
    if (this.curKind !== NO_RESPONSE) this.sendError({ code: e.errno, sqlState: e.sqlState }, e.message, (this.cur?.lastSeq ?? 0) + 1);
    this.finishLocal();
  }

  /**
   * A connection to the primary broke (or the primary moved away from it). Returns true when the failover
   * feature took the session over: the statement is held, re-run, replayed or answered; false leaves the
   * classic handling (error, and closing the client when state was lost).
   */
  private onPrimaryConnectionLost(inFlight: boolean, pinsBefore: ReadonlySet<PinReasonName>): boolean {
    const fo = this.ctx.failover!;
    fo.suspect();
    const cur = this.cur;
    if (inFlight && cur !== null && !forwardsToBackend(cur, this.curInfo)) {
      // Sluice's own command (SLUICE …, a reset) was using the connection: its own code path answers.
      return false;
    }
    const inTransaction = pinsBefore.has(PinReason.TRANSACTION) || this.replayLog !== null || this.txLog !== null || !this.autocommit();
    let onlyTransaction = true;
    for (const r of pinsBefore) if (r !== PinReason.TRANSACTION) onlyTransaction = false;
    if (inTransaction) {
      if (!onlyTransaction) return false; // locks, temp tables …: not replayable state
      const log = this.replayLog ?? this.txLog;
      // The statement cut off has no complete response to compare: it is run again after the replay.
      if (log !== null && this.recording !== null && log.statements[log.statements.length - 1] === this.recording) log.statements.pop();
      this.txLog = null;
      this.recording = null;
      const replay = this.ctx.config.failover.replay.enabled && log !== null && log.replayable;
      if (!replay) {
        const why = log === null || !this.ctx.config.failover.replay.enabled ? 'transaction replay is off' : log.why;
        this.replayLog = null;
        fo.count('replayMismatches');
        if (!inFlight || cur === null || this.responded) {
          if (inFlight && this.responded) return false;
          this.txLostReason = why;
          return true;
        }
        this.failStatement(transactionLost(why));
        return true;
      }
      this.replayLog = log;
      if (!inFlight || cur === null) return true; // the next statement replays it first
      if (this.responded) return false;
      const kind = this.curInfo?.kind;
      if (kind === StatementKind.Rollback) {
        this.replayLog = null;
        this.replyOk(); // the transaction is gone: that is what ROLLBACK asked for
        return true;
      }
      // BEGIN / COMMIT / SET with nothing before them in the transaction commit nothing: run them again.
      const commitsNothing = log.statements.length === 0 && (kind === StatementKind.Begin || kind === StatementKind.Commit || kind === StatementKind.Set);
      if (this.curSent && !commitsNothing && (kind === undefined || mayCommit(kind))) {
        // COMMIT, or a statement that commits implicitly (DDL, SET autocommit=1, BEGIN, LOCK TABLES …): it
        // may have committed the transaction; replaying it blindly could commit it twice.
        this.phase = Phase.Acquiring;
        this.held = true;
        fo.awaitOutcome(this);
        return true;
      }
      this.phase = Phase.Idle;
      this.execute(cur, this.curKind, this.curBinary);
      return true;
    }
    // Locks, temporary tables, variables the server held for this session are gone with it: say so.
    if (pinsBefore.size > 0) return false;
    if (!inFlight || cur === null) return true;
    if (this.responded) return false;
    if (this.curSent && this.isWrite()) {
      this.phase = Phase.Acquiring;
      this.held = true;
      fo.awaitOutcome(this);
      return true;
    }
    fo.count('retried');
    this.phase = Phase.Idle;
    this.execute(cur, this.curKind, this.curBinary);
    return true;
  }

  /** The primary refused the current statement because it is read-only; it is held and run again. */
  private readOnlyRefused = false;
  /** ...once per statement. */
  private readOnlyRetried = false;

  /** ERR 1290 for read_only from the primary, on an autocommit statement that may simply wait for a new primary. */
  private refusedAsReadOnly(buf: Buffer, start: number, end: number): boolean {
    if (this.ctx.failover === null || this.readOnlyRetried || this.curReplica !== null) return false;
    if (this.pins.size > 0 || !this.autocommit()) {
      // Inside a transaction: only if it can be replayed on the next primary.
      const log = this.txLog;
      if (this.pins.size !== 1 || !this.pins.has(PinReason.TRANSACTION) || log === null || !log.replayable || !this.ctx.config.failover.replay.enabled) return false;
    }
    if (this.backend === null || this.backend.pool !== this.pool || this.curKind === NO_RESPONSE) return false;
    return /read[-_]only/i.test(buf.toString('latin1', start + 13, Math.min(end, start + 200)));
  }

  private lostInFlight = false;
  private lostPins: Set<PinReasonName> | null = null;

  /** Could the current statement have changed data (so running it twice might be wrong)? */
  private isWrite(): boolean {
    const command = this.cur!.payload[0];
    if (command !== Command.QUERY && command !== Command.STMT_EXECUTE) return false;
    const info = this.curInfo;
    return info === null || !isReadKind(info.kind) || (info.flags & StatementFlag.MULTI_STATEMENT) !== 0;
  }

  /** Records a statement of the open transaction on the primary (failover.replay). */
  private recordForReplay(conn: BackendConnection): void {
    this.recording = null;
    if (conn.pool !== this.pool || this.curKind === NO_RESPONSE) return;
    const command = this.curBytes[4];
    let log = this.txLog;
    if (log === null) {
      if (this.pins.has(PinReason.TRANSACTION)) return; // began unseen: not replayable
      const info = this.curInfo;
      if ((command !== Command.QUERY && command !== Command.STMT_EXECUTE) || info === null || (info.kind !== StatementKind.Begin && this.autocommit())) return;
      if (this.pins.size > 0) return; // other state than the transaction: not replayable
      const start = new SessionState();
      start.copyFrom(this.state);
      log = this.txLog = new TransactionLog(this.ctx.config.failover.replay.max_transaction_bytes, start);
    }
    if (this.pins.size > (this.pins.has(PinReason.TRANSACTION) ? 1 : 0)) return log.giveUp('the session holds more than a transaction');
    if (command === Command.QUERY) this.recording = log.add(this.curBytes);
    else if (command === Command.STMT_EXECUTE) {
      if (this.cur!.payload[5]! & CursorType.READ_ONLY) return log.giveUp('a cursor was opened in the transaction');
      this.recording = log.add(this.cur!.raw ?? this.curBytes, true, this.curStmt, this.curBoundFlagOffset);
    } else if (command !== Command.STMT_PREPARE && command !== Command.STMT_RESET && command !== Command.STMT_CLOSE) {
      return log.giveUp(`command 0x${command!.toString(16)} ran in the transaction`);
    }
    if (this.recording !== null) this.checksum.reset();
  }

  private acquireFrom(pool: BackendPool): void {
    const fo = this.ctx.failover;
    if (fo !== null && fo.buffer.holding && pool.endpoint.name === this.ctx.primary.name && this.routeError === null) return this.holdForPrimary();
    if (this.routeError !== null) {
      const e = this.routeError;
      this.routeError = null;
      this.sendError({ code: e.errno, sqlState: e.sqlState }, e.message, 1);
      return this.finishLocal();
    }
    const pipelinable = (this.curPipelinable = this.pipelinable());
    if (pipelinable) {
      // Join statements of this turn that have not been written yet: they all leave in one write.
      const joined = this.sharedConnection(pool, true);
      if (joined !== null) return this.joinPipeline(pool, joined);
    }
    const pooled = pool.tryAcquire();
    if (pooled) return this.onConnectionAcquired(pooled);
    if (pipelinable) {
      // No idle connection: queue behind statements in flight rather than wait for a connection.
      const joined = this.sharedConnection(pool, false);
      if (joined !== null) return this.joinPipeline(pool, joined);
    }
    this.phase = Phase.Acquiring;
    this.waitingPool = pool;
    pool.wait(this);
  }

  /**
   * May the current statement share a connection with other sessions' statements (pipelining)? A short
   * autocommit read that leaves nothing behind on the connection: no transaction, pin, cursor, long data,
   * diagnostics or GTID wait, and a digest known to be fast and never to change the session.
   */
  private pipelinable(): boolean {
    const cfg = this.ctx.config.pool.pipelining;
    // (Without multiplexing a session has a connection of its own: nothing is shared, pipelines included.)
    if (!cfg.enabled || !this.ctx.config.multiplexing || this.noPipeline || this.backend !== null || this.pins.size > 0 || this.txLog !== null || this.replayLog !== null) return false;
    const info = this.curInfo;
    const d = this.curDigest;
    if (info === null || d === null || info.kind !== StatementKind.Select || !replicaEligible(info) || (info.flags & StatementFlag.MULTI_STATEMENT) !== 0) return false;
    const payload = this.cur!.payload;
    if (payload[0] === Command.STMT_EXECUTE) {
      const stmt = this.curStmt;
      if (payload[5]! & CursorType.READ_ONLY || stmt === null || stmt.longData) return false;
    } else if (payload[0] !== Command.QUERY || SELECT_DIAGNOSTICS.test(d.text)) return false; // (the digest: no string of the payload per statement)
    if (!this.autocommit() || (this.lastStatus & ServerStatus.IN_TRANS) !== 0) return false;
    if (this.curReplica !== null && this.consistencyLevel !== 'eventual' && !this.replicaCaughtUp(this.curReplica)) return false;
    return this.ctx.digests.pipelinable(d, cfg.min_samples, cfg.max_statement_ms);
  }

  /**
   * A shared connection of `pool` this statement can join: same session state, statement prepared there,
   * room in the pipeline. `unflushedOnly`: only one whose statements of this turn are not written yet;
   * otherwise the least loaded.
   */
  private sharedConnection(pool: BackendPool, unflushedOnly: boolean): BackendConnection | null {
    const list = pool.shared;
    if (list.length === 0) return null;
    // While someone waits for a connection, a shared one takes at most max_depth statements in all, then
    // drains and goes back to the pool (a shared connection always busy would never reach the waiters).
    const waiters = pool.waiting > 0;
    const cfg = this.ctx.config.pool.pipelining;
    const sig = this.state.signature();
    // Behind statements in flight: not behind one that has run longer than a pipelined statement should.
    const startedAfter = unflushedOnly ? 0 : performance.now() - cfg.max_statement_ms;
    let best: BackendConnection | null = null;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (waiters && c.sharedJoins >= cfg.max_depth) continue;
      if (unflushedOnly ? !c.batchPending : c.busySince < startedAfter) continue;
      if (!this.fitsPipeline(c, sig, cfg.max_depth)) continue;
      if (unflushedOnly) return c;
      if (best === null || c.sharedUsers < best.sharedUsers) best = c;
    }
    return best;
  }

  /** Waiting for a connection of `conn`'s pool, which was just handed to an earlier waiter that shares it. */
  joinWaiting(conn: BackendConnection): boolean {
    const pool = conn.pool;
    if (this.phase !== Phase.Acquiring || !this.curPipelinable || this.held || pool === null || this.waitingPool !== pool) return false;
    if (!this.fitsPipeline(conn, this.state.signature(), this.ctx.config.pool.pipelining.max_depth)) return false;
    this.waitingPool = null;
    this.joinPipeline(pool, conn);
    return true;
  }

  /** A shared connection with room, this session's state (`sig`) and the current statement prepared there. */
  private fitsPipeline(conn: BackendConnection, sig: string, maxDepth: number): boolean {
    if (conn.sharedUsers >= maxDepth || conn.closed || conn.broken || conn.state.signature() !== sig) return false;
    const stmt = this.curStmt;
    return stmt === null || conn.statements.has(stmt.key);
  }

  private joinPipeline(pool: BackendPool, conn: BackendConnection): void {
    pool.joinShared(conn);
    this.backend = conn;
    this.shared = true;
    if (this.curStmt !== null && conn.statements.size > this.lruTouchThreshold) this.touchStatement(conn, this.curStmt);
    this.send(conn);
  }

  /**
   * The pipelined statement is answered. Usually the session just lets go of the connection. If the
   * statement changed the session (or left warnings and nothing ran behind it, for SHOW WARNINGS), the
   * session keeps the connection as if it had it alone, and the statements queued behind (which ran after it,
   * in a session that changed) are evicted: their responses dropped, run again elsewhere.
   */
  private leavePipeline(conn: BackendConnection, keep: boolean): void {
    this.shared = false;
    const pool = conn.pool!;
    if (!keep) {
      this.backend = null;
      pool.leaveShared(conn);
      return;
    }
    conn.evictPipeline();
    pool.endShared(conn);
    conn.owner = this;
  }

  /** A statement ahead of ours on the shared connection changed its session: run ours again elsewhere. */
  onPipelineEvicted(conn: BackendConnection): void {
    if (this.backend !== conn || !this.shared || this.phase === Phase.Closed) return;
    this.backend = null;
    this.shared = false;
    this.noPipeline = true;
    this.phase = Phase.Idle;
    this.execute(this.cur!, this.curKind, this.curBinary);
  }

  /**
   * Read/write splitting: the primary's pool, or a healthy replica's (then curReplica says which).
   * Sets routeError when a replica is required and none is available.
   */
  private choosePool(): BackendPool {
    const router = this.ctx.router;
    this.curReplica = null;
    const info = this.curInfo;
    if (router === null || info === null || !router.hasReplicas || this.replayLog !== null) return this.primaryPool();
    const command = this.cur!.payload[0];
    if (command !== Command.QUERY && command !== Command.STMT_EXECUTE) return this.primaryPool();
    if (command === Command.STMT_EXECUTE && this.cur!.payload[5]! & CursorType.READ_ONLY) return this.primaryPool(); // cursors pin
    const decision = decideRoute(info, {
      multiAllReads: info.flags & StatementFlag.MULTI_STATEMENT ? this.allPartsReplicaEligible(this.cur!.payload, 1) : false,
      splitting: router.config.read_write_split,
      pinnedOrTransactional: this.pins.size > 0 || !this.autocommit(),
      preference: this.routePreference,
      readOnlyTransactionsToReplica: router.config.read_only_transactions === 'replica',
    });
    if (decision.target === 'primary') {
      if (isReadKind(info.kind)) router.stats.primaryReads++;
      return this.primaryPool();
    }
    const replica = router.pickReplica(this.balancer);
    if (replica === null) {
      router.stats.noReplica++;
      if (router.config.no_replica === 'error') {
        this.routeError = new BackendError('Sluice: no replica is available for this read (routing.no_replica = error)', ER.BACKEND_UNAVAILABLE.code, 'HY000', 'SLUICE_NO_REPLICA');
      }
      return this.primaryPool();
    }
    this.curReplica = replica;
    router.stats.replicaReads++;
    return this.ctx.pools.get({ name: replica.name, host: replica.host, port: replica.port }, this.user!.backend, this.profileCaps);
  }

  /**
   * A read bound for a replica failed before any byte reached the client: run it again on another
   * replica (or the primary). Returns false when the statement cannot be moved.
   */
  private retryElsewhere(): boolean {
    const replica = this.curReplica;
    if (replica === null || this.responded || this.retries >= 2 || this.pins.size > 0 || this.cur === null) return false;
    this.retries++;
    this.ctx.router?.suspect(replica.name);
    this.phase = Phase.Idle;
    this.ctx.log.info({ session: this.id, replica: replica.name }, 'read failed on a replica before answering; retrying elsewhere');
    this.execute(this.cur, this.curKind, this.curBinary);
    return true;
  }

  /** A multi-statement goes to a replica only when each of its parts could on its own. */
  private allPartsReplicaEligible(payload: Buffer, start: number): boolean {
    const opts = this.lexOptions();
    for (const part of splitStatements(payload, start, payload.length, opts.noBackslashEscapes, opts.ansiQuotes)) {
      const info = lexStatement(payload, part.start, part.end, opts);
      if (info.flags & StatementFlag.MULTI_STATEMENT || !replicaEligible(info)) return false;
    }
    return true;
  }

  /** What the lexer must know of sql_mode: the server's status flag and the tracked sql_mode agree on it. */
  private lexOptions(): LexOptions {
    const o = this.lexOpts;
    o.noBackslashEscapes = (this.lastStatus & ServerStatus.NO_BACKSLASH_ESCAPES) !== 0 || this.state.noBackslashEscapes();
    o.ansiQuotes = this.state.ansiQuotes();
    return o;
  }

  /**
   * With a replica connection held: may the current statement run there? Reads may; inside a read-only
   * transaction everything may (the server refuses writes there itself).
   */
  private mayStayOnReplica(): boolean {
    if (this.pins.has(PinReason.TRANSACTION) && this.pins.size === 1 && (this.lastStatus & ServerStatus.IN_TRANS_READONLY) !== 0) return true;
    const info = this.curInfo;
    const command = this.cur!.payload[0];
    if (command === Command.STMT_FETCH || command === Command.STMT_RESET || command === Command.STMT_CLOSE) return true;
    if (info === null) return false;
    return replicaEligible(info) || readsDiagnostics(this.cur!.payload, info);
  }

  private autocommit(): boolean {
    // The server's status flag (every OK/EOF carries it) also covers a global autocommit=0.
    if ((this.lastStatus & ServerStatus.AUTOCOMMIT) === 0) return false;
    const v = this.state.vars.get('autocommit');
    return v === undefined || v === 'ON' || v === '1';
  }

  onConnectionAcquired(conn: BackendConnection): void {
    this.waitingPool = null;
    if (this.phase === Phase.Closed) {
      conn.pool!.release(conn);
      return;
    }
    conn.owner = this;
    this.backend = conn;
    this.onConnectionReady(conn);
  }

  onConnectionFailed(err: Error): void {
    const pool = this.waitingPool;
    this.waitingPool = null;
    if (this.phase === Phase.Closed) return;
    if (this.retryElsewhere()) return;
    const fo = this.ctx.failover;
    if (fo !== null && pool !== null && err instanceof BackendError && this.cur !== null) {
      if (err.code === 'SLUICE_PRIMARY_CHANGED') {
        // Waited on the old primary's pool: go to the new one.
        this.phase = Phase.Idle;
        this.execute(this.cur, this.curKind, this.curBinary);
        return;
      }
      if (err.code === 'SLUICE_BACKEND_UNREACHABLE' && pool.endpoint.name === this.ctx.primary.name) {
        fo.suspect();
        return this.holdForPrimary();
      }
    }
    const e = err instanceof BackendError ? err : new BackendError(err.message, 2013, 'HY000');
    // COM_STMT_SEND_LONG_DATA has no response: an ERR now would answer the client's next command.
    if (this.curKind !== NO_RESPONSE) this.sendError({ code: e.errno, sqlState: e.sqlState }, e.message, 1);
    this.finishLocal();
  }

  private onConnectionReady(conn: BackendConnection): void {
    const info = this.curInfo;
    const needsSync =
      conn.state.signature() !== this.state.signature() ||
      (info !== null && (info.flags & StatementFlag.LAST_INSERT_ID) !== 0 && conn.state.lastInsertId !== this.state.lastInsertId);
    const needsPrepare = (this.curStmt !== null && !conn.statements.has(this.curStmt.key)) || (this.replayLog !== null && conn.pool === this.pool);
    const needsWait = this.curReplica !== null && this.consistencyLevel !== 'eventual' && !this.replicaCaughtUp(this.curReplica);
    if (needsWait && !needsSync && !needsPrepare && this.consistencyLevel !== 'global') {
      // The wait travels in the same write as the statement (one round trip).
      this.waitGtid = this.consistencyLevel === 'session' ? this.lastWriteGtid : this.ctx.router!.instanceGtid;
      this.send(conn);
      return;
    }
    if (!needsSync && !needsPrepare && !needsWait) {
      if (this.curStmt !== null && conn.statements.size > this.lruTouchThreshold) this.touchStatement(conn, this.curStmt);
      this.send(conn);
      return;
    }
    this.phase = Phase.Preparing;
    this.prepareConnection(conn).then(
      () => {
        if (this.phase === Phase.Preparing && this.backend === conn) this.send(conn);
      },
      (err: Error) => {
        if (this.phase === Phase.Closed || this.backend !== conn) return;
        if (err instanceof TransactionLost) {
          // Replay failed: the replayed transaction is open on this connection; drop it with it.
          this.ctx.failover?.count('replayMismatches');
          this.detachBackend(true);
          this.pins.delete(PinReason.TRANSACTION);
          this.txLog = null;
          if (this.curInfo?.kind === StatementKind.Rollback) return this.replyOk();
          return this.failStatement(transactionLost(err.message));
        }
        if (this.curReplica !== null && this.pins.size === 0) {
          // The replica could not take the session's state or statement (e.g. a schema or table it has not
          // replicated yet): run the read on the primary instead.
          this.ctx.log.info({ session: this.id, replica: this.curReplica.name, err: err.message }, 'replica could not serve the read; using the primary');
          this.detachBackend(!(err instanceof PrepareFailed));
          this.curReplica = null;
          this.acquireFrom(this.primaryPool());
          return;
        }
        const e = err instanceof BackendError ? err : new BackendError(err.message, 2013, 'HY000');
        const reply = this.curKind !== NO_RESPONSE;
        if (err instanceof PrepareFailed) {
          // The server refused to prepare (table gone, too many statements …): the connection is fine.
          if (reply) this.sendError({ code: e.errno, sqlState: e.sqlState }, e.message, 1);
          this.finishLocal();
          return;
        }
        // A session sync failed half way: the connection's state is unknown, drop it.
        const stateLost = this.pins.size > 0;
        this.detachBackend(true);
        if (reply) this.sendError({ code: e.errno, sqlState: e.sqlState }, e.message, 1);
        if (stateLost) {
          // Its transaction / locks / temp tables went with it: the client must not go on as if not.
          this.socket.end();
          this.close();
          return;
        }
        this.finishLocal();
      },
    );
  }

  private async prepareConnection(conn: BackendConnection): Promise<void> {
    const log = this.replayLog;
    if (log !== null && conn.pool === this.pool) {
      try {
        // Each statement runs again in the state it ran in the first time; at the end the server session is
        // where the client's is now.
        await this.syncTo(conn, log.startState as SessionState);
        await replayTransaction(conn, log, (r) => this.replayBytes(conn, r));
      } catch (err) {
        if (this.backend !== conn) throw err; // the connection went: onBackendClosed handles the session
        this.replayLog = null;
        throw new TransactionLost(err instanceof ReplayMismatch ? err.message : `replay failed: ${(err as Error).message}`, 1213, '40001');
      }
      conn.state.copyFrom(this.state);
      this.replayLog = null;
      this.txLog = log;
      this.addPin(PinReason.TRANSACTION);
      this.ctx.failover?.count('replayed');
      this.ctx.log.info({ session: this.id, statements: log.statements.length }, 'transaction replayed on the new primary');
    }
    const info = this.curInfo;
    if (conn.state.signature() !== this.state.signature() || (info !== null && info.flags & StatementFlag.LAST_INSERT_ID && conn.state.lastInsertId !== this.state.lastInsertId)) {
      await this.syncTo(conn);
    }
    const stmt = this.curStmt;
    if (stmt !== null && !conn.statements.has(stmt.key)) await this.prepareOn(conn, stmt);
    const replica = this.curReplica;
    if (replica !== null && this.consistencyLevel !== 'eventual') {
      const gtid = await this.requiredGtid();
      if (gtid !== '' && !this.ctx.router!.covers(replica, gtid)) this.waitGtid = gtid;
    }
  }

  /** The GTID this read must see, per the session's consistency level ('' = none). */
  private async requiredGtid(): Promise<string> {
    switch (this.consistencyLevel) {
      case 'session':
        return this.lastWriteGtid;
      case 'instance':
        return this.ctx.router!.instanceGtid;
      case 'global': {
        const rows = await this.ctx.admin!.rows('SELECT @@GLOBAL.gtid_binlog_pos');
        return rows[0]?.[0] ?? '';
      }
      default:
        return '';
    }
  }

  private replicaCaughtUp(replica: BackendView): boolean {
    if (this.consistencyLevel === 'global') return false;
    const gtid = this.consistencyLevel === 'session' ? this.lastWriteGtid : this.ctx.router!.instanceGtid;
    return this.ctx.router!.covers(replica, gtid);
  }

  /** The bytes of a recorded statement for the replay connection: prepared there and rebound if needed. */
  private async replayBytes(conn: BackendConnection, r: RecordedStatement): Promise<Buffer> {
    const bytes = Buffer.from(r.bytes);
    const stmt = r.statement as ClientStatement | null;
    if (stmt === null) return bytes;
    if (!conn.statements.has(stmt.key)) await this.prepareOn(conn, stmt);
    return this.bindStatement(conn, stmt, bytes, r.bytes.subarray(4), r.boundFlagOffset);
  }

  /** Brings the backend session's state in line with this client's (or with `target`). */
  private async syncTo(conn: BackendConnection, target: SessionState = this.state): Promise<void> {
    let plan = planSync(target, conn.state);
    if (plan.schema === null) {
      // No statement leaves a schema; COM_CHANGE_USER without a database does.
      await conn.clearSchema();
      plan = planSync(target, conn.state);
    }
    if (plan.setSql === null && plan.schema === undefined) {
      conn.state.copyFrom(target);
      return;
    }
    this.ctx.counters.syncs++;
    if (plan.schema !== undefined && plan.schema !== null) {
      await conn.command(new PacketWriter(plan.schema.length + 4).u8(Command.INIT_DB).string(plan.schema), ResponseKind.Single);
    }
    if (plan.setSql !== null) await conn.query(plan.setSql);
    conn.state.copyFrom(target);
  }

  /** Prepares a client statement on a backend connection that does not have it yet. */
  private async prepareOn(conn: BackendConnection, stmt: ClientStatement): Promise<void> {
    let packets: Packet[];
    try {
      packets = await conn.command(preparePayload(stmt.sql), ResponseKind.Prepare);
    } catch (err) {
      if (err instanceof BackendError && err.code === 'SLUICE_BACKEND_ERROR') throw new PrepareFailed(err.message, err.errno, err.sqlState);
      throw err;
    }
    const ok = packets[0]!.payload;
    this.registerBackendStatement(conn, stmt.key, ok.readUInt32LE(1), ok.readUInt16LE(7), ok.readUInt16LE(5));
  }

  private registerBackendStatement(conn: BackendConnection, key: string, id: number, params: number, columns: number): void {
    const old = conn.statements.get(key);
    if (old) {
      conn.statements.delete(key);
      conn.sendNoResponse(closeStatementPacket(old.id));
    }
    conn.statements.set(key, { id, params, columns, boundTypes: null });
    const limit = this.ctx.config.pool.statement_cache_size;
    while (conn.statements.size > limit) {
      const [oldestKey, oldest] = conn.statements.entries().next().value as [string, { id: number }];
      if (oldestKey === key) break;
      conn.statements.delete(oldestKey);
      conn.sendNoResponse(closeStatementPacket(oldest.id));
    }
  }

  /** LRU order matters only near the cache limit; below it, skip the Map reordering per execute. */
  private get lruTouchThreshold(): number {
    return this.ctx.config.pool.statement_cache_size >> 1;
  }

  private touchStatement(conn: BackendConnection, stmt: ClientStatement): void {
    const b = conn.statements.get(stmt.key)!;
    conn.statements.delete(stmt.key);
    conn.statements.set(stmt.key, b);
  }

  /** Writes the command to the backend; the response streams back through the ResponseHandler. */
  private send(conn: BackendConnection): void {
    let bytes = this.curBytes;
    const stmt = this.curStmt;
    if (stmt !== null) bytes = this.bindStatement(conn, stmt, bytes, this.cur!.payload, this.curBoundFlagOffset);
    this.phase = Phase.Forwarding;
    this.curSent = true;
    if (this.curKind === NO_RESPONSE) {
      conn.sendNoResponse(bytes);
      this.afterNoResponse();
      return;
    }
    if (bytes[4] === Command.SET_OPTION) conn.optionChanged = true;
    if (this.curReplica !== null) this.sentAt = performance.now();
    else {
      const fo = this.ctx.failover;
      if (fo !== null) {
        // What was committed before this statement left: its own GTID, if it commits, is newer.
        this.sentAfter[0] = this.ctx.router?.instanceGtid ?? '';
        this.sentAfter[1] = fo.probePosition;
        if (this.ctx.config.failover.replay.enabled && (this.txLog !== null || this.pins.size === 0 || this.pins.has(PinReason.TRANSACTION))) this.recordForReplay(conn);
      }
    }
    this.curErrno = 0;
    if (this.waitGtid !== '') {
      const wait = new GtidWaitResponse((conn.capabilities & Capability.DEPRECATE_EOF) !== 0);
      this.waitResponse = wait;
      this.ctx.router!.stats.gtidWaits++;
      conn.forwardBehind(GtidWaitResponse.query(this.waitGtid, this.consistencyTimeoutMs), wait, bytes, this.curKind, this.curBinary, this);
      return;
    }
    if (this.shared) {
      conn.forwardPipelined(bytes, this.curKind, this.curBinary, this, false);
    } else if (this.curPipelinable && conn.pool !== null) {
      // First of a pipeline: statements of other sessions may join it until the connection is free again. With
      // no other pipeline in flight the load is light: written at once rather than at the end of the turn.
      const alone = conn.pool.shared.length === 0;
      conn.pool.beginShared(conn);
      this.shared = true;
      conn.forwardPipelined(bytes, this.curKind, this.curBinary, this, alone);
    } else conn.forward(bytes, this.curKind, this.curBinary, this);
  }

  /** Rewrites a statement command for the backend: its statement id, and parameter types when needed. */
  private bindStatement(conn: BackendConnection, stmt: ClientStatement, bytes: Buffer, payload: Buffer, boundFlagOffset: number): Buffer {
    const b = conn.statements.get(stmt.key)!;
    if (bytes[4] === Command.STMT_EXECUTE && stmt.params > 0) {
      const at = 4 + boundFlagOffset;
      if (bytes[at] === 1) {
        // Types sent: remember them (copy only when they changed) for executes on other connections.
        const n = stmt.params * 2;
        if (!sameBytes(stmt.paramTypes, bytes, at + 1, n)) stmt.paramTypes = Buffer.from(bytes.subarray(at + 1, at + 1 + n));
        b.boundTypes = stmt.paramTypes;
      } else if (stmt.paramTypes !== null && b.boundTypes !== stmt.paramTypes && (b.boundTypes === null || !sameBytes(b.boundTypes, stmt.paramTypes, 0, stmt.paramTypes.length))) {
        // This server statement last saw other types (another client's, or none): send this client's.
        const rebuilt = withParamTypes(payload, boundFlagOffset, stmt.paramTypes);
        rebuilt.writeUInt32LE(b.id, 1);
        b.boundTypes = stmt.paramTypes;
        return framePayload(rebuilt, 0);
      }
    }
    bytes.writeUInt32LE(b.id, 5);
    return bytes;
  }

  // ------------------------------------------------------------------------------------------------
  // Prepared statement commands

  private statementFor(id: number, command: string): ClientStatement | null {
    const stmt = this.statements.get(id === 0xffffffff ? this.lastPreparedId : id);
    if (stmt) return stmt;
    this.sendError(ER.UNKNOWN_STMT_HANDLER, `Unknown prepared statement handler (${id}) given to ${command}`, 1);
    this.finishLocal();
    return null;
  }

  private onExecute(p: Packet): void {
    if (p.payload.length < 10) {
      this.sendError(ER.MALFORMED_PACKET, 'Malformed communication packet.', 1);
      return this.finishLocal();
    }
    const stmt = this.statementFor(p.payload.readUInt32LE(1), 'mysqld_stmt_execute');
    if (!stmt) return;
    const hdr = readExecuteHeader(p.payload, stmt.params);
    if (hdr === null || (stmt.params > 0 && !hdr.newParamsBound && stmt.paramTypes === null)) {
      this.sendError(ER.WRONG_ARGUMENTS, 'Incorrect arguments to mysqld_stmt_execute', 1);
      return this.finishLocal();
    }
    this.curBoundFlagOffset = hdr.boundFlagOffset;
    this.curStmt = stmt;
    this.curInfo = stmt.info;
    this.curDigest = stmt.digest;
    this.startedAt = performance.now();
    this.execute(p, ResponseKind.Result, true);
  }

  private onFetch(p: Packet): void {
    const stmt = this.statementFor(p.payload.length >= 5 ? p.payload.readUInt32LE(1) : 0, 'mysqld_stmt_fetch');
    if (!stmt) return;
    if (!stmt.cursorOpen || !this.backend) {
      this.sendError(ER.UNKNOWN_STMT_HANDLER, `The statement (${stmt.id}) has no open cursor`, 1);
      return this.finishLocal();
    }
    this.curStmt = stmt;
    this.execute(p, ResponseKind.Fetch, true);
  }

  private onLongData(p: Packet): void {
    if (p.payload.length < 7) return this.finishLocal();
    const stmt = this.statements.get(p.payload.readUInt32LE(1));
    if (!stmt) return this.finishLocal(); // no response is ever sent for this command
    stmt.longData = true;
    this.addPin(PinReason.LONG_DATA);
    this.curStmt = stmt;
    this.execute(p, NO_RESPONSE, true);
  }

  private afterNoResponse(): void {
    this.phase = Phase.Idle;
    this.cur = null;
    this.pump();
  }

  private onStmtClose(p: Packet): void {
    const id = p.payload.length >= 5 ? p.payload.readUInt32LE(1) : 0;
    const stmt = this.statements.get(id);
    this.statements.delete(id);
    if (stmt && (stmt.cursorOpen || stmt.longData) && this.backend) {
      // The server statement is shared through the cache: reset it rather than close it.
      const conn = this.backend;
      const b = conn.statements.get(stmt.key);
      stmt.cursorOpen = false;
      stmt.longData = false;
      if (b) {
        this.phase = Phase.Finishing;
        conn.command(stmtIdCommand(Command.STMT_RESET, b.id), ResponseKind.Single).then(
          () => this.afterStatementPinsChanged(),
          () => this.afterStatementPinsChanged(),
        );
        return;
      }
    }
    this.afterNoResponse();
  }

  private afterStatementPinsChanged(): void {
    if (this.phase === Phase.Closed) return;
    this.recomputeStatementPins();
    this.phase = Phase.Idle;
    this.maybeRelease();
    this.cur = null;
    this.pump();
  }

  private onStmtReset(p: Packet): void {
    const stmt = this.statementFor(p.payload.length >= 5 ? p.payload.readUInt32LE(1) : 0, 'mysqld_stmt_reset');
    if (!stmt) return;
    const conn = this.backend;
    if (conn && conn.statements.has(stmt.key) && (stmt.cursorOpen || stmt.longData)) {
      this.curStmt = stmt;
      stmt.cursorOpen = false;
      stmt.longData = false;
      this.execute(p, ResponseKind.Single, false);
      return;
    }
    this.replyOk();
  }

  // ------------------------------------------------------------------------------------------------
  // ResponseHandler: bytes from the backend to the client

  onResponseBytes(buf: Buffer, start: number, end: number): void {
    if (this.waitResponse !== null && !this.waitResponse.reached) return; // stale read: discarded
    this.responded = true;
    if (this.recording !== null) this.checksum.bytes(buf, start, end);
    this.emit(buf, start, end);
  }

  onResponseChunkEnd(): void {
    this.flushOut();
  }

  private emit(buf: Buffer, start: number, end: number): void {
    if (this.outBuf === buf && start === this.outEnd) {
      this.outEnd = end;
      return;
    }
    this.flushOut();
    this.outBuf = buf;
    this.outStart = start;
    this.outEnd = end;
  }

  private flushOut(): void {
    const b = this.outBuf;
    if (b === null) return;
    this.outBuf = null;
    this.writeClient(this.outStart === 0 && this.outEnd === b.length ? b : b.subarray(this.outStart, this.outEnd));
  }

  onResponsePacket(kind: ControlKind, buf: Buffer, start: number, end: number): void {
    if (this.waitResponse !== null && !this.waitResponse.reached) return; // stale read: discarded
    if (kind === ControlKind.Err && end - start >= 7) {
      this.curErrno = buf.readUInt16LE(start + 5);
      if (this.curErrno === ER_OPTION_PREVENTS_STATEMENT && !this.responded && this.refusedAsReadOnly(buf, start, end)) {
        // The primary turned read-only (a switchover by someone else): the statement did not run. It waits
        // for the primary the failover manager finds instead of failing.
        this.readOnlyRefused = true;
        return;
      }
    }
    this.responded = true;
    if (this.recording !== null) this.checksum.packet(kind, buf, start, end);
    switch (kind) {
      case ControlKind.Ok:
      case ControlKind.Eof:
        if (end - start >= 11 && (buf[start + 4] === 0x00 || end - start - 4 >= 7)) {
          this.onOkPacket(buf, start, end);
          return;
        }
        if (end - start === 9 && buf[start + 8]! & (ServerStatus.SESSION_STATE_CHANGED >> 8)) {
          // A classic EOF has no room for session tracking, only the flag: the session changed (a stored
          // function in a SELECT …) and Sluice cannot tell how.
          this.curStateChanged = true;
        }
        break;
      case ControlKind.PrepareOk:
        this.onPrepareOk(buf, start);
        break;
      case ControlKind.LocalInfile:
        this.emit(buf, start, end);
        this.flushOut();
        this.phase = Phase.Infile;
        this.forwardInfile();
        return;
      default:
        break;
    }
    this.emit(buf, start, end);
  }

  /** OK (or OK-as-EOF): absorb session tracking; rewrite for clients without CLIENT_SESSION_TRACK. */
  private onOkPacket(buf: Buffer, start: number, end: number): void {
    const p = start + 4;
    // Fast path (most statements): small affected-rows, no insert id, no session-state changes.
    if (buf[p + 1]! < 0xfb && buf[p + 2] === 0 && (buf.readUInt16LE(p + 3) & ServerStatus.SESSION_STATE_CHANGED) === 0 && this.capabilities & Capability.SESSION_TRACK) {
      this.emit(buf, start, end);
      return;
    }
    const payload = buf.subarray(p, end);
    const conn = this.backend!;
    const ok = parseOk(payload, conn.capabilities);
    const ss = ok.sessionState;
    if (ss !== null) {
      for (let i = 0; i < ss.variables.length; i++) {
        const [name, value] = ss.variables[i]!;
        if (name === 'last_gtid') {
          if (value !== '') {
            // Per domain: a later write in another domain must not hide an earlier one.
            this.lastWriteGtid = this.lastWriteGtid === '' ? value : mergeGtidPositions(this.lastWriteGtid, value);
            this.ctx.router?.noteWrite(value);
            this.ctx.failover?.acks.note(value);
          }
          continue;
        }
        if (name.startsWith('session_track_')) this.addPin(PinReason.UNTRACKED_STATE); // tracking changed under us
        this.state.setVar(name, value);
        conn.state.setVar(name, value);
        this.curVarsChanged = true;
      }
      if (ss.schema !== null) {
        this.state.setSchema(ss.schema);
        conn.state.setSchema(ss.schema);
        this.curVarsChanged = true;
      }
      if (ss.stateChanged) this.curStateChanged = true;
    }
    if (ok.lastInsertId > 0) {
      this.state.setLastInsertId(ok.lastInsertId);
      conn.state.setLastInsertId(ok.lastInsertId);
    }
    if (this.capabilities & Capability.SESSION_TRACK) {
      this.emit(buf, start, end);
      return;
    }
    this.flushOut();
    this.writeClient(writeOk(new PacketWriter(32), ok, this.capabilities).finish(buf[start + 3]!));
  }

  private onPrepareOk(buf: Buffer, start: number): void {
    const conn = this.backend!;
    const backendId = buf.readUInt32LE(start + 5);
    const columns = buf.readUInt16LE(start + 9);
    const params = buf.readUInt16LE(start + 11);
    const sql = Buffer.from(this.cur!.payload.subarray(1));
    const key = statementKey(sql, this.state.schema, this.state.vars.get('sql_mode'), this.state.vars.get('character_set_client'));
    this.registerBackendStatement(conn, key, backendId, params, columns);
    const id = this.nextStatementId++;
    const opts = this.lexOptions();
    const info = lexStatement(sql, 0, sql.length, opts);
    this.statements.set(id, { id, sql, key, params, columns, paramTypes: null, cursorOpen: false, longData: false, info, digest: digest(sql, 0, sql.length, opts) });
    this.lastPreparedId = id;
    buf.writeUInt32LE(id, start + 5);
  }

  private writeClient(bytes: Buffer): void {
    const socket = this.socket;
    if (!writeTo(socket, bytes, this.directWrite) && socket.writableLength > this.ctx.config.limits.client_buffer_bytes && this.backend && !this.backendPaused && !this.shared) {
      // (A shared connection is never paused for one reader: its statements are short reads, buffered.)
      // Slow reader: stop reading from its backend connection until the client drains.
      this.backendPaused = true;
      this.backend.socket.pause();
    }
  }

  onResponseDone(): void {
    this.flushOut();
    const conn = this.backend!;
    if (this.readOnlyRefused) {
      this.readOnlyRefused = false;
      this.readOnlyRetried = true;
      if (this.pins.has(PinReason.TRANSACTION)) {
        // The transaction goes with the connection (rolled back on the read-only server) and is replayed on
        // the next primary before this statement runs again. A refused COMMIT committed nothing.
        const log = this.txLog!;
        if (this.recording !== null && log.statements[log.statements.length - 1] === this.recording) log.statements.pop();
        this.txLog = null;
        this.replayLog = log;
        this.pins.delete(PinReason.TRANSACTION);
        this.recording = null;
        this.detachBackend(true);
      } else if (this.shared) {
        this.recording = null;
        this.leavePipeline(conn, false);
      } else {
        this.recording = null;
        this.backend = null;
        conn.pool!.release(conn);
      }
      this.ctx.failover!.suspect();
      this.phase = Phase.Idle;
      this.execute(this.cur!, this.curKind, this.curBinary);
      return;
    }
    const wait = this.waitResponse;
    if (wait !== null) {
      this.waitResponse = null;
      const gtid = this.waitGtid;
      this.waitGtid = '';
      if (!wait.reached) return this.onReplicaBehind(conn, gtid);
      this.ctx.router!.noteReached(this.curReplica!, gtid);
    }
    const d = this.curDigest;
    if (d !== null) {
      const now = performance.now();
      const ms = now - this.startedAt;
      // A pipelined statement's digest counts from when the server started on it, not the wait behind others:
      // the digest decides whether it may be pipelined, and that must not flip with the load.
      this.ctx.digests.record(d, this.shared ? now - conn.busySince : ms, conn.scanner.rows, conn.scanner.lastWasError);
      if (conn.scanner.last.warnings > 0) this.ctx.digests.noteWarnings(d);
      this.ctx.statementStats.record(conn.pool!.endpoint.name, this.curReplica !== null ? 'replica' : 'primary', ms, this.curErrno);
    }
    if (this.recording !== null) {
      this.recording.checksum = this.checksum.value();
      this.recording = null;
    }
    if (this.curReplica !== null) {
      // Feeds least_latency (EWMA) and least_connections.
      this.ctx.router!.recordUse(this.curReplica.name, performance.now() - this.sentAt, conn.pool!.size - conn.pool!.idleCount);
    }
    if (this.backendPaused) {
      // Nothing more comes from the server for this command; let the socket read again.
      this.backendPaused = false;
      conn.socket.resume();
    }
    const scanner = conn.scanner;
    const failed = scanner.lastWasError;
    // Responses without a status (PREPARE_OK, statistics, ERR) leave the session's last known status.
    const status = scanner.statusSeen ? scanner.last.status : this.lastStatus;
    if (this.shared) {
      const changed = (status & ServerStatus.IN_TRANS) !== 0 || this.curStateChanged || this.curVarsChanged;
      // Warnings (or an error) are for SHOW WARNINGS on this connection: kept only if nothing ran behind.
      this.leavePipeline(conn, changed || ((failed || scanner.last.warnings > 0) && conn.queuedClients() === 0));
    }
    if (!failed) this.lastStatus = status;
    if (this.txLog !== null && (status & ServerStatus.IN_TRANS) === 0) this.txLog = null;
    const command = this.cur!.payload[0];
    this.stickyNext = scanner.last.warnings > 0 || failed;
    if (this.stickyNext && !failed) this.ctx.countPin(PinReason.WARNINGS);
    if (!failed || (status & ServerStatus.IN_TRANS) === 0) {
      if (!failed) this.setPin(PinReason.TRANSACTION, (status & ServerStatus.IN_TRANS) !== 0);
    }
    const stmt = this.curStmt;
    if (stmt !== null && (stmt.cursorOpen || stmt.longData || (command === Command.STMT_EXECUTE && this.cur!.payload[5]! & CursorType.READ_ONLY))) {
      if (command === Command.STMT_EXECUTE) {
        // Long data stays bound on the server statement until COM_STMT_RESET/CLOSE (MariaDB reuses it in
        // later executes), so the LONG_DATA pin lasts until then.
        stmt.cursorOpen = !failed && (status & ServerStatus.CURSOR_EXISTS) !== 0 && (this.cur!.payload[5]! & CursorType.READ_ONLY) !== 0;
      } else if (command === Command.STMT_FETCH) {
        if (failed || status & ServerStatus.LAST_ROW_SENT || !(status & ServerStatus.CURSOR_EXISTS)) stmt.cursorOpen = false;
      }
      this.recomputeStatementPins();
    }
    const info = this.curInfo;
    let captureNames: readonly string[] | null = null;
    if (info !== null) {
      if (!failed) captureNames = this.applyStatementEffects(info, status);
      else if (info.flags & StatementFlag.USER_VAR_WRITE) {
        // Part of a failed statement may have assigned them (multi-statements, errors mid-rows).
        captureNames = info.userVarsAssigned.length > 0 ? info.userVarsAssigned : null;
        if (captureNames === null) this.addPin(PinReason.UNTRACKED_STATE);
      }
    }
    if (this.pins.has(PinReason.SET_TRANSACTION) && !(status & ServerStatus.IN_TRANS) && !(info && info.flags & StatementFlag.SET_TRANSACTION)) {
      this.pins.delete(PinReason.SET_TRANSACTION);
    }
    if (this.curStateChanged && !this.curVarsChanged && !explainsStateChange(info, command)) this.addPin(PinReason.UNTRACKED_STATE);
    if ((this.curStateChanged || this.curVarsChanged) && info !== null && info.kind === StatementKind.Select && this.curDigest !== null) {
      // A read that changed its session (a stored function): never pipelined (others would run in that session).
      this.ctx.digests.noteStateChange(this.curDigest);
    }
    if (info !== null && this.curStateChanged && info.flags & StatementFlag.MULTI_STATEMENT) {
      // The lexer names the first statement's kind only: state changes by the others are not explained.
      this.addPin(PinReason.UNTRACKED_STATE);
    }
    if (this.curVarsChanged && info !== null && info.kind !== StatementKind.Set && info.kind !== StatementKind.Use && !(info.flags & StatementFlag.SESSION_SYSVAR_WRITE)) {
      // Variables changed by something other than SET (SET STATEMENT … FOR reverts them later, procedures
      // keep them): the tracked values cannot be trusted to describe the session after it.
      this.addPin(PinReason.UNTRACKED_STATE);
    }
    if (captureNames !== null && captureNames.length > 0) {
      this.phase = Phase.Finishing;
      this.captureUserVars(conn, captureNames).then(
        () => this.finishCommand(),
        () => {
          this.addPin(PinReason.UNTRACKED_STATE);
          this.finishCommand();
        },
      );
      return;
    }
    this.finishCommand();
  }

  /**
   * The replica had not reached the GTID within the timeout; the read's result was discarded. Run it on
   * the primary, or report it (routing.consistency_fallback).
   */
  private onReplicaBehind(conn: BackendConnection, gtid: string): void {
    const router = this.ctx.router!;
    router.stats.gtidWaitTimeouts++;
    if (this.backendPaused) {
      this.backendPaused = false;
      conn.socket.resume();
    }
    this.backend = null;
    conn.pool!.release(conn);
    const replica = this.curReplica;
    this.curReplica = null;
    if (replica !== null) router.suspect(replica.name); // behind: others should not wait on it either, for a moment
    if (router.config.consistency_fallback === 'primary') {
      this.acquireFrom(this.primaryPool());
      return;
    }
    this.sendError({ code: 4031, sqlState: 'HY000' }, `Sluice: replica '${replica?.name}' did not reach GTID ${gtid} within ${this.consistencyTimeoutMs} ms (read-after-write consistency)`, (this.cur?.lastSeq ?? 0) + 1);
    this.finishLocal();
  }

  /** Pins and unpins from what a successful statement did; returns user variables to capture. */
  private applyStatementEffects(info: StatementInfo, _status: number): readonly string[] | null {
    const f = info.flags;
    if (f & (StatementFlag.LOCK_TABLES | StatementFlag.FLUSH_READ_LOCK)) this.addPin(PinReason.LOCK_TABLES);
    if (f & StatementFlag.UNLOCK_TABLES) this.pins.delete(PinReason.LOCK_TABLES);
    if (f & StatementFlag.GET_LOCK) this.addPin(PinReason.USER_LOCK);
    if (f & StatementFlag.TEMPORARY) this.addPin(PinReason.TEMP_TABLE);
    if (info.kind === StatementKind.Prepare) this.addPin(PinReason.PREPARE_SQL);
    if (f & StatementFlag.SET_TRANSACTION) this.addPin(PinReason.SET_TRANSACTION);
    if (f & StatementFlag.SQL_CALC_FOUND_ROWS) {
      this.stickyNext = true;
      this.ctx.countPin(PinReason.FOUND_ROWS);
    }
    if (f & StatementFlag.USER_VAR_WRITE) {
      if (info.userVarsAssigned.length === 0) {
        this.addPin(PinReason.UNTRACKED_STATE);
        return null;
      }
      return info.userVarsAssigned;
    }
    return null;
  }

  /** Reads back user variables a statement assigned, so they can follow the client to other connections. */
  private async captureUserVars(conn: BackendConnection, names: readonly string[]): Promise<void> {
    const packets = await conn.query('SELECT ' + names.map((n) => '@' + quoteUserVar(n)).join(','));
    const columns: Array<{ type: number; collation: number }> = [];
    for (let i = 1; i <= names.length; i++) {
      const c = parseColumnDefinition(packets[i]!.payload);
      columns.push({ type: c.type, collation: c.collation });
    }
    const deprecateEof = (conn.capabilities & Capability.DEPRECATE_EOF) !== 0;
    const row = new PayloadReader(packets[1 + names.length + (deprecateEof ? 0 : 1)]!.payload);
    for (let i = 0; i < names.length; i++) {
      const len = row.lenencOrNull();
      const literal = len === null ? 'NULL' : userVarLiteral(row.bytes(len), columns[i]!.type, columns[i]!.collation);
      this.state.setUserVar(names[i]!, literal);
      conn.state.setUserVar(names[i]!, literal);
    }
  }

  private finishCommand(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Idle;
    this.cur = null;
    this.maybeRelease();
    this.pump();
  }

  /** Gives the backend connection back unless something pins the client to it. */
  private maybeRelease(): void {
    const conn = this.backend;
    if (conn === null || this.pins.size > 0 || !this.ctx.config.multiplexing) return;
    if (this.stickyNext) {
      // Kept for SHOW WARNINGS, but only while nobody else needs a connection.
      conn.pool!.addSticky(this);
      return;
    }
    this.backend = null;
    if (this.backendPaused) {
      this.backendPaused = false;
      conn.socket.resume();
    }
    conn.pool!.release(conn);
  }

  releaseSticky(): void {
    if (this.backend === null || this.pins.size > 0 || this.phase !== Phase.Idle) return;
    this.stickyNext = false;
    this.maybeRelease();
  }

  private recomputeStatementPins(): void {
    let cursor = false;
    let longData = false;
    for (const s of this.statements.values()) {
      cursor ||= s.cursorOpen;
      longData ||= s.longData;
    }
    this.setPin(PinReason.CURSOR, cursor);
    this.setPin(PinReason.LONG_DATA, longData);
  }

  private addPin(reason: PinReasonName): void {
    if (this.pins.has(reason)) return;
    this.pins.add(reason);
    this.ctx.countPin(reason);
  }

  private setPin(reason: PinReasonName, on: boolean): void {
    if (on) this.addPin(reason);
    else this.pins.delete(reason);
  }

  pinReasons(): PinReasonName[] {
    return [...this.pins];
  }

  // ------------------------------------------------------------------------------------------------
  // Commands answered by Sluice itself

  private replyOk(): void {
    this.writeClient(okPacket(1, { status: this.lastStatus & (ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS) }, this.capabilities));
    this.finishLocal();
  }

  private sendError(spec: ErrorSpec, message: string, seq: number): void {
    this.writeClient(errPacket(seq, spec, message));
  }

  /** Ends a command that did not (or no longer does) involve the backend. */
  private finishLocal(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Idle;
    this.cur = null;
    this.maybeRelease();
    if (!this.pumping) this.pump();
  }

  private async onResetConnection(): Promise<void> {
    this.phase = Phase.Finishing;
    await this.resetBackendState(true);
    // Like the server: variables, user variables, temp tables, statements go; the current schema stays.
    const schema = this.state.schema;
    this.state.clear(charsetVariables(this.collation));
    this.state.setSchema(schema);
    this.statements.clear();
    this.applyUserRouting(this.user!);
    this.lastStatus = ServerStatus.AUTOCOMMIT;
    if (this.isClosed()) return;
    this.replyOk();
  }

  /** Drops everything the session holds on a backend (pins, temp tables, locks, cursors). */
  private async resetBackendState(keepOptionAllowed: boolean): Promise<void> {
    const conn = this.backend;
    const dirty = this.pins.size > 0;
    // The server keeps MULTI_STATEMENTS set by COM_SET_OPTION across a reset: so does the session here
    // (not across a change of user, whose sessions live in another pool).
    const keepOption = keepOptionAllowed && this.pins.has(PinReason.SET_OPTION);
    this.pins.clear();
    this.txLog = null;
    this.replayLog = null;
    this.txLostReason = null;
    if (this.stickyNext) conn?.pool?.removeSticky(this);
    this.stickyNext = false;
    if (conn === null) return;
    if (keepOption) {
      try {
        await conn.resetSession(false);
        this.pins.add(PinReason.SET_OPTION);
      } catch {
        this.detachBackend(true);
      }
      return;
    }
    this.backend = null;
    if (!dirty) {
      conn.pool!.release(conn);
      return;
    }
    try {
      await conn.resetSession();
      conn.pool!.release(conn);
    } catch {
      conn.pool!.discard(conn);
      conn.destroy();
    }
  }

  private async onChangeUser(p: Packet): Promise<void> {
    // Packets of the auth exchange come through the login path while it runs.
    this.phase = Phase.Handshake;
    try {
      const req = parseChangeUser(p.payload, this.capabilities);
      const verified = await verifyUser(this.ctx, this, req.user, req.token, req.plugin, this.scramble, 1, this.capabilities);
      await this.resetBackendState(false);
      this.statements.clear();
      await this.beginSession(verified.user, req.collation || this.collation, req.database ?? verified.user.defaultSchema, verified.nextSeq);
    } catch (err) {
      // MariaDB closes the connection when COM_CHANGE_USER fails.
      this.rejectLogin(err);
    }
  }

  private onKill(targetId: number, queryOnly: boolean): void {
    const target = this.ctx.sessions.get(targetId);
    if (!target) {
      this.sendError(ER.NO_SUCH_THREAD, `Unknown thread id: ${targetId}`, 1);
      return this.finishLocal();
    }
    if (target.userName !== this.userName) {
      this.sendError(ER.KILL_DENIED, `You are not owner of thread ${targetId}`, 1);
      return this.finishLocal();
    }
    if (target === this && !queryOnly) {
      this.sendError(ER.CONNECTION_KILLED, 'Connection was killed', 1);
      this.socket.end();
      this.close();
      return;
    }
    const threadId = target.currentBackendThreadId();
    // The serving connection may be a replica's: KILL goes to that server.
    const admin = this.ctx.adminFor(target.currentBackendName());
    if (queryOnly) {
      if (threadId === 0 || target.idle || admin === null) return this.replyOk();
      this.phase = Phase.Finishing;
      admin.rows(`KILL QUERY ${threadId}`).then(
        () => this.replyOk(),
        (err: Error) => {
          this.sendError(ER.NO_SUCH_THREAD, err.message, 1);
          this.finishLocal();
        },
      );
      return;
    }
    if (threadId !== 0 && !target.idle && admin !== null) void admin.rows(`KILL ${threadId}`).catch(() => undefined);
    target.kill();
    this.replyOk();
  }

  /** `SET sluice_route = …`, `SET sluice_consistency = …`, `SET sluice_consistency_timeout_ms = …`. */
  private onSluiceSet(sql: string): void {
    const m = /^\s*SET\s+(?:SESSION\s+|@@(?:SESSION\.)?)?(sluice_\w+)\s*(?:=|:=)\s*'?([\w.-]+)'?\s*;?\s*$/i.exec(sql);
    // Supported: sluice_route, sluice_consistency, sluice_consistency_timeout_ms, sluice_policy.
    if (!m) {
      this.sendError({ code: 1064, sqlState: '42000' }, 'Sluice variables are set one at a time: SET sluice_<name> = <value>', 1);
      return this.finishLocal();
    }
    const name = m[1]!.toLowerCase();
    const value = m[2]!.toLowerCase();
    const bad = (allowed: string) => {
      this.sendError({ code: 1231, sqlState: '42000' }, `Variable '${name}' can't be set to the value of '${m[2]}' (allowed: ${allowed})`, 1);
      this.finishLocal();
    };
    switch (name) {
      case 'sluice_route':
        if (value !== 'auto' && value !== 'primary' && value !== 'replica') return bad('auto, primary, replica');
        this.routePreference = value;
        break;
      case 'sluice_consistency':
        if (value !== 'eventual' && value !== 'session' && value !== 'instance' && value !== 'global') return bad('eventual, session, instance, global');
        this.consistencyLevel = value;
        break;
      case 'sluice_policy':
        if (!(BALANCE_POLICIES as readonly string[]).includes(value)) return bad(BALANCE_POLICIES.join(', '));
        this.balancer = value === this.ctx.router?.config.policy ? null : new Balancer(value as BalancePolicy);
        break;
      case 'sluice_consistency_timeout_ms': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 3600000) return bad('0 … 3600000');
        this.consistencyTimeoutMs = n;
        break;
      }
      default:
        this.sendError({ code: 1193, sqlState: 'HY000' }, `Unknown system variable '${name}'`, 1);
        return this.finishLocal();
    }
    this.replyOk();
  }

  /** `SLUICE EXPLAIN <statement>`: where the statement would go and why, as a result set. */
  private onSluiceStatement(sql: string): void {
    const m = /^\s*SLUICE\s+EXPLAIN\s+([\s\S]+)$/i.exec(sql);
    if (!m) return this.onAdminStatement(sql);
    const stmt = Buffer.from(m[1]!, 'utf8');
    const info = lexStatement(stmt, 0, stmt.length, this.lexOptions());
    const router = this.ctx.router;
    const decision = decideRoute(info, {
      multiAllReads: this.allPartsReplicaEligible(stmt, 0),
      splitting: router !== null && router.hasReplicas && router.config.read_write_split && this.ctx.config.multiplexing,
      pinnedOrTransactional: this.pins.size > 0 || !this.autocommit(),
      preference: this.routePreference,
      readOnlyTransactionsToReplica: router?.config.read_only_transactions === 'replica',
    });
    let backend = this.ctx.primary.name;
    if (decision.target === 'replica') {
      const healthy = router?.healthyReplicas() ?? [];
      backend = healthy.length > 0 ? healthy.map((r) => r.name).join(',') : `${this.ctx.primary.name} (no replica available)`;
    }
    const rows = [[decision.target, backend, decision.reason, this.consistencyLevel, [...this.pins].join(',') || null]];
    this.writeClient(textResultSet(['route', 'backends', 'reason', 'consistency', 'pinned'], rows, this.capabilities, this.lastStatus & (ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS)));
    this.finishLocal();
  }

  /** SLUICE SHOW … / SLUICE SET BACKEND …: for users with `admin: true`. */
  private onAdminStatement(sql: string): void {
    if (isAdminStatement(sql) && !this.user?.admin) {
      this.sendError({ code: 1227, sqlState: '42000' }, 'Access denied; you need (at least one of) the SLUICE ADMIN privilege(s) for this operation', 1);
      return this.finishLocal();
    }
    if (isReloadStatement(sql)) return this.onReload();
    if (isSwitchoverStatement(sql)) {
      if (this.pins.size > 0) {
        // Its own pinned primary connection would hold up the switchover's drain.
        this.sendError({ code: 1105, sqlState: 'HY000' }, 'Sluice: SLUICE SWITCHOVER cannot run inside a transaction or while the session is pinned', 1);
        return this.finishLocal();
      }
      return void this.onSwitchover(sql);
    }
    const router = this.ctx.router;
    const result = runAdminStatement(sql, this.ctx, router?.monitorView() ?? null, router);
    if (result.kind === 'error') this.sendError({ code: result.code, sqlState: result.sqlState }, result.message, 1);
    else if (result.kind === 'ok') this.writeClient(okPacket(1, { status: this.lastStatus & (ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS), info: result.message }, this.capabilities));
    else this.writeClient(textResultSet(result.columns, result.rows, this.capabilities, this.lastStatus & (ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS)));
    this.finishLocal();
  }

  /** SLUICE SWITCHOVER [TO name]: answered when writes flow to the new primary (or with the reason it was refused). */
  private async onSwitchover(sql: string): Promise<void> {
    if (this.stickyNext) {
      // A courtesy-held primary connection would count as in use and hold up the switchover's drain.
      this.stickyNext = false;
      this.backend?.pool?.removeSticky(this);
      this.maybeRelease();
    }
    this.phase = Phase.Finishing;
    const result = await runSwitchover(sql, this.ctx);
    if (this.isClosed()) return;
    if (result.kind === 'error') this.sendError({ code: result.code, sqlState: result.sqlState }, result.message, 1);
    else this.writeClient(okPacket(1, { status: this.lastStatus & (ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS), info: result.message }, this.capabilities));
    this.finishLocal();
  }

  /** SLUICE RELOAD: re-read the config file and apply it (or say why not). */
  private onReload(): void {
    const reload = this.ctx.reloadFromFile;
    if (reload === null) {
      this.sendError({ code: 1210, sqlState: 'HY000' }, 'Sluice: this instance was not started from a config file; nothing to reload', 1);
      return this.finishLocal();
    }
    try {
      const changed = reload();
      this.writeClient(okPacket(1, { status: this.lastStatus & (ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS), info: `reloaded: ${changed.join(', ') || 'nothing changed'}` }, this.capabilities));
    } catch (err) {
      this.sendError({ code: 1210, sqlState: 'HY000' }, (err as Error).message.slice(0, 2000), 1);
    }
    this.finishLocal();
  }

  kill(): void {
    this.socket.destroy();
    this.close();
  }

  drain(): void {
    this.draining = true;
    if (this.phase === Phase.Idle && this.queue.length === 0) this.closeGracefully();
    if (this.phase === Phase.Handshake) this.kill();
  }

  private closeGracefully(): void {
    this.socket.end();
    this.close();
  }

  // ------------------------------------------------------------------------------------------------
  // Backend connection lost

  onBackendClosed(conn: BackendConnection): void {
    if (conn !== this.backend) return;
    this.shared = false;
    const wasPrimary = conn.pool !== null && conn.pool === this.pool;
    this.lostThreadId = conn.threadId;
    const pinsBefore = this.ctx.failover !== null && wasPrimary ? new Set(this.pins) : null;
    conn.pool?.removeSticky(this);
    conn.pool?.discard(conn);
    this.backend = null;
    this.backendPaused = false;
    const inFlight = this.phase === Phase.Forwarding || this.phase === Phase.Preparing || this.phase === Phase.Infile || this.phase === Phase.Finishing;
    const stateLost = this.pins.size > 0;
    this.pins.clear();
    this.stickyNext = false;
    for (const s of this.statements.values()) {
      s.cursorOpen = false;
      s.longData = false;
    }
    if (inFlight && !this.responded && !stateLost && this.retryElsewhere()) return;
    if (pinsBefore !== null && !this.draining) {
      const fo = this.ctx.failover!;
      if (fo.phase() !== 'normal') {
        if (this.onPrimaryConnectionLost(inFlight, pinsBefore)) return;
      } else {
        // Is the primary failing, or did only this connection go (KILL, a network blip)? Wait for the
        // verdict of a probe (milliseconds) before deciding between failover handling and the classic one.
        this.lostInFlight = inFlight;
        this.lostPins = pinsBefore;
        this.phase = Phase.Acquiring;
        this.held = true;
        fo.awaitVerdict(this);
        return;
      }
    }
    this.classicBackendLoss(inFlight, stateLost);
  }

  /** The failover manager decided whether the primary is failing (true) after a primary connection broke. */
  onPrimaryVerdict(failing: boolean): void {
    this.held = false;
    if (this.phase === Phase.Closed) return;
    const inFlight = this.lostInFlight;
    const pins = this.lostPins ?? new Set<PinReasonName>();
    this.lostPins = null;
    this.phase = inFlight ? Phase.Forwarding : Phase.Idle;
    if (!(failing && this.onPrimaryConnectionLost(inFlight, pins))) this.classicBackendLoss(inFlight, pins.size > 0);
    if (!inFlight && this.phase === Phase.Idle) this.pump();
  }

  /** Without failover handling: an error, and the client is closed when state went with the connection. */
  private classicBackendLoss(inFlight: boolean, stateLost: boolean): void {
    if (inFlight) {
      if (!this.responded) this.sendError(ER.BACKEND_LOST, 'Lost connection to backend server during query', (this.cur?.lastSeq ?? 0) + 1);
      if (this.responded || stateLost) {
        // Part of a result (or a transaction) is gone: the client cannot continue safely.
        this.socket.end();
        this.close();
        return;
      }
      this.finishLocal();
      return;
    }
    if (stateLost) {
      // An open transaction / locks / temp tables vanished with the server session.
      this.socket.end(errPacket(0, ER.BACKEND_LOST, 'Lost connection to backend server; the open transaction was rolled back'));
      this.close();
    }
  }

  private detachBackend(broken: boolean): void {
    const conn = this.backend;
    if (!conn) return;
    this.backend = null;
    if (broken) {
      conn.broken = true;
      conn.pool?.discard(conn);
      conn.destroy();
    } else conn.pool?.release(conn);
  }

  // ------------------------------------------------------------------------------------------------

  private releaseUserSlot(): void {
    if (!this.user) return;
    const n = (this.ctx.userConnections.get(this.user.name) ?? 1) - 1;
    if (n <= 0) this.ctx.userConnections.delete(this.user.name);
    else this.ctx.userConnections.set(this.user.name, n);
  }

  close(): void {
    if (this.phase === Phase.Closed) return;
    const phase = this.phase;
    this.phase = Phase.Closed;
    this.failAuth(new Error('connection closed'));
    this.ctx.sessions.delete(this.id);
    this.ctx.counters.clientConnections--;
    this.releaseUserSlot();
    if (phase === Phase.Acquiring) this.waitingPool?.cancelWait(this);
    if (this.held) this.ctx.failover?.buffer.cancel(this);
    this.backend?.pool?.removeSticky(this);
    const conn = this.backend;
    this.backend = null;
    if (conn !== null && this.shared) {
      // Others' statements share this connection: only this session's response is dropped (and its share of
      // the connection ends when that response has gone by).
      this.shared = false;
      conn.abandonPipelined(this);
    } else if (conn) {
      if (phase === Phase.Forwarding || phase === Phase.Preparing || phase === Phase.Infile || phase === Phase.Finishing) {
        // Mid-statement: the server session is in an unknown state.
        conn.broken = true;
        conn.pool?.discard(conn);
        conn.destroy();
      } else if (this.pins.size > 0 || this.stickyNext || conn.scanner.isActive()) {
        const pool = conn.pool!;
        conn.owner = pool;
        conn.resetSession().then(
          () => pool.release(conn),
          () => {
            pool.discard(conn);
            conn.destroy();
          },
        );
      } else {
        conn.pool?.release(conn);
      }
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** The server answered a re-prepare with an ERR; the connection itself is in a known state. */
class PrepareFailed extends BackendError {}

/** A transaction cut off by a failover could not be replayed. */
class TransactionLost extends BackendError {}

function transactionLost(why: string): BackendError {
  return new BackendError(
    `Sluice: the primary failed during this transaction and it could not be replayed (${why}); it was rolled back. Retry the transaction.`,
    ER.LOCK_DEADLOCK.code,
    ER.LOCK_DEADLOCK.sqlState,
    'SLUICE_TRANSACTION_LOST',
  );
}


/** Did this command reach the backend as the client's own statement (not a SLUICE command or a reset)? */
function forwardsToBackend(cur: Packet, info: StatementInfo | null): boolean {
  const c = cur.payload[0];
  if (c === Command.QUERY) return info === null || info.kind !== StatementKind.Sluice;
  return c !== Command.RESET_CONNECTION && c !== Command.CHANGE_USER && c !== Command.STMT_CLOSE && c !== Command.PING;
}

/**
 * Statements that may commit the open transaction (explicitly or implicitly): anything but reads, row
 * DML, savepoints and ROLLBACK. (Replaying such a statement could commit twice.)
 */
function mayCommit(kind: StatementKind): boolean {
  return !(isReadKind(kind) || isRowDml(kind) || kind === StatementKind.Savepoint || kind === StatementKind.Release || kind === StatementKind.Rollback);
}

function isAscii(b: Buffer, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i]! > 0x7e || (b[i]! < 0x20 && b[i] !== 0x09 && b[i] !== 0x0a && b[i] !== 0x0d)) return false;
  return true;
}

/** The query text as the server keeps it (alloc_query: leading whitespace and trailing ';'/whitespace go). */
function binlogText(sql: string): string {
  return sql.replace(/^\s+/, '').replace(/[\s;]+$/, '');
}

/** INSERT / UPDATE / DELETE / REPLACE: binlogged (row format) with their text in an Annotate_rows event. */
function isRowDml(kind: StatementKind): boolean {
  return kind === StatementKind.Insert || kind === StatementKind.Update || kind === StatementKind.Delete || kind === StatementKind.Replace;
}

/** ER_OPTION_PREVENTS_STATEMENT: "… running with the --read-only option …". */
const ER_OPTION_PREVENTS_STATEMENT = 1290;

/** A SET whose (first) variable is one of Sluice's own. */
const SLUICE_SET = /^\s*SET\s+(?:SESSION\s+|@@(?:SESSION\.)?)?sluice_/i;

const SHOW_DIAGNOSTICS = /^\s*SHOW\s+(?:COUNT\s*\(\s*\*\s*\)\s+)?(?:WARNINGS|ERRORS)\b/i;
const SELECT_DIAGNOSTICS = /\b(?:@@(?:SESSION\.)?(?:WARNING_COUNT|ERROR_COUNT)|ROW_COUNT\s*\(|FOUND_ROWS\s*\()/i;
const GET_DIAGNOSTICS = /^\s*GET\s+(?:CURRENT\s+|STACKED\s+)?DIAGNOSTICS\b/i;

/**
 * SHOW WARNINGS / ERRORS, SELECT @@warning_count / ROW_COUNT() / FOUND_ROWS(), GET DIAGNOSTICS: statements
 * about the previous statement's session, which must run where it ran. Never true for a write.
 */
function readsDiagnostics(payload: Buffer, info: StatementInfo): boolean {
  if (payload[0] !== Command.QUERY || payload.length > 512) return false;
  const sql = payload.toString('latin1', 1);
  if (info.kind === StatementKind.Show) return SHOW_DIAGNOSTICS.test(sql);
  if (info.kind === StatementKind.Select) return SELECT_DIAGNOSTICS.test(sql) && !(info.flags & StatementFlag.MULTI_STATEMENT);
  return GET_DIAGNOSTICS.test(sql);
}

/** a equals b[off, off + n) (a few bytes: cheaper in JavaScript than Buffer.equals' call into C++). */
function sameBytes(a: Buffer | null, b: Buffer, off: number, n: number): boolean {
  if (a === null || a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[off + i]) return false;
  return true;
}

function closeStatementPacket(id: number): Buffer {
  return new PacketWriter(9).u8(Command.STMT_CLOSE).u32(id).finish(0);
}

function stmtIdCommand(command: number, id: number): PacketWriter {
  return new PacketWriter(9).u8(command).u32(id);
}

function explainsStateChange(info: StatementInfo | null, command: number | undefined): boolean {
  if (command === Command.INIT_DB || command === Command.STMT_PREPARE || command === Command.RESET_CONNECTION) return true;
  if (info === null) return command !== Command.QUERY;
  if (info.flags & (StatementFlag.USER_VAR_WRITE | StatementFlag.TEMPORARY | StatementFlag.SESSION_SYSVAR_WRITE)) return true;
  switch (info.kind) {
    case StatementKind.Set:
    case StatementKind.Use:
    case StatementKind.Prepare:
    case StatementKind.Deallocate:
    case StatementKind.Execute:
    case StatementKind.Begin:
    case StatementKind.Commit:
    case StatementKind.Rollback:
      return true;
    default:
      return false;
  }
}

/** SQL literal that recreates a user variable's value from its text-protocol form and column type. */
function userVarLiteral(value: Buffer, type: number, collation: number): string {
  switch (type) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.LONG:
    case ColumnType.INT24:
    case ColumnType.LONGLONG:
    case ColumnType.DECIMAL:
    case ColumnType.NEWDECIMAL:
      return value.toString('latin1');
    case ColumnType.DOUBLE:
    case ColumnType.FLOAT: {
      const s = value.toString('latin1');
      return /e/i.test(s) ? s : s + 'E0';
    }
    default: {
      if (collation === 63) return `X'${value.toString('hex')}'`;
      const c = collationById(collation);
      if (!c) return `X'${value.toString('hex')}'`;
      return `_${c.charset} X'${value.toString('hex')}' COLLATE ${c.name}`;
    }
  }
}

/** A duplex over `raw` that first yields `early` (bytes already read from it), then raw's data. */
function replayingDuplex(raw: net.Socket, early: Buffer): Duplex {
  const d = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end(cb);
    },
    destroy(err, cb) {
      raw.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(early);
  raw.on('data', (chunk: Buffer) => {
    if (!d.push(chunk)) raw.pause();
  });
  raw.on('end', () => d.push(null));
  raw.on('close', () => d.destroy());
  raw.on('error', (err) => d.destroy(err));
  return d;
}

function normalizeHost(addr: string): string {
  if (addr.startsWith('::ffff:')) return addr.slice(7);
  return addr;
}
