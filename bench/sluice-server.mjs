// Runs one Sluice in its own process for the benchmark (so its CPU and RSS are its own).
//
// usage: node [--expose-gc] bench/sluice-server.mjs <config.json>
// The JSON file holds a config object as written in YAML (validated with parseConfig(obj, 'bench')).
// Prints {"port":N,"pid":P} on stdout once listening; logs (pino) go to stderr.
// Stops gracefully on SIGTERM/SIGINT (hard exit after 5 s), and (with BENCH_STDIN_LIFELINE=1) when stdin closes.
// stdin commands, one per line, each answered by one JSON line on stdout:
//   mem  -> {"mem":{rss,heapTotal,heapUsed,external,arrayBuffers}}
//   gc   -> runs global.gc() (needs --expose-gc), then answers like mem, with "gc":true|false
//   stats -> {"stats":{replicaReads,primaryReads,gtidWaits,gtidWaitTimeouts,noReplica}} (read/write splitting
//            counters since start; "stats":null when no replica is configured)
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const dist = new URL('../dist/src/', import.meta.url);
const { parseConfig } = await import(new URL('config/load.js', dist).href);
const { startSluice } = await import(new URL('app.js', dist).href);
const { createLogger } = await import(new URL('util/log.js', dist).href);

const file = process.argv[2];
if (!file) {
  console.error('usage: sluice-server.mjs <config.json>');
  process.exit(2);
}
const config = parseConfig(JSON.parse(readFileSync(file, 'utf8')), 'bench');
const logger = createLogger(config.log.level);
const server = await startSluice(config, { logger });
const port = server.tcpAddresses[0]?.port;
process.stdout.write(JSON.stringify({ port, pid: process.pid }) + '\n');

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code), 5000).unref();
  try {
    await server.close(2000);
  } catch (err) {
    console.error(`sluice-server: close failed: ${err?.message ?? err}`);
  }
  logger.flush?.();
  setTimeout(() => process.exit(code), 50);
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('uncaughtException', (err) => {
  console.error(`sluice-server: uncaughtException: ${err?.stack ?? err}`);
  process.exit(70);
});
process.on('unhandledRejection', (err) => {
  console.error(`sluice-server: unhandledRejection: ${err?.stack ?? err}`);
  process.exit(71);
});

const mem = () => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'gc') {
    const can = typeof globalThis.gc === 'function';
    if (can) {
      globalThis.gc();
      globalThis.gc();
    }
    process.stdout.write(JSON.stringify({ gc: can, mem: mem() }) + '\n');
  } else if (cmd === 'mem') {
    process.stdout.write(JSON.stringify({ mem: mem() }) + '\n');
  } else if (cmd === 'stats') {
    const router = server.context.router;
    process.stdout.write(JSON.stringify({ stats: router ? { ...router.stats } : null }) + '\n');
  }
});
if (process.env.BENCH_STDIN_LIFELINE === '1') rl.on('close', () => void stop(0));
