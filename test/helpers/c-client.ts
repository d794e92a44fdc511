// Compiling and running the Connector/C test clients in test/clients/ (real libmariadb driving Sluice).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunResult {
  lines: string[];
  stderr: string;
  ms: number;
}

function repoRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(d, 'test', 'clients'))) return d;
    const up = path.dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
}

/** Compiles test/clients/<name>.c to `out`; a failure rejects with the compiler's output. */
export function compileClient(name: string, out: string): Promise<void> {
  const src = path.join(repoRoot(), 'test', 'clients', `${name}.c`);
  const script = 'gcc -O1 -Wall -o "$1" "$2" $(pkg-config --cflags --libs libmariadb 2>/dev/null || mariadb_config --cflags --libs)';
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script, 'sh', out, src], { timeout: 120000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`compiling ${src} failed (needs gcc and libmariadb-dev, see scripts/install-deps.sh):\n${stdout}${stderr}\n${err.message}`));
      else resolve();
    });
  });
}

/** Runs a compiled client with `args`; a non-zero exit (or a hang past 45 s) rejects with its output. */
export function runClientBinary(binary: string, args: string[], env: Record<string, string>, label: string): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += `\n[test] ${label} did not finish within 45 s: killed\n`;
      child.kill('SIGKILL');
    }, 45000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const tail = stdout.split('\n').slice(-8).join('\n');
      if (code !== 0) {
        reject(new Error(`${label} exited with ${code ?? signal}:\n${stderr.trim()}\n--- last output lines ---\n${tail}`));
        return;
      }
      resolve({ lines: stdout.split('\n').filter((l) => l !== ''), stderr, ms: Date.now() - started });
    });
  });
}

/** Which backend connections (server thread ids) served the sessions of `user`, sampled every millisecond. */
export function sampleBackendThreads(sessions: ReadonlyMap<number, { userName: string; currentBackendThreadId(): number }>, user: string): {
  seen: Map<number, Set<number>>;
  stop(): void;
} {
  const seen = new Map<number, Set<number>>();
  const timer = setInterval(() => {
    for (const [id, h] of sessions) {
      if (h.userName !== user) continue;
      const tid = h.currentBackendThreadId();
      if (tid === 0) continue;
      let set = seen.get(id);
      if (!set) seen.set(id, (set = new Set()));
      set.add(tid);
    }
  }, 1);
  return { seen, stop: () => clearInterval(timer) };
}
