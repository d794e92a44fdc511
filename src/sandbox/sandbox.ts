// `sluice sandbox`: a MariaDB primary + replicas with GTID replication in a temp dir, a demo database and
// user, a self-signed TLS certificate, and Sluice in front. Prints how to connect; stops on Ctrl-C.
import type { SandboxCliOptions } from '../cli/sandbox-options.js';
import { parseConfig } from '../config/load.js';
import { startSluice } from '../app.js';
import { createLogger } from '../util/log.js';
import { randomBytes } from 'node:crypto';
import { startTopology } from './topology.js';

export async function runSandbox(opts: SandboxCliOptions): Promise<{ close(): Promise<void> }> {
  const say = (msg: string) => process.stderr.write(`sandbox: ${msg}\n`);
  say(`starting MariaDB primary + ${opts.replicas} replica(s)…`);
  const topo = await startTopology({
    dir: opts.dir,
    basePort: opts.basePort,
    replicas: opts.replicas,
    semiSync: opts.semiSync && opts.replicas > 0,
    log: (m) => say(m),
  });
  say(`MariaDB up in ${topo.dir}: primary :${topo.primary.port}, replicas ${topo.replicas.map((r) => ':' + r.port).join(' ') || '(none)'}`);
  const adminToken = randomBytes(12).toString('hex');
  try {
    const config = parseConfig(
      {
        listeners: [{ host: '127.0.0.1', port: opts.port }, { socket: `${topo.dir}/sluice.sock` }],
        backends: [
          { name: 'primary', host: '127.0.0.1', port: topo.primary.port, role: 'primary' },
          ...topo.replicas.map((r, i) => ({ name: `replica${i + 1}`, host: '127.0.0.1', port: r.port, role: 'replica' as const })),
        ],
        monitor: { user: topo.monitor.user, password: topo.monitor.password },
        users: [],
        passthrough_users: { enabled: true },
        multiplexing: opts.multiplexing,
        failover: {
          enabled: opts.failover !== 'off',
          auto_promote: opts.failover === 'auto',
          replication_user: topo.repl.user,
          replication_password: topo.repl.password,
        },
        admin: { http: { host: '127.0.0.1', port: opts.adminPort, token: adminToken } },
        tls: { cert: topo.tls.cert, key: topo.tls.key, ca: topo.tls.ca },
        log: { level: opts.logLevel },
      },
      'sandbox',
    );
    const sluice = await startSluice(config, { logger: createLogger(opts.logLevel) });
    const port = sluice.tcpAddresses[0]!.port;
    process.stdout.write(
      [
        '',
        `Sluice is up on 127.0.0.1:${port} (and ${sluice.socketPaths[0]}), multiplexing ${opts.multiplexing ? 'on' : 'off'}.`,
        'Connect with:',
        `  mariadb -h 127.0.0.1 -P ${port} -u ${topo.demo.user} -p${topo.demo.password} ${topo.demo.database}`,
        `  mariadb -h 127.0.0.1 -P ${port} -u ${topo.demo.user} -p${topo.demo.password} --ssl --ssl-ca=${topo.tls.ca} ${topo.demo.database}`,
        `  mariadb -S ${sluice.socketPaths[0]} -u ${topo.demo.user} -p${topo.demo.password} ${topo.demo.database}`,
        `Root on the primary directly: mariadb -h 127.0.0.1 -P ${topo.primary.port} -u root -p${topo.root.password}`,
        `Dashboard and API: http://127.0.0.1:${sluice.adminHttpPort}/ (token for changes: ${adminToken})`,
        `Failover: ${opts.failover}${opts.semiSync && opts.replicas > 0 ? ', semi-sync replication' : ''}. Planned switchover:`,
        `  node bin/sluice.js switchover --admin http://127.0.0.1:${sluice.adminHttpPort} --token ${adminToken}`,
        'Press Ctrl-C to stop everything.',
        '',
      ].join('\n'),
    );
    return {
      async close() {
        say('stopping…');
        await sluice.close(2000);
        await topo.stop();
        say('stopped');
      },
    };
  } catch (err) {
    await topo.stop();
    throw err;
  }
}
