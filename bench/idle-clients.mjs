// Opens N idle MySQL client connections (full handshake + auth via mysql2) and keeps them open.
//
// usage: node bench/idle-clients.mjs <host> <port> <user> <password> <count> [batch=200]
// Opens connections in batches (each batch in parallel), then prints one JSON line on stdout:
//   {"opened":N,"failed":N,"errors":[first distinct error messages],"ms":elapsed}
// then stays idle. stdin commands (one per line, JSON answer on stdout):
//   status -> {"alive":N,"lost":N,"lostErrors":[...]}   (connections closed/errored after opening)
//   close  -> closes everything and exits
// Also exits on SIGTERM/SIGINT and when stdin closes.
import { createInterface } from 'node:readline';
import mysql from 'mysql2';

const [host, port, user, password, countArg, batchArg] = process.argv.slice(2);
if (!countArg) {
  console.error('usage: idle-clients.mjs <host> <port> <user> <password> <count> [batch]');
  process.exit(2);
}
const count = Number(countArg);
const batch = Number(batchArg ?? 200);

const conns = new Set();
let lost = 0;
const lostErrors = new Set();
const errors = new Map();

function openOne() {
  return new Promise((resolve) => {
    const c = mysql.createConnection({ host, port: Number(port), user, password, connectTimeout: 30000 });
    let opened = false;
    c.on('error', (err) => {
      if (!opened) {
        errors.set(err.message, (errors.get(err.message) ?? 0) + 1);
        resolve(false);
      } else if (conns.delete(c)) {
        lost++;
        if (lostErrors.size < 5) lostErrors.add(err.message);
      }
    });
    c.on('end', () => {
      if (opened && conns.delete(c)) lost++;
    });
    c.connect((err) => {
      if (err) {
        if (!opened) {
          errors.set(err.message, (errors.get(err.message) ?? 0) + 1);
          resolve(false);
        }
        return;
      }
      opened = true;
      conns.add(c);
      resolve(true);
    });
  });
}

const t0 = Date.now();
let ok = 0;
let failed = 0;
for (let done = 0; done < count; done += batch) {
  const n = Math.min(batch, count - done);
  const results = await Promise.all(Array.from({ length: n }, openOne));
  for (const r of results) r ? ok++ : failed++;
  process.stderr.write(`idle-clients: ${ok} open, ${failed} failed\n`);
}
process.stdout.write(
  JSON.stringify({
    opened: ok,
    failed,
    errors: [...errors.entries()].slice(0, 5).map(([m, n]) => `${m} (x${n})`),
    ms: Date.now() - t0,
  }) + '\n',
);

function closeAll() {
  for (const c of conns) c.destroy();
  process.exit(0);
}
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'status') {
    process.stdout.write(JSON.stringify({ alive: conns.size, lost, lostErrors: [...lostErrors] }) + '\n');
  } else if (cmd === 'close') {
    closeAll();
  }
});
rl.on('close', closeAll);
process.on('SIGTERM', closeAll);
process.on('SIGINT', closeAll);
