// Column definition packets (Protocol::ColumnDefinition41).
import { PayloadReader } from './reader.js';

export const ColumnType = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  VARCHAR: 0x0f,
  BIT: 0x10,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const;

export interface ColumnDefinition {
  schema: string;
  table: string;
  name: string;
  collation: number;
  length: number;
  type: number;
  flags: number;
  decimals: number;
}

export function parseColumnDefinition(payload: Buffer): ColumnDefinition {
  const r = new PayloadReader(payload);
  r.lenencString(); // catalog
  const schema = r.lenencString();
  const table = r.lenencString();
  r.lenencString(); // org_table
  const name = r.lenencString();
  r.lenencString(); // org_name
  r.lenenc(); // length of fixed fields (0x0c)
  const collation = r.u16();
  const length = r.u32();
  const type = r.u8();
  const flags = r.u16();
  const decimals = r.u8();
  return { schema, table, name, collation, length, type, flags, decimals };
}

export interface ColumnFields {
  name: string;
  type: number;
  collation?: number;
  length?: number;
  flags?: number;
  decimals?: number;
  schema?: string;
  table?: string;
}

import { PacketWriter } from './writer.js';

export function writeColumnDefinition(c: ColumnFields): PacketWriter {
  return new PacketWriter(64)
    .lenencString('def')
    .lenencString(c.schema ?? '')
    .lenencString(c.table ?? '')
    .lenencString(c.table ?? '')
    .lenencString(c.name)
    .lenencString(c.name)
    .lenenc(0x0c)
    .u16(c.collation ?? 45)
    .u32(c.length ?? 255)
    .u8(c.type)
    .u16(c.flags ?? 0)
    .u8(c.decimals ?? 0)
    .u16(0);
}
