// Structured logging (pino). Passwords never reach a log line: redact paths cover the config keys that
// hold secrets, and call sites never log auth payloads.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { app: 'sluice' },
      redact: {
        paths: ['password', '*.password', '*.backend_password', '*.password_hash', 'config.users[*].password'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
