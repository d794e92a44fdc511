// Adaptive busy polling: a read starts the spin only with a budget and at most one busy backend connection;
// the spin ends after the budget without reads, or as soon as a second backend connection is busy; while it
// spins, timers and I/O still run (the loop polls, it is not blocked).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backendBusy, backendIdle, busyPollState, noteActivity, setBusyPollBudget } from '../../src/util/busy-poll.js';

/** Turns of the event loop until `cond` holds (or `limitMs` passes). */
async function until(cond: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(1);
  }
  return true;
}

describe('busy polling', () => {
  afterEach(async () => {
    setBusyPollBudget(0);
    await until(() => !busyPollState().spinning, 1000);
    while (busyPollState().busyBackends > 0) backendIdle();
  });

  it('is off with a budget of 0', () => {
    setBusyPollBudget(0);
    noteActivity();
    assert.equal(busyPollState().spinning, false);
  });

  it('spins after a read and stops once the budget passes without reads; the time spun is counted', async () => {
    const before = busyPollState().spunMs;
    setBusyPollBudget(5000);
    noteActivity();
    assert.equal(busyPollState().spinning, true);
    assert.equal(await until(() => !busyPollState().spinning, 1000), true, 'the spin did not end');
    const spun = busyPollState().spunMs - before;
    assert.ok(spun >= 5 && spun < 1000, `spun ${spun} ms for a 5 ms budget`);
  });

  it('keeps spinning while reads keep coming, and timers still fire meanwhile', async () => {
    setBusyPollBudget(3000);
    const reads = setInterval(noteActivity, 1);
    noteActivity();
    const started = Date.now();
    await sleep(30); // a timer across many budgets' worth of spinning
    assert.ok(Date.now() - started >= 29);
    assert.equal(busyPollState().spinning, true);
    clearInterval(reads);
    assert.equal(await until(() => !busyPollState().spinning, 1000), true);
  });

  it('a budget set to 0 ends a spin at once, even while reads keep coming (a reload that turns it off)', async () => {
    setBusyPollBudget(3000);
    const reads = setInterval(noteActivity, 1);
    noteActivity();
    await sleep(5);
    assert.equal(busyPollState().spinning, true);
    setBusyPollBudget(0);
    const stopped = await until(() => !busyPollState().spinning, 100);
    clearInterval(reads);
    assert.equal(stopped, true);
  });

  it('does not start with two backend connections busy, and stops when a second becomes busy', async () => {
    setBusyPollBudget(5000);
    backendBusy();
    backendBusy();
    noteActivity();
    assert.equal(busyPollState().spinning, false);
    backendIdle();
    noteActivity();
    assert.equal(busyPollState().spinning, true);
    backendBusy();
    assert.equal(await until(() => !busyPollState().spinning, 100), true, 'a spin under load did not stop');
    assert.equal(busyPollState().busyBackends, 2);
  });
});
