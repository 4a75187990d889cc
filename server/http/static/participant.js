// The participant page (index.html): check in with a join code, follow the
// class live, and report sets, effort and symptoms.
//
// Contract: server/http/API.md and proto/circuit/v1/*.proto (canonical JSON:
// lowerCamelCase, enums by name, int64 as strings, defaults left out).
//
// Reliability, because phones lock and lose the network mid-class:
// - The seat ({classId, participantId, resumeToken, lastSeq}) is kept in
//   localStorage. A reload resumes it instead of showing the join form.
// - When the stream drops, or the page becomes visible again, or the network
//   comes back, the page resumes the seat's stream with backoff.
// - Every report gets a fresh reportId and waits in localStorage until its
//   ReportAck arrives; unacked reports are resent with the SAME id (the server
//   counts an id once), so nothing is lost or counted twice.
//
// Security: every server- or user-supplied string goes into the DOM as text
// (textContent / createElement), never as HTML.

import {readEventStream, fetchJson, ApiError, Backoff, sleep, isAbort, maxSeq, codeName} from './sse.js';
import {startClock, syncClock, countdownOf} from './clock.js';
import {SIDE_LABELS, repsText, describeNext} from './interval.js';
import {drawProgress} from './progress_chart.js';

const SEAT_KEY = 'circuit.participant.seat';
const PENDING_KEY = 'circuit.participant.pending';
// Her kept profile's credential (a kept profile, by her choice at join). It
// is shown once by the server; this phone is where it is kept.
const PROFILE_KEY = 'circuit.profileCredential';
const RETRY_REPORTS_EVERY_MS = 5000;
const MAX_CUES_SHOWN = 3;
const MAX_REPORTS_SHOWN = 8;

// Report refusals worth retrying later; any other code is final.
const RETRYABLE_CODES = new Set(['RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL', 'UNKNOWN']);

const SIDE_SHORT = {SIDE_LEFT: 'left', SIDE_RIGHT: 'right', SIDE_BOTH: ''};
const FEEL_LABELS = {
  EFFORT_FEEL_TOO_EASY: 'too easy',
  EFFORT_FEEL_JUST_RIGHT: 'just right',
  EFFORT_FEEL_TOO_HARD: 'too hard',
};
const SYMPTOM_LABELS = {
  SYMPTOM_HIP_PINCH: 'Pinch at the front of the hip',
  SYMPTOM_LEAKING: 'Leaking',
  SYMPTOM_PELVIC_HEAVINESS: 'Heaviness or pressure in the pelvis',
  SYMPTOM_LOW_BACK_PAIN: 'Low back pain',
  SYMPTOM_PELVIC_PAIN: 'SI-joint or pelvic pain',
  SYMPTOM_ABDOMINAL_DOMING: 'Tummy doming or coning',
  SYMPTOM_OTHER: 'Something else',
};
const SUGGESTION_LABELS = {
  SUGGESTION_KIND_DRILL: 'Try a drill first',
  SUGGESTION_KIND_REGRESSION: 'Try an easier version',
  SUGGESTION_KIND_PROGRESSION: 'Ready for a harder version',
  SUGGESTION_KIND_LOWER_LOAD: 'Lower the load, rest more, and talk to your coach',
  SUGGESTION_KIND_WEAKER_SIDE_FIRST: 'Start with your weaker side',
  SUGGESTION_KIND_NEXT_STAGE: 'Ready for the next stage',
};
// A part of a combination set counts reps or seconds; the server's bounds.
const PART_MAX = {PART_UNIT_REPS: 100, PART_UNIT_SECONDS: 600};
const DECISION_LABELS = {
  SUGGESTION_DECISION_ACCEPTED: 'Your coach agrees: go ahead.',
  SUGGESTION_DECISION_DISMISSED: 'Your coach set this aside.',
};

const $ = (id) => document.getElementById(id);

// --- Ids ---------------------------------------------------------------------

/** A random UUID. crypto.randomUUID exists only in secure contexts (https or
 *  localhost); a studio server on plain http over the LAN is not one. */
function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// --- Stored state ----------------------------------------------------------------

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

function writeJson(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or storage full: the page still works, without surviving a reload.
  }
}

function writeText(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Private mode or storage full: kept for this page only.
  }
}

/** Her kept profile's credential on this phone, or ''. */
function profileCredential() {
  try {
    const value = localStorage.getItem(PROFILE_KEY) || '';
    return value.startsWith('cp_') ? value : '';
  } catch {
    return '';
  }
}

/** The stored seat, or null. */
function loadSeat() {
  const seat = readJson(SEAT_KEY);
  if (seat && typeof seat.classId === 'string' && typeof seat.participantId === 'string' &&
      typeof seat.resumeToken === 'string' && seat.resumeToken) {
    seat.lastSeq = Number(seat.lastSeq) || 0;
    if (!Array.isArray(seat.logged)) seat.logged = [];
    return seat;
  }
  return null;
}

/** Reports awaiting their ack: [{reportId, kind, report, label, createdMs}]. */
function loadPending() {
  const pending = readJson(PENDING_KEY);
  return Array.isArray(pending) ? pending.filter((p) => p && p.reportId && p.kind && p.report) : [];
}

// --- Page state -------------------------------------------------------------------

let seat = loadSeat();
let pending = loadPending();
const inFlight = new Set();   // reportIds with a POST under way
const history = [];           // recent reports for display: {reportId, label, state, detail}

// What the server has told us, rebuilt from each snapshot.
let view = emptyView();
function emptyView() {
  return {
    haveSnapshot: false,
    classInfo: null,
    state: null,
    cues: [],
    progress: null,
    ownProgress: {blocks: [], totalReps: 0},
    suggestions: new Map(),
    circuit: null,
    exercises: new Map(),
    checkIn: null,
  };
}

let streamAbort = null;       // aborts the open stream
let wakeAbort = null;         // cuts a backoff wait short
let streamLoopRunning = false;
let goingAwayDelayMs = 0;
let lastIntervalKey = '';     // to reset the reps stepper on a new interval
let selectedSymptom = '';
let hiddenSinceMs = 0;
let unloading = false;        // the page is going away: do not reconnect
let supersededElsewhere = false;  // another tab or phone resumed the seat
const backoff = new Backoff();

// --- Small DOM helpers ----------------------------------------------------------------

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function showMessage(text, kind = 'error') {
  const el = $('message');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

function clearMessage() {
  showMessage('');
}

function setStatus(state) {
  const labels = {
    idle: '',
    connecting: 'Connecting…',
    connected: 'Live',
    reconnecting: 'Reconnecting…',
    offline: 'Offline',
    elsewhere: 'Open elsewhere',
    ended: 'Class over',
  };
  const el = $('status');
  el.dataset.state = state;
  el.textContent = labels[state] ?? state;
}

function showJoin() {
  $('join-view').hidden = false;
  $('class-view').hidden = true;
  setText('class-title', 'Circuit');
  document.title = 'Circuit: join the class';
  setStatus('idle');
  renderKeptProfile();
}

function showClass() {
  const fromJoin = $('class-view').hidden;
  if (fromJoin) $('history-view').hidden = true;
  $('join-view').hidden = true;
  $('class-view').hidden = false;
  // The join form was scrolled down to its button; the class opens at the
  // top, so the exercise's name is not left under the sticky header.
  if (fromJoin) window.scrollTo(0, 0);
}

/** Words for an error from the server or the network. */
function describeError(error, context) {
  if (error instanceof ApiError) {
    if (context === 'join') {
      if (error.status === 404 || error.code === 'NOT_FOUND') return 'No class has that code. Check the code on the studio screen.';
      if (error.status === 429 || error.code === 'RESOURCE_EXHAUSTED') return 'Too many tries from this phone. Wait a minute, then try again.';
      if (error.code === 'FAILED_PRECONDITION') return `This class cannot be joined now${error.message ? `: ${error.message}` : '.'}`;
      if (error.status === 400) return `Please check your details${error.message ? `: ${error.message}` : '.'}`;
    }
    if (error.status === 429 || error.code === 'RESOURCE_EXHAUSTED') return 'The server is busy. Trying again shortly.';
    if (error.status >= 500 || error.code === 'UNAVAILABLE') return 'The studio server is not answering right now. Trying again.';
    return error.message || `The server said ${error.code || error.status}.`;
  }
  return 'Cannot reach the studio server. Check your Wi-Fi; the page keeps trying.';
}

// --- Joining ------------------------------------------------------------------------

let pendingJoinId = null;  // reused when a join is retried after a network failure

function readCheckIn() {
  const code = $('join-code').value.trim().toUpperCase();
  const name = $('display-name').value.trim();
  if (!/^[A-Z0-9]{6}$/.test(code)) return {error: 'The join code is six letters and numbers.'};
  if (!name && !profileCredential()) return {error: 'Please enter your name.'};
  if (name.length > 40) return {error: 'Your name can be at most 40 characters.'};
  const checkIn = {showNameOnKiosk: $('show-name').checked};
  if (name) checkIn.displayName = name;
  const track = $('track').value;
  if (track && track !== 'RECOVERY_TRACK_UNSPECIFIED') checkIn.track = track;
  const weeks = $('weeks-postpartum').value.trim();
  if (weeks !== '') {
    const n = Number(weeks);
    if (!Number.isInteger(n) || n < 0 || n > 520) return {error: 'Weeks since giving birth: a whole number from 0 to 520, or leave it empty.'};
    checkIn.weeksPostpartum = n;
  }
  const equipment = $('equipment').value.trim();
  if (equipment.length > 64) return {error: 'Equipment: at most 64 characters.'};
  if (equipment) checkIn.equipment = equipment;
  return {code, checkIn};
}

async function onJoinSubmit(event) {
  event.preventDefault();
  clearMessage();
  const {code, checkIn, error} = readCheckIn();
  if (error) {
    showMessage(error);
    return;
  }
  const button = $('join-button');
  button.disabled = true;
  button.textContent = 'Joining…';
  pendingJoinId ??= newId().replace(/-/g, '');  // 32 random hex characters
  const body = {joinCode: code, checkIn, clientJoinId: pendingJoinId};
  const credential = profileCredential();
  if (credential) body.profileCredential = credential;
  else if ($('keep-profile').checked) body.keepProfile = true;
  view = emptyView();
  setStatus('connecting');
  const controller = new AbortController();
  streamAbort = controller;
  let joined = false;
  try {
    await readEventStream('/v1/classes:join', {
      method: 'POST',
      body,
      signal: controller.signal,
      onMessage: (message) => {
        if (message.joined) joined = true;
        handleMessage(message);
      },
    });
  } catch (e) {
    if (!joined) {
      if (e instanceof ApiError) pendingJoinId = null;  // refused: no seat was made
      if (credential && e instanceof ApiError && (e.status === 401 || e.code === 'UNAUTHENTICATED')) {
        // Revoked or erased elsewhere: this phone's copy is worthless now.
        forgetProfile();
        showMessage('Your kept profile is no longer valid (it was revoked or erased), so this phone forgot it. ' +
          'Enter your name and join again; you can keep a new profile.');
      } else if (!isAbort(e)) showMessage(describeError(e, 'join'));
      setStatus('idle');
    }
  } finally {
    button.disabled = false;
    button.textContent = 'Join class';
    if (streamAbort === controller) streamAbort = null;
  }
  if (joined && seat) {
    pendingJoinId = null;
    // The join stream ended or dropped: from here on, resume.
    runStreamLoop();
  }
}

// --- The seat's stream ----------------------------------------------------------------

function eventsUrl() {
  return `/v1/classes/${encodeURIComponent(seat.classId)}/participants/${encodeURIComponent(seat.participantId)}:events`;
}

/** Resumes the seat's stream until the class ends, the seat is gone or the participant leaves. */
async function runStreamLoop() {
  if (streamLoopRunning) return;
  streamLoopRunning = true;
  try {
    while (seat && !unloading) {
      const mySeat = seat;
      const controller = new AbortController();
      streamAbort = controller;
      setStatus(view.haveSnapshot ? 'reconnecting' : 'connecting');
      let cleanEnd = false;
      try {
        await readEventStream(eventsUrl(), {
          token: mySeat.resumeToken,
          // Without a view in memory (a reload) ask for a fresh snapshot.
          lastEventId: view.haveSnapshot ? mySeat.lastSeq : undefined,
          signal: controller.signal,
          onOpen: () => {
            setStatus('connected');
            backoff.reset();
            clearMessage();
            flushPending();
          },
          onMessage: handleMessage,
        });
        cleanEnd = true;
      } catch (e) {
        if (seat !== mySeat || unloading) break;  // left meanwhile, or the page is closing
        if (isAbort(e)) {
          // A forced reconnect (the page became visible, the network came
          // back): go again at once.
          continue;
        }
        if (e instanceof ApiError && (e.status === 401 || e.status === 404 ||
            e.code === 'UNAUTHENTICATED' || e.code === 'NOT_FOUND')) {
          seatGone();
          break;
        }
        if (e instanceof ApiError && e.code === 'ABORTED') {
          // Superseded: the seat was resumed by another tab or phone. Taking
          // it back automatically would make the two fight; let her choose.
          supersededElsewhere = true;
          setStatus('elsewhere');
          showMessage('Your place in this class is now open on another screen. Reload this page to continue here.', 'info');
          break;
        }
        if (e instanceof ApiError) showMessage(describeError(e));
      } finally {
        if (streamAbort === controller) streamAbort = null;
      }
      if (seat !== mySeat) break;
      if (cleanEnd && view.state?.phase === 'CLASS_PHASE_ENDED') {
        setStatus('ended');
        break;  // the stream ends after the class ends; nothing more will come
      }
      setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
      const delay = Math.max(backoff.next(), goingAwayDelayMs);
      goingAwayDelayMs = 0;
      wakeAbort = new AbortController();
      await sleep(delay, wakeAbort.signal);
      wakeAbort = null;
    }
  } finally {
    streamLoopRunning = false;
  }
}

/** Reconnects now: drops the current stream (if any) and cuts any wait short. */
function reconnectNow() {
  if (!seat || supersededElsewhere) return;
  backoff.reset();
  if (wakeAbort) wakeAbort.abort();
  if (streamAbort && streamLoopRunning) streamAbort.abort();
  if (!streamLoopRunning && view.state?.phase !== 'CLASS_PHASE_ENDED') runStreamLoop();
}

/** The server no longer knows the seat (released, or the token is wrong). */
function seatGone() {
  if (streamAbort) streamAbort.abort();
  clearSeat();
  showJoin();
  showMessage('Your place in the class was released: the class may have ended, or you were away too long. Join again with the code.', 'info');
}

function clearSeat() {
  seat = null;
  pending = [];
  history.length = 0;
  view = emptyView();
  lastIntervalKey = '';
  try {
    localStorage.removeItem(SEAT_KEY);
    localStorage.removeItem(PENDING_KEY);
  } catch {
    // nothing stored
  }
  renderReports();
}

// --- Messages from the stream (JoinClassResponse) ---------------------------------------

function handleMessage(message) {
  if (Array.isArray(message.batch) && message.batch.length) {
    for (const inner of message.batch) handleMessage(inner);
    return;
  }
  if (message.joined) onJoined(message.joined);
  else if (message.snapshot) onSnapshot(message.snapshot);
  else if (message.event) onEvent(message.event);
  else if (message.progress) {
    view.progress = message.progress;
    render();
  } else if (message.ack) onAck(message.ack);
  else if (message.goingAway) {
    goingAwayDelayMs = Number(message.goingAway.reconnectAfterMs) || 1000;
    setStatus('reconnecting');
  }
}

function onJoined(joined) {
  seat = {
    classId: joined.classId,
    participantId: joined.participantId,
    resumeToken: joined.resumeToken,
    lastSeq: 0,
    logged: [],
    profile: Boolean(joined.profileId),
  };
  if (joined.profileCredential) writeText(PROFILE_KEY, joined.profileCredential);
  historyShownFor = '';
  pending = [];
  writeJson(SEAT_KEY, seat);
  writeJson(PENDING_KEY, pending);
  setStatus('connected');
  showClass();
}

function onSnapshot(snapshot) {
  view = emptyView();
  view.haveSnapshot = true;
  view.classInfo = snapshot.classInfo || null;
  view.state = snapshot.state || null;
  view.cues = (snapshot.recentCues || []).slice();
  view.progress = snapshot.progress || null;
  view.ownProgress = {
    blocks: (snapshot.ownProgress?.blocks || []).map((b) => ({...b})),
    totalReps: snapshot.ownProgress?.totalReps || 0,
  };
  for (const s of snapshot.suggestions || []) view.suggestions.set(s.suggestionId, s);
  view.circuit = snapshot.circuit || null;
  for (const e of snapshot.exercises || []) view.exercises.set(e.id, e);
  view.checkIn = snapshot.checkIn || null;
  if (seat) {
    seat.lastSeq = Number(snapshot.seq) || 0;  // the snapshot replaces what came before
    writeJson(SEAT_KEY, seat);
  }
  showClass();
  render();
}

function onEvent(event) {
  const seq = Number(event.seq) || 0;
  if (seat && seq > 0) {
    if (seq <= seat.lastSeq) return;  // already applied (a replay overlapping what we had)
    seat.lastSeq = maxSeq(seat.lastSeq, seq);
    writeJson(SEAT_KEY, seat);
  }
  if (event.state) {
    view.state = event.state;
  } else if (event.cue) {
    view.cues.push(event.cue);
    if (view.cues.length > 10) view.cues.shift();
  } else if (event.report) {
    applyOwnReport(event.report);
  } else if (event.suggestion) {
    view.suggestions.set(event.suggestion.suggestionId, event.suggestion);
  }
  render();
}

/** Adds one of our own recorded reports to our progress (the snapshot only has totals). */
function applyOwnReport(recorded) {
  if (seat && recorded.participantId && recorded.participantId !== seat.participantId) return;
  const completion = recorded.completion;
  if (!completion) return;  // effort and symptoms: nothing to add up
  const blockIndex = completion.blockIndex || 0;
  const side = completion.side || 'SIDE_UNSPECIFIED';
  const reps = completion.reps || 0;
  let block = view.ownProgress.blocks.find((b) => (b.blockIndex || 0) === blockIndex && (b.side || 'SIDE_UNSPECIFIED') === side);
  if (!block) {
    block = {blockIndex, side, setsDone: 0, reps: 0};
    view.ownProgress.blocks.push(block);
    view.ownProgress.blocks.sort((a, b) => (a.blockIndex || 0) - (b.blockIndex || 0));
  }
  block.setsDone = (block.setsDone || 0) + 1;
  block.reps = (block.reps || 0) + reps;
  view.ownProgress.totalReps = (view.ownProgress.totalReps || 0) + reps;
}

// --- Reports ---------------------------------------------------------------------

function reportUrl() {
  return `/v1/classes/${encodeURIComponent(seat.classId)}/participants/${encodeURIComponent(seat.participantId)}:report`;
}

/** Queues a report (kind: 'completion' | 'effort' | 'symptom') and sends it. */
function submitReport(kind, report, label, extra = {}) {
  if (!seat) return;
  const entry = {reportId: newId(), kind, report, label, createdMs: Date.now(), ...extra};
  entry.report.reportId = entry.reportId;
  pending.push(entry);
  writeJson(PENDING_KEY, pending);
  noteHistory(entry.reportId, label, 'pending', 'saving…');
  renderReports();
  sendReport(entry);
}

async function sendReport(entry) {
  if (!seat || inFlight.has(entry.reportId)) return;
  const mySeat = seat;
  inFlight.add(entry.reportId);
  try {
    const ack = await fetchJson(reportUrl(), {
      method: 'POST',
      token: mySeat.resumeToken,
      body: {[entry.kind]: entry.report},
    });
    onAck({...ack, reportId: ack.reportId || entry.reportId});
  } catch (e) {
    if (seat !== mySeat) return;
    if (e instanceof ApiError) {
      if (e.status === 401) {
        seatGone();
      } else if (e.status === 429 || e.status >= 500 || RETRYABLE_CODES.has(e.code)) {
        noteHistory(entry.reportId, entry.label, 'pending', 'waiting to retry…');
      } else if (e.status === 404 && e.code !== 'FAILED_PRECONDITION') {
        seatGone();
      } else {
        // Refused: resending the same report would be refused again.
        settle(entry.reportId, 'failed', `not saved: ${e.message || e.code}`);
      }
    } else {
      noteHistory(entry.reportId, entry.label, 'pending', 'offline, will resend');
    }
  } finally {
    inFlight.delete(entry.reportId);
    renderReports();
  }
}

/** Resends every report still awaiting its ack, with its original id. */
function flushPending() {
  for (const entry of pending.slice()) sendReport(entry);
}

function onAck(ack) {
  const code = codeName(ack.code ?? 0);
  if (code === 'OK') {
    settle(ack.reportId, 'saved', 'saved ✓');
  } else if (RETRYABLE_CODES.has(code)) {
    const entry = pending.find((p) => p.reportId === ack.reportId);
    if (entry) noteHistory(entry.reportId, entry.label, 'pending', 'waiting to retry…');
  } else {
    settle(ack.reportId, 'failed', `not saved: ${ack.message || code}`);
  }
  renderReports();
}

/** Takes a report out of the queue with its outcome. */
function settle(reportId, state, detail) {
  const entry = pending.find((p) => p.reportId === reportId);
  pending = pending.filter((p) => p.reportId !== reportId);
  writeJson(PENDING_KEY, pending);
  if (state === 'failed' && entry?.intervalKey && seat) {
    // A refused set can be logged again (say, with corrected reps).
    seat.logged = seat.logged.filter((k) => k !== entry.intervalKey);
    writeJson(SEAT_KEY, seat);
  }
  if (entry?.intervalKey) render();
  noteHistory(reportId, entry?.label ?? historyLabel(reportId), state, detail);
}

function historyLabel(reportId) {
  return history.find((h) => h.reportId === reportId)?.label ?? 'Report';
}

function noteHistory(reportId, label, state, detail) {
  if (!label && !history.some((h) => h.reportId === reportId)) return;  // an ack for a report from another page load
  let item = history.find((h) => h.reportId === reportId);
  if (!item) {
    item = {reportId, label};
    history.unshift(item);
    if (history.length > MAX_REPORTS_SHOWN) history.pop();
  }
  item.state = state;
  item.detail = detail;
}

// --- Actions ----------------------------------------------------------------------

function currentInterval() {
  const state = view.state;
  if (!state || !state.current) return null;
  if (state.phase !== 'CLASS_PHASE_RUNNING' && state.phase !== 'CLASS_PHASE_PAUSED') return null;
  return state.current;
}

function intervalKey(interval) {
  return `${interval.blockIndex || 0}/${interval.set || 0}/${interval.side || 'SIDE_UNSPECIFIED'}`;
}

function onLogSet() {
  const interval = currentInterval();
  if (!interval || interval.kind !== 'INTERVAL_KIND_WORK' || !seat) return;
  const reps = clampReps($('reps').value);
  const key = intervalKey(interval);
  if (seat.logged.includes(key)) return;
  seat.logged.push(key);
  writeJson(SEAT_KEY, seat);
  const side = interval.side || 'SIDE_BOTH';
  const sideText = SIDE_SHORT[side] ? ` ${SIDE_SHORT[side]}` : '';
  const report = {
    blockIndex: interval.blockIndex || 0,
    set: interval.set || 1,
    side,
    reps,
  };
  let what = `${reps} reps`;
  const parts = partsOf(interval);
  if (parts.length) {
    // What she did of each part; reps is the first part's (API.md).
    report.parts = parts.map((part, i) => ({
      partId: part.id,
      amount: clampPart($(`part-${i}`).value, part),
    }));
    report.reps = report.parts[0].amount;
    what = parts.map((part, i) => `${report.parts[i].amount}${part.unit === 'PART_UNIT_SECONDS' ? ' s' : ''} ${part.name.toLowerCase()}`).join(' · ');
  }
  submitReport('completion', report,
      `${interval.exerciseName || 'Set'}: set ${interval.set || 1}${sideText}, ${what}`, {intervalKey: key});
  render();
}

/** The parts of the interval's exercise (the 8-8-8 hip thrust), or []. */
function partsOf(interval) {
  const exercise = interval ? view.exercises.get(interval.exerciseId) : null;
  return Array.isArray(exercise?.parts) ? exercise.parts : [];
}

function clampPart(value, part) {
  const n = Math.round(Number(value));
  if (!Number.isFinite(n)) return 0;
  return Math.min(PART_MAX[part.unit] ?? 100, Math.max(0, n));
}

/** One labelled input per part, filled with the part's target. */
function buildPartInputs(parts) {
  $('parts').replaceChildren(...parts.map((part, i) => {
    const label = document.createElement('label');
    const name = document.createElement('span');
    name.textContent = `${part.name}${part.unit === 'PART_UNIT_SECONDS' ? ' (s)' : ''}`;
    const input = document.createElement('input');
    input.id = `part-${i}`;
    input.type = 'number';
    input.inputMode = 'numeric';
    input.min = '0';
    input.max = String(PART_MAX[part.unit] ?? 100);
    input.step = '1';
    input.value = String(part.target || 0);
    input.dataset.partId = part.id || '';
    label.append(name, input);
    return label;
  }));
}

function clampReps(value) {
  const n = Math.round(Number(value));
  if (!Number.isFinite(n)) return 0;
  return Math.min(100, Math.max(0, n));
}

function stepReps(delta) {
  $('reps').value = String(clampReps(clampReps($('reps').value) + delta));
}

/** The block a rating or symptom is about: the current interval's (a rest belongs to the block before it). */
function currentBlockIndex() {
  return currentInterval()?.blockIndex ?? view.state?.current?.blockIndex ?? 0;
}

function onEffortFeel(event) {
  const feel = event.currentTarget.dataset.feel;
  submitReport('effort', {blockIndex: currentBlockIndex(), feel}, `Effort: ${FEEL_LABELS[feel]}`);
}

function onEffortCr10(event) {
  const cr10 = Number(event.currentTarget.dataset.cr10);
  submitReport('effort', {blockIndex: currentBlockIndex(), cr10}, `Effort: ${cr10} of 10`);
}

function onSymptomPick(event) {
  selectedSymptom = event.currentTarget.dataset.symptom;
  for (const button of document.querySelectorAll('[data-symptom]')) {
    button.setAttribute('aria-pressed', String(button.dataset.symptom === selectedSymptom));
  }
  $('symptom-other-box').hidden = selectedSymptom !== 'SYMPTOM_OTHER';
  if (selectedSymptom === 'SYMPTOM_OTHER') $('symptom-other-text').focus();
  render();
}

function onSymptomSend() {
  if (!selectedSymptom) return;
  const report = {blockIndex: currentBlockIndex(), symptom: selectedSymptom};
  let label = `Symptom: ${SYMPTOM_LABELS[selectedSymptom]}`;
  if (selectedSymptom === 'SYMPTOM_OTHER') {
    const text = $('symptom-other-text').value.trim();
    if (!text) {
      showMessage('Please describe the symptom in a few words.');
      return;
    }
    report.otherText = text.slice(0, 140);
    label = `Symptom: ${report.otherText}`;
  }
  clearMessage();
  submitReport('symptom', report, label);
  selectedSymptom = '';
  $('symptom-other-text').value = '';
  $('symptom-other-box').hidden = true;
  for (const button of document.querySelectorAll('[data-symptom]')) button.setAttribute('aria-pressed', 'false');
  render();
}

async function onLeave() {
  if (!seat) return;
  const unsaved = pending.length;
  // After the class's end, with everything saved, going back to the join
  // screen (for her next class) needs no question.
  const over = view.state?.phase === 'CLASS_PHASE_ENDED' && unsaved === 0;
  const question = over ? '' : unsaved > 0
    ? `Leave the class? ${unsaved} report(s) are not saved yet and will be lost.`
    : 'Leave the class?';
  if (question && !window.confirm(question)) return;
  const mySeat = seat;
  $('leave').disabled = true;
  // Stop the stream first (clearing the seat stops the resume loop), then
  // tell the server.
  clearSeat();
  if (streamAbort) streamAbort.abort();
  if (wakeAbort) wakeAbort.abort();
  try {
    await fetchJson(`/v1/classes/${encodeURIComponent(mySeat.classId)}/participants/${encodeURIComponent(mySeat.participantId)}:leave`, {
      method: 'POST',
      token: mySeat.resumeToken,
      body: {},
    });
  } catch (e) {
    // 401/404: the seat is gone already. Otherwise the server releases the
    // seat when its hold time runs out; either way it is gone from here.
    console.warn('circuit: leave:', e.message);
  } finally {
    $('leave').disabled = false;
  }
  showJoin();
  showMessage(over ? 'Thank you for training! Join your next class with its code.'
    : 'You left the class. Thank you for training!', 'info');
}

// --- Rendering ---------------------------------------------------------------------

function blockTitle(blockIndex) {
  const block = view.circuit?.blocks?.[blockIndex];
  if (!block) return `Block ${blockIndex + 1}`;
  return block.title || view.exercises.get(block.exerciseId)?.name || `Block ${blockIndex + 1}`;
}

/** Replaces a list's items with one <li> per entry, built by `fill(li, entry)`. */
function renderList(list, entries, fill) {
  list.replaceChildren(...entries.map((entry) => {
    const li = document.createElement('li');
    fill(li, entry);
    return li;
  }));
}

function render() {
  if (!seat) return;
  const info = view.classInfo;
  const state = view.state;
  const title = info?.title || 'Circuit';
  setText('class-title', title);
  document.title = `${title} · Circuit`;

  const phase = state?.phase || 'CLASS_PHASE_LOBBY';
  const current = state?.current;
  $('class-view').dataset.phase = phase;
  const phaseEl = $('phase');
  phaseEl.dataset.phase = phase;
  let phaseText = '';
  if (phase === 'CLASS_PHASE_LOBBY') phaseText = 'Waiting for the coach to start';
  else if (phase === 'CLASS_PHASE_PAUSED') phaseText = 'Paused';
  else if (phase === 'CLASS_PHASE_ENDED') phaseText = 'Class over. Well done!';
  else if (current?.kind === 'INTERVAL_KIND_REST') phaseText = 'Rest';
  else if (current && !Number(current.durationMs || 0)) phaseText = 'Work · your pace (time so far)';
  else if (current) phaseText = 'Work';
  setText('phase', phaseText);

  let exercise = '';
  if (phase === 'CLASS_PHASE_LOBBY') exercise = view.circuit?.name || info?.circuitName || 'Get ready';
  else if (phase === 'CLASS_PHASE_ENDED') exercise = 'Well done';
  else if (current?.kind === 'INTERVAL_KIND_REST') exercise = 'Rest';
  else exercise = current?.exerciseName || '';
  setText('exercise', exercise);

  const sideEl = $('side');
  const side = phase === 'CLASS_PHASE_ENDED' ? '' : (current?.side || '');
  sideEl.dataset.side = side;
  setText('side', current?.kind === 'INTERVAL_KIND_WORK' ? (SIDE_LABELS[side] || '') : '');

  const work = current && current.kind === 'INTERVAL_KIND_WORK' && phase !== 'CLASS_PHASE_ENDED';
  setText('set-of', work && current.setCount ? `Set ${current.set || 1} of ${current.setCount}` : '');
  setText('target-reps', work ? repsText(current.targetReps) : '');
  let next = '';
  if (phase === 'CLASS_PHASE_LOBBY') next = state?.next ? `First: ${state.next.exerciseName || 'exercise'}` : '';
  else if (phase !== 'CLASS_PHASE_ENDED') next = describeNext(state?.next, 'Next: the end. Nearly there!');
  setText('next-up', next);
  $('countdown').dataset.intervalIndex = current ? String(current.index || 0) : '';

  // Cues, newest first.
  renderList($('cues'), view.cues.slice(-MAX_CUES_SHOWN).reverse(), (li, cue) => {
    li.textContent = cue.text || '';
  });

  // The log-set card: only during a work interval, once per interval. A
  // combination set has an input per part instead of the reps stepper.
  const key = work ? intervalKey(current) : '';
  const parts = work ? partsOf(current) : [];
  if (key !== lastIntervalKey) {
    lastIntervalKey = key;
    if (work) $('reps').value = String(current.targetReps?.minReps || 0);
    buildPartInputs(parts);
  }
  $('reps-stepper').hidden = parts.length > 0;
  $('parts').hidden = parts.length === 0;
  const logged = work && seat.logged.includes(key);
  const saving = logged && pending.some((p) => p.intervalKey === key);
  const logButton = $('log-set');
  logButton.disabled = !work || logged;
  logButton.textContent = saving ? 'Saving…' : (logged ? 'Set saved ✓' : 'Log set');
  $('reps').disabled = !work || logged;
  $('reps-minus').disabled = !work || logged;
  $('reps-plus').disabled = !work || logged;
  for (const input of $('parts').querySelectorAll('input')) input.disabled = !work || logged;
  setText('log-hint', work
    ? (saving ? 'Kept on this phone until the server confirms it.'
      : logged ? 'Saved for this set. Wait for the next one.' : 'Adjust the reps you did, then tap Log set.')
    : 'You can log reps during a work set.');

  setText('leave', phase === 'CLASS_PHASE_ENDED' ? 'Done: back to the start' : 'Leave class');

  // Effort and symptoms need a started, unfinished class.
  const live = phase === 'CLASS_PHASE_RUNNING' || phase === 'CLASS_PHASE_PAUSED';
  for (const button of document.querySelectorAll('#effort-card button, [data-symptom]')) button.disabled = !live;
  $('symptom-send').disabled = !live || !selectedSymptom;

  // Own progress.
  const total = view.ownProgress.totalReps || 0;
  const totalEl = $('own-total-reps');
  totalEl.dataset.total = String(total);
  setText('own-total-reps', String(total));
  renderList($('own-blocks'), view.ownProgress.blocks, (li, block) => {
    const blockIndex = block.blockIndex || 0;
    const sideText = SIDE_SHORT[block.side] ? ` (${SIDE_SHORT[block.side]})` : '';
    li.dataset.blockIndex = String(blockIndex);
    li.dataset.side = block.side || '';
    li.textContent = `${blockTitle(blockIndex)}${sideText}: ${block.setsDone || 0} sets, ${block.reps || 0} reps`;
  });

  renderExerciseNotes(phase, current);

  // Suggestions for her, newest first; her plan for today (made at join
  // from her past classes) in its own card, in the order it was made.
  const all = Array.from(view.suggestions.values());
  const plan = all.filter((s) => s.fromHistory)
    .sort((a, b) => Number(a.madeUnixMs || 0) - Number(b.madeUnixMs || 0));
  const suggestions = all.filter((s) => !s.fromHistory)
    .sort((a, b) => Number(b.madeUnixMs || 0) - Number(a.madeUnixMs || 0));
  renderList($('plan'), plan, fillSuggestion);
  $('plan-card').hidden = plan.length === 0;
  renderList($('suggestions'), suggestions, fillSuggestion);
  $('no-suggestions').hidden = suggestions.length > 0;

  // The class as a whole.
  const progress = view.progress || {};
  setText('class-participants', String(progress.participantCount || info?.participantCount || 0));
  setText('class-done', String(progress.doneCurrentCount || 0));
  setText('class-total-reps', String(progress.totalReps || 0));
  setText('my-name', view.checkIn?.displayName || '');
  setText('my-join-code', info?.joinCode || '');

  renderReports();
  renderCountdown();

  // After a class she joined with her kept profile: her progress over classes.
  if (phase === 'CLASS_PHASE_ENDED' && seat.profile && profileCredential() && historyShownFor !== seat.classId) {
    historyShownFor = seat.classId;
    loadHistory(seat.classId);
  }
}

/** One suggestion or plan item: what, why, and what the coach decided. */
function fillSuggestion(li, s) {
  li.dataset.suggestionId = s.suggestionId || '';
  li.dataset.decision = s.decision || 'SUGGESTION_DECISION_UNSPECIFIED';
  li.dataset.kind = s.kind || '';
  const head = document.createElement('strong');
  head.textContent = SUGGESTION_LABELS[s.kind] || 'Suggestion';
  if (s.kind === 'SUGGESTION_KIND_NEXT_STAGE' && s.suggestedStageName) {
    head.textContent += `: ${s.suggestedStageName}`;
  } else if (s.suggestedExerciseName) {
    head.textContent += `: ${s.suggestedExerciseName}`;
  }
  const parts = [head];
  if (s.kind === 'SUGGESTION_KIND_WEAKER_SIDE_FIRST' && SIDE_SHORT[s.startSide]) {
    const side = document.createElement('span');
    side.className = 'start-side';
    side.textContent = `Start on the ${SIDE_SHORT[s.startSide]} side.`;
    parts.push(side);
  }
  const reason = document.createElement('span');
  reason.className = 'reason';
  reason.textContent = s.reason || '';
  const decision = document.createElement('span');
  decision.className = 'decision';
  decision.textContent = DECISION_LABELS[s.decision] || 'Your coach will decide.';
  parts.push(reason, decision);
  li.append(...parts);
}

/** The exercise she is on (or starts with, in the lobby), its note for her
 *  recovery track, and the safety line everyone gets with every exercise. */
function renderExerciseNotes(phase, current) {
  let exerciseId = '';
  if (phase === 'CLASS_PHASE_LOBBY') exerciseId = view.state?.next?.exerciseId || '';
  else if (phase !== 'CLASS_PHASE_ENDED') exerciseId = current?.exerciseId || '';
  const exercise = view.exercises.get(exerciseId);
  const track = view.checkIn?.track || '';
  const option = track && track !== 'RECOVERY_TRACK_UNSPECIFIED'
    ? (exercise?.trackOptions || []).find((o) => o.track === track)
    : null;
  const note = $('track-note');
  note.hidden = !option?.note;
  note.dataset.exerciseId = option ? exerciseId : '';
  setText('track-note', option?.note || '');
  const alternative = option?.alternativeExerciseId
    ? (view.exercises.get(option.alternativeExerciseId)?.name || option.alternativeExerciseId) : '';
  $('track-alternative').hidden = !alternative;
  setText('track-alternative', alternative ? `Or instead, if your coach agrees: ${alternative}.` : '');
  $('notes-card').hidden = !exercise;
}

function renderReports() {
  const count = pending.length;
  const el = $('unacked-count');
  el.dataset.count = String(count);
  setText('unacked-count', String(count));
  renderList($('reports'), history, (li, item) => {
    li.dataset.reportId = item.reportId;
    li.dataset.state = item.state;
    const label = document.createElement('span');
    label.textContent = item.label;
    const detail = document.createElement('span');
    detail.className = 'detail';
    detail.textContent = item.detail;
    li.append(label, detail);
  });
}

/** Redraws the countdown from the deadline and the server clock (never by decrementing). */
function renderCountdown() {
  const el = $('countdown');
  if (!seat || !view.state) return;
  const {mode, ms, text} = countdownOf(view.state);
  if (el.dataset.mode !== mode) el.dataset.mode = mode;
  const msText = ms === null ? '' : String(Math.round(ms));
  if (el.dataset.remainingMs !== msText) el.dataset.remainingMs = msText;
  if (el.textContent !== text) el.textContent = text;
}

// --- Her kept profile: progress over classes, her data ------------------------------------

let historyShownFor = '';  // the class whose end has shown her progress
let historyLoads = 0;      // drops answers of superseded loads

function forgetProfile() {
  try {
    localStorage.removeItem(PROFILE_KEY);
  } catch {
    // nothing stored
  }
  $('history-view').hidden = true;
  $('history-chart').replaceChildren();
  $('history-rows').replaceChildren();
  renderKeptProfile();
}

function renderKeptProfile() {
  const kept = Boolean(profileCredential());
  $('kept-profile').hidden = !kept;
  $('keep-profile-box').hidden = kept;
  $('keep-profile-hint').hidden = kept;
  $('display-name').required = !kept;
}

function onForgetProfile() {
  if (!window.confirm('Forget your profile on this device? Your data stays on the studio server; ' +
      'without this phone\'s key you cannot see or erase it from here.')) return;
  forgetProfile();
  showMessage('This phone forgot your profile.', 'info');
}

/** Fetches her progress and draws it. After a class's end (classId set) the
 *  class may take a moment to join her history: ask again a few times. */
async function loadHistory(classId) {
  const credential = profileCredential();
  if (!credential) return;
  const load = ++historyLoads;
  $('history-view').hidden = false;
  setText('history-status', 'Loading your progress…');
  for (let attempt = 0; ; attempt++) {
    let progress;
    try {
      progress = await fetchJson('/v1/profile/progress', {token: credential});
    } catch (e) {
      if (load !== historyLoads) return;
      if (e instanceof ApiError && (e.status === 401 || e.code === 'UNAUTHENTICATED')) {
        forgetProfile();
        showMessage('Your kept profile is no longer valid (it was revoked or erased), so this phone forgot it.');
        return;
      }
      setText('history-status', describeError(e));
      return;
    }
    if (load !== historyLoads) return;
    const classes = Array.isArray(progress.classes) ? progress.classes : [];
    if (classId && !classes.some((c) => c.classId === classId) && attempt < 10) {
      await sleep(500);
      if (load !== historyLoads) return;
      continue;
    }
    drawHistory(classes);
    return;
  }
}

/** Draws her classes (oldest first) in the chart and the rows below it. */
function drawHistory(classes) {
  const count = drawProgress($('history-chart'), $('history-rows'), classes, 'history');
  setText('history-status', count
    ? `${count} ${count === 1 ? 'class' : 'classes'} so far.`
    : 'No classes yet: your progress shows here after your first class with this profile.');
}

async function onDownloadData() {
  const credential = profileCredential();
  if (!credential) return;
  try {
    const data = await fetchJson('/v1/profile/data', {token: credential});
    const blob = new Blob([JSON.stringify(data, null, 2)], {type: 'application/json'});
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = 'circuit-my-data.json';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    showMessage(describeError(e));
  }
}

async function onEraseData() {
  const credential = profileCredential();
  if (!credential) return;
  if (!window.confirm('Erase your profile and your record in every class you joined with it? This cannot be undone.')) return;
  try {
    const answer = await fetchJson('/v1/profile:erase', {method: 'POST', token: credential, body: {}});
    forgetProfile();
    const count = Number(answer.erasedClassCount || 0);
    showMessage(`Erased: your profile and your record in ${count} ${count === 1 ? 'class' : 'classes'} ` +
      '(sets, efforts, symptoms, suggestions). This phone forgot your profile.', 'info');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 412 || e.code === 'FAILED_PRECONDITION')) {
      showMessage('Your class has not ended yet. Erase your data once it is over.');
    } else {
      showMessage(describeError(e));
    }
  }
}

// --- Wiring ------------------------------------------------------------------------

function init() {
  $('join-form').addEventListener('submit', onJoinSubmit);
  $('join-code').addEventListener('input', (e) => {
    e.target.value = e.target.value.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 6);
  });
  $('reps-minus').addEventListener('click', () => stepReps(-1));
  $('reps-plus').addEventListener('click', () => stepReps(+1));
  $('log-set').addEventListener('click', onLogSet);
  for (const button of document.querySelectorAll('[data-feel]')) button.addEventListener('click', onEffortFeel);
  for (const button of document.querySelectorAll('[data-cr10]')) button.addEventListener('click', onEffortCr10);
  for (const button of document.querySelectorAll('[data-symptom]')) button.addEventListener('click', onSymptomPick);
  $('symptom-send').addEventListener('click', onSymptomSend);
  $('leave').addEventListener('click', onLeave);
  $('forget-profile').addEventListener('click', onForgetProfile);
  $('my-progress').addEventListener('click', () => loadHistory(''));
  $('download-data').addEventListener('click', onDownloadData);
  $('erase-data').addEventListener('click', onEraseData);

  // A locked phone's stream may be dead without an error: resume on return.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      hiddenSinceMs = Date.now();
      return;
    }
    syncClock();
    if (seat && Date.now() - hiddenSinceMs > 1000) reconnectNow();
  });
  window.addEventListener('online', () => {
    syncClock();
    reconnectNow();
  });
  // A reload or navigation aborts the stream: do not let this page resume
  // the seat meanwhile (that would cut off the next page's stream).
  window.addEventListener('pagehide', () => {
    unloading = true;
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) {  // back from the back/forward cache
      unloading = false;
      reconnectNow();
    }
  });
  window.addEventListener('offline', () => {
    if (seat) setStatus('offline');
  });

  // Unacked reports are retried while they wait (e.g. after a 429 or a 503).
  setInterval(() => {
    if (seat && pending.length && $('status').dataset.state === 'connected') flushPending();
  }, RETRY_REPORTS_EVERY_MS);

  // The countdown is recomputed every 50 ms from the deadline.
  setInterval(renderCountdown, 50);

  startClock();

  if (seat) {
    // A stored seat: resume it (a fresh snapshot rebuilds the view), and show
    // the reports that still wait for their ack.
    for (const entry of pending) noteHistory(entry.reportId, entry.label, 'pending', 'saving…');
    showClass();
    setText('phase', 'Reconnecting to your class…');
    renderReports();
    runStreamLoop();
  } else {
    showJoin();
  }
}

init();
