#!/usr/bin/env node
// The browser side of tests/browser/browser_class_test.cc: Debian's chromium,
// headless, driven by puppeteer-core, with the studio TV page (/kiosk) and two
// participant pages (/), each in a browser context of its own (incognito: no
// shared storage). The C++ test runs circuitd and the instructor, and drives
// this script with one command per line on stdin; every answer is one line on
// stdout. Anything unexpected ends the script with `error <text>` (exit 1).
//
//   node class_test.mjs --base URL --proxied-base URL --code JOINCODE
//                       --skew-ms N [--chromium PATH] [--commands-fd N]
//
// Commands come on stdin, or on the inherited file descriptor --commands-fd.
//
// --base is circuitd's HTTP listener; participant B's page is opened through
// --proxied-base instead (a TCP proxy the C++ test cuts to take B offline).
// --skew-ms is how far the server's clock runs ahead of this machine's.
//
// On start it launches chromium, opens the kiosk page and prints
//   pairing <CODE>                  the code the kiosk page shows
// then, once the instructor approved it and the page opened its class stream,
//   kiosk watching
// Commands, and what each answers:
//   join A|B                        joined <who> <participant_id>
//   interval <index> <deadline_unix_ms>
//       waits until the kiosk shows interval <index>, then checks its
//       countdown against the server's deadline (see checkCountdown):
//                                   kiosk <index> <samples> <max_abs_error_ms>
//   layout <who>                    layout <who> ok, or what is out of place:
//       on the 360x740 phone, the exercise, side, countdown, log set and the
//       effort buttons lie inside the viewport and below the sticky header
//   note <who>                      note <who> <the track note shown, or nothing>
//   log <who> <index> <reps>        logged <who> <index> <reps> <block> <set> <side>
//       (the completion as the page sent it, once acknowledged)
//   effort <who>                    effort <who>      (too hard, acknowledged)
//   symptom <who>                   symptom <who>     (SYMPTOM_OTHER + text, acknowledged)
//   offline <who>                   offline <who>     (the page's network is off)
//   log-offline <who> <index> <reps>   queued <who> <report_id>
//       (logged while offline: the page shows it unacknowledged)
//   online <who> <cue>              synced <who> <report_id> <acks> <duplicate_acks>
//       (network back; waits until the page shows <cue>, sent while it was
//       away, and has no unacknowledged report)
//   screenshots <dir> <total_reps>  screenshots <dir>
//       (once the kiosk shows the class's total reps)
//   finish                          a line each of: own <who> <total>,
//                                   wall <text>, leak <where> <token> <context>,
//                                   problem <text> (page errors, CSP violations,
//                                   dialogs, injected markup), kiosk-capture
//                                   <bytes> <stream_chunks> <saw_consenting_name>;
//                                   then `finished`
//   quit                            bye (and exits 0)
//
// Set BROWSER_TEST_TRACE=1 for a trace on stderr.

import {mkdirSync} from 'node:fs';
import {STEP_MS, launchChromium, oneLine, openPage, parseArgs, quit, say, serveCommands,
  sseMessages, trace, until} from './harness.mjs';

const args = parseArgs(process.argv.slice(2), ['base', 'proxiedBase', 'code', 'skewMs']);
args.skewMs = Number(args.skewMs);
let browser = null;

// The pages' elements, in one place.
const SELECTORS = {
  // data-remaining-ms and data-interval-index, on both pages.
  countdown: '#countdown',
  wall: '#wall li',
  kioskTotalReps: '#total-reps',
  pairingCode: '#pairing-code',
  joinCode: '#join-code',
  joinName: '#display-name',
  joinShowName: '#show-name',
  joinSubmit: '#join-button',
  reps: '#reps',
  logSet: '#log-set',
  effortTooHard: '#effort-too-hard',
  symptomOther: '#symptom-other',
  symptomText: '#symptom-other-text',
  symptomSend: '#symptom-send',
  unackedCount: '#unacked-count',
  ownTotalReps: '#own-total-reps',
  cues: '#cues',
};

// Who joins: A consents to the wall and has a name that is markup, to prove
// it is shown as text; B does not consent, so its name must never reach the
// kiosk. A reports the symptom and the effort; B goes offline.
const PEOPLE = {
  A: {name: 'Annika <img src=x onerror=alert(1)>', showName: true, track: 'RECOVERY_TRACK_CESAREAN'},
  B: {name: 'Bea Quietly', showName: false},
};
const CONSENTING_MARKER = 'Annika';
// SYMPTOM_OTHER's text: unique, so a leak anywhere is found.
const SYMPTOM_TEXT = 'zq-twinge-7731 left SI joint';
// What must never reach the kiosk: in its DOM or in any response body.
// Track options (A's track's note among them) go to phones and the
// instructor only.
const KIOSK_FORBIDDEN_ANYWHERE = [SYMPTOM_TEXT, 'zq-twinge', PEOPLE.B.name,
  'Leaning on the rack puts the belly under load'];
// ... and in the API's answers and event streams (/v1/...), and in the DOM
// (less its scripts and comments, which may name these).
const KIOSK_FORBIDDEN_DATA = [
  'SYMPTOM_', 'EFFORT_FEEL_', 'cr10', 'Cr10', 'lastFeel', '"symptom', '"effort',
  'Too hard', 'too hard', 'trackOptions', 'RECOVERY_TRACK_',
];

// Runs in every page before its own scripts: records each render of the
// countdown (the browser's clock when its attributes change), and anything
// that should never happen on these pages.
function instrumentPage(countdownSelector) {
  window.__circuit = {renders: [], problems: [], domText: []};
  const record = window.__circuit;
  document.addEventListener('securitypolicyviolation', (e) => {
    record.problems.push(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
  });
  new MutationObserver((mutations) => {
    const now = Date.now();
    for (const m of mutations) {
      // What was put in the DOM (markup with attributes, or text), for the
      // kiosk's leak check.
      for (const node of m.addedNodes) {
        if (node.nodeType === Node.ELEMENT_NODE) {
          record.domText.push(node.outerHTML);
        } else if (node.nodeType === Node.TEXT_NODE) {
          record.domText.push(node.data);
        }
      }
      if (m.type === 'characterData') record.domText.push(m.target.data);
      if (m.type === 'attributes' && m.target.getAttribute(m.attributeName)) {
        record.domText.push(m.target.getAttribute(m.attributeName));
      }
    }
    if (record.domText.length > 5000) record.domText.splice(0, 2500);
    const el = document.querySelector(countdownSelector);
    // Only renders of a current interval with a number shown.
    if (!el || !el.getAttribute('data-remaining-ms') || !el.getAttribute('data-interval-index')) return;
    const remaining = Number(el.getAttribute('data-remaining-ms'));
    const index = Number(el.getAttribute('data-interval-index'));
    const last = record.renders[record.renders.length - 1];
    if (last && last.remaining === remaining && last.index === index) return;
    record.renders.push({t: now, remaining, index});
    if (record.renders.length > 4000) record.renders.splice(0, 2000);
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
}

function newPage(label, viewport) {
  return openPage(browser, label, viewport, {instrument: instrumentPage, instrumentArgs: [SELECTORS.countdown]});
}

const PHONE = {width: 360, height: 740, deviceScaleFactor: 2, isMobile: true, hasTouch: true};
// What she needs mid-set: each must be on screen, not under the header.
const MID_SET = ['#exercise', '#side', '#countdown', '#log-set', '#effort-too-easy',
  '#effort-just-right', '#effort-too-hard'];

// --- The participant pages -------------------------------------------------

const participants = {};

function reportsOf(p) {
  const out = [];
  for (const r of p.requests.values()) {
    if (r.method !== 'POST' || !/:report$/.test(new URL(r.url).pathname)) continue;
    let body = {};
    try {
      body = JSON.parse(r.postData);
    } catch {
      // not ours to judge here
    }
    const kind = Object.keys(body)[0] || '';
    const report = body[kind] || {};
    let ack = null;
    if (r.done && r.status === 200) {
      try {
        ack = JSON.parse(r.body);
      } catch {
        ack = {};
      }
    }
    out.push({kind, report, id: report.reportId, status: r.status, failed: r.failed, done: r.done, ack});
  }
  return out;
}

function acksOf(p, id) {
  const acks = reportsOf(p).filter((r) => r.id === id && r.ack);
  return {fresh: acks.filter((r) => !r.ack.duplicate).length,
    duplicate: acks.filter((r) => r.ack.duplicate).length};
}

async function join(who) {
  const person = PEOPLE[who];
  if (!person) throw new Error(`no participant ${who}`);
  const p = await newPage(`participant ${who}`, PHONE);
  participants[who] = p;
  await p.page.goto((who === 'B' ? args.proxiedBase : args.base) + '/', {timeout: STEP_MS});
  await p.page.locator(SELECTORS.joinCode).setTimeout(STEP_MS).fill(args.code);
  await p.page.locator(SELECTORS.joinName).setTimeout(STEP_MS).fill(person.name);
  const checked = await p.page.$eval(SELECTORS.joinShowName, (el) => el.checked);
  if (checked !== person.showName) await p.page.locator(SELECTORS.joinShowName).click();
  if (person.track) await p.page.select('#track', person.track);
  await p.page.locator(SELECTORS.joinSubmit).setTimeout(STEP_MS).click();
  const joined = await until(() => {
    for (const r of p.requests.values()) {
      if (!r.url.endsWith('/v1/classes:join')) continue;
      const first = sseMessages(r.body).find((m) => m.joined);
      if (first) return first.joined;
      if (r.status >= 400) throw new Error(`join answered ${r.status}: ${r.body}`);
    }
    return null;
  }, `${who}'s joined message`);
  say(`joined ${who} ${joined.participantId}`);
}

/** What of MID_SET is out of place on the phone's screen; [] when all is well. */
async function layoutProblems(p) {
  return p.page.evaluate((selectors) => {
    const header = document.querySelector('.topbar').getBoundingClientRect();
    const out = [];
    for (const sel of selectors) {
      const el = document.querySelector(sel);
      if (!el) {
        out.push(`${sel} missing`);
        continue;
      }
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) {
        if (sel !== '#side') out.push(`${sel} not shown`);  // no side in the lobby or for two-sided work
        continue;
      }
      if (r.top < header.bottom - 0.5) out.push(`${sel} top ${r.top} is under the header (to ${header.bottom})`);
      if (r.bottom > window.innerHeight + 0.5) out.push(`${sel} bottom ${r.bottom} is below the screen (${window.innerHeight})`);
      if (r.left < -0.5 || r.right > window.innerWidth + 0.5) out.push(`${sel} is off the side`);
    }
    return out;
  }, MID_SET);
}

async function showsInterval(page, index) {
  await page.waitForFunction((sel, i) => {
    const el = document.querySelector(sel);
    return el && el.getAttribute('data-interval-index') === String(i);
  }, {timeout: STEP_MS}, SELECTORS.countdown, index);
}

// Types the reps and taps "log set"; the completion the page sends.
async function logSet(p, index, reps) {
  await showsInterval(p.page, index);
  const before = new Set(reportsOf(p).map((r) => r.id));
  await p.page.locator(SELECTORS.reps).setTimeout(STEP_MS).fill(String(reps));
  await p.page.locator(SELECTORS.logSet).setTimeout(STEP_MS).click();
  return until(() => reportsOf(p).find((r) => r.kind === 'completion' && !before.has(r.id)),
      `${p.label}'s completion for interval ${index}`);
}

async function acked(p, report) {
  await until(() => acksOf(p, report.id).fresh > 0, `the ack of ${report.id}`);
  await p.page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && Number(el.textContent.trim() || '0') === 0;
  }, {timeout: STEP_MS}, SELECTORS.unackedCount);
}

async function reportVia(p, kind, clicks) {
  const before = new Set(reportsOf(p).map((r) => r.id));
  await clicks();
  const report = await until(() => reportsOf(p).find((r) => r.kind === kind && !before.has(r.id)),
      `${p.label}'s ${kind} report`);
  await acked(p, report);
}

// --- The kiosk page ----------------------------------------------------------

let kiosk = null;

async function openKiosk() {
  kiosk = await newPage('kiosk', {width: 1920, height: 1080});
  await kiosk.page.goto(args.base + '/kiosk', {timeout: STEP_MS});
  const code = await kiosk.page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    const text = el ? el.textContent.replace(/\s+/g, '') : '';
    return /^[A-Z0-9]{6}$/i.test(text) ? text : null;
  }, {timeout: STEP_MS}, SELECTORS.pairingCode);
  say(`pairing ${await code.jsonValue()}`);
  await until(() => [...kiosk.requests.values()].some(
      (r) => /\/v1\/classes\/[^/]+:watch/.test(r.url) && r.status === 200 && r.body.length > 0),
  'the kiosk page to open its class stream (was the pairing approved?)', 30000);
  say('kiosk watching');
}

// The countdown check. The page writes `data-remaining-ms` when it renders;
// instrumentPage timestamps every change with the browser's clock (t) in the
// same task, so a sample says "at t the page showed `remaining`". This
// machine's clock is the browser's, and the server's runs skewMs ahead, so
// the server's remaining time at t was `deadline - (t + skewMs)`. The error
// is the page's clock-offset estimate's error plus the few ms between its
// render and the observer; how often it renders does not matter, since each
// sample is compared at its own instant.
async function checkCountdown(index, deadline) {
  await showsInterval(kiosk.page, index);
  const wanted = 3;
  const samples = await kiosk.page.waitForFunction((i, n) => {
    const mine = window.__circuit.renders.filter((r) => r.index === i);
    return mine.length >= n ? mine : null;
  }, {timeout: STEP_MS}, index, wanted).then((h) => h.jsonValue());
  let worst = 0;
  for (const s of samples) {
    const expected = Math.max(0, deadline - (s.t + args.skewMs));
    const error = s.remaining - expected;
    if (Math.abs(error) > Math.abs(worst)) worst = error;
    trace(`kiosk ${index}: t ${s.t} shows ${s.remaining}, server ${expected}, error ${error}`);
  }
  say(`kiosk ${index} ${samples.length} ${Math.round(Math.abs(worst))}`);
}

// --- The end: what the pages show, and what reached the kiosk ----------------

function leaksIn(text, tokens) {
  const out = [];
  for (const token of tokens) {
    const at = text.indexOf(token);
    if (at >= 0) out.push({token, context: oneLine(text.slice(Math.max(0, at - 40), at + 60))});
  }
  return out;
}

async function finish() {
  for (const who of Object.keys(participants)) {
    const p = participants[who];
    const total = await p.page.$eval(SELECTORS.ownTotalReps, (el) => el.textContent.trim());
    say(`own ${who} ${total.replace(/[^0-9]/g, '')}`);
  }
  const wall = await kiosk.page.$$eval(SELECTORS.wall, (els) => els.map((el) => el.textContent));
  for (const text of wall) say(`wall ${oneLine(text)}`);

  // The kiosk's network: every body it received.
  let bytes = 0, chunks = 0, sawConsenting = false;
  for (const r of kiosk.requests.values()) {
    bytes += r.body.length;
    chunks += r.chunks;
    if (r.body.includes(CONSENTING_MARKER)) sawConsenting = true;
    const path = new URL(r.url).pathname;
    const tokens = path.startsWith('/v1/') ? KIOSK_FORBIDDEN_ANYWHERE.concat(KIOSK_FORBIDDEN_DATA)
        : KIOSK_FORBIDDEN_ANYWHERE;
    for (const leak of leaksIn(r.body + r.postData, tokens)) {
      say(`leak network:${path} ${JSON.stringify(leak.token)} ${leak.context}`);
    }
  }
  say(`kiosk-capture ${bytes} ${chunks} ${sawConsenting ? 1 : 0}`);

  // The kiosk's DOM: as it is now, and every text it ever held.
  const dom = await kiosk.page.evaluate(() => ({
    html: document.documentElement.outerHTML,
    text: document.body.innerText,
    seen: window.__circuit.domText.join('\n'),
  }));
  const scripts = /<script\b[^>]*>[\s\S]*?<\/script>|<!--[\s\S]*?-->/g;
  const tokens = KIOSK_FORBIDDEN_ANYWHERE.concat(KIOSK_FORBIDDEN_DATA);
  for (const [where, text] of [['dom', dom.html.replace(scripts, '')], ['dom-text', dom.text],
    ['dom-history', dom.seen.replace(scripts, '')]]) {
    for (const leak of leaksIn(text, tokens)) {
      say(`leak ${where} ${JSON.stringify(leak.token)} ${leak.context}`);
    }
  }
  // A's name is markup: shown as text, it makes no element.
  const injected = await kiosk.page.$$eval('img', (els) =>
    els.filter((el) => /\/x$/.test(el.src) || el.hasAttribute('onerror')).length);
  if (injected > 0) say(`problem kiosk: ${injected} <img> made from a participant's name`);

  for (const p of [kiosk, ...Object.values(participants)]) {
    const inPage = await p.page.evaluate(() => window.__circuit.problems);
    for (const problem of [...p.problems, ...inPage.map((t) => `${p.label}: ${t}`)]) {
      say(`problem ${oneLine(problem)}`);
    }
  }
  say('finished');
}

// The kiosk's progress comes every so often, not with each report: wait
// until it shows the class's total, so the pictures show where the class is.
async function screenshots(dir, totalReps) {
  await kiosk.page.waitForFunction((sel, total) => {
    const el = document.querySelector(sel);
    return el && el.textContent.trim() === total;
  }, {timeout: STEP_MS}, SELECTORS.kioskTotalReps, totalReps);
  mkdirSync(dir, {recursive: true});
  const shoot = async (page, path, options = {}) => {
    // Transitions (the progress bar's) finished; endless ones do not count.
    await page.waitForFunction(() => document.getAnimations().every(
        (a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity),
    {timeout: STEP_MS});
    await page.screenshot({path, ...options});
  };
  // The TV fits its screen without scrolling; the phone never scrolls
  // sideways.
  const fits = async (who, what, vertically) => {
    const size = await who.page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      scrollHeight: document.documentElement.scrollHeight,
      width: window.innerWidth,
      height: window.innerHeight,
    }));
    if (size.scrollWidth > size.width ||
        (vertically && size.scrollHeight > size.height)) {
      who.problems.push(`${what} does not fit: ${JSON.stringify(size)}`);
    }
  };
  await fits(kiosk, 'kiosk at 1920x1080', true);
  await shoot(kiosk.page, `${dir}/kiosk-1920x1080.png`);
  await kiosk.page.setViewport({width: 3840, height: 2160});
  await fits(kiosk, 'kiosk at 3840x2160', true);
  await shoot(kiosk.page, `${dir}/kiosk-3840x2160.png`);
  await kiosk.page.setViewport({width: 1920, height: 1080});
  await fits(participants.A, 'phone at 360 px', false);
  await shoot(participants.A.page, `${dir}/participant-360.png`, {fullPage: true});
  say(`screenshots ${dir}`);
}

// --- Commands ------------------------------------------------------------------

async function run(words) {
  const [command, who] = words;
  const p = participants[who];
  switch (command) {
    case 'join':
      return join(who);
    case 'interval':
      return checkCountdown(Number(words[1]), Number(words[2]));
    case 'layout': {
      // Wait for the page to have drawn the class (a snapshot arrived).
      await p.page.waitForFunction(() => document.getElementById('exercise')?.textContent !== '',
          {timeout: STEP_MS});
      const problems = await layoutProblems(p);
      return say(`layout ${who} ${problems.length ? problems.join('; ') : 'ok'}`);
    }
    case 'note': {
      const note = await p.page.$eval('#track-note', (el) => (el.hidden ? '' : el.textContent));
      return say(`note ${who}${note ? ' ' + oneLine(note) : ''}`);
    }
    case 'log': {
      const report = await logSet(p, Number(words[2]), Number(words[3]));
      await acked(p, report);
      const c = report.report;
      return say(`logged ${who} ${words[2]} ${c.reps || 0} ${c.blockIndex || 0} ${c.set || 0} ${c.side}`);
    }
    case 'effort':
      await reportVia(p, 'effort', () => p.page.locator(SELECTORS.effortTooHard).setTimeout(STEP_MS).click());
      return say(`effort ${who}`);
    case 'symptom':
      await reportVia(p, 'symptom', async () => {
        await p.page.locator(SELECTORS.symptomOther).setTimeout(STEP_MS).click();
        await p.page.locator(SELECTORS.symptomText).setTimeout(STEP_MS).fill(SYMPTOM_TEXT);
        await p.page.locator(SELECTORS.symptomSend).setTimeout(STEP_MS).click();
      });
      return say(`symptom ${who}`);
    case 'offline':
      await p.page.setOfflineMode(true);
      return say(`offline ${who}`);
    case 'log-offline': {
      const report = await logSet(p, Number(words[2]), Number(words[3]));
      await until(() => report.failed || reportsOf(p).some((r) => r.id === report.id && r.failed),
          `the offline report ${report.id} to fail`);
      await p.page.waitForFunction((sel) => {
        const el = document.querySelector(sel);
        return el && Number(el.textContent.trim() || '0') >= 1;
      }, {timeout: STEP_MS}, SELECTORS.unackedCount);
      p.offlineReport = report.id;
      return say(`queued ${who} ${report.id}`);
    }
    case 'online': {
      await p.page.setOfflineMode(false);
      // The cue sent while it was away comes with the missed events.
      const cue = words.slice(2).join(' ');
      await p.page.waitForFunction((sel, text) => {
        const el = document.querySelector(sel);
        return el && el.textContent.includes(text);
      }, {timeout: 30000}, SELECTORS.cues, cue);
      const id = p.offlineReport;
      await until(() => acksOf(p, id).fresh > 0, `the ack of ${id} after reconnecting`, 30000);
      await p.page.waitForFunction((sel) => {
        const el = document.querySelector(sel);
        return el && Number(el.textContent.trim() || '0') === 0;
      }, {timeout: STEP_MS}, SELECTORS.unackedCount);
      const {fresh, duplicate} = acksOf(p, id);
      return say(`synced ${who} ${id} ${fresh} ${duplicate}`);
    }
    case 'screenshots':
      return screenshots(words[1], words[2]);
    case 'finish':
      return finish();
    case 'quit':
      return quit();
    default:
      throw new Error(`unknown command ${JSON.stringify(words.join(' '))}`);
  }
}

browser = await launchChromium(args.chromium);
await openKiosk();

serveCommands(args.commandsFd, run);
