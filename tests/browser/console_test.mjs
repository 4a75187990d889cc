#!/usr/bin/env node
// The browser side of tests/browser/browser_console_test.cc: Debian's
// chromium, headless, driven by puppeteer-core. The instructor's console
// (/console) at tablet size, a studio TV page (/kiosk) and two phone pages
// (/), each in a browser context of its own (no shared storage). The C++ test
// runs circuitd and does what happens outside the pages (adding and revoking
// the account, issuing the sign-in code, checking what the server recorded);
// it drives this script with one command per line, and every answer is one
// line on stdout. Anything unexpected ends the script with `error <text>`
// (exit 1).
//
//   node console_test.mjs --base URL --code SIGNINCODE [--chromium PATH]
//                         [--commands-fd N]
//
// --code is a one-time sign-in code (IssueSignInCode) for the instructor.
//
// On start it opens /console#code=CODE and, once signed in, prints
//   signed-in <fragment_left 0|1> <stored 0|1>
// Commands, and what each answers:
//   create <circuit_id> <title...>  created <class_id> <join_code>
//   pair-tv <name>                  tv <kiosk_id>     (the kiosk page opened its class stream)
//   join A|B                        joined <who> <participant_id> (on the console's roster)
//   start                           started           (running, countdown shown)
//   log <who> <reps>                logged <who> <reps_on_console>
//   effort <who>                    effort <who> <console's effort cell>
//   symptom <who>                   alert <who> <severity> <symptom_label> <suggestion_id>
//   accept <suggestion_id>          accepted <phone's decision text>
//   cue <text...>                   cued              (both phones show it)
//   adjust                          adjusted <remaining_before> <remaining_after> (+30 s then -30 s)
//   reopen                          reopened <roster_rows> <alerts>
//       (the console's tab closed and opened again: it comes back to the class)
//   screenshots <dir> <name>        screenshots <name>  (1280x800 and 1440x900)
//   revoke-tv                       tv-revoked        (the kiosk page shows a pairing code again)
//   end                             summary <total_reps> <participants>
//   csv <dir>                       csv <path>        (downloaded through the page)
//   json <dir>                      json <class_id> <participants> (downloaded, parsed)
//   back                            classes
//   await-signed-out                signed-out <reason>
//   reuse                           refused <fragment_left 0|1> <error text>
//   finish                          problem <text> lines; then `finished`
//   quit                            bye (and exits 0)
//
// Set BROWSER_TEST_TRACE=1 for a trace on stderr.

import {mkdirSync, readdirSync, readFileSync} from 'node:fs';
import {STEP_MS, launchChromium, oneLine, openPage, parseArgs, quit, say, serveCommands, trace} from './harness.mjs';

const args = parseArgs(process.argv.slice(2), ['base', 'code']);
let browser = null;

const TABLET = {width: 1280, height: 800};
const LAPTOP = {width: 1440, height: 900};
const PHONE = {width: 360, height: 780, deviceScaleFactor: 2, isMobile: true, hasTouch: true};
const PEOPLE = {
  A: {name: 'Annika <img src=x onerror=alert(1)>'},
  B: {name: 'Bea Strong'},
};

// Runs in every page before its own scripts: CSP violations are problems.
function instrumentPage() {
  window.__circuit = {problems: []};
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__circuit.problems.push(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
  });
}

const pages = [];

async function newPage(label, viewport) {
  const p = await openPage(browser, label, viewport, {instrument: instrumentPage, network: false});
  p.page.on('response', (r) => trace(`${label} ${r.request().method()} ${r.url()} ${r.status()}`));
  pages.push(p);
  return p;
}

async function waitFor(page, fn, what, ...fnArgs) {
  try {
    const handle = await page.waitForFunction(fn, {timeout: STEP_MS}, ...fnArgs);
    return await handle.jsonValue();
  } catch (e) {
    // What the page said, if it said anything.
    const said = await page.evaluate(() => Array.from(document.querySelectorAll('[role="alert"]'))
        .filter((el) => !el.hidden && el.textContent).map((el) => `#${el.id}: ${el.textContent}`).join('; '))
        .catch(() => '');
    throw new Error(`waiting for ${what}: ${e.message}${said ? ` (the page says ${said})` : ''}`);
  }
}

function viewIs(page, name) {
  return waitFor(page, (n) => document.body.dataset.view === n, `the ${name} view`, name);
}

// Clicks like a finger: the element first comes to the middle of the screen
// (so the console's sticky top bar cannot be over it).
async function click(page, selector) {
  const locator = page.locator(selector).setTimeout(STEP_MS);
  await locator.wait();
  await page.$eval(selector, (el) => el.scrollIntoView({block: 'center', behavior: 'instant'}));
  await locator.click();
}

// --- The console --------------------------------------------------------------

let consolePage = null;
let joinCode = '';
let classId = '';

async function openConsole() {
  consolePage = await newPage('console', TABLET);
  await consolePage.page.goto(`${args.base}/console#code=${args.code}`, {timeout: STEP_MS});
  await viewIs(consolePage.page, 'classes');
  const state = await consolePage.page.evaluate(() => ({
    hash: location.hash,
    href: location.href,
    stored: localStorage.getItem('circuit.console.credential') || '',
  }));
  say(`signed-in ${state.hash || state.href.includes('#') ? 1 : 0} ${state.stored ? 1 : 0}`);
}

async function create(circuitId, title) {
  const page = consolePage.page;
  await click(page, `label[data-circuit-id="${circuitId}"] input`);
  await page.locator('#create-title').setTimeout(STEP_MS).fill(title);
  await click(page, '#create-button');
  await viewIs(page, 'run');
  const info = await waitFor(page, () => {
    const code = document.getElementById('run-join-code').textContent.trim();
    const title = document.getElementById('run-title').textContent.trim();
    return /^[A-Z0-9]{6}$/.test(code) ? {code, title} : null;
  }, 'the join code on the console');
  joinCode = info.code;
  classId = await page.evaluate(() => localStorage.getItem('circuit.console.class') || '');
  if (info.title !== title) throw new Error(`the console shows the title ${JSON.stringify(info.title)}`);
  say(`created ${classId} ${joinCode}`);
}

let kiosk = null;

async function pairTv(name) {
  kiosk = await newPage('kiosk', {width: 1920, height: 1080});
  const watching = new Promise((resolve) => {
    kiosk.page.on('response', (r) => {
      if (/\/v1\/classes\/[^/]+:watch/.test(r.url()) && r.status() === 200) resolve();
    });
  });
  await kiosk.page.goto(`${args.base}/kiosk`, {timeout: STEP_MS});
  const code = await waitFor(kiosk.page, () => {
    const text = (document.getElementById('pairing-code')?.textContent || '').replace(/\s+/g, '');
    return /^[A-Z0-9]{6}$/i.test(text) ? text : null;
  }, 'the pairing code on the TV');
  const page = consolePage.page;
  await page.locator('#tv-code').setTimeout(STEP_MS).fill(code.toLowerCase());
  await page.locator('#tv-name').setTimeout(STEP_MS).fill(name);
  await click(page, '#tv-pair');
  const kioskId = await waitFor(page, (n) => {
    for (const li of document.querySelectorAll('#tv-list li')) {
      if (li.textContent.includes(n)) return li.dataset.kioskId;
    }
    return null;
  }, 'the TV in the console\'s list', name);
  let timer;
  await Promise.race([watching, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('the kiosk never opened its class stream')), 30000);
  })]);
  clearTimeout(timer);
  await waitFor(kiosk.page, (c) => document.getElementById('join-code')?.textContent.trim() === c,
      'the kiosk to show the class\'s join code', joinCode);
  say(`tv ${kioskId}`);
}

async function revokeTv() {
  await click(consolePage.page, '#tv-list li button');
  await waitFor(consolePage.page, () => document.querySelectorAll('#tv-list li').length === 0,
      'the TV to leave the console\'s list');
  await viewIs(kiosk.page, 'pairing');
  say('tv-revoked');
}

// --- Phones --------------------------------------------------------------------

const phones = {};

async function join(who) {
  const p = await newPage(`phone ${who}`, PHONE);
  phones[who] = p;
  const joined = new Promise((resolve) => {
    p.page.on('response', async (r) => {
      if (r.url().endsWith('/v1/classes:join') && r.status() === 200) resolve();
    });
  });
  await p.page.goto(`${args.base}/`, {timeout: STEP_MS});
  await p.page.locator('#join-code').setTimeout(STEP_MS).fill(joinCode);
  await p.page.locator('#display-name').setTimeout(STEP_MS).fill(PEOPLE[who].name);
  await click(p.page, '#join-button');
  await joined;
  await waitFor(p.page, () => !document.getElementById('class-view').hidden, `${who}'s class view`);
  const id = await waitFor(consolePage.page, (name) => {
    for (const tr of document.querySelectorAll('#roster tr')) {
      const cell = tr.querySelector('.c-name');
      if (cell && cell.textContent === name && tr.dataset.connection === 'CONNECTION_STATE_CONNECTED') {
        return tr.dataset.participantId;
      }
    }
    return null;
  }, `${who} on the console's roster, connected`, PEOPLE[who].name);
  p.participantId = id;
  say(`joined ${who} ${id}`);
}

function rosterCell(who, cell) {
  return waitFor(consolePage.page, (id, c) => {
    const tr = document.querySelector(`#roster tr[data-participant-id="${id}"]`);
    return tr ? {text: tr.querySelector(c).textContent, done: tr.dataset.done,
      reps: tr.querySelector('.c-progress').dataset.totalReps} : null;
  }, `${who}'s roster row`, phones[who].participantId, cell);
}

async function start() {
  const page = consolePage.page;
  await click(page, '#cmd-start');
  await waitFor(page, () => {
    const c = document.getElementById('countdown');
    return document.getElementById('run-view').dataset.phase === 'CLASS_PHASE_RUNNING' &&
        c.dataset.mode === 'running' && /^\d\d:\d\d$/.test(c.textContent) && c.dataset.intervalIndex === '0';
  }, 'the console to show the class running with a countdown');
  say('started');
}

async function log(who, reps) {
  const p = phones[who];
  await waitFor(p.page, () => document.getElementById('countdown').dataset.intervalIndex === '0',
      `${who}'s phone at the first interval`);
  await p.page.locator('#reps').setTimeout(STEP_MS).fill(String(reps));
  await click(p.page, '#log-set');
  const row = await waitFor(consolePage.page, (id, n) => {
    const tr = document.querySelector(`#roster tr[data-participant-id="${id}"]`);
    return tr && tr.dataset.done === 'true' && tr.querySelector('.c-progress').dataset.totalReps === String(n)
      ? tr.querySelector('.c-progress').dataset.totalReps : null;
  }, `${who}'s set on the console`, p.participantId, reps);
  say(`logged ${who} ${row}`);
}

async function effort(who) {
  await click(phones[who].page, '#effort-too-hard');
  const text = await waitFor(consolePage.page, (id) => {
    const tr = document.querySelector(`#roster tr[data-participant-id="${id}"]`);
    const cell = tr?.querySelector('.c-effort')?.textContent || '';
    const spread = document.getElementById('spread-hard').textContent;
    return cell.includes('Too hard') && spread === '1' ? cell : null;
  }, `${who}'s effort on the console`, phones[who].participantId);
  say(`effort ${who} ${oneLine(text)}`);
}

async function symptom(who) {
  const p = phones[who];
  await click(p.page, '#symptom-leaking');
  await click(p.page, '#symptom-send');
  const page = consolePage.page;
  const alert = await waitFor(page, (id) => {
    const li = document.querySelector('#alerts li[data-kind="ALERT_KIND_SYMPTOM"]');
    if (!li) return null;
    const first = document.querySelector('#alerts li');
    const sugg = document.querySelector(`#suggestions li[data-decision="SUGGESTION_DECISION_UNSPECIFIED"]`);
    if (!sugg) return null;
    const row = document.querySelector(`#roster tr[data-participant-id="${id}"] .c-symptoms`);
    if (!row || !row.textContent) return null;
    return {first: first === li, severity: li.dataset.severity,
      symptom: li.querySelector('.c-alert-symptom')?.textContent || '',
      who: li.querySelector('.c-alert-who')?.textContent || '',
      suggestion: sugg.dataset.suggestionId};
  }, `${who}'s alert and suggestion on the console`, p.participantId);
  if (!alert.first) throw new Error('the symptom alert is not first');
  if (alert.who !== PEOPLE[who].name) throw new Error(`the alert names ${JSON.stringify(alert.who)}`);
  say(`alert ${who} ${alert.severity} ${alert.symptom.replace(/\s+/g, '_')} ${alert.suggestion}`);
}

async function accept(suggestionId) {
  const page = consolePage.page;
  await click(page, `#suggestions button.c-accept[data-suggestion-id="${suggestionId}"]`);
  await waitFor(page, (id) => document.querySelector(`#suggestions li[data-suggestion-id="${id}"]`)
      ?.dataset.decision === 'SUGGESTION_DECISION_ACCEPTED', 'the console to show it accepted', suggestionId);
  const text = await waitFor(phones.A.page, (id) => {
    const li = document.querySelector(`#suggestions li[data-suggestion-id="${id}"]`);
    return li?.dataset.decision === 'SUGGESTION_DECISION_ACCEPTED' ? li.querySelector('.decision').textContent : null;
  }, 'the phone to show the accepted suggestion', suggestionId);
  say(`accepted ${oneLine(text)}`);
}

async function cue(text) {
  const page = consolePage.page;
  await page.locator('#cue-input').setTimeout(STEP_MS).fill(text);
  await click(page, '#cue-send');
  for (const who of Object.keys(phones)) {
    await waitFor(phones[who].page, (t) => document.getElementById('cues').textContent.includes(t),
        `${who}'s phone to show the cue`, text);
  }
  say('cued');
}

// The tablet's browser closes the tab and opens the console again: the page
// comes back to the class it was running, with the roster and alerts.
async function reopen() {
  const old = consolePage.page;
  const page = await consolePage.context.newPage();
  await page.setViewport(TABLET);
  page.on('pageerror', (e) => consolePage.problems.push(`console reopened: uncaught ${oneLine(e.message)}`));
  page.on('dialog', async (d) => {
    consolePage.problems.push(`console reopened: a ${d.type()} dialog`);
    await d.dismiss();
  });
  await page.evaluateOnNewDocument(instrumentPage);
  await old.close();
  consolePage.page = page;
  await page.goto(`${args.base}/console`, {timeout: STEP_MS});
  await viewIs(page, 'run');
  const shown = await waitFor(page, () => {
    const rows = document.querySelectorAll('#roster tr').length;
    const alerts = document.querySelectorAll('#alerts li').length;
    const running = document.getElementById('countdown').dataset.mode === 'running';
    return rows && alerts && running ? {rows, alerts} : null;
  }, 'the reopened console to show the class');
  say(`reopened ${shown.rows} ${shown.alerts}`);
}

async function adjust() {
  const page = consolePage.page;
  const remaining = () => page.evaluate(() => Number(document.getElementById('countdown').dataset.remainingMs));
  const before = await remaining();
  await click(page, '#cmd-plus');
  await waitFor(page, (b) => Number(document.getElementById('countdown').dataset.remainingMs) > b + 20000,
      'the countdown to gain 30 s', before);
  const after = await remaining();
  await click(page, '#cmd-minus');
  await waitFor(page, (a) => Number(document.getElementById('countdown').dataset.remainingMs) < a - 20000,
      'the countdown to lose 30 s', after);
  say(`adjusted ${Math.round(before)} ${Math.round(after)}`);
}

// --- Pictures and the layout's checks --------------------------------------------

async function checkLayout(what) {
  const page = consolePage.page;
  const found = await page.evaluate(() => {
    const out = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth) out.push(`scrolls sideways: ${doc.scrollWidth} > ${window.innerWidth}`);
    for (const node of document.querySelectorAll('button, input, select, label.c-circuit')) {
      const r = node.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;  // not shown
      if (node.type === 'radio') continue;  // its label is the target
      if (r.height < 44 || r.width < 44) {
        out.push(`a small target: ${node.id || node.className || node.tagName} ${Math.round(r.width)}x${Math.round(r.height)}`);
      }
      if (r.right > window.innerWidth + 1) out.push(`off the right edge: ${node.id || node.className || node.tagName}`);
    }
    return out;
  });
  for (const f of found) consolePage.problems.push(`console ${what}: ${f}`);
}

async function screenshots(dir, name) {
  mkdirSync(dir, {recursive: true});
  const page = consolePage.page;
  for (const viewport of [TABLET, LAPTOP]) {
    await page.setViewport(viewport);
    await checkLayout(`${name} at ${viewport.width}x${viewport.height}`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({path: `${dir}/console-${name}-${viewport.width}x${viewport.height}.png`});
  }
  await page.setViewport(TABLET);
  say(`screenshots ${name}`);
}

// --- After class -----------------------------------------------------------------

async function end() {
  const page = consolePage.page;
  await click(page, '#cmd-end');
  await click(page, '#end-yes');
  await viewIs(page, 'summary');
  const summary = await waitFor(page, () => {
    const cards = document.querySelectorAll('#summary-participants .c-person');
    return cards.length ? {total: document.getElementById('summary-total').dataset.total, count: cards.length} : null;
  }, 'the summary');
  say(`summary ${summary.total} ${summary.count}`);
}

// Clicks `button` on the summary and returns the path of the file the
// browser downloads.
async function download(dir, button) {
  mkdirSync(dir, {recursive: true});
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', {
    behavior: 'allow', downloadPath: dir, browserContextId: consolePage.context.id, eventsEnabled: true});
  const done = new Promise((resolve, reject) => {
    const names = new Map();
    cdp.on('Browser.downloadWillBegin', (e) => names.set(e.guid, e.suggestedFilename));
    cdp.on('Browser.downloadProgress', (e) => {
      if (e.state === 'completed') resolve(names.get(e.guid));
      if (e.state === 'canceled') reject(new Error('the download was cancelled'));
    });
  });
  await click(consolePage.page, button);
  let timer;
  const name = await Promise.race([done, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('no download')), STEP_MS);
  })]);
  clearTimeout(timer);
  await cdp.detach();
  if (!readdirSync(dir).includes(name)) throw new Error(`${name} is not in ${dir}`);
  return `${dir}/${name}`;
}

async function csv(dir) {
  await consolePage.page.select('#export-table', 'sets');
  say(`csv ${await download(dir, '#export-csv')}`);
}

async function json(dir) {
  const path = await download(dir, '#export-json');
  const summary = JSON.parse(readFileSync(path, 'utf8'));
  // As `circuit class export --format=json` writes it: proto field names.
  const info = summary.class_info || summary.classInfo || {};
  say(`json ${info.class_id || info.classId} ${(summary.participants || []).length}`);
}

async function back() {
  await click(consolePage.page, '#summary-back');
  await viewIs(consolePage.page, 'classes');
  say('classes');
}

async function awaitSignedOut() {
  const page = consolePage.page;
  await viewIs(page, 'signedout');
  const state = await page.evaluate(() => ({
    reason: document.getElementById('signedout-reason').textContent,
    stored: localStorage.getItem('circuit.console.credential'),
  }));
  if (state.stored) throw new Error('the credential is still stored after signing out');
  say(`signed-out ${oneLine(state.reason)}`);
}

async function reuse() {
  const p = await newPage('console again', LAPTOP);
  await p.page.goto(`${args.base}/console#code=${args.code}`, {timeout: STEP_MS});
  await viewIs(p.page, 'signin');
  const error = await waitFor(p.page, () => {
    const el = document.getElementById('signin-error');
    return el && !el.hidden && el.textContent ? el.textContent : null;
  }, 'the refusal on the sign-in screen');
  const state = await p.page.evaluate(() => ({
    hash: location.href.includes('#'),
    stored: localStorage.getItem('circuit.console.credential'),
  }));
  if (state.stored) throw new Error('a refused code left a credential');
  say(`refused ${state.hash ? 1 : 0} ${oneLine(error)}`);
}

async function finish() {
  for (const p of pages) {
    const inPage = await p.page.evaluate(() => window.__circuit?.problems || []).catch(() => []);
    for (const problem of [...p.problems, ...inPage.map((t) => `${p.label}: ${t}`)]) {
      say(`problem ${oneLine(problem)}`);
    }
  }
  // Names are text: nothing made an element out of A's.
  const injected = await consolePage.page.$$eval('img', (els) => els.length);
  if (injected > 0) say(`problem console: ${injected} <img> made from a name`);
  say('finished');
}

// --- Commands ------------------------------------------------------------------

async function run(words) {
  const [command] = words;
  const rest = words.slice(1).join(' ');
  switch (command) {
    case 'create':
      return create(words[1], words.slice(2).join(' '));
    case 'pair-tv':
      return pairTv(rest);
    case 'join':
      return join(words[1]);
    case 'start':
      return start();
    case 'log':
      return log(words[1], Number(words[2]));
    case 'effort':
      return effort(words[1]);
    case 'symptom':
      return symptom(words[1]);
    case 'accept':
      return accept(words[1]);
    case 'cue':
      return cue(rest);
    case 'adjust':
      return adjust();
    case 'reopen':
      return reopen();
    case 'screenshots':
      return screenshots(words[1], words[2]);
    case 'revoke-tv':
      return revokeTv();
    case 'end':
      return end();
    case 'csv':
      return csv(words[1]);
    case 'json':
      return json(words[1]);
    case 'back':
      return back();
    case 'await-signed-out':
      return awaitSignedOut();
    case 'reuse':
      return reuse();
    case 'finish':
      return finish();
    case 'quit':
      return quit();
    default:
      throw new Error(`unknown command ${JSON.stringify(words.join(' '))}`);
  }
}

browser = await launchChromium(args.chromium);
await openConsole();

serveCommands(args.commandsFd, run);
