// The proxy-wide routing state: the monitor's view of the replicas, the balancer, and the GTID position of
// every write this proxy has seen (for the `instance` consistency level).
import type { BackendMonitor } from '../backend/monitor.js';
import type { RoutingConfig } from '../config/schema.js';
import { Balancer, type BalancePolicy } from './balancer.js';
import { gtidCovers, mergeGtidPositions, type BackendView, type TopologySnapshot } from './topology-snapshot.js';

export class Router {
  private balancer: Balancer;
  private cachedFor: TopologySnapshot | null = null;
  private healthy: BackendView[] = [];
  /** Positions replicas are known to have reached since the last monitor round (name → GTID position). */
  private readonly reached = new Map<string, string>();
  private readonly suspects = new Map<string, number>();
  /** Replicas an operator took out of rotation (admin API). */
  private readonly offline = new Set<string>();
  /** Merged GTID position of all writes seen through this proxy. */
  instanceGtid = '';
  readonly stats = { replicaReads: 0, primaryReads: 0, gtidWaits: 0, gtidWaitTimeouts: 0, noReplica: 0 };

  constructor(
    public config: RoutingConfig,
    private monitor: BackendMonitor | null,
  ) {
    this.balancer = new Balancer(config.policy as BalancePolicy);
  }

  /** Hot reload: new routing settings (a new policy starts a fresh balancer). */
  updateConfig(config: RoutingConfig): void {
    if (config.policy !== this.config.policy) this.balancer = new Balancer(config.policy as BalancePolicy);
    this.config = config;
  }

  /** Hot reload: the set of replicas changed; the new monitor has completed its first round. */
  replaceMonitor(monitor: BackendMonitor, config: RoutingConfig): void {
    this.monitor = monitor;
    this.cachedFor = null;
    this.updateConfig(config);
  }

  /** The monitor's current view, for operators (admin SQL / HTTP). */
  monitorView(): BackendMonitor | null {
    return this.monitor;
  }

  get hasReplicas(): boolean {
    return this.monitor !== null && this.monitor.snapshot().replicas.length > 0;
  }

  /** Replicas in service now (up: reachable, replicating, within the lag bound). */
  healthyReplicas(): readonly BackendView[] {
    if (this.monitor === null) return this.healthy;
    const snap = this.monitor.snapshot();
    if (snap !== this.cachedFor) {
      this.cachedFor = snap;
      this.healthy = snap.replicas.filter((r) => r.health === 'up' && !this.offline.has(r.name));
      this.reached.clear();
    }
    return this.healthy;
  }

  /** A healthy replica chosen by `balancer` (a session's own) or the cluster's policy. */
  pickReplica(balancer: Balancer | null = null): BackendView | null {
    const b = balancer ?? this.balancer;
    const healthy = this.healthyReplicas();
    if (this.suspects.size === 0) return b.pick(healthy);
    const now = Date.now();
    for (const [name, until] of this.suspects) if (until <= now) this.suspects.delete(name);
    return b.pick(this.suspects.size === 0 ? healthy : healthy.filter((r) => !this.suspects.has(r.name)));
  }

  /** Admin action: take a replica out of rotation or put it back. The primary cannot be taken offline. */
  setBackendOffline(name: string, offline: boolean): boolean {
    if (this.monitor === null || !this.monitor.snapshot().replicas.some((r) => r.name === name)) return false;
    if (offline) this.offline.add(name);
    else this.offline.delete(name);
    this.cachedFor = null;
    return true;
  }

  isBackendOffline(name: string): boolean {
    return this.offline.has(name);
  }

  /** A replica just failed a statement: skip it for a moment, before the monitor takes it out. */
  suspect(name: string): void {
    this.suspects.set(name, Date.now() + 3000);
  }

  noteWrite(gtid: string): void {
    this.instanceGtid = this.instanceGtid === '' ? gtid : mergeGtidPositions(this.instanceGtid, gtid);
  }

  /** True when `replica` is known to have applied `gtid` (monitor's position or a wait that succeeded). */
  covers(replica: BackendView, gtid: string): boolean {
    if (gtid === '') return true;
    if (gtidCovers(replica.gtidPosition, gtid)) return true;
    const r = this.reached.get(replica.name);
    return r !== undefined && gtidCovers(r, gtid);
  }

  noteReached(replica: BackendView, gtid: string): void {
    const r = this.reached.get(replica.name);
    this.reached.set(replica.name, r === undefined ? gtid : mergeGtidPositions(r, gtid));
  }

  /** A replica answered a read in `ms`; `inUse` of this proxy's connections to it are busy. */
  recordUse(name: string, ms: number, inUse: number): void {
    this.monitor?.recordLatency(name, ms);
    this.monitor?.setActiveConnections(name, inUse);
  }
}
