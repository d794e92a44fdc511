// Starts a Sluice in the test process against the shared test topology (see scripts/test.mjs).
import { parseConfig } from '../../src/config/load.js';
import type { SluiceConfigInput } from '../../src/config/schema.js';
import { startSluice, type SluiceServer } from '../../src/app.js';
import { createLogger } from '../../src/util/log.js';
import { testTopology } from './topology.js';
import mysql from 'mysql2/promise';

export interface TestSluice {
  server: SluiceServer;
  port: number;
  close(): Promise<void>;
}

/** Config for the test topology: config user `app` (plaintext), caching_sha2 user `sha2`, pass-through on. */
export function testConfig(overrides: Partial<SluiceConfigInput> = {}): SluiceConfigInput {
  const t = testTopology();
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    backends: [
      { name: 'primary', host: '127.0.0.1', port: t.primary.port, role: 'primary' },
      ...t.replicas.map((r, i) => ({ name: `replica${i + 1}`, host: '127.0.0.1', port: r.port, role: 'replica' as const })),
    ],
    monitor: { user: t.monitor.user, password: t.monitor.password },
    users: [
      { name: 'app', password: 'app-secret', backend_user: t.root.user, backend_password: t.root.password },
      { name: 'sha2', password: 'sha2-secret', auth_plugin: 'caching_sha2_password', backend_user: t.root.user, backend_password: t.root.password },
    ],
    tls: { cert: t.tls.cert, key: t.tls.key },
    // Core tests run everything on the primary; the routing tests turn splitting on.
    routing: { read_write_split: false },
    log: { level: (process.env.SLUICE_TEST_LOG as 'info' | undefined) ?? 'silent' },
    ...overrides,
  };
}

export async function startTestSluice(overrides: Partial<SluiceConfigInput> = {}): Promise<TestSluice> {
  const config = parseConfig(testConfig(overrides), 'test');
  const server = await startSluice(config, { logger: createLogger(config.log.level) });
  const port = server.tcpAddresses[0]!.port;
  return { server, port, close: () => server.close(2000) };
}

/** mysql2 connection options through Sluice as the config user `app`. */
export function appOptions(port: number, extra: mysql.ConnectionOptions = {}): mysql.ConnectionOptions {
  return { host: '127.0.0.1', port, user: 'app', password: 'app-secret', ...extra };
}

export async function connectApp(port: number, extra: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection(appOptions(port, extra));
}
