// Builds a running Sluice from a validated config: backend pools, the monitor channel, users, TLS,
// and the client listeners.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import type { SluiceConfig } from './config/schema.js';
import { loadConfigFile } from './config/load.js';
import type { Logger } from './util/log.js';
import { PoolManager } from './backend/pool.js';
import { AdminChannel } from './backend/admin-channel.js';
import { registerCollations } from './backend/collations.js';
import { UserDirectory } from './frontend/users.js';
import { ProxyContext, poolOptionsFrom } from './frontend/context.js';
import { FrontendServer } from './frontend/server.js';
import { BackendMonitor } from './backend/monitor.js';
import { Router } from './router/router.js';
import { startAdminHttp } from './admin/http-server.js';
import { FailoverManager } from './failover/manager.js';
import { setBusyPollBudget } from './util/busy-poll.js';

export interface SluiceServer {
  /** Addresses actually bound (TCP ports resolved when 0 was asked). */
  readonly tcpAddresses: Array<{ host: string; port: number }>;
  readonly socketPaths: string[];
  readonly context: ProxyContext;
  /** The admin HTTP listener's port, when `admin.http` is configured. */
  readonly adminHttpPort: number | null;
  /**
   * Applies a new, already validated config without dropping clients: users, pool sizes and timeouts,
   * routing settings, replicas (added/removed/reweighted). Refuses (and changes nothing) when a change
   * needs a restart: listeners, the primary, multiplexing, TLS, the monitor account. Returns what changed.
   */
  reload(next: SluiceConfig): string[];
  /** Stop accepting, let in-flight statements finish within graceMs, then close everything. */
  close(graceMs?: number): Promise<void>;
}

export class ReloadRefused extends Error {
  readonly code = 'SLUICE_RELOAD_REFUSED';
}

export async function startSluice(config: SluiceConfig, opts: { logger: Logger; configPath?: string }): Promise<SluiceServer> {
  const log = opts.logger;
  // Process-wide, like the event loop it tunes (several Sluices in one process, as in tests, share it).
  setBusyPollBudget(config.tuning.busy_poll_us);
  const primaryCfg = config.backends.find((b) => b.role === 'primary')!;
  const primary = { name: primaryCfg.name, host: primaryCfg.host, port: primaryCfg.port };
  const poolOpts = poolOptionsFrom(config);
  const pools = new PoolManager(poolOpts, log);
  const admin = new AdminChannel(primary, config.monitor.user, config.monitor.password, {
    connectTimeoutMs: config.pool.connect_timeout_ms,
    tls: poolOpts.tls,
  });
  const users = new UserDirectory(config, admin, log);
  const ctx = new ProxyContext(config, pools, users, admin, primary, log);

  // What the clients see as the server: the primary's version, marked as Sluice.
  try {
    const version = await admin.version();
    ctx.serverVersion = `${version}-sluice`;
    const rows = await admin.rows('SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS');
    registerCollations(rows.map((r) => [Number(r[0]), r[1] ?? '', r[2] ?? ''] as [number, string, string]));
    if (config.passthrough_users.enabled) await users.refresh();
  } catch (err) {
    log.warn({ err: (err as Error).message, backend: primary.name }, 'primary not reachable at start; will retry on demand');
  }
  users.start();

  if (config.tls) {
    ctx.secureContext = createSecureContext({
      cert: readFileSync(config.tls.cert),
      key: readFileSync(config.tls.key),
      ca: config.tls.ca ? readFileSync(config.tls.ca) : undefined,
    });
  }
  // RSA key pair for caching_sha2_password full authentication without TLS.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  ctx.rsaPrivateKey = createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  ctx.rsaPublicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  // Read/write splitting: a monitor watches every backend; the router picks healthy replicas.
  const startMonitor = async (cfg: SluiceConfig): Promise<BackendMonitor | null> => {
    if (!cfg.backends.some((b) => b.role === 'replica')) return null;
    const m = new BackendMonitor(
      {
        backends: cfg.backends.map((b) => ({ name: b.name, host: b.host, port: b.port, role: b.role, weight: b.weight })),
        user: cfg.monitor.user,
        password: cfg.monitor.password,
        intervalMs: cfg.monitor.interval_ms,
        maxLagSeconds: cfg.routing.max_replication_lag_s,
        tls: poolOpts.tls,
      },
      log,
    );
    // After a failover the primary is not the one in the file.
    if (ctx.primary.name !== m.snapshot().primary?.name) m.setPrimary(ctx.primary.name);
    m.on('change', (snap) => log.info({ backends: snap.backends.map((b) => ({ name: b.name, health: b.health, lag: b.lagSeconds })) }, 'topology changed'));
    await m.start();
    return m;
  };
  let monitor = await startMonitor(config);
  if (monitor) ctx.router = new Router(config.routing, monitor);
  // Failover: watches the primary, holds primary-bound statements while it is away, follows/promotes.
  if (monitor && config.failover.enabled) {
    ctx.failover = new FailoverManager(ctx, monitor, poolOpts.tls);
    ctx.failover.start();
  }

  const frontend = new FrontendServer(ctx);
  await frontend.listen(config.listeners);
  const adminHttp = config.admin.http
    ? await startAdminHttp(ctx, { host: config.admin.http.host, port: config.admin.http.port, token: config.admin.http.token, monitor, actions: ctx.router }, log)
    : null;
  log.info({ tcp: frontend.tcpAddresses, sockets: frontend.socketPaths, multiplexing: config.multiplexing }, 'sluice listening');

  let current = config;
  const reload = (next: SluiceConfig): string[] => {
    const refuse = (why: string): never => {
      throw new ReloadRefused(`configuration not reloaded: ${why} (needs a restart); the running configuration stays in force`);
    };
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(next.listeners, current.listeners)) refuse('listeners changed');
    const primaryOf = (c: SluiceConfig) => c.backends.find((b) => b.role === 'primary');
    if (!same(primaryOf(next), primaryOf(current))) refuse('the primary changed');
    if (next.multiplexing !== current.multiplexing) refuse('multiplexing changed');
    if (!same(next.tls, current.tls) || !same(next.backend_tls, current.backend_tls)) refuse('TLS settings changed');
    if (!same(next.monitor, current.monitor)) refuse('the monitor account changed');
    if (!same(next.admin, current.admin)) refuse('admin.http changed');
    const changed: string[] = [];
    if (!same(next.users, current.users) || !same(next.passthrough_users, current.passthrough_users)) {
      users.loadConfigUsers(next);
      changed.push('users');
    }
    if (!same(next.pool, current.pool)) {
      pools.updateOptions(poolOptionsFrom(next));
      changed.push('pool');
    }
    if (!same(next.limits, current.limits) || next.shutdown_grace_ms !== current.shutdown_grace_ms || !same(next.log, current.log)) changed.push('limits/log');
    if (next.tuning.busy_poll_us !== current.tuning.busy_poll_us) {
      setBusyPollBudget(next.tuning.busy_poll_us);
      changed.push('tuning');
    }
    ctx.config = next;
    if (!same(next.backends, current.backends)) {
      // Replicas added, removed or reweighted: a new monitor takes over once its first round is done.
      const old = monitor;
      void startMonitor(next).then((m) => {
        monitor = m;
        if (m !== null) ctx.failover?.setMonitor(m);
        if (m === null) ctx.router = null;
        else if (ctx.router) ctx.router.replaceMonitor(m, next.routing);
        else ctx.router = new Router(next.routing, m);
        old?.stop();
        log.info({ replicas: next.backends.filter((b) => b.role === 'replica').map((b) => b.name) }, 'replicas reloaded');
      });
      changed.push('backends');
    }
    if (!same(next.failover, current.failover)) {
      if (ctx.failover) ctx.failover.updateConfig(next.failover);
      changed.push('failover');
    }
    if (!same(next.routing, current.routing)) {
      ctx.router?.updateConfig(next.routing);
      changed.push('routing');
    }
    current = next;
    log.info({ changed }, 'configuration reloaded');
    return changed;
  };
  const configPath = opts.configPath;
  ctx.reloadFromFile = configPath !== undefined ? () => reload(loadConfigFile(configPath)) : null;

  return {
    tcpAddresses: frontend.tcpAddresses,
    reload,
    socketPaths: frontend.socketPaths,
    context: ctx,
    adminHttpPort: adminHttp?.port ?? null,
    async close(graceMs = config.shutdown_grace_ms) {
      await adminHttp?.close();
      await frontend.close(graceMs);
      ctx.failover?.stop();
      monitor?.stop();
      ctx.router?.monitorView()?.stop();
      users.stop();
      admin.close();
      ctx.closeAdminChannels();
      await pools.close();
      log.info('sluice stopped');
    },
  };
}
