// Handshake v10 (server greeting) and HandshakeResponse41 (client reply), both directions.
import { Capability } from './constants.js';
import { PayloadReader } from './reader.js';
import { PacketWriter } from './writer.js';

export interface HandshakeV10 {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** 20-byte scramble (auth plugin data parts 1 + 2, without the trailing NUL). */
  scramble: Buffer;
  capabilities: number;
  mariaCapabilities: number;
  collation: number;
  status: number;
  authPlugin: string;
}

export function parseHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new PayloadReader(payload);
  const protocolVersion = r.u8();
  if (protocolVersion !== 10) throw new Error(`unsupported handshake protocol version ${protocolVersion}`);
  const serverVersion = r.nulString();
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.skip(1);
  let capabilities = r.u16();
  let collation = 0;
  let status = 0;
  let authDataLen = 0;
  let mariaCapabilities = 0;
  let part2: Buffer = Buffer.alloc(0);
  let authPlugin = 'mysql_native_password';
  if (r.remaining() > 0) {
    collation = r.u8();
    status = r.u16();
    capabilities |= r.u16() << 16;
    capabilities >>>= 0;
    authDataLen = r.u8();
    r.skip(6);
    mariaCapabilities = r.u32();
    if (capabilities & Capability.SECURE_CONNECTION) {
      const n = Math.max(13, authDataLen - 8);
      part2 = r.bytes(Math.min(n, r.remaining()));
      if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & Capability.PLUGIN_AUTH && r.remaining() > 0) authPlugin = r.nulString();
  }
  if (capabilities & Capability.LONG_PASSWORD) mariaCapabilities = 0; // MySQL server: no MariaDB extensions
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    scramble: Buffer.concat([part1, part2]),
    capabilities,
    mariaCapabilities,
    collation,
    status,
    authPlugin,
  };
}

export function writeHandshakeV10(h: Omit<HandshakeV10, 'protocolVersion'>): PacketWriter {
  const w = new PacketWriter(128);
  w.u8(10)
    .nulString(h.serverVersion)
    .u32(h.connectionId)
    .bytes(h.scramble.subarray(0, 8))
    .u8(0)
    .u16(h.capabilities & 0xffff)
    .u8(h.collation)
    .u16(h.status)
    .u16((h.capabilities >>> 16) & 0xffff)
    .u8(h.scramble.length + 1)
    .zeros(6)
    .u32(h.mariaCapabilities)
    .bytes(h.scramble.subarray(8))
    .u8(0)
    .nulString(h.authPlugin);
  return w;
}

export interface HandshakeResponse {
  capabilities: number;
  mariaCapabilities: number;
  maxPacketSize: number;
  collation: number;
  /** True when this is only an SSLRequest (client wants TLS before the real response). */
  sslRequest: boolean;
  user: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string | null;
  attributes: Record<string, string>;
}

export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PayloadReader(payload);
  const capabilities = r.u32();
  if (!(capabilities & Capability.PROTOCOL_41)) {
    throw new Error('client does not support protocol 4.1');
  }
  const maxPacketSize = r.u32();
  const collation = r.u8();
  r.skip(19);
  const mariaCapabilities = capabilities & Capability.LONG_PASSWORD ? (r.skip(4), 0) : r.u32();
  const base = {
    capabilities,
    mariaCapabilities,
    maxPacketSize,
    collation,
    user: '',
    authResponse: Buffer.alloc(0),
    database: null,
    authPlugin: null,
    attributes: {},
  };
  if (r.remaining() === 0) return { ...base, sslRequest: true };
  const user = r.nulString();
  let authResponse: Buffer;
  if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.lenencBytes();
  else if (capabilities & Capability.SECURE_CONNECTION) authResponse = r.bytes(r.u8());
  else authResponse = r.nulBytes();
  let database: string | null = null;
  if (capabilities & Capability.CONNECT_WITH_DB && r.remaining() > 0) {
    database = r.nulString();
    if (database === '') database = null;
  }
  let authPlugin: string | null = null;
  if (capabilities & Capability.PLUGIN_AUTH && r.remaining() > 0) authPlugin = r.nulString();
  const attributes: Record<string, string> = {};
  if (capabilities & Capability.CONNECT_ATTRS && r.remaining() > 0) {
    const total = r.lenenc();
    const end = Math.min(r.pos + total, r.end);
    while (r.pos < end) {
      const k = r.lenencString();
      const v = r.lenencString();
      attributes[k] = v;
    }
  }
  return { ...base, sslRequest: false, user, authResponse, database, authPlugin, attributes };
}

export interface HandshakeResponseFields {
  capabilities: number;
  mariaCapabilities: number;
  maxPacketSize: number;
  collation: number;
  user: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string;
  attributes?: Record<string, string>;
}

function writeResponsePrefix(w: PacketWriter, f: { capabilities: number; mariaCapabilities: number; maxPacketSize: number; collation: number }): void {
  w.u32(f.capabilities).u32(f.maxPacketSize).u8(f.collation).zeros(19).u32(f.mariaCapabilities);
}

export function writeSslRequest(f: { capabilities: number; mariaCapabilities: number; maxPacketSize: number; collation: number }): PacketWriter {
  const w = new PacketWriter(36);
  writeResponsePrefix(w, f);
  return w;
}

export function writeHandshakeResponse(f: HandshakeResponseFields): PacketWriter {
  const w = new PacketWriter(256);
  writeResponsePrefix(w, f);
  w.nulString(f.user);
  if (f.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(f.authResponse);
  else w.u8(f.authResponse.length).bytes(f.authResponse);
  if (f.capabilities & Capability.CONNECT_WITH_DB) w.nulString(f.database ?? '');
  if (f.capabilities & Capability.PLUGIN_AUTH) w.nulString(f.authPlugin);
  if (f.capabilities & Capability.CONNECT_ATTRS) {
    const attrs = new PacketWriter(64);
    for (const [k, v] of Object.entries(f.attributes ?? {})) attrs.lenencString(k).lenencString(v);
    const body = attrs.finish(0).subarray(4);
    w.lenencBytes(body);
  }
  return w;
}

export interface AuthSwitchRequest {
  plugin: string;
  data: Buffer;
}

/** 0xfe + plugin name + data (data usually ends with a NUL that is not part of the scramble). */
export function parseAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const r = new PayloadReader(payload);
  r.u8();
  const plugin = r.nulString();
  let data = r.restBytes();
  if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { plugin, data };
}

export function authSwitchRequestPacket(seq: number, plugin: string, scramble: Buffer): Buffer {
  return new PacketWriter(64).u8(0xfe).nulString(plugin).bytes(scramble).u8(0).finish(seq);
}

/** Auth "more data" packet: 0x01 + data. */
export function authMoreDataPacket(seq: number, data: Buffer): Buffer {
  return new PacketWriter(data.length + 8).u8(0x01).bytes(data).finish(seq);
}
