// Builds a running Sluice from a validated config: backend pools, the monitor channel, users, TLS,
// and the client listeners.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import type { SluiceConfig } from './config/schema.js';
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

export interface SluiceServer {
  /** Addresses actually bound (TCP ports resolved when 0 was asked). */
  readonly tcpAddresses: Array<{ host: string; port: number }>;
  readonly socketPaths: string[];
  readonly context: ProxyContext;
  /** The admin HTTP listener's port, when `admin.http` is configured. */
  readonly adminHttpPort: number | null;
  /** Stop accepting, let in-flight statements finish within graceMs, then close everything. */
  close(graceMs?: number): Promise<void>;
}

export async function startSluice(config: SluiceConfig, opts: { logger: Logger }): Promise<SluiceServer> {
  const log = opts.logger;
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
  let monitor: BackendMonitor | null = null;
  if (config.backends.some((b) => b.role === 'replica')) {
    monitor = new BackendMonitor(
      {
        backends: config.backends.map((b) => ({ name: b.name, host: b.host, port: b.port, role: b.role, weight: b.weight })),
        user: config.monitor.user,
        password: config.monitor.password,
        intervalMs: config.monitor.interval_ms,
        maxLagSeconds: config.routing.max_replication_lag_s,
        tls: poolOpts.tls,
      },
      log,
    );
    monitor.on('change', (snap) => log.info({ backends: snap.backends.map((b) => ({ name: b.name, health: b.health, lag: b.lagSeconds })) }, 'topology changed'));
    await monitor.start();
    ctx.router = new Router(config.routing, monitor);
  }

  const frontend = new FrontendServer(ctx);
  await frontend.listen(config.listeners);
  const adminHttp = config.admin.http
    ? await startAdminHttp(ctx, { host: config.admin.http.host, port: config.admin.http.port, token: config.admin.http.token, monitor, actions: ctx.router }, log)
    : null;
  log.info({ tcp: frontend.tcpAddresses, sockets: frontend.socketPaths, multiplexing: config.multiplexing }, 'sluice listening');

  return {
    tcpAddresses: frontend.tcpAddresses,
    socketPaths: frontend.socketPaths,
    context: ctx,
    adminHttpPort: adminHttp?.port ?? null,
    async close(graceMs = config.shutdown_grace_ms) {
      await adminHttp?.close();
      await frontend.close(graceMs);
      monitor?.stop();
      users.stop();
      admin.close();
      await pools.close();
      log.info('sluice stopped');
    },
  };
}
