// BackendMonitor against real MariaDB replication: health transitions (broken, lagging, down, hung) and their
// timing, hysteresis on the way back, GTID positions. Starts its OWN topology (it stops and pauses servers),
// not the shared one in SLUICE_TEST_TOPOLOGY.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BackendMonitor } from '../../src/backend/monitor.js';
import { startTopology, type Topology } from '../../src/sandbox/topology.js';
import { gtidCovers, type BackendHealth, type BackendView, type TopologySnapshot } from '../../src/router/topology-snapshot.js';
import { createLogger } from '../../src/util/log.js';

const INTERVAL_MS = 500;
const UP_AFTER_MS = 1500;
const MAX_LAG_S = 2;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('backend monitor (own topology)', { timeout: 300_000 }, () => {
  let topo: Topology;
  let monitor: BackendMonitor;
  const events: TopologySnapshot[] = [];

  before(async () => {
    topo = await startTopology({ replicas: 2 });
    monitor = new BackendMonitor(
      {
        backends: [
          { name: 'primary', host: topo.primary.host, port: topo.primary.port, role: 'primary', weight: 1 },
          ...topo.replicas.map((r) => ({ name: r.name, host: r.host, port: r.port, role: 'replica' as const, weight: 1 })),
        ],
        user: topo.monitor.user,
        password: topo.monitor.password,
        intervalMs: INTERVAL_MS,
        connectTimeoutMs: 1000,
        maxLagSeconds: MAX_LAG_S,
        downAfterFailures: 2,
        upAfterMs: UP_AFTER_MS,
      },
      createLogger('silent'),
    );
    monitor.on('change', (s) => events.push(s));
    await monitor.start();
    await topo.exec(topo.primary, 'CREATE DATABASE mon; CREATE TABLE mon.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  });

  after(async () => {
    monitor?.stop();
    await topo?.stop();
  });

  const view = (name: string): BackendView => {
    const v = monitor.snapshot().backends.find((b) => b.name === name);
    assert.ok(v, `no backend ${name}`);
    return v;
  };

  /** Polls the snapshot until pred holds; returns the ms it took. */
  async function waitFor(what: string, pred: (s: TopologySnapshot) => boolean, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      if (pred(monitor.snapshot())) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        const state = monitor.snapshot().backends.map((b) => `${b.name}=${b.health} lag=${b.lagSeconds} err=${b.lastError}`).join('; ');
        assert.fail(`${what}: not within ${timeoutMs} ms (${state})`);
      }
      await sleep(20);
    }
  }
  const healthOf = (name: string) => (s: TopologySnapshot) => s.backends.find((b) => b.name === name)!.health;
  const is = (name: string, h: BackendHealth) => (s: TopologySnapshot) => healthOf(name)(s) === h;

  /** The health sequence of `name` over the change events since index `from` (consecutive duplicates merged). */
  function healthHistory(name: string, from: number): BackendHealth[] {
    const out: BackendHealth[] = [];
    for (const s of events.slice(from)) {
      const h = healthOf(name)(s);
      if (out[out.length - 1] !== h) out.push(h);
    }
    return out;
  }

  /** Out of service first (as `out`), back 'up' exactly once at the end: no flapping in between. */
  function assertNoFlap(name: string, from: number, out: BackendHealth): void {
    const h = healthHistory(name, from);
    assert.equal(h[0], out, `${name} history ${h.join(' → ')}`);
    assert.equal(h[h.length - 1], 'up', `${name} history ${h.join(' → ')}`);
    assert.equal(h.indexOf('up'), h.length - 1, `${name} history ${h.join(' → ')}`);
  }

  async function primaryPos(): Promise<string> {
    return (await topo.exec(topo.primary, 'SELECT @@GLOBAL.gtid_binlog_pos')).trim();
  }

  it('sees every backend up after start(), with roles, read_only and GTID positions', () => {
    const s = monitor.snapshot();
    assert.equal(s.backends.length, 3);
    assert.equal(s.primary?.name, 'primary');
    assert.deepEqual(s.replicas.map((r) => r.name), ['replica1', 'replica2']);
    for (const b of s.backends) {
      assert.equal(b.health, 'up', `${b.name}: ${b.lastError}`);
      assert.equal(b.lastError, null);
      assert.match(b.gtidPosition, /^0-1-\d+$/);
      assert.ok(b.lastCheckAt > 0);
    }
    assert.equal(s.primary!.readOnly, false);
    for (const r of s.replicas) {
      assert.equal(r.readOnly, true);
      assert.equal(r.lagSeconds, 0);
    }
    assert.ok(events.length >= 1, 'a change event for the first round');
  });

  it('keeps gtidPosition current: replicas reach the primary position after writes', async () => {
    const version = monitor.snapshot().version;
    await topo.exec(topo.primary, 'INSERT INTO mon.t (v) VALUES (1),(2),(3); INSERT INTO mon.t (v) VALUES (4)');
    const pos = await primaryPos();
    const ms = await waitFor(
      'every backend covers the primary position',
      (s) => s.backends.every((b) => gtidCovers(b.gtidPosition, pos)),
      3000,
    );
    assert.ok(ms <= 3000);
    assert.equal(view('primary').gtidPosition, pos);
    for (const r of ['replica1', 'replica2']) assert.equal(view(r).gtidPosition, pos);
    // positions moving is not a topology change
    assert.equal(monitor.snapshot().version, version);
  });

  it('replica with its SQL thread stopped is broken within 3 s; back up only after upAfterMs of health', async (t) => {
    const from = events.length;
    await topo.exec(topo.replicas[0]!, 'STOP SLAVE SQL_THREAD');
    const t0 = Date.now();
    await topo.exec(topo.primary, 'INSERT INTO mon.t (v) VALUES (10); INSERT INTO mon.t (v) VALUES (11)');
    const pos = await primaryPos();
    await waitFor('replica1 broken', is('replica1', 'broken'), 3000);
    const brokenMs = Date.now() - t0;
    assert.ok(brokenMs <= 3000);
    const r1 = view('replica1');
    assert.match(r1.lastError ?? '', /Slave_SQL_Running=No/);
    assert.equal(gtidCovers(r1.gtidPosition, pos), false, 'replica1 has not applied the new writes');
    assert.equal(view('replica2').health, 'up');
    assert.equal(view('primary').health, 'up');
    // stays broken while stopped
    await sleep(3 * INTERVAL_MS);
    assert.equal(view('replica1').health, 'broken');

    await topo.exec(topo.replicas[0]!, 'START SLAVE SQL_THREAD');
    const tStart = Date.now();
    await waitFor('replica1 up again', is('replica1', 'up'), UP_AFTER_MS + 3000);
    const took = Date.now() - tStart;
    assert.ok(took >= UP_AFTER_MS, `put back after ${took} ms, before upAfterMs=${UP_AFTER_MS}`);
    assert.ok(gtidCovers(view('replica1').gtidPosition, pos));
    assert.equal(view('replica1').lastError, null);
    // out once, back once: no flapping
    assertNoFlap('replica1', from, 'broken');
    t.diagnostic(`broken after ${brokenMs} ms, up ${took} ms after START SLAVE; history ${healthHistory('replica1', from).join(' → ')}`);
  });

  it('replica delayed beyond maxLagSeconds is lagging, then up again', async (t) => {
    const r1 = topo.replicas[0]!;
    await topo.exec(r1, 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=8; START SLAVE');
    let from = events.length;
    try {
      // (a check may have caught the restart of the replication threads; wait until it is settled)
      await waitFor('replica1 up with the delay set', is('replica1', 'up'), UP_AFTER_MS + 3000);
      await sleep(2 * INTERVAL_MS);
      assert.equal(view('replica1').health, 'up', 'a delay alone, with nothing to apply, is no lag');
      from = events.length;
      await topo.exec(topo.primary, 'INSERT INTO mon.t (v) VALUES (20)');
      const lagMs = await waitFor('replica1 lagging', is('replica1', 'lagging'), MAX_LAG_S * 1000 + 3000);
      const v = view('replica1');
      t.diagnostic(`lagging ${lagMs} ms after the write (lag ${v.lagSeconds} s)`);
      assert.ok(v.lagSeconds !== null && v.lagSeconds > MAX_LAG_S, `lag ${v.lagSeconds}`);
      assert.match(v.lastError ?? '', /lag/);
      assert.equal(view('replica2').health, 'up');
    } finally {
      await topo.exec(r1, 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE');
    }
    await waitFor('replica1 up after the delay is gone', is('replica1', 'up'), UP_AFTER_MS + 5000);
    assertNoFlap('replica1', from, 'lagging');
    const pos = await primaryPos();
    await waitFor('replica1 caught up', (s) => gtidCovers(s.backends.find((b) => b.name === 'replica1')!.gtidPosition, pos), 3000);
  });

  it('stopped replica is down within 3 s; comes back up after restart', async (t) => {
    const r2 = topo.replicas[1]!;
    const from = events.length;
    await topo.stopNode(r2);
    const ms = await waitFor('replica2 down', is('replica2', 'down'), 3000);
    assert.ok(ms <= 3000, `down after ${ms} ms`);
    assert.ok(view('replica2').lastError, 'lastError set');
    assert.equal(view('replica1').health, 'up');
    assert.equal(view('primary').health, 'up');

    await topo.exec(topo.primary, 'INSERT INTO mon.t (v) VALUES (30)');
    await topo.startNode(r2);
    const tStart = Date.now();
    await waitFor('replica2 up', is('replica2', 'up'), UP_AFTER_MS + 5000);
    const upMs = Date.now() - tStart;
    assert.ok(upMs >= UP_AFTER_MS - INTERVAL_MS, 'put back no sooner than upAfterMs after it answers');
    assertNoFlap('replica2', from, 'down');
    t.diagnostic(`down ${ms} ms after stop, up ${upMs} ms after restart; history ${healthHistory('replica2', from).join(' → ')}`);
    const pos = await primaryPos();
    await waitFor('replica2 caught up', (s) => gtidCovers(s.backends.find((b) => b.name === 'replica2')!.gtidPosition, pos), 5000);
  });

  it('hung replica (SIGSTOP) is down within 3 s; SIGCONT puts it back', async (t) => {
    const r2 = topo.replicas[1]!;
    const from = events.length;
    await topo.stopNode(r2, 'SIGSTOP');
    let resumed = false;
    try {
      const ms = await waitFor('paused replica2 down', is('replica2', 'down'), 3000);
      assert.ok(ms <= 3000, `down after ${ms} ms`);
      t.diagnostic(`paused replica down after ${ms} ms (${view('replica2').lastError})`);
      assert.match(view('replica2').lastError ?? '', /timed out/);
      assert.equal(view('replica1').health, 'up');
      assert.equal(view('primary').health, 'up');
      // checks of the others keep their pace while one server hangs
      const before = view('replica1').lastCheckAt;
      await sleep(3 * INTERVAL_MS);
      assert.ok(view('replica1').lastCheckAt - before >= 2 * INTERVAL_MS);
      await topo.startNode(r2); // SIGCONT, then waits until it answers
      resumed = true;
    } finally {
      if (!resumed) await topo.startNode(r2).catch(() => {});
    }
    await waitFor('replica2 up after SIGCONT', is('replica2', 'up'), UP_AFTER_MS + 5000);
    assertNoFlap('replica2', from, 'down');
  });

  it('checkNow() refreshes at once; stop() ends checking', async () => {
    await topo.exec(topo.primary, 'INSERT INTO mon.t (v) VALUES (40)');
    const pos = await primaryPos();
    await monitor.checkNow();
    assert.equal(view('primary').gtidPosition, pos);
    monitor.stop();
    const last = view('primary').lastCheckAt;
    await sleep(3 * INTERVAL_MS);
    assert.equal(view('primary').lastCheckAt, last);
  });
});
