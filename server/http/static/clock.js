// The server's clock, estimated from GET /v1/clock.
//
// Countdowns are drawn from `Timer.deadlineUnixMs`, an instant on the server's
// clock, so every screen in the room shows the same number as long as each
// knows how far its own clock is from the server's. Per the GetClockResponse
// comment (proto/circuit/v1/service.proto), with t0 = our send time, t1/t2 =
// the server's receive/send times and t3 = our receive time:
//   offset = ((t1 - t0) + (t2 - t3)) / 2   (add to our clock to get the server's)
//   delay  = (t3 - t0) - (t2 - t1)         (the round trip, less server time)
// The sample with the least delay has the least room for asymmetry, so each
// round keeps that one. Rounds repeat every minute (clocks drift; a phone may
// have slept) and whenever a page asks, e.g. when it becomes visible again.

import {fetchFromNode} from './sse.js';

const SAMPLES_PER_ROUND = 5;
const RESAMPLE_EVERY_MS = 60_000;

let offsetMs = 0;          // server clock minus ours
let bestDelayMs = Infinity;
let synced = false;
let timer = null;
let round = null;          // the round in progress, so callers can share it

/** The server's clock now, in Unix milliseconds (our clock until the first sample). */
export function serverNow() {
  return Date.now() + offsetMs;
}

/** The current estimate, for display and tests. */
export function clockInfo() {
  return {offsetMs, delayMs: bestDelayMs, synced};
}

async function sampleOnce() {
  const t0 = Date.now();
  const response = await fetchFromNode(`/v1/clock?clientSendUnixMs=${t0}`, {cache: 'no-store'});
  const t3 = Date.now();
  if (!response.ok) throw new Error(`clock: HTTP ${response.status}`);
  const body = await response.json();
  // int64 fields arrive as strings.
  const t1 = Number(body.serverReceiveUnixMs);
  const t2 = Number(body.serverSendUnixMs);
  if (!Number.isFinite(t1) || !Number.isFinite(t2) || t1 <= 0 || t2 <= 0) {
    throw new Error('clock: malformed answer');
  }
  return {offset: ((t1 - t0) + (t2 - t3)) / 2, delay: (t3 - t0) - (t2 - t1)};
}

async function runRound() {
  let best = null;
  for (let i = 0; i < SAMPLES_PER_ROUND; i++) {
    try {
      const sample = await sampleOnce();
      if (best === null || sample.delay < best.delay) best = sample;
    } catch (error) {
      // Offline, or the server restarting: keep the last estimate.
      if (best === null && i === SAMPLES_PER_ROUND - 1) console.warn('circuit:', error.message);
    }
  }
  if (best !== null) {
    offsetMs = best.offset;
    bestDelayMs = best.delay;
    synced = true;
  }
  return synced;
}

/** Samples the clock now (sharing a round already in progress). */
export function syncClock() {
  if (round === null) {
    round = runRound().finally(() => {
      round = null;
    });
  }
  return round;
}

/** Samples now and then every minute. Resolves after the first round. */
export function startClock() {
  if (timer === null) timer = setInterval(syncClock, RESAMPLE_EVERY_MS);
  return syncClock();
}

/** Formats milliseconds as mm:ss, rounded up as countdowns are: 61000 -> "01:01". */
export function formatCountdown(ms) {
  const totalSeconds = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  return `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}`;
}

/** Formats elapsed milliseconds (rounded down) as mm:ss. */
export function formatElapsed(ms) {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(totalSeconds / 60)).padStart(2, '0')}:${String(totalSeconds % 60).padStart(2, '0')}`;
}

/**
 * What a countdown shows for a ClassState (canonical JSON), right now.
 *   mode 'lobby'   the class has not started: no number
 *   mode 'running' ms = time left, from the deadline on the server's clock
 *   mode 'untimed' a running interval without a timer: ms = time elapsed
 *   mode 'paused'  ms = the remaining time the server froze
 *   mode 'ended'   the class is over
 * Computed afresh on every frame (never decremented), so every screen agrees.
 */
export function countdownOf(state) {
  const phase = state?.phase || 'CLASS_PHASE_UNSPECIFIED';
  const timer = state?.timer || {};
  const timed = Number(state?.current?.durationMs || 0) > 0 || Number(timer.deadlineUnixMs || 0) > 0;
  switch (phase) {
    case 'CLASS_PHASE_RUNNING': {
      const deadline = Number(timer.deadlineUnixMs || 0);
      if (deadline > 0) {
        const ms = Math.max(0, deadline - serverNow());
        return {mode: 'running', ms, text: formatCountdown(ms)};
      }
      const started = Number(timer.startedUnixMs || 0);
      const ms = started > 0 ? Math.max(0, serverNow() - started) : 0;
      return {mode: 'untimed', ms, text: formatElapsed(ms)};
    }
    case 'CLASS_PHASE_PAUSED': {
      const ms = Math.max(0, Number(timer.remainingMs || 0));
      return {mode: 'paused', ms, text: timed ? formatCountdown(ms) : '--:--'};
    }
    case 'CLASS_PHASE_ENDED':
      return {mode: 'ended', ms: 0, text: '00:00'};
    default:
      return {mode: 'lobby', ms: null, text: '--:--'};
  }
}
