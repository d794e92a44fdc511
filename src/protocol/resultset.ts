// Builds complete text-protocol result sets for answers Sluice gives itself (admin, SLUICE statements).
import { ColumnType, writeColumnDefinition } from './column.js';
import { Capability } from './constants.js';
import { eofPacket, okPacket } from './packets.js';
import { PacketWriter } from './writer.js';

export type Cell = string | number | bigint | null;

export function textResultSet(
  columns: string[],
  rows: Cell[][],
  capabilities: number,
  status: number,
  firstSeq = 1,
): Buffer {
  const parts: Buffer[] = [];
  let seq = firstSeq;
  parts.push(new PacketWriter(8).lenenc(columns.length).finish(seq++));
  for (const name of columns) parts.push(writeColumnDefinition({ name, type: ColumnType.VAR_STRING, length: 1024 }).finish(seq++));
  const deprecateEof = (capabilities & Capability.DEPRECATE_EOF) !== 0;
  if (!deprecateEof) parts.push(eofPacket(seq++, status));
  for (const row of rows) {
    const w = new PacketWriter(64);
    for (const cell of row) {
      if (cell === null) w.u8(0xfb);
      else w.lenencString(String(cell));
    }
    parts.push(w.finish(seq++));
  }
  if (deprecateEof) parts.push(okPacket(seq++, { header: 0xfe, status }, capabilities));
  else parts.push(eofPacket(seq++, status));
  return Buffer.concat(parts);
}
