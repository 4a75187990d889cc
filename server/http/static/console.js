// The instructor's console (console.html): sign in, list and create classes,
// run one, pair studio TVs, and read the summary after class.
//
// Contract: server/http/API.md, the console's calls (issue 22), and
// proto/circuit/v1/*.proto (canonical JSON: lowerCamelCase, enums by name,
// int64 as strings, defaults left out).
//
// - Signing in: `/console#code=ABCDEFGHJK` redeems the code at once and takes
//   the fragment out of the address bar; the field takes a code or a pasted
//   credential. The credential is kept in localStorage. Any call that answers
//   401, or a stream that ends UNAUTHENTICATED, shows "Signed out".
// - The class never depends on this page: the class being run is remembered
//   (localStorage), and reopening the page resumes its stream with
//   Last-Event-ID, reconnecting with backoff after a drop.
// - Health data (effort, symptoms) is shown here, to the instructor, and goes
//   nowhere else. Every server- or user-supplied string goes into the DOM as
//   text (textContent / createElement), never as HTML.

import {readEventStream, fetchJson, fetchFromNode, apiErrorFrom, ApiError, Backoff, sleep, isAbort, maxSeq} from './sse.js';
import {drawProgress} from './progress_chart.js';
import {startClock, syncClock, countdownOf, formatElapsed} from './clock.js';
import {SIDE_LABELS, repsText, describeNext} from './interval.js';

const CREDENTIAL_KEY = 'circuit.console.credential';
const CLASS_KEY = 'circuit.console.class';
const CLASSES_POLL_MS = 5000;
const TVS_POLL_MS = 10_000;
// How often a page with nothing else to ask (the summary) checks that the
// credential still works, so a revoked sign-in shows "Signed out" there too.
const ME_POLL_MS = 30_000;
const ADJUST_MS = 30_000;
// Sign-in codes: ten characters from A-Z and 2-9 without look-alikes, shown
// as ABCDE-FGHJK; case, spaces and the dash do not matter.
const SIGN_IN_CODE = /^[A-Z2-9]{10}$/;
// Cues a coach often says, whatever the exercise.
const CANNED_CUES = ['Breathe out on the effort', 'Slow it down', 'Great work, everyone!', 'Last set, nearly there'];

const PHASE_LABELS = {
  CLASS_PHASE_LOBBY: 'In the lobby',
  CLASS_PHASE_RUNNING: 'Running',
  CLASS_PHASE_PAUSED: 'Paused',
  CLASS_PHASE_ENDED: 'Ended',
};
const CONNECTION_LABELS = {
  CONNECTION_STATE_CONNECTED: 'Connected',
  CONNECTION_STATE_DROPPED: 'Dropped',
  CONNECTION_STATE_LEFT: 'Left',
};
const FEEL_LABELS = {
  EFFORT_FEEL_TOO_EASY: 'Too easy',
  EFFORT_FEEL_JUST_RIGHT: 'Just right',
  EFFORT_FEEL_TOO_HARD: 'Too hard',
};
const SYMPTOM_LABELS = {
  SYMPTOM_HIP_PINCH: 'Hip pinch',
  SYMPTOM_LEAKING: 'Leaking',
  SYMPTOM_PELVIC_HEAVINESS: 'Pelvic heaviness',
  SYMPTOM_LOW_BACK_PAIN: 'Low back pain',
  SYMPTOM_PELVIC_PAIN: 'SI-joint or pelvic pain',
  SYMPTOM_ABDOMINAL_DOMING: 'Abdominal doming',
  SYMPTOM_OTHER: 'Other',
};
const SEVERITY_RANK = {ALERT_SEVERITY_PRIORITY: 3, ALERT_SEVERITY_WARNING: 2, ALERT_SEVERITY_INFO: 1};
const SEVERITY_LABELS = {ALERT_SEVERITY_PRIORITY: 'Priority', ALERT_SEVERITY_WARNING: 'Warning', ALERT_SEVERITY_INFO: 'Info'};
const SUGGESTION_LABELS = {
  SUGGESTION_KIND_DRILL: 'Drill first',
  SUGGESTION_KIND_REGRESSION: 'Easier version',
  SUGGESTION_KIND_PROGRESSION: 'Harder version',
  SUGGESTION_KIND_LOWER_LOAD: 'Lower the load',
  SUGGESTION_KIND_WEAKER_SIDE_FIRST: 'Weaker side first',
  SUGGESTION_KIND_NEXT_STAGE: 'Next stage',
};
const TRACK_LABELS = {
  RECOVERY_TRACK_VAGINAL: 'Vaginal birth',
  RECOVERY_TRACK_CESAREAN: 'Cesarean birth',
};
const SIDE_WORDS = {SIDE_LEFT: 'left', SIDE_RIGHT: 'right'};
const DECISION_LABELS = {
  SUGGESTION_DECISION_ACCEPTED: 'Accepted',
  SUGGESTION_DECISION_DISMISSED: 'Dismissed',
};

const $ = (id) => document.getElementById(id);

/** Thrown (and caught by the callers' loops) once the page has signed out. */
class SignedOut extends Error {
  constructor() {
    super('signed out');
    this.name = 'SignedOut';
  }
}

// --- Ids and storage -----------------------------------------------------------

/** A random id for commands. crypto.randomUUID exists only in secure contexts. */
function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function readStored(key) {
  try {
    return localStorage.getItem(key) || null;
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Storage unavailable: it lasts until a reload.
  }
}

let credential = readStored(CREDENTIAL_KEY);
let me = null;           // SignInResponse from /v1/me or /v1/signIn (without the credential)
let view = 'starting';
let run = null;          // the class being run: see openRun()
let classesTimer = null;
let tvsTimer = null;
let circuits = null;     // ListCircuitsResponse, once loaded
let chosenCircuit = null;
let tvsAllowed = true;   // false once the server says this credential may not manage TVs

// --- Small helpers ----------------------------------------------------------------

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function showError(id, text) {
  const el = $(id);
  el.textContent = text || '';
  el.hidden = !text;
}

function messageOf(error) {
  if (error instanceof ApiError) return error.message || error.code || `HTTP ${error.status}`;
  return 'Cannot reach the studio server.';
}

function setStatus(state) {
  const labels = {idle: '', connecting: 'Connecting…', connected: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline'};
  const el = $('status');
  el.dataset.state = state;
  el.textContent = labels[state] ?? state;
}

function isUnauthorized(error) {
  return error instanceof ApiError && (error.status === 401 || error.code === 'UNAUTHENTICATED');
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * True when `data` differs from what `list` was last drawn from: lists with
 * buttons are redrawn only then, so a tap never lands on a button that a
 * roster update (ten a second) has just replaced.
 */
function changedSince(list, data) {
  const key = JSON.stringify(data);
  if (list.dataset.drawnFrom === key) return false;
  list.dataset.drawnFrom = key;
  return true;
}

function button(text, className, onClick) {
  const b = el('button', `button ${className || ''}`.trim(), text);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

function clockTime(unixMs) {
  const ms = Number(unixMs || 0);
  if (!ms) return '';
  return new Date(ms).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}

function minutesText(seconds) {
  const s = Number(seconds || 0);
  if (s <= 0) return '';
  return s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
}

// --- Calls ---------------------------------------------------------------------------

/**
 * One call with the credential. A 401 signs the page out (and throws
 * SignedOut); any other error is thrown as ApiError / TypeError.
 */
async function api(url, {method = 'GET', body} = {}) {
  if (!credential) throw new SignedOut();
  try {
    return await fetchJson(url, {method, token: credential, body});
  } catch (error) {
    if (isUnauthorized(error)) {
      signOut(`The server no longer accepts this sign-in: ${error.message || error.code}`);
      throw new SignedOut();
    }
    throw error;
  }
}

// --- Views -----------------------------------------------------------------------

function showView(name) {
  view = name;
  document.body.dataset.view = name;
  for (const v of ['signin', 'signedout', 'classes', 'run', 'summary']) {
    $(`${v}-view`).hidden = v !== name;
  }
  $('tv-view').hidden = !tvsAllowed || !(name === 'classes' || name === 'run');
  const signedIn = !['signin', 'signedout', 'starting'].includes(name);
  $('sign-out').hidden = !signedIn;
  $('nav').hidden = !signedIn || name === 'classes';
  if (name !== 'classes') stopTimer('classes');
  if (name !== 'classes' && name !== 'run') stopTimer('tvs');
  if (name !== 'run' && run) closeRun();
  showError('message', '');
}

function stopTimer(which) {
  if (which === 'classes' && classesTimer) {
    clearInterval(classesTimer);
    classesTimer = null;
  }
  if (which === 'tvs' && tvsTimer) {
    clearInterval(tvsTimer);
    tvsTimer = null;
  }
}

function renderWho() {
  const account = me?.account;
  let text = '';
  if (account) text = `${account.name || account.accountId}`;
  else if (credential) text = 'Signed in';
  setText('who', text);
}

// --- Signing in and out ------------------------------------------------------------

/** The sign-in code in `text` as ABCDE-FGHJK, or null when it is not one. */
function asSignInCode(text) {
  const bare = String(text || '').toUpperCase().replace(/[\s-]/g, '');
  return SIGN_IN_CODE.test(bare) ? `${bare.slice(0, 5)}-${bare.slice(5)}` : null;
}

function showSignIn(errorText) {
  showView('signin');
  setStatus('idle');
  renderWho();
  showError('signin-error', errorText || '');
  $('signin-button').disabled = false;
}

/** Forgets the credential and shows the signed-out screen. */
function signOut(reason) {
  credential = null;
  tvsAllowed = true;
  me = null;
  store(CREDENTIAL_KEY, null);
  showView('signedout');
  setStatus('idle');
  renderWho();
  setText('signedout-reason', reason || 'You signed out.');
}

/** Signs in with a code or a credential typed or pasted into the field. */
async function signIn(text) {
  const code = asSignInCode(text);
  const given = String(text || '').trim();
  if (!code && !given) {
    showSignIn('Type the sign-in code (ABCDE-FGHJK) or paste a credential.');
    return;
  }
  $('signin-button').disabled = true;
  showError('signin-error', '');
  let answer;
  try {
    if (code) {
      answer = await fetchJson('/v1/signIn', {method: 'POST', body: {signInCode: code}});
    } else {
      // A credential: the server answers with a console credential for it
      // (or the key itself, for the bootstrap key).
      answer = await fetchJson('/v1/signIn', {method: 'POST', token: given, body: {}});
    }
  } catch (error) {
    if (!code && error instanceof ApiError && (error.status === 404 || error.code === 'UNIMPLEMENTED')) {
      // A server without POST /v1/signIn: keep the credential itself once it
      // opens the class list.
      answer = await fallbackSignIn(given);
      if (answer) {
        await finishSignIn(answer);
        return;
      }
    }
    const text = error instanceof ApiError
      ? (error.status === 401 && code
        ? (error.message || 'This sign-in code is unknown, expired or already used; ask for a new one.')
        : `Not signed in: ${error.message || error.code}`)
      : 'Cannot reach the studio server. Try again.';
    showSignIn(text);
    return;
  }
  if (!answer.credential) {
    showSignIn('The server answered without a credential.');
    return;
  }
  await finishSignIn(answer);
}

async function finishSignIn(answer) {
  credential = answer.credential;
  store(CREDENTIAL_KEY, credential);
  me = {account: answer.account, expiresUnixMs: answer.expiresUnixMs};
  $('signin-input').value = '';
  renderWho();
  await openStart();
}

/** The credential as it is, when it opens the class list; null otherwise. */
async function fallbackSignIn(given) {
  try {
    await fetchJson('/v1/classes', {token: given});
    return {credential: given};
  } catch {
    return null;
  }
}

/** Who the stored credential is; signs out on 401. */
async function checkMe() {
  try {
    me = await api('/v1/me');
  } catch (error) {
    if (error instanceof SignedOut) throw error;
    // Not reachable now: the calls that follow will tell.
  }
  renderWho();
}

// --- Classes -------------------------------------------------------------------

async function openClasses() {
  store(CLASS_KEY, null);
  showView('classes');
  setStatus('connected');
  loadTvs();
  await Promise.all([loadClasses(), loadCircuits()]);
  if (view !== 'classes') return;
  stopTimer('classes');
  stopTimer('tvs');
  classesTimer = setInterval(() => loadClasses().catch(() => {}), CLASSES_POLL_MS);
  tvsTimer = setInterval(() => loadTvs(), TVS_POLL_MS);
}

async function loadClasses() {
  let answer;
  try {
    answer = await api('/v1/classes?includeEnded=true');
    setStatus('connected');
  } catch (error) {
    if (error instanceof SignedOut) return;
    setStatus('reconnecting');
    showError('message', `Classes: ${messageOf(error)}`);
    return;
  }
  if (view !== 'classes') return;
  const groups = {live: [], lobby: [], ended: []};
  for (const c of answer.classes || []) {
    if (c.phase === 'CLASS_PHASE_ENDED') groups.ended.push(c);
    else if (c.phase === 'CLASS_PHASE_RUNNING' || c.phase === 'CLASS_PHASE_PAUSED') groups.live.push(c);
    else groups.lobby.push(c);
  }
  for (const [group, list] of Object.entries(groups)) {
    const ul = $(`classes-${group}`);
    ul.replaceChildren(...list.map(classItem));
    ul.dataset.count = String(list.length);
    if (!list.length) ul.append(el('li', 'c-empty', 'None.'));
  }
}

function classItem(c) {
  const li = el('li');
  li.dataset.classId = c.classId || '';
  li.dataset.phase = c.phase || '';
  const b = button('', 'c-class', () => (c.phase === 'CLASS_PHASE_ENDED' ? openSummary(c.classId) : openRun(c.classId)));
  b.dataset.classId = c.classId || '';
  b.append(el('strong', 'c-class-title', c.title || c.circuitName || c.classId));
  const parts = [];
  if (c.circuitName && c.circuitName !== c.title) parts.push(c.circuitName);
  if (c.phase !== 'CLASS_PHASE_ENDED' && c.joinCode) parts.push(`code ${c.joinCode}`);
  parts.push(`${c.participantCount || 0} in class`);
  const when = c.startedUnixMs || c.createdUnixMs;
  if (when) parts.push(clockTime(when));
  b.append(el('span', 'c-class-meta', parts.join(' · ')));
  li.append(b);
  return li;
}

async function loadCircuits() {
  if (!circuits) {
    try {
      circuits = await api('/v1/circuits');
    } catch (error) {
      if (error instanceof SignedOut) return;
      showError('create-error', `Circuits: ${messageOf(error)}`);
      return;
    }
  }
  if (view !== 'classes') return;
  const names = new Map((circuits.exercises || []).map((e) => [e.id, e.name]));
  const list = $('circuit-list');
  list.replaceChildren(...(circuits.circuits || []).map((c) => {
    const label = el('label', 'c-circuit');
    label.dataset.circuitId = c.id || '';
    const radio = document.createElement('input');
    radio.type = 'radio';
    radio.name = 'circuit';
    radio.value = c.id || '';
    radio.checked = chosenCircuit === c.id;
    radio.addEventListener('change', () => {
      chosenCircuit = c.id;
      $('create-button').disabled = false;
    });
    const body = el('span', 'c-circuit-body');
    const head = el('span', 'c-circuit-head');
    head.append(el('strong', '', c.name || c.id), el('span', 'c-circuit-time', minutesText(c.estimatedSeconds)));
    const blocks = el('ol', 'c-blocks');
    for (const block of c.blocks || []) {
      const name = block.title || names.get(block.exerciseId) || block.exerciseId;
      const bits = [`${block.sets || 1} × ${name}`];
      if (block.workSeconds) bits.push(`${block.workSeconds} s`);
      else bits.push('your pace');
      blocks.append(el('li', '', bits.join(' · ')));
    }
    body.append(head);
    if (c.description) body.append(el('span', 'c-circuit-desc', c.description));
    body.append(blocks);
    label.append(radio, body);
    return label;
  }));
  $('create-button').disabled = !chosenCircuit;
}

async function createClass(event) {
  event.preventDefault();
  if (!chosenCircuit) {
    showError('create-error', 'Pick a circuit first.');
    return;
  }
  $('create-button').disabled = true;
  showError('create-error', '');
  try {
    const answer = await api('/v1/classes', {method: 'POST', body: {circuitId: chosenCircuit, title: $('create-title').value.trim()}});
    $('create-title').value = '';
    await openRun(answer.classInfo.classId);
  } catch (error) {
    if (error instanceof SignedOut) return;
    showError('create-error', `Not created: ${messageOf(error)}`);
  } finally {
    $('create-button').disabled = !chosenCircuit;
  }
}

// --- Studio TVs ------------------------------------------------------------------

async function loadTvs() {
  let answer;
  try {
    answer = await api('/v1/kiosks');
  } catch (error) {
    if (error instanceof SignedOut) return;
    if (error instanceof ApiError && error.code === 'PERMISSION_DENIED') {
      // A class credential, say: TVs are not its business.
      tvsAllowed = false;
      $('tv-view').hidden = true;
      return;
    }
    showError('tv-error', `TVs: ${messageOf(error)}`);
    return;
  }
  const live = (answer.kiosks || []).filter((k) => !Number(k.revokedUnixMs || 0));
  if (!changedSince($('tv-list'), live)) return;
  $('tv-list').replaceChildren(...live.map((k) => {
    const li = el('li');
    li.dataset.kioskId = k.kioskId || '';
    const text = el('span', 'c-tv-name', k.name || k.kioskId);
    const meta = el('span', 'c-note', `paired ${clockTime(k.pairedUnixMs)}`);
    const revoke = button('Revoke', 'danger', () => revokeTv(k.kioskId));
    revoke.dataset.kioskId = k.kioskId || '';
    li.append(text, meta, revoke);
    return li;
  }));
  $('tv-list').dataset.count = String(live.length);
  $('no-tvs').hidden = live.length > 0;
}

async function pairTv(event) {
  event.preventDefault();
  const code = $('tv-code').value.trim().toUpperCase();
  if (!code) {
    showError('tv-error', 'Type the code the TV shows.');
    return;
  }
  $('tv-pair').disabled = true;
  showError('tv-error', '');
  try {
    await api('/v1/kiosks:approve', {method: 'POST', body: {pairingCode: code, name: $('tv-name').value.trim()}});
    $('tv-code').value = '';
    $('tv-name').value = '';
    await loadTvs();
  } catch (error) {
    if (!(error instanceof SignedOut)) showError('tv-error', `Not paired: ${messageOf(error)}`);
  } finally {
    $('tv-pair').disabled = false;
  }
}

async function revokeTv(kioskId) {
  showError('tv-error', '');
  try {
    await api(`/v1/kiosks/${encodeURIComponent(kioskId)}:revoke`, {method: 'POST', body: {}});
    await loadTvs();
  } catch (error) {
    if (!(error instanceof SignedOut)) showError('tv-error', `Not revoked: ${messageOf(error)}`);
  }
}

// --- Running a class ------------------------------------------------------------

function emptyRun(classId) {
  return {
    classId,
    lastSeq: 0,
    info: null,
    state: null,
    cues: [],
    progress: null,
    roster: new Map(),
    aggregates: null,
    alerts: new Map(),
    suggestions: new Map(),
    exercises: new Map(),
    abort: null,
    wake: null,
  };
}

function closeRun() {
  const r = run;
  run = null;
  ++progressLoads;
  $('progress-panel').hidden = true;
  if (r?.abort) r.abort.abort();
  if (r?.wake) r.wake.abort();
}

async function openRun(classId) {
  closeRun();
  store(CLASS_KEY, classId);
  showView('run');
  const r = emptyRun(classId);
  run = r;
  for (const id of ['roster', 'alerts', 'suggestions', 'run-track-notes']) delete $(id).dataset.drawnFrom;
  renderRun();
  loadTvs();
  stopTimer('tvs');
  tvsTimer = setInterval(() => loadTvs(), TVS_POLL_MS);
  // The stream runs until the class ends or the page leaves it.
  runStream(r).catch(ignoreSignedOut);
}

/** Reads the class's :run stream until the class ends, resuming after drops. */
async function runStream(r) {
  const backoff = new Backoff();
  let goingAwayMs = 0;
  while (run === r) {
    const controller = new AbortController();
    r.abort = controller;
    setStatus(r.state ? 'reconnecting' : 'connecting');
    try {
      await readEventStream(`/v1/classes/${encodeURIComponent(r.classId)}:run`, {
        token: credential,
        lastEventId: r.lastSeq > 0 ? r.lastSeq : undefined,
        signal: controller.signal,
        onOpen: () => {
          setStatus('connected');
          backoff.reset();
        },
        onMessage: (message) => {
          if (run !== r) return;
          const delay = handleRunMessage(r, message);
          if (delay) goingAwayMs = delay;
          renderRun();
          // Ended: the summary at once, whether or not the server keeps
          // the stream open.
          if (r.state?.phase === 'CLASS_PHASE_ENDED') controller.abort();
        },
      });
    } catch (error) {
      if (run !== r) return;
      if (isUnauthorized(error)) {
        signOut(`The server ended this sign-in: ${error.message || error.code}`);
        return;
      }
      if (error instanceof ApiError && ['NOT_FOUND', 'PERMISSION_DENIED'].includes(error.code)) {
        await openClasses();
        showError('message', `That class cannot be run from here: ${error.message || error.code}`);
        return;
      }
      if (!isAbort(error)) setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    } finally {
      if (r.abort === controller) r.abort = null;
    }
    if (run !== r) return;
    if (r.state?.phase === 'CLASS_PHASE_ENDED') {
      await openSummary(r.classId);
      return;
    }
    setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    r.wake = new AbortController();
    await sleep(Math.max(backoff.next(), goingAwayMs), r.wake.signal);
    r.wake = null;
    goingAwayMs = 0;
  }
}

/** Applies one RunClassResponse; returns a reconnect delay for goingAway. */
function handleRunMessage(r, message) {
  if (Array.isArray(message.batch) && message.batch.length) {
    let delay = 0;
    for (const inner of message.batch) delay = handleRunMessage(r, inner) || delay;
    return delay;
  }
  if (message.snapshot) {
    const s = message.snapshot;
    r.info = s.classInfo || r.info;
    r.state = s.state || null;
    r.cues = s.recentCues || [];
    r.progress = s.progress || null;
    r.roster = new Map((s.roster || []).map((e) => [e.participantId, e]));
    r.aggregates = s.aggregates || null;
    r.alerts = new Map((s.alerts || []).map((a) => [a.alertId, a]));
    r.suggestions = new Map((s.suggestions || []).map((x) => [x.suggestionId, x]));
    r.exercises = new Map((s.exercises || []).map((e) => [e.id, e]));
    r.lastSeq = Number(s.seq) || 0;  // a snapshot replaces what came before
  } else if (message.event) {
    const e = message.event;
    const seq = Number(e.seq) || 0;
    if (seq > 0 && seq <= r.lastSeq) return 0;  // seen already
    r.lastSeq = maxSeq(r.lastSeq, seq);
    if (e.state) {
      r.state = e.state;
      if (r.info) r.info.phase = e.state.phase;
    } else if (e.cue) {
      r.cues = [...r.cues, e.cue].slice(-10);
    } else if (e.participantJoined) {
      r.roster.set(e.participantJoined.participantId, e.participantJoined);
    } else if (e.connection) {
      const entry = r.roster.get(e.connection.participantId);
      if (entry) entry.connection = e.connection.connection;
    } else if (e.alert) {
      r.alerts.set(e.alert.alertId, e.alert);
    } else if (e.suggestion) {
      r.suggestions.set(e.suggestion.suggestionId, e.suggestion);
    }
    // Reports show through the roster updates that follow them.
  } else if (message.roster) {
    for (const entry of message.roster.changed || []) r.roster.set(entry.participantId, entry);
    if (message.roster.aggregates) r.aggregates = message.roster.aggregates;
  } else if (message.progress) {
    r.progress = message.progress;
  } else if (message.goingAway) {
    setStatus('reconnecting');
    return Number(message.goingAway.reconnectAfterMs) || 1000;
  }
  return 0;
}

async function command(action, errorPrefix) {
  const r = run;
  if (!r) return false;
  showError('command-error', '');
  try {
    await api(`/v1/classes/${encodeURIComponent(r.classId)}:command`, {method: 'POST', body: {commandId: newId(), ...action}});
    return true;
  } catch (error) {
    if (!(error instanceof SignedOut) && run === r) {
      showError('command-error', `${errorPrefix}: ${messageOf(error)}`);
    }
    return false;
  }
}

function renderRun() {
  const r = run;
  if (!r || view !== 'run') return;
  const info = r.info;
  const state = r.state;
  const phase = state?.phase || info?.phase || '';
  const current = state?.current;
  const ended = phase === 'CLASS_PHASE_ENDED';
  $('run-view').dataset.phase = phase;
  setText('run-title', info?.title || info?.circuitName || 'Loading the class…');
  document.title = `${info?.title || 'Class'} · Circuit console`;
  $('run-phase').dataset.phase = phase;
  setText('run-phase', PHASE_LABELS[phase] || '');
  setText('run-join-url', `${location.host}/`);
  setText('run-join-code', ended ? '' : (info?.joinCode || ''));

  const work = current?.kind === 'INTERVAL_KIND_WORK';
  let exercise = '';
  if (phase === 'CLASS_PHASE_LOBBY') exercise = info?.circuitName || 'Ready when you are';
  else if (ended) exercise = 'Class over';
  else if (current?.kind === 'INTERVAL_KIND_REST') exercise = 'Rest';
  else exercise = current?.exerciseName || '';
  setText('run-exercise', exercise);
  const side = work ? (current.side || '') : '';
  $('run-side').dataset.side = side;
  setText('run-side', SIDE_LABELS[side] || '');
  setText('run-set', work && current.setCount ? `Set ${current.set || 1} of ${current.setCount}` : '');
  setText('run-reps', work ? repsText(current.targetReps) : '');
  let next = '';
  if (phase === 'CLASS_PHASE_LOBBY') next = state?.next ? `First: ${state.next.exerciseName || 'exercise'}` : '';
  else if (!ended && state) next = describeNext(state.next, 'Next: the end of the class');
  setText('run-next', next);
  const count = Number(state?.intervalCount || 0);
  setText('run-position', current && count && !ended ? `Interval ${Number(current.index || 0) + 1} of ${count}` : '');
  $('countdown').dataset.intervalIndex = current && !ended ? String(current.index || 0) : '';

  // Controls, by phase.
  const live = phase === 'CLASS_PHASE_RUNNING' || phase === 'CLASS_PHASE_PAUSED';
  const timed = Number(current?.durationMs || 0) > 0;
  $('cmd-start').disabled = phase !== 'CLASS_PHASE_LOBBY';
  const pause = $('cmd-pause');
  pause.disabled = !live;
  pause.dataset.action = phase === 'CLASS_PHASE_PAUSED' ? 'resume' : 'pause';
  setText('cmd-pause', phase === 'CLASS_PHASE_PAUSED' ? 'Resume' : 'Pause');
  $('cmd-previous').disabled = !live || Number(current?.index || 0) === 0;
  $('cmd-next').disabled = !live;
  $('cmd-minus').disabled = !live || !timed;
  $('cmd-plus').disabled = !live || !timed;
  $('cmd-end').disabled = !phase || ended;
  $('cue-send').disabled = ended || !phase;
  renderCannedCues(r, ended || !phase);
  const lastCue = r.cues.length ? r.cues[r.cues.length - 1] : null;
  setText('last-cue', lastCue ? `Last cue: “${lastCue.text}”` : '');

  renderTrackNotes(r, phase === 'CLASS_PHASE_LOBBY' ? state?.next : (ended ? null : current));
  renderRoster(r);
  renderAlerts(r);
  renderSuggestions(r);
  renderCountdown();
}

/** Every track's note for the interval's exercise (the instructor sees all). */
function renderTrackNotes(r, interval) {
  const exercise = interval ? r.exercises.get(interval.exerciseId) : null;
  const options = (exercise?.trackOptions || []).filter((o) => o.note || o.alternativeExerciseId);
  if (!changedSince($('run-track-notes'), [exercise?.id || '', options])) return;
  $('run-track-notes').replaceChildren(...options.map((o) => {
    const li = el('li');
    li.dataset.track = o.track || '';
    li.append(el('strong', '', `${TRACK_LABELS[o.track] || 'Track'}: `), el('span', '', o.note || ''));
    if (o.alternativeExerciseId) {
      const instead = r.exercises.get(o.alternativeExerciseId)?.name || o.alternativeExerciseId;
      li.append(el('span', 'c-note', ` Or instead: ${instead}.`));
    }
    return li;
  }));
}

/** What a suggestion or plan item proposes, in a few words. */
function suggestionWhat(s) {
  let what = SUGGESTION_LABELS[s.kind] || 'Suggestion';
  if (s.kind === 'SUGGESTION_KIND_NEXT_STAGE' && s.suggestedStageName) what += `: ${s.suggestedStageName}`;
  else if (s.suggestedExerciseName) what += `: ${s.suggestedExerciseName}`;
  if (s.kind === 'SUGGESTION_KIND_WEAKER_SIDE_FIRST' && SIDE_WORDS[s.startSide]) what += ` (start ${SIDE_WORDS[s.startSide]})`;
  return what;
}

/** Accept / set aside buttons for an undecided suggestion, or its decision. */
function decisionControls(s, dismissLabel) {
  if (s.decision) return el('span', 'c-decision', DECISION_LABELS[s.decision] || s.decision);
  const row = el('span', 'c-sugg-actions');
  const decide = (decision) => command({decideSuggestion: {suggestionId: s.suggestionId, decision}}, 'Not decided');
  const accept = button('Accept', 'primary c-accept', () => decide('SUGGESTION_DECISION_ACCEPTED'));
  const dismiss = button(dismissLabel, 'c-dismiss', () => decide('SUGGESTION_DECISION_DISMISSED'));
  accept.dataset.suggestionId = s.suggestionId || '';
  dismiss.dataset.suggestionId = s.suggestionId || '';
  row.append(accept, dismiss);
  return row;
}

function renderCannedCues(r, disabled) {
  const current = r.state?.current;
  const exercise = current?.kind === 'INTERVAL_KIND_WORK' ? r.exercises.get(current.exerciseId) : null;
  const own = (exercise?.cues || []).slice(0, 4);
  const key = JSON.stringify([own, disabled]);
  const box = $('canned-cues');
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const buttons = [];
  own.forEach((text, index) => {
    const b = button(text, 'c-canned-cue', () => command({cue: {cannedCueIndex: index}}, 'Cue not sent'));
    b.dataset.cannedIndex = String(index);
    b.disabled = disabled;
    buttons.push(b);
  });
  for (const text of CANNED_CUES) {
    const b = button(text, 'c-canned-cue', () => command({cue: {text}}, 'Cue not sent'));
    b.disabled = disabled;
    buttons.push(b);
  }
  box.replaceChildren(...buttons);
}

function nameOf(r, participantId, fallback) {
  return r.roster.get(participantId)?.checkIn?.displayName || fallback || participantId || '';
}

function effortText(progress) {
  const parts = [];
  if (progress?.lastFeel && FEEL_LABELS[progress.lastFeel]) parts.push(FEEL_LABELS[progress.lastFeel]);
  if (progress?.lastCr10 !== undefined && progress?.lastCr10 !== null) parts.push(`CR-10 ${progress.lastCr10}`);
  return parts.join(' · ') || '–';
}

function renderRoster(r) {
  const entries = Array.from(r.roster.values());
  // Each participant's plan for today (suggestions made at join from her
  // past classes), under her row, to accept or set aside before the start.
  const plans = new Map();
  for (const s of Array.from(r.suggestions.values())
      .sort((x, y) => Number(x.madeUnixMs || 0) - Number(y.madeUnixMs || 0))) {
    if (!s.fromHistory) continue;
    if (!plans.has(s.participantId)) plans.set(s.participantId, []);
    plans.get(s.participantId).push(s);
  }
  if (!changedSince($('roster'), [entries, r.aggregates, Array.from(plans)])) return;
  const rows = entries.flatMap((e) => {
    const tr = document.createElement('tr');
    tr.dataset.participantId = e.participantId || '';
    tr.dataset.connection = e.connection || '';
    tr.dataset.done = e.doneCurrent ? 'true' : 'false';
    const progress = e.progress || {};
    const sets = (progress.blocks || []).reduce((n, b) => n + (b.setsDone || 0), 0);
    const name = el('td', 'c-name', e.checkIn?.displayName || e.participantId);
    if (e.profileId) {
      // A kept profile: her progress over her classes, in a panel.
      const who = e.checkIn?.displayName || e.participantId;
      const open = button('Progress', 'c-progress-button', () => openProgress(e.profileId, who));
      open.dataset.profileId = e.profileId;
      open.setAttribute('aria-label', `Progress of ${who}`);
      name.append(' ', open);
    }
    const connection = el('td', 'c-conn', CONNECTION_LABELS[e.connection] || '');
    const reps = el('td', 'c-progress', `${progress.totalReps || 0} reps · ${sets} sets`);
    reps.dataset.totalReps = String(progress.totalReps || 0);
    const done = el('td', 'c-done', e.doneCurrent ? '✓ done' : '');
    const effort = el('td', 'c-effort', effortText(progress));
    const symptoms = el('td', 'c-symptoms', (progress.symptoms || []).map((s) => SYMPTOM_LABELS[s] || s).join(', '));
    tr.append(name, connection, reps, done, effort, symptoms);
    const plan = plans.get(e.participantId) || [];
    if (!plan.length) return [tr];
    const planRow = document.createElement('tr');
    planRow.className = 'c-plan-row';
    planRow.dataset.participantId = e.participantId || '';
    const cell = el('td', 'c-plan');
    cell.colSpan = 6;
    const list = el('ul', 'c-plan-items');
    list.append(...plan.map((s) => {
      const li = el('li');
      li.dataset.suggestionId = s.suggestionId || '';
      li.dataset.kind = s.kind || '';
      li.dataset.decision = s.decision || 'SUGGESTION_DECISION_UNSPECIFIED';
      li.append(el('strong', '', suggestionWhat(s)), el('span', 'c-note', s.reason || ''),
          decisionControls(s, 'Set aside'));
      return li;
    }));
    cell.append(el('span', 'c-plan-title', 'Plan today: '), list);
    planRow.append(cell);
    return [tr, planRow];
  });
  $('roster').replaceChildren(...rows);
  $('no-roster').hidden = entries.length > 0;
  setText('roster-count', entries.length ? String(entries.length) : '');
  const a = r.aggregates || {};
  setText('agg-connected', String(a.connectedCount || 0));
  setText('agg-dropped', String(a.droppedCount || 0));
  setText('agg-done', String(a.doneCurrentCount || 0));
  setText('spread-easy', String(a.tooEasyCount || 0));
  setText('spread-right', String(a.justRightCount || 0));
  setText('spread-hard', String(a.tooHardCount || 0));
  setText('spread-median', a.medianCr10 === undefined ? '–' : String(Math.round(Number(a.medianCr10) * 10) / 10));
}

let progressLoads = 0;  // drops answers of superseded loads

/** Her progress over her classes (GetProgress by profile id), in the panel. */
async function openProgress(profileId, who) {
  const load = ++progressLoads;
  $('progress-panel').hidden = false;
  $('progress-panel').dataset.profileId = profileId;
  setText('progress-heading', `Progress: ${who}`);
  setText('progress-status', 'Loading…');
  $('progress-chart').replaceChildren();
  $('progress-rows').replaceChildren();
  try {
    const progress = await api(`/v1/profiles/${encodeURIComponent(profileId)}/progress`);
    if (load !== progressLoads) return;
    const count = drawProgress($('progress-chart'), $('progress-rows'), progress.classes, 'progress');
    setText('progress-status', count ? `${count} ${count === 1 ? 'class' : 'classes'} with her profile.`
      : 'No past classes yet: this is her first with her profile.');
  } catch (error) {
    if (load !== progressLoads || error instanceof SignedOut) return;
    setText('progress-status', `Cannot load her progress: ${messageOf(error)}`);
  }
}

function renderAlerts(r) {
  // The most urgent first; within a severity, the newest first.
  const alerts = Array.from(r.alerts.values()).sort((x, y) =>
    (SEVERITY_RANK[y.severity] || 0) - (SEVERITY_RANK[x.severity] || 0) ||
    Number(y.raisedUnixMs || 0) - Number(x.raisedUnixMs || 0));
  if (!changedSince($('alerts'), [alerts, alerts.map((a) => nameOf(r, a.participantId, a.displayName))])) return;
  $('alerts').replaceChildren(...alerts.map((a) => {
    const li = el('li');
    li.dataset.alertId = a.alertId || '';
    li.dataset.severity = a.severity || '';
    li.dataset.kind = a.kind || '';
    const head = el('span', 'c-alert-head');
    head.append(el('strong', 'c-severity', SEVERITY_LABELS[a.severity] || 'Alert'),
        el('span', 'c-alert-who', nameOf(r, a.participantId, a.displayName)));
    if (a.symptom && SYMPTOM_LABELS[a.symptom]) head.append(el('span', 'c-alert-symptom', SYMPTOM_LABELS[a.symptom]));
    head.append(el('span', 'c-note', clockTime(a.raisedUnixMs)));
    li.append(head, el('span', 'c-alert-text', a.text || ''));
    return li;
  }));
  const urgent = alerts.filter((a) => a.severity === 'ALERT_SEVERITY_PRIORITY').length;
  const count = $('alert-count');
  count.dataset.count = String(alerts.length);
  count.dataset.urgent = String(urgent);
  setText('alert-count', alerts.length ? String(alerts.length) : '');
  $('no-alerts').hidden = alerts.length > 0;
}

function renderSuggestions(r) {
  // Undecided first, then the newest.
  const list = Array.from(r.suggestions.values()).sort((x, y) =>
    (x.decision ? 1 : 0) - (y.decision ? 1 : 0) || Number(y.madeUnixMs || 0) - Number(x.madeUnixMs || 0));
  if (!changedSince($('suggestions'), [list, list.map((x) => nameOf(r, x.participantId))])) return;
  $('suggestions').replaceChildren(...list.map((s) => {
    const li = el('li');
    li.dataset.suggestionId = s.suggestionId || '';
    li.dataset.decision = s.decision || 'SUGGESTION_DECISION_UNSPECIFIED';
    const head = el('span', 'c-sugg-head');
    head.append(el('strong', '', nameOf(r, s.participantId)), el('span', '', suggestionWhat(s)));
    li.append(head, el('span', 'c-note', s.reason || ''));
    li.append(decisionControls(s, 'Dismiss'));
    return li;
  }));
  $('no-suggestions').hidden = list.length > 0;
}

/** Redraws the countdown from the deadline and the server clock (never by decrementing). */
function renderCountdown() {
  if (view !== 'run' || !run) return;
  const state = run.state || (run.info ? {phase: run.info.phase} : null);
  const el = $('countdown');
  const {mode, ms, text} = state ? countdownOf(state) : {mode: 'lobby', ms: null, text: '--:--'};
  if (el.dataset.mode !== mode) el.dataset.mode = mode;
  const msText = ms === null ? '' : String(Math.round(ms));
  if (el.dataset.remainingMs !== msText) el.dataset.remainingMs = msText;
  if (el.textContent !== text) el.textContent = text;
}

// --- After class -------------------------------------------------------------------

let summaryClassId = null;

async function openSummary(classId) {
  showView('summary');
  summaryClassId = classId;
  setText('summary-title', 'Loading the summary…');
  setText('summary-meta', '');
  showError('export-error', '');
  $('summary-participants').replaceChildren();
  let summary;
  try {
    summary = await api(`/v1/classes/${encodeURIComponent(classId)}/summary`);
    setStatus('connected');
  } catch (error) {
    if (error instanceof SignedOut) return;
    setText('summary-title', 'No summary');
    showError('export-error', `Summary: ${messageOf(error)}`);
    return;
  }
  if (view !== 'summary' || summaryClassId !== classId) return;
  renderSummary(summary);
}

function renderSummary(summary) {
  const info = summary.classInfo || {};
  setText('summary-title', info.title || info.circuitName || info.classId || 'Class');
  document.title = `${info.title || 'Summary'} · Circuit console`;
  const meta = [info.circuitName, PHASE_LABELS[info.phase]];
  if (Number(info.startedUnixMs) && Number(info.endedUnixMs)) {
    meta.push(`${clockTime(info.startedUnixMs)}–${clockTime(info.endedUnixMs)} (${formatElapsed(Number(info.endedUnixMs) - Number(info.startedUnixMs))})`);
  }
  setText('summary-meta', meta.filter(Boolean).join(' · '));
  const total = String(summary.totalReps || 0);
  $('summary-total').dataset.total = total;
  setText('summary-total', total);
  const people = summary.participants || [];
  $('summary-empty').hidden = people.length > 0;
  $('summary-participants').replaceChildren(...people.map((p) => {
    const card = el('article', 'c-panel c-person');
    card.dataset.participantId = p.participantId || '';
    const head = el('header', 'c-person-head');
    head.append(el('h3', '', p.checkIn?.displayName || p.participantId),
        el('span', 'c-person-total', `${p.totalReps || 0} reps`),
        el('span', 'c-note', CONNECTION_LABELS[p.connection] || ''));
    card.append(head);
    const table = el('table', 'c-totals');
    const thead = el('thead');
    const hr = el('tr');
    for (const h of ['Exercise', 'Left', 'Right', 'Both', 'Sets']) hr.append(el('th', '', h));
    thead.append(hr);
    const tbody = el('tbody');
    for (const e of p.exercises || []) {
      const tr = el('tr');
      tr.dataset.exerciseId = e.exerciseId || '';
      tr.append(el('td', '', e.exerciseName || e.exerciseId), el('td', 'c-num', String(e.leftReps || 0)),
          el('td', 'c-num', String(e.rightReps || 0)), el('td', 'c-num', String(e.bothReps || 0)),
          el('td', 'c-num', String(e.sets || 0)));
      tbody.append(tr);
    }
    table.append(thead, tbody);
    card.append(table);
    const health = [];
    if (p.healthDataRemoved) health.push('Effort and symptoms removed.');
    if ((p.efforts || []).length) health.push(`${p.efforts.length} effort ratings`);
    if ((p.symptoms || []).length) {
      health.push(`Symptoms: ${p.symptoms.map((s) => SYMPTOM_LABELS[s.symptom] || s.symptom).join(', ')}`);
    }
    const accepted = (p.suggestions || []).filter((s) => s.decision === 'SUGGESTION_DECISION_ACCEPTED').length;
    if ((p.suggestions || []).length) health.push(`${p.suggestions.length} suggestions (${accepted} accepted)`);
    if (health.length) card.append(el('p', 'c-note', health.join(' · ')));
    return card;
  }));
}

/** Downloads the export with the Bearer header: fetch, then a Blob and a temporary <a download>. */
async function downloadExport(format) {
  const classId = summaryClassId;
  if (!classId || !credential) return;
  showError('export-error', '');
  const table = format === 'csv' ? `&table=${encodeURIComponent($('export-table')?.value || 'sets')}` : '';
  const url = `/v1/classes/${encodeURIComponent(classId)}:export?format=${format}${table}`;
  let response;
  try {
    response = await fetchFromNode(url, {headers: {Authorization: `Bearer ${credential}`}, cache: 'no-store'});
  } catch {
    showError('export-error', 'Cannot reach the studio server.');
    return;
  }
  if (!response.ok) {
    const error = await apiErrorFrom(response);
    if (isUnauthorized(error)) {
      signOut(`The server no longer accepts this sign-in: ${error.message || error.code}`);
    } else {
      showError('export-error', `Export: ${messageOf(error)}`);
    }
    return;
  }
  const blob = await response.blob();
  const disposition = response.headers.get('Content-Disposition') || '';
  const named = /filename="([^"]+)"/.exec(disposition);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = named ? named[1] : `${classId}.${format}`;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

// --- Start -------------------------------------------------------------------------

/** After signing in (or on load with a stored credential): the class being run, or the list. */
async function openStart() {
  const classId = readStored(CLASS_KEY);
  if (classId) await openRun(classId);
  else await openClasses();
}

function wire() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn($('signin-input').value).catch(ignoreSignedOut);
  });
  $('signin-again').addEventListener('click', () => showSignIn());
  $('progress-close').addEventListener('click', () => {
    ++progressLoads;
    $('progress-panel').hidden = true;
  });
  $('sign-out').addEventListener('click', () => {
    store(CLASS_KEY, null);
    signOut('You signed out. The credential is forgotten on this device.');
  });
  $('nav-classes').addEventListener('click', () => openClasses().catch(ignoreSignedOut));
  $('create-form').addEventListener('submit', (event) => createClass(event).catch(ignoreSignedOut));
  $('tv-form').addEventListener('submit', (event) => pairTv(event).catch(ignoreSignedOut));
  $('cmd-start').addEventListener('click', () => command({start: {}}, 'Not started'));
  $('cmd-pause').addEventListener('click', (event) => {
    const action = event.currentTarget.dataset.action === 'resume' ? {resume: {}} : {pause: {}};
    command(action, 'Not done');
  });
  $('cmd-next').addEventListener('click', () => command({next: {}}, 'Not moved on'));
  $('cmd-previous').addEventListener('click', () => command({previous: {}}, 'Not moved back'));
  $('cmd-minus').addEventListener('click', () => command({adjustTime: {deltaMs: String(-ADJUST_MS)}}, 'Time not changed'));
  $('cmd-plus').addEventListener('click', () => command({adjustTime: {deltaMs: String(ADJUST_MS)}}, 'Time not changed'));
  $('cmd-end').addEventListener('click', () => {
    $('end-confirm').hidden = false;
    $('end-yes').focus();
  });
  $('end-no').addEventListener('click', () => {
    $('end-confirm').hidden = true;
  });
  $('end-yes').addEventListener('click', async () => {
    $('end-confirm').hidden = true;
    await command({end: {}}, 'Not ended');
  });
  $('cue-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('cue-input').value.trim();
    if (!text) return;
    if (await command({cue: {text}}, 'Cue not sent')) $('cue-input').value = '';
  });
  $('run-summary').addEventListener('click', () => {
    if (run) openSummary(run.classId).catch(ignoreSignedOut);
  });
  $('export-csv').addEventListener('click', () => downloadExport('csv'));
  $('export-json').addEventListener('click', () => downloadExport('json'));
  $('summary-back').addEventListener('click', () => openClasses().catch(ignoreSignedOut));

  setInterval(renderCountdown, 100);
  setInterval(() => {
    if (credential && view === 'summary') checkMe().catch(ignoreSignedOut);
  }, ME_POLL_MS);
  window.addEventListener('online', () => {
    syncClock();
    if (run?.abort) run.abort.abort();  // resume at once on a fresh connection
    if (run?.wake) run.wake.abort();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') syncClock();
  });
}

function ignoreSignedOut(error) {
  if (!(error instanceof SignedOut)) console.warn('circuit:', error);
}

async function main() {
  wire();
  startClock();
  // A sign-in link: /console#code=ABCDEFGHJK. Take the code out of the
  // address bar (and so out of the history) before anything else.
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const code = fragment.get('code');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  if (code) {
    await signIn(code);
    return;
  }
  if (!credential) {
    showSignIn();
    return;
  }
  await checkMe();
  await openStart();
}

main().catch(ignoreSignedOut);
