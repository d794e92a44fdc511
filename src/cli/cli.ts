// The `sluice` command line: argument parsing, help, and the subcommands. src/cli/main.ts runs it.
//
// Exit codes: 0 ok, 1 runtime or configuration error, 2 bad command line.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { CONFIG_REFERENCE } from '../config/reference.js';
import { LOG_LEVELS } from '../config/schema.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import type { RunSandbox, SandboxCliOptions } from './sandbox-options.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const defaultIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  port: { type: 'string' },
  'base-port': { type: 'string' },
  replicas: { type: 'string' },
  dir: { type: 'string' },
  multiplexing: { type: 'string' },
  'semi-sync': { type: 'string' },
  failover: { type: 'string' },
  'admin-port': { type: 'string' },
  admin: { type: 'string' },
  to: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

type OptionName = keyof typeof OPTIONS;

const COMMANDS: Record<string, readonly OptionName[]> = {
  run: ['config', 'log-level'],
  check: ['config'],
  status: ['admin'],
  switchover: ['admin', 'to', 'token'],
  sandbox: ['port', 'base-port', 'replicas', 'dir', 'multiplexing', 'semi-sync', 'failover', 'admin-port', 'log-level'],
  help: [],
  version: [],
};

export const USAGE = `\
Usage:
  sluice [run] --config <file> [--log-level <level>]
  sluice check --config <file>
  sluice status [--admin http://127.0.0.1:9033]
  sluice switchover [--to <backend>] [--admin http://127.0.0.1:9033] [--token <token>]
  sluice sandbox [--port <n>] [--base-port <n>] [--replicas <n>] [--dir <path>] [--multiplexing on|off]
                 [--log-level <level>]
  sluice help | --help | -h
  sluice version | --version | -V

Commands:
  run (default)   Start the proxy with the given configuration. SIGTERM/SIGINT shut it down gracefully
                  (in-flight statements get shutdown_grace_ms; a second signal exits at once).
                  SIGHUP reloads the configuration file (users, pools, routing, replicas) without
                  dropping clients; an invalid file or a change that needs a restart is refused and logged.
  check           Validate the configuration file (including TLS files) and exit: 0 valid, 1 invalid.
  status          Show backends (role, health, lag, connections), pools and counters of a running Sluice,
                  read from its admin HTTP API (admin.http in its config). --admin <url> (default
                  http://127.0.0.1:9033). Exit 1 when it cannot be reached.
  switchover      Planned primary change on a running Sluice (failover enabled), through its admin HTTP API
                  (POST /api/v1/switchover): statements for the primary are held, the target replica catches
                  up and is promoted, and writes resume there. Prints "switched over from A to B (pause N ms)";
                  exit 1 with the reason when it is refused or fails (the old primary then stays in service).
                  --to <backend>: the replica to promote (default: the most advanced healthy one).
                  --admin <url> as for status. --token <token>: the admin token (admin.http.token in its
                  config; default: the SLUICE_ADMIN_TOKEN environment variable).
  sandbox         Start local MariaDB servers (one primary, N replicas, replication set up) and a Sluice in
                  front of them, for trying things out. Ctrl-C tears everything down.
  help            Show this help.
  version         Print the version.

Options of run / check:
  -c, --config <file>        YAML configuration file (required). Keys are listed below.
      --log-level <level>    Override log.level: ${LOG_LEVELS.join(' | ')}.

Options of sandbox:
      --port <n>             Port Sluice listens on for MySQL clients (default 6033; 0 = any free port).
      --base-port <n>        First MariaDB port; the primary uses it, replicas the following ones
                             (default: free ports picked automatically).
      --replicas <n>         Number of replicas (default 2).
      --dir <path>           Working directory for data directories, sockets and logs
                             (default: chosen by the sandbox).
      --multiplexing on|off  Share backend connections between clients (default on).
      --semi-sync on|off     MariaDB semi-synchronous replication: an acknowledged write is on a replica
                             too, so it survives a primary crash (default on).
      --failover auto|follow|off
                             auto: promote the most advanced replica when the primary fails; follow: hold
                             statements and follow a primary promoted by someone else; off (default auto).
      --admin-port <n>       Admin HTTP port: JSON API, /metrics and the dashboard (default 9033; 0 = any).
      --log-level <level>    ${LOG_LEVELS.join(' | ')} (default info).

Exit status: 0 success, 1 runtime or configuration error, 2 invalid command line.
`;

export function helpText(): string {
  const reference = CONFIG_REFERENCE.replace(/^(?=.)/gm, '  ');
  return `sluice ${version()} — MySQL/MariaDB proxy\n\n${USAGE}\nConfiguration file (every key; values shown are examples, defaults are noted):\n\n${reference}`;
}

let cachedVersion: string | undefined;
export function version(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      // keep looking upwards
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return (cachedVersion = 'unknown');
}

class UsageError extends Error {}

/** Runs the CLI; resolves with the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sluice: ${err.message} (see 'sluice --help')\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: { values: Partial<Record<OptionName, string | boolean>>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(describeParseError(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(helpText());
    return 0;
  }
  if (values.version) {
    io.stdout(`${version()}\n`);
    return 0;
  }

  const command = positionals[0] ?? 'run';
  const allowed = COMMANDS[command];
  if (allowed === undefined) throw new UsageError(`unknown command '${command}'`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  for (const name of Object.keys(values) as OptionName[]) {
    if (name !== 'help' && name !== 'version' && !allowed.includes(name)) {
      throw new UsageError(`option --${name} does not apply to '${command}'`);
    }
  }
  const str = (name: OptionName): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };

  switch (command) {
    case 'help':
      io.stdout(helpText());
      return 0;
    case 'version':
      io.stdout(`${version()}\n`);
      return 0;
    case 'status':
      return await cmdStatus(str('admin') ?? 'http://127.0.0.1:9033', io);
    case 'switchover': {
      const to = str('to');
      if (to !== undefined && to.trim() === '') throw new UsageError('--to needs a backend name');
      const token = str('token') ?? process.env.SLUICE_ADMIN_TOKEN;
      return await cmdSwitchover({ admin: str('admin') ?? DEFAULT_ADMIN_URL, target: to ?? null, token: token === '' ? undefined : token }, io);
    }
    case 'check': {
      const path = requireConfig(str('config'));
      const config = loadConfigFile(path);
      io.stdout(
        `${path}: ok (${config.listeners.length} listener(s), ${config.backends.length} backend(s), ${config.users.length} user(s))\n`,
      );
      return 0;
    }
    case 'sandbox':
      return await cmdSandbox(
        {
          port: intOption('port', str('port'), 0, 65535) ?? 6033,
          basePort: intOption('base-port', str('base-port'), 1, 65535),
          replicas: intOption('replicas', str('replicas'), 0, 16) ?? 2,
          dir: str('dir'),
          multiplexing: onOff('multiplexing', str('multiplexing')) ?? true,
          semiSync: onOff('semi-sync', str('semi-sync')) ?? true,
          failover: failoverMode(str('failover')),
          adminPort: intOption('admin-port', str('admin-port'), 0, 65535) ?? 9033,
          logLevel: logLevelOption(str('log-level')) ?? 'info',
        },
        io,
      );
    default:
      return await cmdRun(requireConfig(str('config')), logLevelOption(str('log-level')), io);
  }
}

function failoverMode(v: string | undefined): 'auto' | 'follow' | 'off' {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'follow' || v === 'off') return v;
  throw new UsageError(`--failover must be auto, follow or off (got '${v}')`);
}

function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /option '([^']+)'/.exec(msg);
    return `unknown option '${m?.[1] ?? msg}'`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /^Option '(-\w, )?([^' ]+)[^']*' argument missing/.exec(msg);
    if (m) return `option '${m[2]}' needs a value`;
    const b = /^Option '([^' ]+)[^']*' does not take an argument/.exec(msg);
    if (b) return `option '${b[1]}' does not take a value`;
  }
  return msg.split('\n')[0]!.replace(/\.$/, '');
}

function requireConfig(path: string | undefined): string {
  if (path === undefined || path === '') throw new UsageError('missing --config <file>');
  return path;
}

function intOption(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function onOff(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const v = raw.toLowerCase();
  if (v === 'on' || v === 'true' || v === 'yes' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === 'no' || v === '0') return false;
  throw new UsageError(`--${name} must be 'on' or 'off', got '${raw}'`);
}

function logLevelOption(raw: string | undefined): LogLevel | undefined {
  if (raw === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${raw}'`);
  }
  return raw as LogLevel;
}

// ---------------------------------------------------------------------------------------------------------
// run

async function cmdRun(configPath: string, levelOverride: LogLevel | undefined, io: CliIo): Promise<number> {
  const config = loadConfigFile(configPath);
  const logger = createLogger(levelOverride ?? config.log.level);
  const { startSluice } = await import('../app.js');
  let server: Awaited<ReturnType<typeof startSluice>>;
  try {
    server = await startSluice(config, { logger, configPath });
  } catch (err) {
    logger.fatal({ err }, 'sluice failed to start');
    await flush(logger);
    io.stderr(`sluice: failed to start: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
  logger.info(
    { tcp: server.tcpAddresses, sockets: server.socketPaths, config: configPath },
    'sluice is accepting connections',
  );
  const reload = (): void => {
    try {
      const changed = server.reload(loadConfigFile(configPath));
      logger.info({ changed, config: configPath }, 'SIGHUP: configuration reloaded');
    } catch (err) {
      // An invalid or unsupported new config changes nothing; the reason goes to the log.
      logger.error({ err: (err as Error).message, config: configPath }, 'SIGHUP: configuration not reloaded');
    }
  };
  const code = await untilStopSignal(logger, config.shutdown_grace_ms, (graceMs) => server.close(graceMs), reload);
  await flush(logger);
  return code;
}

/**
 * Waits for SIGTERM/SIGINT, then runs `close(graceMs)`. A second signal, or close() taking much longer than
 * the grace period, ends the wait with exit code 1. SIGHUP calls `reload` when given.
 */
function untilStopSignal(logger: Logger, graceMs: number, close: (graceMs: number) => Promise<void>, reload?: () => void): Promise<number> {
  return new Promise<number>((resolvePromise) => {
    let stopping = false;
    let watchdog: NodeJS.Timeout | undefined;
    const finish = (code: number): void => {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onHup);
      if (watchdog) clearTimeout(watchdog);
      resolvePromise(code);
    };
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second stop signal: exiting without waiting');
        finish(1);
        return;
      }
      stopping = true;
      logger.info({ signal, grace_ms: graceMs }, 'shutting down');
      watchdog = setTimeout(() => {
        logger.error({ grace_ms: graceMs }, 'shutdown did not complete in time: exiting');
        finish(1);
      }, graceMs + 5000);
      close(graceMs).then(
        () => {
          logger.info('sluice stopped');
          finish(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          finish(1);
        },
      );
    };
    const onHup = (): void => {
      if (reload) reload();
      else logger.warn('SIGHUP received: nothing to reload here; ignoring');
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onHup);
  });
}

function flush(logger: Logger): Promise<void> {
  return new Promise((res) => {
    try {
      logger.flush(() => res());
    } catch {
      res();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// sandbox

async function cmdSandbox(opts: SandboxCliOptions, io: CliIo): Promise<number> {
  // Non-literal specifier: the sandbox module is optional in a build and loaded only for this command.
  const specifier = '../sandbox/sandbox.js';
  let mod: { runSandbox?: RunSandbox };
  try {
    mod = (await import(specifier)) as { runSandbox?: RunSandbox };
  } catch (err) {
    io.stderr(`sluice: the sandbox is not available in this build: ${(err as Error).message}\n`);
    return 1;
  }
  if (typeof mod.runSandbox !== 'function') {
    io.stderr('sluice: the sandbox module does not export runSandbox()\n');
    return 1;
  }
  const handle = await mod.runSandbox(opts);
  if (handle && typeof handle.close === 'function') {
    const logger = createLogger(opts.logLevel);
    const code = await untilStopSignal(logger, 10000, () => handle.close());
    await flush(logger);
    return code;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------
// status

const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9033';

interface StatusBackend {
  name: string;
  role: string;
  health: string;
  lag_seconds: number | null;
  offline: boolean | null;
  pools: { in_use: number; idle: number; waiting: number };
}

async function cmdStatus(base: string, io: CliIo): Promise<number> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  let backends: StatusBackend[];
  let stats: Record<string, unknown>;
  try {
    backends = (await get<{ backends: StatusBackend[] }>('/api/v1/backends')).backends;
    stats = await get<Record<string, unknown>>('/api/v1/stats');
  } catch (err) {
    io.stderr(`sluice: cannot read the admin API at ${base}: ${(err as Error).message} (is admin.http set in the config?)\n`);
    return 1;
  }
  const rows = [['BACKEND', 'ROLE', 'HEALTH', 'LAG', 'IN USE', 'IDLE', 'WAITING']];
  for (const b of backends) {
    rows.push([b.name, b.role, b.offline ? `${b.health} (offline)` : b.health, b.lag_seconds === null ? '-' : `${b.lag_seconds}s`, String(b.pools.in_use), String(b.pools.idle), String(b.pools.waiting)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) io.stdout(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
  io.stdout(`\nclients ${stats.client_connections} · statements ${stats.statements} · session syncs ${stats.session_syncs} · auth failures ${stats.auth_failures}\n`);
  // Failover (404 when it is off): phase, primary, held statements, the last events.
  try {
    const fo = await get<{ phase: string; primary: string; buffered?: { statements: number } }>('/api/v1/failover');
    const events = (await get<{ events: Array<{ at: string | number; kind: string; from: string | null; to: string | null; duration_ms?: number | null }> }>('/api/v1/failovers')).events;
    io.stdout(`failover: ${fo.phase}, primary ${fo.primary}${fo.buffered && fo.buffered.statements > 0 ? `, ${fo.buffered.statements} statement(s) held` : ''}\n`);
    for (const e of events.slice(-5)) {
      const at = typeof e.at === 'number' ? new Date(e.at).toISOString() : e.at;
      io.stdout(`  ${at}  ${e.kind}  ${e.from ?? '-'} → ${e.to ?? '-'}${e.duration_ms != null ? `  ${e.duration_ms} ms` : ''}\n`);
    }
  } catch {
    /* failover off, or an older Sluice */
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------
// switchover

/** How long to wait for a switchover (catch-up and drain are bounded by the failover config, well below this). */
const SWITCHOVER_TIMEOUT_MS = 120_000;

export interface SwitchoverCliOptions {
  admin: string;
  /** Replica to promote; null lets Sluice choose. */
  target: string | null;
  token: string | undefined;
}

async function cmdSwitchover(opts: SwitchoverCliOptions, io: CliIo): Promise<number> {
  let url: URL;
  try {
    url = new URL('/api/v1/switchover', opts.admin);
  } catch {
    throw new UsageError(`--admin must be a URL such as http://127.0.0.1:9033, got '${opts.admin}'`);
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(opts.target === null ? {} : { target: opts.target }),
      signal: AbortSignal.timeout(SWITCHOVER_TIMEOUT_MS),
    });
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' ? `no answer within ${SWITCHOVER_TIMEOUT_MS / 1000} s (see the Sluice log)` : ((e.cause as Error | undefined)?.message ?? e.message);
    io.stderr(`sluice: cannot reach the admin API at ${opts.admin}: ${why} (is admin.http set in the config?)\n`);
    return 1;
  }
  let body: { from?: unknown; to?: unknown; pause_ms?: unknown; error?: unknown; message?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: reported below with the status
  }
  if (res.ok && typeof body.from === 'string' && typeof body.to === 'string') {
    io.stdout(`switched over from ${body.from} to ${body.to} (pause ${Math.round(Number(body.pause_ms) || 0)} ms)\n`);
    return 0;
  }
  const message = typeof body.message === 'string' ? body.message : `HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`;
  if (res.status === 401 || res.status === 403) {
    const hint = res.status === 401 ? ' (pass --token <token> or set SLUICE_ADMIN_TOKEN)' : '';
    io.stderr(`sluice: the admin API refused the request: ${message}${hint}\n`);
  } else {
    io.stderr(`sluice: switchover not done: ${message}\n`);
  }
  return 1;
}
