import { performance } from 'node:perf_hooks';

/**
 * Adaptive busy polling of the event loop, for low concurrency.
 *
 * When the loop has nothing to do it blocks in epoll_wait and its CPU goes idle (in a VM: a halted vCPU the
 * host must wake with an interrupt). Waking costs tens of microseconds per event, and a proxy pays it twice
 * per statement (the client's request, the server's answer), where a direct connection pays it once. While
 * reads keep arriving (and for `budget` after the last one) and at most one backend connection has a
 * response outstanding, the loop polls with a zero timeout instead, through a self-renewing setImmediate:
 * the next packet is handled as soon as it lands.
 *
 * - No traffic for the budget: the loop sleeps as before, so an idle proxy costs nothing.
 * - Two or more backend connections busy: the spin stops. Under load the loop rarely waits anyway, and on a
 *   machine shared with the database a spinning proxy takes CPU the server needs (measured: 0.79× vs 0.86×
 *   HAProxy's QPS at 16 threads when spinning regardless of load).
 *
 * HAProxy's `busy-polling` option does the same without the bounds (always on).
 */
let budgetMs = 0;
let spinning = false;
let activity = false;
let lastActive = 0;
let lastTurn = 0;
/** Milliseconds spent spinning since start (including the work done in the turns in between). */
let spunMs = 0;
/** Backend connections with a response outstanding (see `backendBusy` / `backendIdle`). */
let busyBackends = 0;
/** Spin only while at most this many backend connections are busy. */
const MAX_BUSY_BACKENDS = 1;

function spin(): void {
  const now = performance.now();
  // Polling time, for operators (sluice_busy_poll_seconds_total): from the spin's start or its last turn.
  spunMs += now - lastTurn;
  lastTurn = now;
  if (activity) {
    activity = false;
    lastActive = now;
  } else if (now - lastActive > budgetMs) {
    spinning = false;
    return;
  }
  if (busyBackends > MAX_BUSY_BACKENDS || budgetMs === 0) {
    spinning = false;
    return;
  }
  setImmediate(spin);
}

/** Called for every chunk read on the hot path: keeps (or starts) the spin. */
export function noteActivity(): void {
  if (spinning) {
    activity = true;
    return;
  }
  if (budgetMs === 0 || busyBackends > MAX_BUSY_BACKENDS) return;
  spinning = true;
  activity = false;
  lastActive = lastTurn = performance.now();
  setImmediate(spin);
}

/** A backend connection now has a response outstanding. */
export function backendBusy(): void {
  busyBackends++;
}

/** A backend connection has no response outstanding any more. */
export function backendIdle(): void {
  busyBackends--;
}

/** Microseconds of polling after the last read; 0 turns busy polling off (a spin in progress ends at its next turn, reads or not). */
export function setBusyPollBudget(us: number): void {
  budgetMs = us / 1000;
}

/** For tests and /metrics. */
export function busyPollState(): { budgetUs: number; spinning: boolean; busyBackends: number; spunMs: number } {
  return { budgetUs: budgetMs * 1000, spinning, busyBackends, spunMs };
}
