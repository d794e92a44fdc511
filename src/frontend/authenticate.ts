// The login conversation with a client: greeting, optional TLS upgrade, handshake response, auth plugin
// (mysql_native_password or caching_sha2_password incl. auth switch, fast auth, full auth over TLS or
// with the RSA key), and the checks that follow (TLS required, connection limits). Also COM_CHANGE_USER.
import { Capability, SLUICE_SERVER_CAPABILITIES, ServerStatus } from '../protocol/constants.js';
import type { Packet } from '../protocol/framer.js';
import { authMoreDataPacket, authSwitchRequestPacket, parseHandshakeResponse, writeHandshakeV10, type HandshakeResponse } from '../protocol/handshake.js';
import { cleartextPassword, decryptRsaPassword, nativeStage1, newScramble, sha1, sha256, verifyNativeToken, verifySha2Token } from '../protocol/auth.js';
import { ER, accessDeniedMessage } from '../protocol/errors.js';
import { errPacket } from '../protocol/packets.js';
import { PayloadReader } from '../protocol/reader.js';
import type { ProxyContext } from './context.js';
import type { ClientUser } from './users.js';

/** What the authenticator needs from the connection; implemented by ClientSession. */
export interface AuthIO {
  readPacket(): Promise<Packet>;
  write(bytes: Buffer): void;
  upgradeTls(): Promise<void>;
  readonly secure: boolean;
  readonly remoteHost: string;
}

export interface AuthResult {
  user: ClientUser;
  response: HandshakeResponse;
  capabilities: number;
  collation: number;
  database: string | null;
  /** Sequence id of the next packet Sluice sends (the final OK). */
  nextSeq: number;
}

export class AuthFailure extends Error {
  constructor(message: string, readonly packet: Buffer | null) {
    super(message);
  }
}

export async function authenticate(ctx: ProxyContext, io: AuthIO, connectionId: number, scramble: Buffer): Promise<AuthResult> {
  const tlsAvailable = ctx.secureContext !== null;
  const serverCaps = SLUICE_SERVER_CAPABILITIES | (tlsAvailable ? Capability.SSL : 0);
  io.write(
    writeHandshakeV10({
      serverVersion: ctx.serverVersion,
      connectionId,
      scramble,
      capabilities: serverCaps,
      mariaCapabilities: 0,
      collation: 45,
      status: ServerStatus.AUTOCOMMIT,
      authPlugin: 'mysql_native_password',
    }).finish(0),
  );
  let pkt = await io.readPacket();
  let response = parseHandshakeResponse(pkt.payload);
  if (response.sslRequest) {
    if (!tlsAvailable) throw new AuthFailure('client asked for TLS, which is not configured', errPacket(pkt.seq + 1, ER.HANDSHAKE_ERROR, 'Bad handshake'));
    await io.upgradeTls();
    pkt = await io.readPacket();
    response = parseHandshakeResponse(pkt.payload);
  }
  const capabilities = response.capabilities & serverCaps;
  let seq = (pkt.seq + 1) & 0xff;
  if (ctx.config.tls?.require && !io.secure) {
    throw new AuthFailure('TLS required', errPacket(seq, ER.SECURE_TRANSPORT_REQUIRED, 'Connections using insecure transport are prohibited while --require_secure_transport=ON.'));
  }
  const verified = await verifyUser(ctx, io, response.user, response.authResponse, response.authPlugin ?? 'mysql_native_password', scramble, seq, capabilities);
  return {
    user: verified.user,
    response,
    capabilities,
    collation: response.collation || 45,
    database: response.database,
    nextSeq: verified.nextSeq,
  };
}

/**
 * Checks a user's credentials. `firstPlugin`/`firstToken` are what the client already sent; Sluice switches
 * plugin when the user's differs. Returns the user and the sequence id for the final OK.
 */
export async function verifyUser(
  ctx: ProxyContext,
  io: AuthIO,
  userName: string,
  firstToken: Buffer,
  firstPlugin: string,
  scramble: Buffer,
  seq: number,
  capabilities: number,
): Promise<{ user: ClientUser; nextSeq: number }> {
  const user = await ctx.users.lookup(userName, io.remoteHost);
  let token = firstToken;
  let plugin = firstPlugin;
  let nonce = scramble;
  const deny = (s: number, usedPassword: boolean) => {
    ctx.counters.authFailures++;
    return new AuthFailure(`access denied for ${userName}`, errPacket(s, ER.ACCESS_DENIED, accessDeniedMessage(userName, io.remoteHost, usedPassword)));
  };
  const wanted = user?.plugin ?? 'mysql_native_password';
  if (plugin !== wanted || !(capabilities & Capability.PLUGIN_AUTH && capabilities & Capability.SECURE_CONNECTION)) {
    if (!(capabilities & Capability.PLUGIN_AUTH)) throw deny(seq, token.length > 0);
    nonce = newScramble();
    io.write(authSwitchRequestPacket(seq, wanted, nonce));
    const reply = await io.readPacket();
    token = reply.payload;
    seq = (reply.seq + 1) & 0xff;
    plugin = wanted;
  }
  if (!user) throw deny(seq, token.length > 0);

  if (plugin === 'mysql_native_password') {
    if (user.nativeStage2 === null) {
      if (token.length !== 0) throw deny(seq, true);
      ctx.users.learnFromLogin(user, null, '');
      return { user, nextSeq: seq };
    }
    const stage1 = verifyNativeToken(token, nonce, user.nativeStage2);
    if (!stage1) throw deny(seq, token.length > 0);
    ctx.users.learnFromLogin(user, stage1, null);
    return { user, nextSeq: seq };
  }

  // caching_sha2_password
  if (token.length === 0 || (token.length === 1 && token[0] === 0)) {
    if (user.nativeStage2 === null && (user.password ?? '') === '') return { user, nextSeq: seq };
    throw deny(seq, false);
  }
  if (user.sha2Stage2 !== null) {
    if (!verifySha2Token(token, nonce, user.sha2Stage2)) throw deny(seq, true);
    io.write(authMoreDataPacket(seq, Buffer.from([0x03])));
    return { user, nextSeq: (seq + 1) & 0xff };
  }
  // Full authentication: the password itself, over TLS or encrypted with our RSA key.
  io.write(authMoreDataPacket(seq, Buffer.from([0x04])));
  let reply = await io.readPacket();
  seq = (reply.seq + 1) & 0xff;
  let password: string;
  if (io.secure) {
    password = cleartextPassword(reply.payload);
  } else {
    if (!(reply.payload.length === 1 && reply.payload[0] === 0x02) || ctx.rsaPrivateKey === null) {
      throw new AuthFailure('caching_sha2 full auth without TLS or RSA', errPacket(seq, ER.ACCESS_DENIED, accessDeniedMessage(userName, io.remoteHost, true)));
    }
    io.write(authMoreDataPacket(seq, Buffer.from(ctx.rsaPublicPem, 'utf8')));
    reply = await io.readPacket();
    seq = (reply.seq + 1) & 0xff;
    try {
      password = decryptRsaPassword(reply.payload, ctx.rsaPrivateKey, nonce);
    } catch {
      throw deny(seq, true);
    }
  }
  const ok = user.password !== null ? password === user.password : user.nativeStage2 !== null && nativeStage2Matches(password, user.nativeStage2);
  if (!ok) throw deny(seq, true);
  ctx.users.learnFromLogin(user, null, password);
  if (user.source === 'config' && user.sha2Stage2 === null) user.sha2Stage2 = sha256(sha256(Buffer.from(password, 'utf8')));
  return { user, nextSeq: seq };
}

function nativeStage2Matches(password: string, stage2: Buffer): boolean {
  return sha1(nativeStage1(password)).equals(stage2);
}

export interface ChangeUserRequest {
  user: string;
  token: Buffer;
  database: string | null;
  collation: number;
  plugin: string;
}

export function parseChangeUser(payload: Buffer, capabilities: number): ChangeUserRequest {
  const r = new PayloadReader(payload, 1);
  const user = r.nulString();
  const token = capabilities & Capability.SECURE_CONNECTION ? r.bytes(r.u8()) : r.nulBytes();
  let database: string | null = r.remaining() > 0 ? r.nulString() : null;
  if (database === '') database = null;
  const collation = r.remaining() >= 2 ? r.u16() : 0;
  const plugin = capabilities & Capability.PLUGIN_AUTH && r.remaining() > 0 ? r.nulString() : 'mysql_native_password';
  return { user, token, database, collation, plugin };
}
