// The MySQL/MariaDB errors Sluice itself sends, worded as MariaDB words them, plus Sluice's own codes.
// Each entry: numeric error code, SQLSTATE, and a message template.

export interface ErrorSpec {
  readonly code: number;
  readonly sqlState: string;
}

export const ER = {
  ACCESS_DENIED: { code: 1045, sqlState: '28000' },
  TOO_MANY_CONNECTIONS: { code: 1040, sqlState: '08004' },
  TOO_MANY_USER_CONNECTIONS: { code: 1203, sqlState: '42000' },
  UNKNOWN_COM: { code: 1047, sqlState: '08S01' },
  NET_PACKET_TOO_LARGE: { code: 1153, sqlState: '08S01' },
  NET_READ_ERROR: { code: 1158, sqlState: '08S01' },
  HANDSHAKE_ERROR: { code: 1043, sqlState: '08S01' },
  NO_SUCH_THREAD: { code: 1094, sqlState: 'HY000' },
  KILL_DENIED: { code: 1095, sqlState: 'HY000' },
  UNKNOWN_STMT_HANDLER: { code: 1243, sqlState: 'HY000' },
  WRONG_ARGUMENTS: { code: 1210, sqlState: 'HY000' },
  NOT_SUPPORTED_AUTH_MODE: { code: 1251, sqlState: '08004' },
  SECURE_TRANSPORT_REQUIRED: { code: 3159, sqlState: 'HY000' },
  SERVER_SHUTDOWN: { code: 1053, sqlState: '08S01' },
  CONNECTION_KILLED: { code: 1927, sqlState: '70100' },
  QUERY_INTERRUPTED: { code: 1317, sqlState: '70100' },
  MALFORMED_PACKET: { code: 1835, sqlState: 'HY000' },
  /** A COMMIT (or autocommit write) cut off by a primary failure: the outcome is unknown. */
  ERROR_DURING_COMMIT: { code: 1180, sqlState: 'HY000' },
  /** The transaction was rolled back (here: lost in a failover, not replayable); retry it. */
  LOCK_DEADLOCK: { code: 1213, sqlState: '40001' },
  /** Sluice: no backend connection could be had in time (pool exhausted or backend down). */
  BACKEND_UNAVAILABLE: { code: 2013, sqlState: 'HY000' },
  /** Sluice: the backend connection serving the statement was lost. */
  BACKEND_LOST: { code: 2013, sqlState: 'HY000' },
} as const satisfies Record<string, ErrorSpec>;

export function accessDeniedMessage(user: string, host: string, usingPassword: boolean): string {
  return `Access denied for user '${user}'@'${host}' (using password: ${usingPassword ? 'YES' : 'NO'})`;
}
