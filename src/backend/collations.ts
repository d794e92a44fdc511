// Collation ids (as sent in handshakes and column definitions) → names, for setting a client's
// character set on a backend session. Loaded from the server at start; common ids are built in.

export interface CollationInfo {
  name: string;
  charset: string;
}

const builtIn: Array<[number, string, string]> = [
  [8, 'latin1_swedish_ci', 'latin1'],
  [33, 'utf8mb3_general_ci', 'utf8mb3'],
  [45, 'utf8mb4_general_ci', 'utf8mb4'],
  [46, 'utf8mb4_bin', 'utf8mb4'],
  [47, 'latin1_bin', 'latin1'],
  [63, 'binary', 'binary'],
  [83, 'utf8mb3_bin', 'utf8mb3'],
  [192, 'utf8mb3_unicode_ci', 'utf8mb3'],
  [224, 'utf8mb4_unicode_ci', 'utf8mb4'],
];

const table = new Map<number, CollationInfo>(builtIn.map(([id, name, charset]) => [id, { name, charset }]));

export function collationById(id: number): CollationInfo | undefined {
  return table.get(id);
}

export function registerCollations(rows: Iterable<[number, string, string]>): void {
  for (const [id, name, charset] of rows) table.set(id, { name, charset });
}

/** The four variables a handshake collation sets on a fresh session. */
export function charsetVariables(collationId: number): Map<string, string> {
  const c = collationById(collationId) ?? collationById(45)!;
  return new Map([
    ['character_set_client', c.charset],
    ['character_set_connection', c.charset],
    ['character_set_results', c.charset],
    ['collation_connection', c.name],
  ]);
}
