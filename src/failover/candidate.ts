// Which replica to promote: the one that has received everything any other replica received (a single
// primary's stream, so one of them has), among those reachable, replicating and without an SQL error.
import type { BackendEndpoint } from '../backend/connection.js';
import { gtidCovers } from '../router/topology-snapshot.js';

/** What the manager learnt of one non-primary node just before deciding. */
export interface ReplicaSurvey {
  name: string;
  endpoint: BackendEndpoint;
  ok: boolean;
  error: string;
  readOnly: boolean;
  /** What the IO thread received (Gtid_IO_Pos), or the applied position when empty. */
  received: string;
  applied: string;
  masterPort: number | null;
  sqlRunning: boolean;
  sqlError: string;
  semiSyncSlave: boolean;
}

/** The replica to promote (or `target`, if it is safe), or null and why none is. */
export function chooseCandidate(
  replicas: readonly ReplicaSurvey[],
  oldPrimary: string,
  target: string | null,
  fenced: ReadonlySet<string>,
  /** Planned switchover: the target catches up with the old primary anyway, so it need not be ahead now. */
  planned = false,
): { best: ReplicaSurvey | null; why: string } {
  const usable = replicas.filter((r) => r.ok && r.masterPort !== null && !fenced.has(r.name) && r.name !== oldPrimary);
  if (usable.length === 0) {
    const why = replicas.map((r) => `${r.name}: ${r.ok ? (r.masterPort === null ? 'not a replica' : 'fenced') : r.error}`).join('; ');
    return { best: null, why: `no reachable replica (${why || 'none configured'})` };
  }
  const safe = usable.filter((r) => r.sqlError === '');
  if (safe.length === 0) return { best: null, why: `every replica has a replication error (${usable.map((r) => `${r.name}: ${r.sqlError}`).join('; ')})` };
  if (planned) {
    if (target !== null) {
      const t = safe.find((r) => r.name === target);
      return t ? { best: t, why: '' } : { best: null, why: `${target} is not a replica replicating from the primary without errors` };
    }
    return { best: safe.find((r) => safe.every((o) => gtidCovers(r.received, o.received))) ?? safe[0]!, why: '' };
  }
  let best: ReplicaSurvey | null = null;
  for (const r of safe) {
    if (target !== null && r.name !== target) continue;
    if (safe.every((o) => gtidCovers(r.received, o.received))) {
      if (best === null || r.name === target) best = r;
    }
  }
  if (target !== null && best === null) {
    const t = safe.find((r) => r.name === target);
    return { best: null, why: t ? `${target} has received less than another replica` : `${target} is not a usable replica` };
  }
  if (best === null) return { best: null, why: `the replicas' positions diverge (${safe.map((r) => `${r.name}=${r.received}`).join(', ')})` };
  return { best, why: '' };
}
