// Options of `sluice sandbox`, as parsed by src/cli/main.ts and handed to runSandbox() in
// src/sandbox/sandbox.ts.
import type { LogLevel } from '../util/log.js';

export interface SandboxCliOptions {
  /** Port Sluice listens on for MySQL clients (default 6033; 0 = any free port). */
  port: number;
  /** First MariaDB port (primary; replicas use the following ports). Undefined = pick free ports. */
  basePort?: number;
  /** Number of MariaDB replicas next to the primary (default 2). */
  replicas: number;
  /** Working directory for datadirs, sockets, logs. Undefined = the sandbox picks one. */
  dir?: string;
  /** Enable backend connection multiplexing (--multiplexing on|off, default on). */
  multiplexing: boolean;
  /** MariaDB semi-synchronous replication (--semi-sync on|off, default on). */
  semiSync: boolean;
  /** Failover mode (--failover auto|follow|off, default auto): promote replicas / only follow / none. */
  failover: 'auto' | 'follow' | 'off';
  /** Admin HTTP port (API, /metrics, dashboard) (--admin-port, default 9033; 0 = any free port). */
  adminPort: number;
  logLevel: LogLevel;
}

/**
 * Contract of `runSandbox` exported by src/sandbox/sandbox.ts. Either it resolves when the sandbox has been
 * torn down (handling SIGINT/SIGTERM itself), or it resolves to a handle once everything is up: the CLI then
 * waits for SIGINT/SIGTERM and calls `close()`.
 */
export type RunSandbox = (opts: SandboxCliOptions) => Promise<void | { close(): Promise<void> }>;
