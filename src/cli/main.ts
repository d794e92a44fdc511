// Entry point of the `sluice` command (bin/sluice.js imports this module). The logic lives in ./cli.ts.
import { runCli } from './cli.js';

try {
  const code = await runCli(process.argv.slice(2));
  process.exitCode = code;
  // Leftover handles (sockets, timers) must not keep a stopped proxy alive; this timer itself does not.
  setTimeout(() => process.exit(code), 2000).unref();
} catch (err) {
  process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 2000).unref();
}
