#!/usr/bin/env node
// Statement lexer micro-benchmark: ns per statement for sysbench-like OLTP statements.
//   npx tsc -p tsconfig.json && node bench/lexer-bench.mjs [iterations=1000000] [rounds=5]
// Each statement is lexed `iterations` times, split in `rounds` rounds after a warm-up; the table shows the
// best and the median round of CPU time per call (the best round is the least disturbed by other load).
import { lexStatement } from '../dist/src/router/lexer.js';
import { digest } from '../dist/src/router/digest.js';

const ITER = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const WARMUP = 200_000;
const opts = { noBackslashEscapes: false, ansiQuotes: false };

const STATEMENTS = [
  ['point select', 'SELECT c FROM sbtest1 WHERE id=5021'],
  ['point select (?)', 'SELECT c FROM sbtest1 WHERE id=?'],
  ['update index', 'UPDATE sbtest1 SET k=k+1 WHERE id=5021'],
  [
    'insert',
    "INSERT INTO sbtest1 (id, k, c, pad) VALUES (5021, 4993, '83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330', '67847967377-48000963322-62604785301-91415491898-96926520291')",
  ],
  ['begin', 'BEGIN'],
  ['commit', 'COMMIT'],
  ['distinct range', 'SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c'],
  ['hint + FOR UPDATE', '/* sluice:route=primary */ SELECT c FROM sbtest1 WHERE id=5021 FOR UPDATE'],
].map(([name, sql]) => {
  // embedded in a COM_QUERY packet as the proxy sees it: 4-byte header + command byte, then the query
  const body = Buffer.from(sql);
  const pkt = Buffer.concat([Buffer.from([body.length + 1, 0, 0, 0, 0x03]), body]);
  return { name, pkt, start: 5, end: pkt.length };
});

let sink = 0;

/** ns per call for each round */
function measure(fn, list, iter, rounds) {
  const n = list.length;
  for (let i = 0; i < WARMUP; i++) {
    const s = list[i % n];
    sink += fn(s.pkt, s.start, s.end, opts).text === undefined ? 1 : 2;
  }
  const per = Math.max(1, Math.floor(iter / rounds));
  const out = [];
  for (let r = 0; r < rounds; r++) {
    // CPU time of this process (not wall time): less sensitive to other load on the machine
    const c0 = process.cpuUsage();
    for (let i = 0; i < per; i++) {
      const s = list[i % n];
      sink += fn(s.pkt, s.start, s.end, opts).flags === 1 ? 1 : 0;
    }
    const c = process.cpuUsage(c0);
    out.push(((c.user + c.system) * 1000) / per);
  }
  out.sort((a, b) => a - b);
  return { best: out[0], median: out[out.length >> 1] };
}

const rows = [];
for (const s of STATEMENTS) {
  const lx = measure(lexStatement, [s], ITER, ROUNDS);
  const dg = measure(digest, [s], Math.max(ROUNDS, ITER / 5), ROUNDS);
  rows.push({
    statement: s.name,
    bytes: s.end - s.start,
    'lex ns (best)': Math.round(lx.best),
    'lex ns (median)': Math.round(lx.median),
    'lex µs (best)': (lx.best / 1000).toFixed(3),
    'digest ns (best)': Math.round(dg.best),
  });
}
{
  const lx = measure(lexStatement, STATEMENTS, ITER, ROUNDS);
  rows.push({
    statement: 'mixed (round-robin)',
    bytes: '',
    'lex ns (best)': Math.round(lx.best),
    'lex ns (median)': Math.round(lx.median),
    'lex µs (best)': (lx.best / 1000).toFixed(3),
    'digest ns (best)': '',
  });
}
console.log(`node ${process.version}, ${ITER} lexStatement calls per statement in ${ROUNDS} rounds (digest: ${Math.max(ROUNDS, ITER / 5)})`);
console.table(rows);
if (sink === -1) console.log('');
