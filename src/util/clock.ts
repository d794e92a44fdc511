// A coarse clock for pool bookkeeping on the hot path (idle timeouts, lifetimes): reading a variable is
// cheaper than Date.now() several times per statement, and 50 ms of precision is plenty there.
export const clock = { now: Date.now() };

const timer = setInterval(() => {
  clock.now = Date.now();
}, 50);
timer.unref();
