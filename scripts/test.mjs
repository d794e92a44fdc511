#!/usr/bin/env node
// Sluice test runner (`npm test`).
//
//   node scripts/test.mjs              build, unit tests, then integration tests against one MariaDB topology
//   node scripts/test.mjs unit         build + unit tests only
//   node scripts/test.mjs <substr>...  build + only test files whose path contains one of the substrings
//                                      (the topology is started only if an integration file matches)
//
// Integration tests get the topology (primary + 2 replicas) description as JSON in SLUICE_TEST_TOPOLOGY.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const args = process.argv.slice(2);
const unitOnly = args.length === 1 && args[0] === 'unit';
const filters = unitOnly ? [] : args;

let topology; // running Topology, if any
let child; // running child process, if any
let interrupted = false;

const log = (msg) => process.stderr.write(`[test] ${msg}\n`);

function runStreaming(cmd, cmdArgs, opts = {}) {
  return new Promise((resolve) => {
    child = spawn(cmd, cmdArgs, { stdio: 'inherit', ...opts });
    child.on('error', (e) => {
      log(`failed to run ${cmd}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      child = undefined;
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** Compiled test files under dist/<dir> whose .ts source still exists (ignores stale outputs). */
function testFiles(dir) {
  const out = [];
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.test.js')) {
        const src = path.relative('dist', p).replace(/\.js$/, '.ts');
        if (existsSync(src)) out.push(p);
      }
    }
  };
  walk(path.join('dist', dir));
  out.sort();
  if (filters.length === 0) return out;
  return out.filter((f) => filters.some((s) => f.includes(s)));
}

async function cleanup() {
  if (child) {
    try {
      child.kill('SIGTERM');
    } catch {
      /* gone */
    }
  }
  if (topology) {
    const t = topology;
    topology = undefined;
    log('stopping MariaDB topology…');
    await t.stop().catch((e) => log(`topology stop failed: ${e.message}`));
  }
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main() {
  // 1. system deps
  if ((await runStreaming('bash', ['scripts/install-deps.sh'])) !== 0) {
    log('scripts/install-deps.sh failed');
    return 1;
  }
  // 2. build
  const localTsc = path.join('node_modules', '.bin', 'tsc');
  const t0 = Date.now();
  const tscCode = existsSync(localTsc)
    ? await runStreaming(localTsc, ['-p', 'tsconfig.json'])
    : await runStreaming('npx', ['tsc', '-p', 'tsconfig.json']);
  if (tscCode !== 0) {
    log('TypeScript build failed');
    return 1;
  }
  log(`build ok (${Date.now() - t0} ms)`);
  if (interrupted) return 130;

  let failed = false;
  const nodeTest = ['--test', '--test-reporter=spec'];

  // 3. unit tests
  const unit = testFiles('test/unit');
  if (unit.length > 0) {
    log(`unit tests: ${unit.length} file(s)`);
    if ((await runStreaming(process.execPath, [...nodeTest, ...unit])) !== 0) failed = true;
  } else {
    log('unit tests: no files' + (filters.length ? ` matching ${filters.join(', ')}` : ''));
  }
  if (unitOnly || interrupted) return failed ? 1 : 0;

  // 4. integration tests against one topology
  const integration = testFiles('test/integration');
  if (integration.length === 0) {
    log('integration tests: no files' + (filters.length ? ` matching ${filters.join(', ')}` : ''));
    return failed ? 1 : 0;
  }
  const { startTopology, describeTopology } = await import(
    pathToFileURL(path.join(root, 'dist/src/sandbox/topology.js')).href
  );
  const ts = Date.now();
  log('starting MariaDB topology (primary + 2 replicas)…');
  try {
    topology = await startTopology({ replicas: 2, log: (m) => log(`topology: ${m}`) });
  } catch (e) {
    log(`could not start the MariaDB topology: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  log(`topology up in ${Date.now() - ts} ms: primary ${topology.primary.port}, replicas ${topology.replicas.map((r) => r.port).join(', ')}`);
  if (interrupted) return 130;

  log(`integration tests: ${integration.length} file(s)`);
  const env = { ...process.env, SLUICE_TEST_TOPOLOGY: JSON.stringify(describeTopology(topology)) };
  const code = await runStreaming(
    process.execPath,
    [...nodeTest, '--test-concurrency=1', '--test-timeout=300000', ...integration],
    { env },
  );
  if (code !== 0) failed = true;
  return failed ? 1 : 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  log(`runner error: ${e instanceof Error ? e.stack : e}`);
  exitCode = 1;
} finally {
  await cleanup();
}
if (!interrupted) process.exit(exitCode);
