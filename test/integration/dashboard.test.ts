// The live dashboard end to end: Sluice (read/write split, admin HTTP listener from the config) against the
// real MariaDB topology, a background load of mysql2 clients through it, and Debian's Chromium (driven by
// playwright-core) on the dashboard. Checks that the three backends show as up, that the QPS shown is live
// (> 0 and changing under load), that the session count matches the clients, that pins, pools, digests, the
// chart and the offline flag render; then saves the screenshot the README shows (docs/dashboard.png).
// Also checks the static file serving itself: content types, security headers, no path outside the assets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import mysql from 'mysql2/promise';
import { startTestSluice, connectApp, type TestSluice } from '../helpers/sluice.js';
import { rootConnectionOptions, testTopology } from '../helpers/topology.js';

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url));
const DB = 'sluice_dashboard_test';
/** Clients running statements in a loop (reads, some writes). */
const LOAD_CLIENTS = 8;
/** Plus one client in an open transaction and one holding a user lock: pinned sessions. */
const OPEN_CLIENTS = LOAD_CLIENTS + 2;

let sluice: TestSluice;
let adminPort: number;

before(async () => {
  sluice = await startTestSluice({ routing: { read_write_split: true }, admin: { http: { port: 0, token: 't' } } });
  assert.ok(sluice.server.adminHttpPort, 'the admin HTTP listener runs');
  adminPort = sluice.server.adminHttpPort;
});

after(async () => {
  await sluice?.close();
});

// ---------- static serving ----------

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with the path sent exactly as given (fetch would normalize `..`). */
function raw(path: string, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: adminPort, path, method, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

test('the dashboard files are served with their content types, and nothing else is', async () => {
  for (const path of ['/', '/dashboard', '/dashboard/', '/dashboard/index.html']) {
    const res = await raw(path);
    assert.equal(res.status, 200, path);
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/, path);
    assert.match(res.body, /<title>Sluice dashboard<\/title>/, path);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'; script-src 'self'/, path);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    // Works offline: nothing is loaded from another origin.
    assert.doesNotMatch(res.body, /(src|href)="(https?:)?\/\//, path);
  }
  const types: Array<[string, RegExp]> = [
    ['/dashboard/dashboard.js', /^text\/javascript; charset=utf-8/],
    ['/dashboard/dashboard.css', /^text\/css; charset=utf-8/],
    ['/dashboard/favicon.svg', /^image\/svg\+xml/],
  ];
  for (const [path, type] of types) {
    const res = await raw(path);
    assert.equal(res.status, 200, path);
    assert.match(String(res.headers['content-type']), type, path);
    assert.ok(res.body.length > 100, path);
    assert.doesNotMatch(res.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${path} refers to no other origin`);
  }

  const head = await raw('/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.ok(Number(head.headers['content-length']) > 0);
  const post = await raw('/', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');

  // Only the asset names themselves: no traversal, no other file of the tree, no hidden or source files.
  for (const path of [
    '/dashboard/../package.json',
    '/dashboard/../../../package.json',
    '/dashboard/%2e%2e/%2e%2e/%2e%2e/package.json',
    '/dashboard/..%2f..%2f..%2fpackage.json',
    '/dashboard/..%5c..%5c..%5cpackage.json',
    '/dashboard//etc/passwd',
    '/dashboard/%2fetc%2fpasswd',
    '/dashboard/../http-server.js',
    '/dashboard/nope.js',
    '/dashboard/.gitignore',
    '/dashboard/index.html%00.js',
    '/index.html',
  ]) {
    const res = await raw(path);
    assert.equal(res.status, 404, `${path}: ${res.status}`);
    assert.match(String(res.headers['content-type']), /^application\/json/, path);
    assert.doesNotMatch(res.body, /"devDependencies"|root:x:0/, path);
  }
  // The JSON API still answers next to it.
  const stats = await raw('/api/v1/stats');
  assert.equal(stats.status, 200);
});

// ---------- the live page in Chromium ----------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `p` settles or after `ms` (for cleanup that must not hang). */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, sleep(ms).then(() => undefined)]);
}

async function waitForReplicasToHaveTable(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const replica of testTopology().replicas) {
    const conn = await mysql.createConnection(rootConnectionOptions(replica));
    try {
      for (;;) {
        const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't'`, [DB]);
        if (Number((rows as Array<{ n: number }>)[0]!.n) === 1) break;
        if (Date.now() > deadline) throw new Error(`replica ${replica.name} did not get ${DB}.t within ${timeoutMs} ms`);
        await sleep(100);
      }
    } finally {
      await conn.end();
    }
  }
}

const numberIn = async (page: Page, selector: string): Promise<number> => Number(((await page.textContent(selector)) ?? '').replace(/,/g, ''));

test('the dashboard shows live numbers under load (Chromium)', async () => {
  accessSync(CHROMIUM, fsConstants.X_OK); // installed by scripts/install-deps.sh (Debian's chromium)

  const setup = await connectApp(sluice.port);
  try {
    await setup.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
    await setup.query(`CREATE TABLE IF NOT EXISTS ${DB}.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(32) NOT NULL)`);
    await setup.query(`INSERT INTO ${DB}.t (v) VALUES ('a'), ('b'), ('c'), ('d')`);
  } finally {
    await setup.end();
  }
  await waitForReplicasToHaveTable(15_000);

  const clients: mysql.Connection[] = [];
  const loadErrors: string[] = [];
  let stop = false;
  const workers: Array<Promise<void>> = [];
  let browser: Browser | undefined;
  try {
    for (let i = 0; i < OPEN_CLIENTS; i++) clients.push(await connectApp(sluice.port));
    const [txClient, lockClient] = [clients[LOAD_CLIENTS]!, clients[LOAD_CLIENTS + 1]!];
    await txClient.query('BEGIN');
    await lockClient.query(`SELECT GET_LOCK('sluice_dashboard_test', 0)`);

    const loop = async (body: (i: number) => Promise<unknown>, pauseMs: () => number) => {
      for (let i = 0; !stop; i++) {
        try {
          await body(i);
        } catch (e) {
          if (!stop) loadErrors.push(e instanceof Error ? e.message : String(e));
          return;
        }
        await sleep(pauseMs());
      }
    };
    // Jittered pauses: the rate varies from one second to the next, as real traffic does.
    for (const c of clients.slice(0, LOAD_CLIENTS)) {
      workers.push(
        loop(
          (i) =>
            i % 10 === 9
              ? c.query(`INSERT INTO ${DB}.t (v) VALUES (?)`, [`v${i}`])
              : i % 5 === 4
                ? c.query(`SELECT COUNT(*) FROM ${DB}.t`)
                : c.query(`SELECT v FROM ${DB}.t WHERE id = ?`, [1 + (i % 4)]),
          () => Math.random() * 4,
        ),
      );
    }
    workers.push(loop(() => txClient.query(`SELECT MAX(id) FROM ${DB}.t`), () => 50));
    workers.push(loop(() => lockClient.query('SELECT 1'), () => 100));

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(20_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${adminPort}/`, { waitUntil: 'load', timeout: 20_000 });

    // Topology: the three backends, each up (the monitor's first rounds may still be running).
    await page.waitForFunction(
      () => {
        const cards = [...document.querySelectorAll('#backends .backend')];
        return cards.length === 3 && cards.every((c) => c.querySelector('.health')?.textContent === 'up');
      },
      null,
      { timeout: 20_000 },
    );
    const cards = await page.$$eval('#backends .backend', (els) =>
      els.map((e) => ({
        name: e.getAttribute('data-name'),
        role: e.querySelector('.badge')?.textContent,
        health: e.querySelector('.health')?.textContent,
        gtid: e.querySelector('.gtid')?.textContent,
        lag: e.querySelector('.lag')?.textContent,
      })),
    );
    assert.deepEqual(
      cards.map((c) => [c.name, c.role, c.health]),
      [
        ['primary', 'primary', 'up'],
        ['replica1', 'replica', 'up'],
        ['replica2', 'replica', 'up'],
      ],
    );
    for (const c of cards) assert.match(c.gtid ?? '', /^\d+-\d+-\d+/, `${c.name} shows its GTID position`);
    for (const c of cards.filter((c) => c.role === 'replica')) assert.match(c.lag ?? '', /^\d+ s$/, `${c.name} shows its lag`);

    // QPS: positive, and live (it changes from one reading to the next under load).
    await page.waitForFunction(() => Number((document.getElementById('qps')?.textContent ?? '').replace(/,/g, '')) > 0, null, { timeout: 15_000 });
    const qps1 = await numberIn(page, '#qps');
    await sleep(2000);
    const qps2 = await numberIn(page, '#qps');
    assert.ok(qps1 > 0 && qps2 > 0, `QPS shown: ${qps1}, then ${qps2}`);
    assert.notEqual(qps1, qps2, 'the QPS shown changes under load');

    // Sessions: one per open client (±1 for timing).
    await page.waitForFunction((n) => Math.abs(Number(document.getElementById('sessions-count')?.textContent) - n) <= 1, OPEN_CLIENTS, { timeout: 10_000 });
    const sessions = await numberIn(page, '#sessions-count');
    assert.ok(Math.abs(sessions - OPEN_CLIENTS) <= 1, `sessions shown ${sessions}, clients open ${OPEN_CLIENTS}`);

    // Pinned sessions by reason: the open transaction and the user lock.
    await page.waitForSelector('#pins .pin-row[data-reason="transaction"]', { timeout: 10_000 });
    await page.waitForSelector('#pins .pin-row[data-reason="user_lock"]', { timeout: 10_000 });
    assert.ok((await numberIn(page, '#pinned-count')) >= 2);

    // Read routing: reads reach the replicas.
    await page.waitForFunction(() => /^\d+%$/.test(document.getElementById('replica-share')?.textContent ?? ''), null, { timeout: 10_000 });
    assert.ok(parseInt((await page.textContent('#replica-share')) ?? '', 10) > 0, 'some reads are served by replicas');

    // Pools: a row per backend, the primary's connections counted.
    const poolRows = await page.$$eval('#pools .pool-row', (els) =>
      els.map((e) => ({ name: e.getAttribute('data-name'), inUse: Number(e.querySelector('.in-use-n')?.textContent), idle: Number(e.querySelector('.idle-n')?.textContent) })),
    );
    assert.deepEqual(poolRows.map((r) => r.name), ['primary', 'replica1', 'replica2']);
    assert.ok(poolRows[0]!.inUse + poolRows[0]!.idle > 0, 'the primary pool has connections');

    // Top digests, when the API has them.
    const digestsRes = await fetch(`http://127.0.0.1:${adminPort}/api/v1/digests`);
    await digestsRes.body?.cancel();
    if (digestsRes.status === 200) {
      await page.waitForFunction(
        (db) => [...document.querySelectorAll('#digests tr[data-hash] td.stmt')].some((td) => td.textContent?.includes(`${db}.t`)),
        DB,
        { timeout: 10_000 },
      );
      assert.equal(await page.isVisible('#digests-panel'), true);
    }

    // The failover panel: the current primary and the phase (failover is on with replicas).
    await page.waitForSelector('#failover-panel:not([hidden])', { timeout: 10_000 });
    await page.waitForFunction(() => document.getElementById('failover-primary')?.textContent === 'primary', null, { timeout: 10_000 });
    assert.equal(await page.getAttribute('#failover-phase', 'data-phase'), 'normal');

    // Let the 60 s chart fill a little, then take the README's screenshot.
    await page.waitForFunction(() => Number(document.getElementById('qps-chart')?.getAttribute('data-points')) >= 15, null, { timeout: 30_000 });
    assert.match((await page.getAttribute('#qps-chart path.line-total', 'd')) ?? '', /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/);
    assert.equal(await page.getAttribute('#conn-status', 'data-state'), 'live');
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: 15_000 });

    // The offline flag: a replica taken out of service by the operator (token 't' from the config) and back.
    const setOffline = async (offline: boolean) => {
      const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/backends/replica2/${offline ? 'offline' : 'online'}`, {
        method: 'POST',
        headers: { Authorization: 'Bearer t' },
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(res.status, 200, await res.text());
    };
    await setOffline(true);
    try {
      await page.waitForSelector('#backends .backend[data-name="replica2"][data-offline="true"] .badge.offline', { timeout: 10_000 });
    } finally {
      await setOffline(false);
    }
    await page.waitForSelector('#backends .backend[data-name="replica2"][data-offline="false"]', { timeout: 10_000 });

    assert.deepEqual(pageErrors, [], 'no script error in the page');
    assert.deepEqual(loadErrors, [], 'the load ran without errors');
  } finally {
    stop = true;
    await bounded(Promise.allSettled(workers), 5000);
    if (browser) await bounded(browser.close(), 10_000);
    await Promise.allSettled(
      clients.map(async (c) => {
        const ended = await bounded(c.end().then(() => true), 3000);
        if (ended !== true) c.destroy();
      }),
    );
    const cleanup = await connectApp(sluice.port);
    try {
      await cleanup.query(`DROP DATABASE IF EXISTS ${DB}`);
    } finally {
      await cleanup.end();
    }
  }
});
