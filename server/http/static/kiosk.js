// The studio TV page (kiosk.html).
//
// 1. Pairing: without a kiosk token in localStorage, ask circuitd for a
//    pairing code, show it huge, and poll every 2 s until the instructor
//    approves it (`circuit kiosk pair CODE`); keep the token.
// 2. Which class: the one in the path (/kiosk/{classId}), or else the newest
//    class that has not ended; with none, wait and ask again every 5 s.
// 3. Watch it over server-sent events (Bearer token, Last-Event-ID resume),
//    reconnecting with backoff. 401 at any point: the token was revoked, so
//    forget it and pair again.
// 4. When the class ends, show "Well done" with the wall for a minute, then
//    wait for the next class.
//
// Public data only: the watch stream carries state, cues and class progress
// (the wall holds only names whose owners consented). Text from the server
// goes into the DOM with textContent, never as HTML.

import {readEventStream, fetchJson, ApiError, Backoff, sleep, isAbort, maxSeq} from './sse.js';
import {startClock, syncClock, countdownOf} from './clock.js';
import {SIDE_LABELS, repsText, describeNext} from './interval.js';

const TOKEN_KEY = 'circuit.kiosk.token';
const PAIRING_POLL_MS = 2000;
const WAITING_POLL_MS = 5000;
const WELL_DONE_MS = 60_000;
const WALL_MAX = 48;
const CLASS_CHECK_MS = 10_000;


const $ = (id) => document.getElementById(id);

// The class named in the path, if any: /kiosk/{classId}. Only for the first
// class; after it ends the screen follows the studio's live classes.
let fixedClassId = (() => {
  const match = /^\/kiosk\/([^/]+)\/?$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]) : null;
})();

let token = readToken();
let view = emptyView();
let streamAbort = null;
let wakeAbort = null;

function emptyView() {
  return {classInfo: null, state: null, cue: null, progress: null, lastSeq: 0};
}

function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null;
  }
}

function saveToken(value) {
  token = value;
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage unavailable: the token lasts until a reload.
  }
}

// --- Views -----------------------------------------------------------------------

function showView(name) {
  document.body.dataset.view = name;
  $('pairing-view').hidden = name !== 'pairing';
  $('waiting-view').hidden = name !== 'waiting';
  $('class-view').hidden = name !== 'class';
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function setStatus(state) {
  const labels = {idle: '', connecting: 'Connecting…', connected: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline'};
  const el = $('status');
  el.dataset.state = state;
  el.textContent = labels[state] ?? state;
}

/** An interruptible wait: `wake()` (e.g. on `online`) cuts it short. */
async function pause(ms) {
  wakeAbort = new AbortController();
  await sleep(ms, wakeAbort.signal);
  wakeAbort = null;
}

function wake() {
  if (wakeAbort) wakeAbort.abort();
}

function isUnauthorized(error) {
  return error instanceof ApiError && (error.status === 401 || error.code === 'UNAUTHENTICATED');
}

// --- 1. Pairing ----------------------------------------------------------------------

/** Shows a pairing code until it is approved (returns true) or expires (false). */
async function pair() {
  showView('pairing');
  setText('pairing-code', '······');
  setText('pairing-code-inline', 'CODE');
  setText('pairing-note', 'Getting a pairing code…');
  let pairing;
  try {
    pairing = await fetchJson('/v1/kioskPairings', {method: 'POST', body: {}});
  } catch (error) {
    setStatus('reconnecting');
    setText('pairing-note', error instanceof ApiError
      ? `The server refused a pairing code: ${error.message || error.code}. Trying again.`
      : 'Cannot reach the studio server. Trying again.');
    await pause(5000);
    return false;
  }
  setStatus('connected');
  const code = pairing.pairingCode;
  const secret = pairing.pairingSecret;
  const expires = Number(pairing.expiresUnixMs || 0);
  $('pairing-code').dataset.state = pairing.state || '';
  setText('pairing-code', code);
  setText('pairing-code-inline', code);
  setText('pairing-note', 'Waiting for the instructor to approve this screen…');

  for (;;) {
    await pause(PAIRING_POLL_MS);
    let answer;
    try {
      answer = await fetchJson(`/v1/kioskPairings/${encodeURIComponent(code)}`, {token: secret});
      setStatus('connected');
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) return false;  // gone: a new code
      setStatus('reconnecting');
      if (expires && Date.now() > expires + 60_000) return false;  // long offline: surely expired
      continue;
    }
    $('pairing-code').dataset.state = answer.state || '';
    if (answer.state === 'KIOSK_PAIRING_STATE_APPROVED' && answer.kioskToken) {
      saveToken(answer.kioskToken);
      return true;
    }
    if (answer.state === 'KIOSK_PAIRING_STATE_EXPIRED') return false;
  }
}

// --- 2. Which class ------------------------------------------------------------------

/** The id of the newest class that has not ended; waits until there is one. Null on 401. */
async function findLiveClass() {
  for (;;) {
    try {
      const answer = await fetchJson('/v1/classes', {token});
      setStatus('connected');
      const live = (answer.classes || []).find((c) => c.phase !== 'CLASS_PHASE_ENDED');
      if (live) return live.classId;
      setText('waiting-note', '');
    } catch (error) {
      if (isUnauthorized(error)) {
        saveToken(null);
        return null;
      }
      setStatus('reconnecting');
      setText('waiting-note', error instanceof ApiError
        ? `The server said: ${error.message || error.code}`
        : 'Cannot reach the studio server. Trying again.');
    }
    showView('waiting');
    await pause(WAITING_POLL_MS);
  }
}

// --- 3. Watching -----------------------------------------------------------------------

/**
 * Follows a class until it ends ('ended'), the token is refused
 * ('unauthorized'), the class is unknown ('gone') or a newer class is live
 * ('newer').
 */
async function watch(classId) {
  view = emptyView();
  // Now and then, list the classes: an open stream outlives a revocation of
  // the token, and a newer class may have opened (the screen shows the
  // newest live one, unless the path named a class).
  let outcome = null;
  const check = setInterval(async () => {
    try {
      const answer = await fetchJson('/v1/classes', {token});
      const newest = (answer.classes || []).find((c) => c.phase !== 'CLASS_PHASE_ENDED');
      const watchingEnded = view.state?.phase === 'CLASS_PHASE_ENDED';
      if (!fixedClassId && newest && newest.classId !== classId && !watchingEnded) outcome = 'newer';
    } catch (error) {
      if (isUnauthorized(error)) outcome = 'unauthorized';
    }
    if (outcome) {
      if (streamAbort) streamAbort.abort();
      wake();
    }
  }, CLASS_CHECK_MS);
  try {
    return await watchStream(classId, () => outcome);
  } finally {
    clearInterval(check);
  }
}

/** watch()'s reconnect loop: reads the stream, resumes it after a drop. */
async function watchStream(classId, checkOutcome) {
  const backoff = new Backoff();
  let goingAwayDelayMs = 0;
  for (;;) {
    const outcome = checkOutcome();
    if (outcome === 'unauthorized') saveToken(null);
    if (outcome) return outcome;
    const controller = new AbortController();
    streamAbort = controller;
    setStatus(view.state ? 'reconnecting' : 'connecting');
    let cleanEnd = false;
    try {
      await readEventStream(`/v1/classes/${encodeURIComponent(classId)}:watch`, {
        token,
        lastEventId: view.lastSeq > 0 ? view.lastSeq : undefined,
        signal: controller.signal,
        onOpen: () => {
          setStatus('connected');
          backoff.reset();
        },
        onMessage: (message) => {
          const delay = handleMessage(message);
          if (delay) goingAwayDelayMs = delay;
        },
      });
      cleanEnd = true;
    } catch (error) {
      if (isUnauthorized(error)) {
        saveToken(null);
        return 'unauthorized';
      }
      if (error instanceof ApiError && (error.status === 404 || error.code === 'NOT_FOUND')) return 'gone';
      if (isAbort(error)) continue;  // a forced reconnect
    } finally {
      if (streamAbort === controller) streamAbort = null;
    }
    if (view.state?.phase === 'CLASS_PHASE_ENDED') return 'ended';
    if (cleanEnd && !view.state) return 'gone';
    setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    await pause(Math.max(backoff.next(), goingAwayDelayMs));
    goingAwayDelayMs = 0;
  }
}

/** Applies one WatchClassResponse; returns a reconnect delay for goingAway. */
function handleMessage(message) {
  if (Array.isArray(message.batch) && message.batch.length) {
    let delay = 0;
    for (const inner of message.batch) delay = handleMessage(inner) || delay;
    return delay;
  }
  if (message.snapshot) {
    const s = message.snapshot;
    view.classInfo = s.classInfo || null;
    view.state = s.state || null;
    const cues = s.recentCues || [];
    view.cue = cues.length ? cues[cues.length - 1] : null;
    view.progress = s.progress || null;
    view.lastSeq = Number(s.seq) || 0;  // a snapshot replaces what came before
  } else if (message.event) {
    const event = message.event;
    const seq = Number(event.seq) || 0;
    if (seq > 0 && seq <= view.lastSeq) return 0;  // seen already
    view.lastSeq = maxSeq(view.lastSeq, seq);
    if (event.state) view.state = event.state;
    else if (event.cue) view.cue = event.cue;
  } else if (message.progress) {
    view.progress = message.progress;
  } else if (message.goingAway) {
    setStatus('reconnecting');
    return Number(message.goingAway.reconnectAfterMs) || 1000;
  }
  render();
  return 0;
}

// --- Rendering ---------------------------------------------------------------------

function render() {
  showView('class');
  const info = view.classInfo;
  const state = view.state;
  const phase = state?.phase || info?.phase || 'CLASS_PHASE_LOBBY';
  const current = state?.current;
  const ended = phase === 'CLASS_PHASE_ENDED';
  $('class-view').dataset.phase = phase;
  setText('class-title', info?.title || 'Circuit');
  document.title = `${info?.title || 'Circuit'} · studio screen`;

  $('phase').dataset.phase = phase;
  let phaseText = '';
  if (phase === 'CLASS_PHASE_LOBBY') phaseText = 'Starting soon';
  else if (phase === 'CLASS_PHASE_PAUSED') phaseText = 'Paused';
  else if (ended) phaseText = 'Class over';
  else if (current?.kind === 'INTERVAL_KIND_REST') phaseText = 'Rest';
  else if (current && !Number(current.durationMs || 0)) phaseText = 'Work · your pace (time so far)';
  else if (current) phaseText = 'Work';
  setText('phase', phaseText);

  const work = !ended && current?.kind === 'INTERVAL_KIND_WORK';
  let exercise;
  if (ended) exercise = 'Well done!';
  else if (phase === 'CLASS_PHASE_LOBBY') exercise = info?.circuitName || info?.title || 'Get ready';
  else if (current?.kind === 'INTERVAL_KIND_REST') exercise = 'Rest';
  else exercise = current?.exerciseName || '';
  setText('exercise', exercise);

  const side = work ? (current.side || '') : '';
  $('side').dataset.side = side;
  setText('side', SIDE_LABELS[side] || '');
  setText('set-of', work && current.setCount ? `Set ${current.set || 1} of ${current.setCount}` : '');
  setText('target-reps', work ? repsText(current.targetReps) : '');
  let next = '';
  if (phase === 'CLASS_PHASE_LOBBY') next = state?.next ? `First: ${state.next.exerciseName || 'exercise'}` : '';
  else if (!ended) next = describeNext(state?.next, 'Next: finish');
  setText('next-up', next);
  $('countdown').dataset.intervalIndex = current && !ended ? String(current.index || 0) : '';

  setText('cue', ended ? 'Thank you for training together.' : (view.cue?.text || ''));

  const progress = view.progress || {};
  const share = Math.min(1, Math.max(0, Number(progress.doneCurrentShare) || 0));
  const bar = $('done-bar');
  bar.dataset.share = share.toFixed(3);
  bar.style.transform = `scaleX(${share})`;
  setText('done-count', String(progress.doneCurrentCount || 0));
  setText('participant-count', String(progress.participantCount || info?.participantCount || 0));
  setText('total-reps', String(progress.totalReps || 0));

  setText('join-url', `${location.host}/`);
  setText('join-code', ended ? '' : (info?.joinCode || ''));
  renderCountdown();
  renderWall(progress.wall || []);  // last: it measures the finished layout
}

/** One <li> per consenting participant: the name as text, their reps, and a tick when done. */
function renderWall(wall) {
  const items = wall.slice(0, WALL_MAX).map((entry) => {
    const li = document.createElement('li');
    li.dataset.done = entry.doneCurrent ? 'true' : 'false';
    const name = document.createElement('span');
    name.className = 'k-wall-name';
    name.textContent = entry.displayName || '';
    const reps = document.createElement('span');
    reps.className = 'k-wall-reps';
    reps.textContent = String(entry.totalReps || 0);
    li.append(name, reps);
    return li;
  });
  const list = $('wall');
  list.replaceChildren(...items);
  list.dataset.count = String(items.length);
  // The newest finishers come first; hide whole rows that do not fit rather
  // than showing half a name (the screen never scrolls).
  const bottom = list.getBoundingClientRect().bottom;
  for (const li of items) {
    if (li.getBoundingClientRect().bottom > bottom + 1) li.classList.add('k-wall-overflow');
  }
}

/** Redraws the countdown from the deadline and the server clock (never by decrementing). */
function renderCountdown() {
  if (!view.state && !view.classInfo) return;
  const el = $('countdown');
  const {mode, ms, text} = countdownOf(view.state || {phase: view.classInfo?.phase});
  if (el.dataset.mode !== mode) el.dataset.mode = mode;
  const msText = ms === null ? '' : String(Math.round(ms));
  if (el.dataset.remainingMs !== msText) el.dataset.remainingMs = msText;
  const shown = mode === 'ended' ? '' : text;
  if (el.textContent !== shown) el.textContent = shown;
}

// --- Main loop ---------------------------------------------------------------------

async function main() {
  setInterval(renderCountdown, 50);
  window.addEventListener('online', () => {
    syncClock();
    wake();
    if (streamAbort) streamAbort.abort();  // resume at once on a fresh connection
  });
  window.addEventListener('resize', () => {
    if (view.classInfo || view.state) render();  // re-fit the wall
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') syncClock();
  });
  startClock();

  for (;;) {
    if (!token) {
      await pair();
      continue;
    }
    let classId = fixedClassId;
    if (!classId) {
      classId = await findLiveClass();
      if (!classId) continue;  // the token was refused: pair again
    }
    const outcome = await watch(classId);
    if (outcome === 'unauthorized') continue;
    fixedClassId = null;  // from now on, follow the studio's live classes
    if (outcome === 'ended') {
      await sleep(WELL_DONE_MS);
    }
    view = emptyView();
    if (outcome !== 'newer') showView('waiting');
  }
}

main();
