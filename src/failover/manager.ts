// The failover manager: watches the primary, holds primary-bound statements while it is away, and gets a
// primary back — the same one when it returns, one that someone else promoted (followed), one Sluice
// promotes itself (failover.auto_promote, MariaDB GTID replication), or one chosen by an operator
// (planned switchover). One decision per failure; every step is logged and kept in a bounded history.
//
// Detection (probe every check_interval_ms, each bounded by detection_ms / 4):
//   two refused connections in a row            → lost ('dead': the process is gone)
//   no answer for detection_ms                   → lost ('hung': SIGSTOP, partition, overload)
//   read_only = ON on two probes in a row        → lost ('read_only': a DBA is switching over)
// A session whose primary connection broke, or which could not connect, calls suspect(): statements are held
// at once and a probe runs now, so a crash is noticed within milliseconds; a primary that answers releases
// them again.
//
// Promotion is refused for a hung primary until hang_promote_after_ms (it cannot be fenced while it hangs:
// a commit in flight on it would complete when it wakes up), and always when no replica is safe.
import { BackendError } from '../backend/internal-response.js';
import type { BackendEndpoint, BackendTlsOptions } from '../backend/connection.js';
import type { BackendMonitor } from '../backend/monitor.js';
import type { PoolManager } from '../backend/pool.js';
import type { FailoverConfig, SluiceConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import { gtidCovers, parseGtidPosition } from '../router/topology-snapshot.js';
import { AckLedger, outcomeEvidence } from './ack-ledger.js';
import { readBinlogTransactions, readCheckpoint, textsWithin, type BinlogCheckpoint, type BinlogTransaction, type WriteSignature } from './binlog-match.js';
import { chooseCandidate, type ReplicaSurvey } from './candidate.js';
import { FailoverBuffer } from './buffer.js';
import { NodeAdmin, isRefusal, sqlString } from './node-admin.js';
import type { FailoverControl, FailoverEvent, FailoverEventKind, FailoverPhase, FailoverStats, SwitchoverResult } from './types.js';

/** What the manager changes in the proxy (ProxyContext fits). */
export interface FailoverHost {
  readonly config: SluiceConfig;
  readonly pools: PoolManager;
  readonly log: Logger;
  primary: BackendEndpoint;
  setPrimary(endpoint: BackendEndpoint): void;
  /** The router's record of every write seen (reset when the primary changes). */
  readonly router: { instanceGtid: string } | null;
}

/** A session whose write was cut off by the primary's failure, waiting to learn whether it committed. */
export interface OutcomeWaiter {
  /** Positions committed before the write was sent (any may be ''): its GTID, if any, is newer. */
  readonly sentAfter: readonly string[];
  /** Server thread id of the connection that was cut (0: unknown). */
  readonly lostThreadId: number;
  /** What the write would have binlogged (null: it cannot be recognised in a binlog). */
  outcomeSignature(): WriteSignature | null;
  /**
   * not_committed: safe to run again; committed: answer OK with `affectedRows` (it did commit);
   * unknown: tell the client the outcome is unknown.
   */
  onOutcome(outcome: 'not_committed' | 'committed' | 'unknown', why: string, affectedRows?: number, gtid?: string): void;
}

/** A session whose primary connection broke, waiting to know whether the primary is failing. */
export interface VerdictWaiter {
  onPrimaryVerdict(failing: boolean): void;
}

type LostKind = 'dead' | 'hung' | 'read_only';


const HISTORY_LIMIT = 200;

export class FailoverManager implements FailoverControl {
  readonly buffer: FailoverBuffer;
  readonly acks = new AckLedger();
  private readonly counts: FailoverStats = {
    failovers: 0,
    switchovers: 0,
    followed: 0,
    bufferedTotal: 0,
    bufferRejected: 0,
    retried: 0,
    replayed: 0,
    replayMismatches: 0,
    outcomeUnknown: 0,
  };
  /** The primary's @@gtid_binlog_pos at the last successful probe (a floor for in-flight writes). */
  probePosition = '';
  private cfg: FailoverConfig;
  private ph: FailoverPhase = 'normal';
  private readonly events: FailoverEvent[] = [];
  private readonly nodes = new Map<string, NodeAdmin>();
  private timer: NodeJS.Timeout | null = null;
  private probing: Promise<void> | null = null;
  private stopped = false;
  private lastOkAt = Date.now();
  private refusals = 0;
  private readOnlySeen = 0;
  private lostAt = 0;
  private lostKind: LostKind = 'dead';
  /** A promotion or switchover is running. */
  private busy = false;
  /** A promotion failed half way: no second attempt for this failure (an operator must look). */
  private gaveUp = false;
  private lastRefusal = '';
  private readonly fenced = new Set<string>();
  private maintaining = false;
  private outcomeWaiters: OutcomeWaiter[] = [];
  /** Recent (file, pos, gtid) of every node's binlog: where to start reading when a write's fate needs it. */
  private readonly checkpoints = new Map<string, BinlogCheckpoint[]>();
  private checkpointing = false;
  private verdictWaiters: VerdictWaiter[] = [];

  constructor(
    private readonly host: FailoverHost,
    private monitor: BackendMonitor,
    private readonly tls: BackendTlsOptions | null,
  ) {
    this.cfg = host.config.failover;
    this.buffer = new FailoverBuffer(this.cfg.buffer);
  }

  // ---------------------------------------------------------------------------------------------------
  // FailoverControl

  phase(): FailoverPhase {
    return this.ph;
  }

  primaryName(): string {
    return this.host.primary.name;
  }

  buffered(): { statements: number; bytes: number } {
    return { statements: this.buffer.count, bytes: this.buffer.bytes };
  }

  get stats(): Readonly<FailoverStats> {
    this.counts.bufferedTotal = this.buffer.total;
    this.counts.bufferRejected = this.buffer.rejected;
    return this.counts;
  }

  /** Sessions report what they did with interrupted statements. */
  count(what: 'retried' | 'replayed' | 'replayMismatches' | 'outcomeUnknown'): void {
    this.counts[what]++;
  }

  history(): readonly FailoverEvent[] {
    return this.events;
  }

  // ---------------------------------------------------------------------------------------------------
  // Life cycle

  start(): void {
    this.stopped = false;
    this.lastOkAt = Date.now();
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const n of this.nodes.values()) n.close(true);
    this.buffer.rejectAll('Sluice is shutting down');
    this.buffer.release();
    this.verdict(false);
    const waiters = this.outcomeWaiters;
    this.outcomeWaiters = [];
    for (const w of waiters) w.onOutcome('unknown', 'Sluice is shutting down');
  }

  /** Hot reload replaced the monitor (replicas changed). */
  setMonitor(monitor: BackendMonitor): void {
    this.monitor = monitor;
  }

  updateConfig(cfg: FailoverConfig): void {
    this.cfg = cfg;
    this.buffer.updateLimits(cfg.buffer);
  }

  // ---------------------------------------------------------------------------------------------------
  // Session hooks

  /** A primary connection broke or could not be made: hold statements and look now. */
  suspect(): void {
    if (this.stopped) return;
    if (!this.buffer.holding) this.buffer.begin();
    if (this.probing === null) this.schedule(0);
  }

  /** Tells `w` (after the next probe) whether the primary is failing. */
  awaitVerdict(w: VerdictWaiter): void {
    if (this.ph !== 'normal') return w.onPrimaryVerdict(true);
    this.verdictWaiters.push(w);
    this.suspect();
  }

  private verdict(failing: boolean): void {
    const waiters = this.verdictWaiters;
    if (waiters.length === 0) return;
    this.verdictWaiters = [];
    for (const w of waiters) w.onPrimaryVerdict(failing);
  }

  /** A write was cut off; its outcome is decided when a primary is back (or unknown if it is not). */
  awaitOutcome(w: OutcomeWaiter): void {
    this.outcomeWaiters.push(w);
  }

  // ---------------------------------------------------------------------------------------------------
  // Probe loop

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.probing !== null) return;
      this.probing = this.tick()
        .catch((err: unknown) => this.host.log.error({ err }, 'failover manager tick failed'))
        .finally(() => {
          this.probing = null;
          // Failing probes (or held statements) make the next probe come sooner.
          const quick = this.ph !== 'normal' || this.buffer.holding || Date.now() - this.lastOkAt > this.cfg.check_interval_ms * 2;
          this.schedule(quick ? Math.min(this.cfg.check_interval_ms, 50) : this.cfg.check_interval_ms);
        });
    }, ms);
    this.timer.unref();
  }

  private node(name: string, endpoint?: BackendEndpoint): NodeAdmin {
    let n = this.nodes.get(name);
    if (!n) {
      if (this.stopped) throw new Error('failover manager stopped');
      const b = endpoint ?? this.endpointOf(name);
      n = new NodeAdmin(b, { user: this.host.config.monitor.user, password: this.host.config.monitor.password, tls: this.tls });
      this.nodes.set(name, n);
    }
    return n;
  }

  private endpointOf(name: string): BackendEndpoint {
    const b = this.host.config.backends.find((x) => x.name === name);
    if (!b) throw new Error(`unknown backend ${name}`);
    return { name: b.name, host: b.host, port: b.port };
  }

  private probeTimeout(): number {
    return Math.max(100, Math.floor(this.cfg.detection_ms / 4));
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    const primary = this.host.primary;
    try {
      const rows = await this.node(primary.name).rows('SELECT @@read_only, @@gtid_binlog_pos', this.probeTimeout());
      // A switchover or promotion started while the probe ran, or the primary changed: this answer is stale.
      if (this.busy || this.stopped || this.host.primary !== primary) return;
      const ro = rows[0]?.[0] === '1' || rows[0]?.[0]?.toUpperCase() === 'ON';
      this.refusals = 0;
      if (ro) {
        this.readOnlySeen++;
        if (this.ph === 'normal' && this.readOnlySeen >= 2) this.onLost('read_only', 'the primary is read_only');
      } else {
        this.readOnlySeen = 0;
        this.lastOkAt = Date.now();
        this.probePosition = rows[0]?.[1] ?? '';
        this.verdict(false);
        if (this.ph === 'primary_lost' || this.buffer.holding) this.onRecovered();
      }
    } catch (err) {
      if (this.busy || this.stopped || this.host.primary !== primary) return;
      const why = (err as Error).message;
      if (isRefusal(err)) this.refusals++;
      else this.refusals = 0;
      if (this.ph === 'normal') {
        if (this.refusals >= 2) this.onLost('dead', why);
        // Declared within detection_ms of the failure: the last answer may be a probe interval and a probe
        // timeout older than the moment the primary stopped answering.
        else if (Date.now() - this.lastOkAt >= Math.max(100, this.cfg.detection_ms - this.cfg.check_interval_ms - this.probeTimeout())) this.onLost('hung', why);
      } else if (this.refusals >= 2) this.lostKind = 'dead';
    }
    if (this.buffer.timedOut && this.outcomeWaiters.length > 0) {
      const waiters = this.outcomeWaiters;
      this.outcomeWaiters = [];
      for (const w of waiters) {
        this.counts.outcomeUnknown++;
        w.onOutcome('unknown', `no primary within failover.buffer.max_duration_ms (${this.cfg.buffer.max_duration_ms} ms)`);
      }
    }
    if (this.ph === 'primary_lost' && !this.busy && !this.gaveUp) await this.decide();
    if (!this.checkpointing && this.ph === 'normal' && !this.buffer.holding) {
      this.checkpointing = true;
      void this.recordCheckpoints().finally(() => (this.checkpointing = false));
    }
    if (!this.maintaining) {
      this.maintaining = true;
      void this.maintain().finally(() => (this.maintaining = false));
    }
  }

  private onLost(kind: LostKind, why: string): void {
    this.ph = 'primary_lost';
    this.lostAt = Date.now();
    this.lostKind = kind;
    this.gaveUp = false;
    this.lastRefusal = '';
    this.buffer.begin();
    const primary = this.host.primary.name;
    this.host.log.warn({ primary, kind, why }, 'primary lost; holding statements bound for it');
    this.verdict(true);
    this.record('primary_lost', primary, primary, `${kind}: ${why}`, null);
  }

  /** The same primary answers (again): release what was held. */
  private onRecovered(): void {
    const wasLost = this.ph === 'primary_lost';
    this.ph = 'normal';
    void this.resolveOutcomes(this.host.primary.name, this.probePosition, true);
    const held = this.buffer.release();
    if (wasLost) {
      const primary = this.host.primary.name;
      this.host.log.info({ primary, heldMs: held }, 'primary is back');
      this.record('primary_recovered', primary, primary, `answered again after ${held} ms`, held);
    }
  }

  /** The primary is lost: follow a primary promoted by someone else, promote one, or keep holding. */
  private async decide(): Promise<void> {
    const others = await this.survey();
    // Writable and not replicating from the old primary (a replica with read_only forgotten is no primary).
    const oldPort = this.host.primary.port;
    const writable = others.filter((r) => r.ok && !r.readOnly && !this.fenced.has(r.name) && !(r.masterPort === oldPort && r.sqlRunning));
    if (writable.length === 1) {
      const to = writable[0]!;
      const pos = await this.position(to.name).catch(() => '');
      this.switchTo(to.endpoint, 'followed', this.lostAt, `${to.name} is writable: followed (promoted outside Sluice)`, pos, false);
      this.counts.followed++;
      return;
    }
    if (writable.length > 1) return this.refuse(`several writable nodes (${writable.map((w) => w.name).join(', ')}): not choosing between them`);
    if (!this.cfg.auto_promote) return;
    if (this.lostKind === 'read_only') return; // someone is at work on the primary: not behind their back
    const lostFor = Date.now() - this.lostAt;
    if (this.lostKind === 'hung' && lostFor < this.cfg.hang_promote_after_ms) return;
    await this.promote(others);
  }

  private refuse(why: string): void {
    if (why === this.lastRefusal) return;
    this.lastRefusal = why;
    this.host.log.warn({ why }, 'failover refused');
    this.record('failover_refused', this.host.primary.name, this.host.primary.name, why, null);
  }

  /** Fresh facts about every backend other than the primary (parallel, each bounded). */
  private async survey(exclude: string = this.host.primary.name): Promise<ReplicaSurvey[]> {
    const t = this.probeTimeout() * 2;
    const names = this.host.config.backends.map((b) => b.name).filter((n) => n !== exclude);
    return Promise.all(
      names.map(async (name): Promise<ReplicaSurvey> => {
        const endpoint = this.endpointOf(name);
        const base: ReplicaSurvey = { name, endpoint, ok: false, error: '', readOnly: true, received: '', applied: '', masterPort: null, sqlRunning: false, sqlError: '', semiSyncSlave: false };
        try {
          const n = this.node(name);
          const v = (await n.rows('SELECT @@read_only, @@gtid_slave_pos, @@gtid_current_pos, @@rpl_semi_sync_slave_enabled', t))[0] ?? [];
          const st = (await n.namedRows('SHOW SLAVE STATUS', t))[0];
          const applied = v[1] || v[2] || '';
          return {
            ...base,
            ok: true,
            readOnly: v[0] === '1' || v[0]?.toUpperCase() === 'ON',
            applied,
            received: st?.get('Gtid_IO_Pos') || applied,
            masterPort: st ? Number(st.get('Master_Port')) : null,
            sqlRunning: st?.get('Slave_SQL_Running') === 'Yes',
            sqlError: st?.get('Last_SQL_Error') ?? '',
            semiSyncSlave: v[3] === '1' || v[3]?.toUpperCase() === 'ON',
          };
        } catch (err) {
          return { ...base, error: (err as Error).message };
        }
      }),
    );
  }


  private async promote(replicas: ReplicaSurvey[]): Promise<void> {
    const old = this.host.primary;
    const { best, why } = chooseCandidate(replicas, old.name, null, this.fenced);
    if (best === null) return this.refuse(why);
    this.busy = true;
    this.ph = 'promoting';
    const t = this.cfg.catchup_timeout_ms;
    this.host.log.warn({ from: old.name, to: best.name, received: best.received }, 'promoting a replica');
    let changed = false;
    try {
      // Apply everything received (the relay log) before taking writes.
      const wait = await this.node(best.name).rows(`SELECT MASTER_GTID_WAIT(${sqlString(best.received)}, ${(t / 1000).toFixed(3)})`, t + 2000);
      if (wait[0]?.[0] !== '0') {
        this.ph = 'primary_lost';
        return this.refuse(`${best.name} did not apply its relay log up to ${best.received} within ${t} ms`);
      }
      changed = true;
      const others = replicas.filter((r) => r.ok && r.name !== best.name && r.masterPort !== null);
      await this.makePrimary(best, others);
      const pos = await this.position(best.name);
      if (this.stopped) return;
      this.counts.failovers++;
      this.switchTo(best.endpoint, 'failover', this.lostAt, `promoted ${best.name} (had received ${best.received}); repointed ${others.map((o) => o.name).join(', ') || 'no other replica'}; ${old.name} fenced`, pos, true);
    } catch (err) {
      const msg = (err as Error).message;
      this.host.log.error({ err: msg, candidate: best.name }, 'promotion failed');
      this.ph = 'primary_lost';
      if (changed) this.gaveUp = true;
      this.record('failover_failed', old.name, old.name, `promoting ${best.name} failed: ${msg}${changed ? '; not retried (needs an operator)' : ''}`, null);
    } finally {
      this.busy = false;
    }
  }

  /** Turns `node` into the primary and repoints `others` at it. Writable last, after its replicas attach. */
  private async makePrimary(node: ReplicaSurvey, others: ReplicaSurvey[], alsoRepoint: Array<{ name: string; usePos: 'slave_pos' | 'current_pos' }> = []): Promise<void> {
    // STOP SLAVE waits for the IO thread, which may sit in a read from a hung primary: give it time.
    const t = Math.max(this.probeTimeout() * 4, this.cfg.catchup_timeout_ms);
    const n = this.node(node.name);
    await n.exec(['STOP SLAVE', 'RESET SLAVE ALL'], t);
    const semi = node.semiSyncSlave;
    if (semi) await n.exec(['SET GLOBAL rpl_semi_sync_master_enabled = ON', 'SET GLOBAL rpl_semi_sync_slave_enabled = OFF'], t);
    const repoints = [...others.map((o) => ({ name: o.name, usePos: 'slave_pos' as const })), ...alsoRepoint];
    const results = await Promise.allSettled(repoints.map((o) => this.repoint(o.name, node.endpoint, o.usePos, semi)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.host.log.warn({ replica: repoints[i]!.name, err: (r.reason as Error).message }, 'could not repoint a replica (will retry when it answers)');
    });
    if (semi) {
      // Commits would wait rpl_semi_sync_master_timeout for an ack while no semi-sync replica is attached.
      const deadline = Date.now() + 3000;
      for (;;) {
        const rows = await n.rows("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'", t).catch(() => []);
        if (Number(rows[0]?.[1] ?? 0) >= 1 || repoints.length === 0 || Date.now() > deadline) break;
        await sleep(20);
      }
    }
    await n.exec(['SET GLOBAL read_only = OFF'], t);
  }

  private async repoint(name: string, to: BackendEndpoint, usePos: 'slave_pos' | 'current_pos', semi: boolean): Promise<void> {
    if (this.cfg.replication_user === null) throw new Error('failover.replication_user is not set');
    const t = Math.max(this.probeTimeout() * 4, this.cfg.catchup_timeout_ms);
    const n = this.node(name);
    await n.exec(
      [
        'STOP SLAVE',
        'SET GLOBAL read_only = ON',
        ...(semi ? ['SET GLOBAL rpl_semi_sync_slave_enabled = ON', 'SET GLOBAL rpl_semi_sync_master_enabled = OFF'] : []),
        `CHANGE MASTER TO MASTER_HOST=${sqlString(to.host)}, MASTER_PORT=${to.port}, MASTER_USER=${sqlString(this.cfg.replication_user)}, ` +
          `MASTER_PASSWORD=${sqlString(this.cfg.replication_password)}, MASTER_USE_GTID=${usePos}, MASTER_CONNECT_RETRY=1`,
        'START SLAVE',
      ],
      t,
    );
  }

  private async position(name: string): Promise<string> {
    const rows = await this.node(name).rows('SELECT @@gtid_current_pos', this.probeTimeout() * 2);
    return rows[0]?.[0] ?? '';
  }

  /** Makes `to` the primary of the proxy and releases what was held. */
  private switchTo(to: BackendEndpoint, kind: FailoverEventKind, since: number, detail: string, newPosition: string, fenceOld: boolean): void {
    const old = this.host.primary;
    this.host.setPrimary(to);
    this.monitor.setPrimary(to.name);
    if (fenceOld) this.fenced.add(old.name);
    this.fenced.delete(to.name);
    // Connections still open to the old primary (a hung one) are cut: their sessions replay or report.
    this.host.pools.closeBackend(old.name, new BackendError(`Sluice: the primary moved from ${old.name} to ${to.name}`, 2013, 'HY000', 'SLUICE_PRIMARY_CHANGED'));
    this.node(old.name).close();
    this.ph = 'normal';
    this.refusals = 0;
    this.readOnlySeen = 0;
    this.lastOkAt = Date.now();
    this.probePosition = newPosition;
    this.buffer.release();
    void this.resolveOutcomes(to.name, newPosition, false);
    // Sequence numbers on the new primary may restart below what the old one reached (writes lost with an
    // asynchronous replica): positions seen so far say nothing about the new history.
    this.acks.clear();
    if (this.host.router) this.host.router.instanceGtid = '';
    const ms = Date.now() - since;
    this.host.log.warn({ from: old.name, to: to.name, kind, ms }, 'primary changed');
    this.record(kind, old.name, to.name, detail, ms);
  }

  /**
   * Writes cut off by the failure: each committed on the new primary only if the new primary holds a GTID
   * newer than what was committed before it was sent that no client was acknowledged. None → it did not
   * commit (on the surviving history): run it again. Otherwise its outcome is unknown.
   */
  private async resolveOutcomes(node: string, position: string, samePrimary: boolean): Promise<void> {
    const waiters = this.outcomeWaiters;
    if (waiters.length === 0) return;
    this.outcomeWaiters = [];
    if (samePrimary) {
      // The server may still be running the cut statements (a lock wait, a connection cut by the network):
      // stop them and wait until they are gone before reading what committed.
      try {
        position = await this.endThreads(node, waiters.map((w) => w.lostThreadId).filter((id) => id > 0));
      } catch (err) {
        for (const w of waiters) {
          this.counts.outcomeUnknown++;
          w.onOutcome('unknown', `could not make sure the cut statement stopped: ${(err as Error).message}`);
        }
        return;
      }
    }
    const undecided: Array<{ w: OutcomeWaiter; unacked: Array<[number, number]>; sig: WriteSignature }> = [];
    /** GTIDs an unrecognisable interrupted write might be: nobody else may be proven to own them. */
    const contested = new Set<string>();
    for (const w of waiters) {
      const ev = outcomeEvidence(position, w.sentAfter, this.acks);
      if (ev.reason === '') {
        this.counts.retried++;
        w.onOutcome('not_committed', 'no unacknowledged write reached the new primary');
        continue;
      }
      const sig = ev.resolvable ? w.outcomeSignature() : null;
      if (sig === null) {
        for (const [d, seq] of ev.unacknowledged) contested.add(`${d}-${seq}`);
        if (!ev.resolvable) contested.add('*');
        this.counts.outcomeUnknown++;
        w.onOutcome('unknown', ev.reason);
        continue;
      }
      undecided.push({ w, unacked: ev.unacknowledged, sig });
    }
    if (undecided.length === 0) return;
    // Ask the surviving primary's binlog what the unacknowledged GTIDs carried.
    let txns: Map<string, BinlogTransaction> | null = null;
    let why = '';
    try {
      const floor = Math.min(...undecided.flatMap((u) => u.unacked.map(([, seq]) => seq)));
      const cp = [...(this.checkpoints.get(node) ?? [])].reverse().find((c) => {
        try {
          return [...parseGtidPosition(c.gtid).values()].every((e) => e.seq < floor);
        } catch {
          return false;
        }
      });
      if (cp === undefined) why = `no binlog checkpoint of ${node} older than the writes`;
      else txns = await readBinlogTransactions(this.node(node), cp, this.probeTimeout() * 8);
    } catch (err) {
      why = `reading the binlog of ${node} failed: ${(err as Error).message}`;
    }
    const claims = new Map<string, number>();
    const candidates = undecided.map((u) => {
      const mine: BinlogTransaction[] = [];
      for (const [d, seq] of u.unacked) {
        const t = txns?.get(`${d}-${seq}`);
        if (t === undefined) continue;
        // No statement text (annotations off, filtered tables …): it could be anyone's, this one's included.
        if (t.texts.length === 0 || textsWithin(t.texts, u.sig.texts)) {
          mine.push(t);
          claims.set(`${d}-${seq}`, (claims.get(`${d}-${seq}`) ?? 0) + 1);
        }
      }
      return mine;
    });
    for (let i = 0; i < undecided.length; i++) {
      const { w, unacked, sig } = undecided[i]!;
      const mine = candidates[i]!;
      const missing = txns === null ? unacked.length : unacked.filter(([d, seq]) => !txns!.has(`${d}-${seq}`)).length;
      if (txns === null || missing > 0) {
        this.counts.outcomeUnknown++;
        w.onOutcome('unknown', why || `${missing} unacknowledged GTID(s) not found in the binlog of ${node}`);
        continue;
      }
      if (mine.length === 0) {
        this.counts.retried++;
        w.onOutcome('not_committed', 'none of the unacknowledged writes on the new primary is this statement (binlog)');
        continue;
      }
      const t = mine[0]!;
      const key = `${t.domain}-${t.seq}`;
      const exact = t.texts.length === sig.texts.length && textsWithin(sig.texts, t.texts);
      let affected = sig.affectedRows;
      if (sig.insertTable !== null && affected !== null && (await this.hasAutoIncrement(node, sig.insertTable).catch(() => true))) affected = null;
      if (mine.length === 1 && claims.get(key) === 1 && !contested.has(key) && !contested.has('*') && exact && affected !== null) {
        this.counts.retried++;
        w.onOutcome('committed', `committed before the failure as GTID ${t.domain}-${t.server}-${t.seq} (found in the binlog of ${node})`, affected, `${t.domain}-${t.server}-${t.seq}`);
        continue;
      }
      this.counts.outcomeUnknown++;
      w.onOutcome('unknown', mine.length > 1 || claims.get(key)! > 1 ? 'several interrupted writes match the same binlogged statement' : `it committed as GTID ${t.domain}-?-${t.seq} but its result cannot be reconstructed`);
    }
  }

  /** KILLs `ids` on `node`, waits (≤ 5 s) until they are gone, and returns the binlog position then. */
  private async endThreads(node: string, ids: number[]): Promise<string> {
    const n = this.node(node);
    const t = this.probeTimeout() * 2;
    for (const id of ids) await n.rows(`KILL ${id}`, t).catch(() => undefined); // gone already: fine
    const deadline = Date.now() + 5000;
    while (ids.length > 0) {
      const left = await n.rows(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (${ids.join(',')})`, t);
      if (left[0]?.[0] === '0') break;
      if (Date.now() > deadline) throw new Error(`threads ${ids.join(', ')} still running on ${node}`);
      await sleep(20);
    }
    return (await n.rows('SELECT @@gtid_binlog_pos', t))[0]?.[0] ?? '';
  }

  private async hasAutoIncrement(node: string, t: { schema: string | null; table: string }): Promise<boolean> {
    const schema = t.schema === null ? 'DATABASE()' : sqlString(t.schema);
    const rows = await this.node(node).rows(
      `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${schema} AND TABLE_NAME = ${sqlString(t.table)} AND EXTRA LIKE '%auto_increment%'`,
      this.probeTimeout() * 2,
    );
    return rows[0]?.[0] !== '0';
  }

  /** Notes where every node's binlog is now (kept for a few seconds). */
  private async recordCheckpoints(): Promise<void> {
    const t = this.probeTimeout();
    await Promise.all(
      this.host.config.backends.map(async (b) => {
        try {
          const cp = await readCheckpoint(this.node(b.name), t);
          if (cp === null) return;
          const list = this.checkpoints.get(b.name) ?? [];
          list.push(cp);
          if (list.length > 16) list.shift();
          this.checkpoints.set(b.name, list);
        } catch {
          /* away: its older checkpoints stay */
        }
      }),
    );
  }

  /** Fences old primaries that come back, repoints strays, lets old primaries rejoin when configured. */
  private async maintain(): Promise<void> {
    if (this.fenced.size === 0 || this.busy) return;
    const t = this.probeTimeout();
    const primary = this.host.primary;
    for (const name of [...this.fenced]) {
      let v: Array<string | null>;
      try {
        v = (await this.node(name).rows('SELECT @@read_only, @@gtid_binlog_pos', t))[0] ?? [];
      } catch {
        continue; // still away
      }
      if (!(v[0] === '1' || v[0]?.toUpperCase() === 'ON')) {
        try {
          // Commits that were waiting for a semi-sync ack when it stopped would hold SET GLOBAL read_only
          // until rpl_semi_sync_master_timeout: stop waiting for acks first (nobody is told of those commits:
          // Sluice's connections to it are gone).
          await this.node(name).exec(['SET GLOBAL rpl_semi_sync_master_enabled = OFF'], t).catch(() => undefined);
          await this.node(name).exec(['SET GLOBAL read_only = ON'], Math.max(t, this.cfg.catchup_timeout_ms));
          this.host.log.warn({ backend: name, primary: primary.name }, 'old primary is back and writable: set read_only (fenced)');
          this.record('fenced', primary.name, primary.name, `${name} came back writable; set read_only = ON. It is never used as the primary.`, null);
        } catch (err) {
          this.host.log.error({ backend: name, err: (err as Error).message }, 'could not fence the old primary');
          continue;
        }
      }
      if (!this.cfg.rejoin || this.cfg.replication_user === null) continue;
      try {
        const primaryPos = await this.position(primary.name);
        const own = v[1] ?? '';
        if (!gtidCovers(primaryPos, own)) {
          this.fenced.delete(name); // reported once; it stays read-only and out of rotation (not a replica)
          this.record('fenced', primary.name, primary.name, `${name} has transactions the new primary lacks (${own} vs ${primaryPos}): not rejoined; it stays read-only`, null);
          continue;
        }
        await this.repoint(name, primary, 'current_pos', await this.semiSyncOn(primary.name));
        this.fenced.delete(name);
        this.record('rejoined', primary.name, primary.name, `${name} now replicates from ${primary.name}`, null);
      } catch (err) {
        this.host.log.warn({ backend: name, err: (err as Error).message }, 'old primary could not rejoin yet');
      }
    }
  }

  private async semiSyncOn(name: string): Promise<boolean> {
    const rows = await this.node(name).rows('SELECT @@rpl_semi_sync_master_enabled', this.probeTimeout());
    return rows[0]?.[0] === '1' || rows[0]?.[0]?.toUpperCase() === 'ON';
  }

  // ---------------------------------------------------------------------------------------------------
  // Planned switchover

  async switchover(target: string | null): Promise<SwitchoverResult> {
    if (this.busy || this.ph !== 'normal') throw new Error(`a failover or switchover is already in progress (phase ${this.ph})`);
    if (this.cfg.replication_user === null) throw new Error('failover.replication_user is not set: replicas cannot be repointed');
    const old = this.host.primary;
    if (target === old.name) throw new Error(`${target} is already the primary`);
    if (target !== null && !this.host.config.backends.some((b) => b.name === target)) throw new Error(`unknown backend ${target}`);
    this.busy = true;
    try {
      const replicas = await this.survey(old.name);
      const { best, why } = chooseCandidate(replicas.filter((r) => r.ok && r.masterPort === old.port && r.sqlRunning), old.name, target, this.fenced, true);
      if (best === null) throw new Error(`switchover refused: ${why}`);
      this.ph = 'switching_over';
      const t0 = Date.now();
      this.buffer.begin();
      const t = this.probeTimeout() * 4;
      const oldNode = this.node(old.name);
      /** How far it got: before 'promote' the old primary is simply put back; from then on the target is. */
      let stage: 'drain' | 'read_only' | 'catchup' | 'promote' = 'drain';
      try {
        // Open transactions get switchover_drain_ms to finish; new statements are held meanwhile.
        await this.drain(old.name, this.cfg.switchover_drain_ms);
        // Whatever still runs is cut (replayed or reported by its session), so no write lands after this.
        this.host.pools.closeBackend(old.name, new BackendError(`Sluice: switching over from ${old.name} to ${best.name}`, 2013, 'HY000', 'SLUICE_PRIMARY_CHANGED'));
        stage = 'read_only'; // (a timed-out SET may still take effect: undone on failure either way)
        await oldNode.exec(['SET GLOBAL read_only = ON'], t);
        stage = 'catchup';
        const pos = (await oldNode.rows('SELECT @@gtid_binlog_pos', t))[0]?.[0] ?? '';
        const ct = this.cfg.catchup_timeout_ms;
        const wait = await this.node(best.name).rows(`SELECT MASTER_GTID_WAIT(${sqlString(pos)}, ${(ct / 1000).toFixed(3)})`, ct + 2000);
        if (wait[0]?.[0] !== '0') throw new Error(`${best.name} did not reach ${pos} within ${ct} ms`);
        const semi = await this.semiSyncOn(old.name).catch(() => best.semiSyncSlave);
        const others = replicas.filter((r) => r.ok && r.name !== best.name && r.masterPort !== null);
        stage = 'promote';
        await this.makePrimary({ ...best, semiSyncSlave: semi || best.semiSyncSlave }, others, [{ name: old.name, usePos: 'current_pos' }]);
        const newPos = await this.position(best.name);
        this.counts.switchovers++;
        const pauseMs = Date.now() - t0;
        this.switchTo(best.endpoint, 'switchover', t0, `planned switchover to ${best.name}; ${old.name} now replicates from it`, newPos, false);
        return { from: old.name, to: best.name, pauseMs };
      } catch (err) {
        const msg = (err as Error).message;
        if (stage === 'promote') {
          // The target was being promoted (replicas, perhaps the old primary, already follow it): finish
          // on it if it takes writes; never hand writes back to an old primary that now replicates.
          try {
            await this.node(best.name).exec(['SET GLOBAL read_only = OFF'], Math.max(t, this.cfg.catchup_timeout_ms));
            const newPos = await this.position(best.name);
            this.counts.switchovers++;
            this.switchTo(best.endpoint, 'switchover', t0, `planned switchover to ${best.name}, completed after an error (${msg})`, newPos, true);
            return { from: old.name, to: best.name, pauseMs: Date.now() - t0 };
          } catch (err2) {
            this.ph = 'primary_lost';
            this.gaveUp = true;
            this.record('switchover_failed', old.name, best.name, `switchover to ${best.name} failed while promoting it: ${msg}; then ${(err2 as Error).message}. Statements stay held (failover.buffer limits apply); an operator must look.`, null);
            throw new Error(`switchover failed while promoting ${best.name}: ${msg}`);
          }
        }
        if (stage !== 'drain') await oldNode.exec(['SET GLOBAL read_only = OFF'], t).catch(() => undefined);
        this.ph = 'normal';
        // Writes cut by the switchover: decide them against the old primary, which stays.
        const pos = await this.position(old.name).catch(() => '');
        this.buffer.release();
        void this.resolveOutcomes(old.name, pos, true);
        this.record('switchover_failed', old.name, old.name, `switchover to ${best.name} failed: ${msg}; ${old.name} stays the primary`, null);
        throw new Error(`switchover failed: ${msg}`);
      }
    } finally {
      this.busy = false;
    }
  }

  /** Waits until no connection to `backend` is in use, or ms passed. */
  private async drain(backend: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (this.host.pools.poolsOf(backend).every((p) => p.inUse === 0)) return;
      await sleep(5);
    }
  }

  private record(kind: FailoverEventKind, from: string | null, to: string | null, detail: string, durationMs: number | null): void {
    this.events.push({ at: Date.now(), kind, from, to, detail, durationMs });
    if (this.events.length > HISTORY_LIMIT) this.events.splice(0, this.events.length - HISTORY_LIMIT);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
