#!/usr/bin/env node
// The browser side of BrowserClassTest.APhoneKeepsAProfileOverThreeClasses
// (browser_class_test.cc): one phone (360x740, one browser context, so its
// localStorage lasts from class to class) keeps a profile over three classes,
// and a studio TV page opened for the last one. The C++ test runs circuitd
// and the instructor, and drives this script with one command per line;
// every answer is one line on stdout. Anything unexpected ends the script
// with `error <text>` (exit 1).
//
//   node profile_test.mjs --base URL --instructor-key KEY [--chromium PATH]
//                         [--commands-fd N]
//
// Commands, and what each answers:
//   join <code> first|kept <want_plan>
//       first: types a name and ticks "Keep my profile on this device";
//       kept: types only the code (the page joins as the kept profile).
//       Waits for the class (and, when <want_plan> is 1, for at least one
//       item under "Your plan today"):
//                               joined <participant_id> <sent> <stored> <plan_items>
//       <sent> is what the join's body carried: keep, credential or none;
//       <stored> is 1 when the phone keeps a profile credential afterwards.
//   log <index> <reps>          logged <index> <reps>   (acknowledged)
//   easy                        easy                    (too easy, acknowledged)
//   chart <classes>             chart <bars> <rows> <desc>
//       waits until "My progress" shows an SVG chart with <classes> bars;
//       <rows> is the number of exercise-and-side rows, <desc> its text
//   my-progress <classes>       the same, after tapping "My progress" on the
//                               join screen
//   next                        next   (the class is over: "Done: back to the
//                               start", then a new visit; the profile stays)
//   kiosk                       pairing <CODE>, then kiosk watching
//   console <class_id> <classes>   console <bars> <status>
//       the instructor's console (signed in with the key) opens the live
//       class, taps "Progress" on her roster row and waits for a chart
//       with <classes> bars
//   screenshot <dir>            screenshot <file>   (the phone's chart)
//   finish                      a line each of: leak <where> <token> <context>,
//                               problem <text>; then `finished`
//   quit                        bye (and exits 0)
//
// Set BROWSER_TEST_TRACE=1 for a trace on stderr.

import {mkdirSync} from 'node:fs';
import {STEP_MS, launchChromium, oneLine, openPage, parseArgs, quit, say, serveCommands,
  sseMessages, trace, until} from './harness.mjs';

const args = parseArgs(process.argv.slice(2), ['base', 'instructorKey']);
let browser = null;

const NAME = 'Pia Keeps';
const PROFILE_KEY = 'circuit.profileCredential';
const SEAT_KEY = 'circuit.participant.seat';
// What the TV must never show or receive: her plan, her chart, her
// profile's credential or id.
const KIOSK_FORBIDDEN = ['fromHistory', 'profileCredential', 'profileId', 'cp_', 'Your plan',
  'My progress', 'history-svg', 'SUGGESTION_KIND_', 'too easy', 'Too easy', NAME];

// Runs in every page before its own scripts: what was ever put in the DOM
// (for the kiosk's check), and CSP violations.
function instrumentPage() {
  window.__circuit = {problems: [], domText: []};
  const record = window.__circuit;
  document.addEventListener('securitypolicyviolation', (e) => {
    record.problems.push(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
  });
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      for (const node of m.addedNodes) {
        if (node.nodeType === Node.ELEMENT_NODE) record.domText.push(node.outerHTML);
        else if (node.nodeType === Node.TEXT_NODE) record.domText.push(node.data);
      }
      if (m.type === 'characterData') record.domText.push(m.target.data);
      if (m.type === 'attributes' && m.target.getAttribute(m.attributeName)) {
        record.domText.push(m.target.getAttribute(m.attributeName));
      }
    }
    if (record.domText.length > 5000) record.domText.splice(0, 2500);
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
}

function newPage(label, viewport) {
  return openPage(browser, label, viewport, {instrument: instrumentPage});
}

const PHONE = {width: 360, height: 740, deviceScaleFactor: 2, isMobile: true, hasTouch: true};
let phone = null;
let kiosk = null;
let console_ = null;

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
    out.push({kind, report, id: report.reportId, ack});
  }
  return out;
}

async function reportVia(kind, clicks) {
  const before = new Set(reportsOf(phone).map((r) => r.id));
  await clicks();
  const report = await until(() => reportsOf(phone).find((r) => r.kind === kind && !before.has(r.id)),
      `the phone's ${kind} report`);
  await until(() => reportsOf(phone).some((r) => r.id === report.id && r.ack && !r.ack.duplicate),
      `the ack of ${report.id}`);
  return report;
}

async function storedCredential() {
  return phone.page.evaluate((key) => localStorage.getItem(key) || '', PROFILE_KEY);
}

async function join(code, how, wantPlan) {
  const page = phone.page;
  const joinsBefore = new Set([...phone.requests.keys()]);
  await page.locator('#join-code').setTimeout(STEP_MS).fill(code);
  if (how === 'first') {
    if (await storedCredential()) throw new Error('a profile credential is stored before the first join');
    await page.locator('#display-name').setTimeout(STEP_MS).fill(NAME);
    await page.locator('#keep-profile').setTimeout(STEP_MS).click();
  } else {
    // The form says she joins as her kept profile; her name is not typed.
    await page.waitForSelector('#kept-profile:not([hidden])', {timeout: STEP_MS});
    const name = await page.$eval('#display-name', (el) => el.value);
    if (name) throw new Error(`the name field holds ${JSON.stringify(name)}`);
  }
  await page.locator('#join-button').setTimeout(STEP_MS).click();
  const request = await until(() => {
    for (const [id, r] of phone.requests) {
      if (joinsBefore.has(id) || !r.url.endsWith('/v1/classes:join')) continue;
      if (r.status >= 400) throw new Error(`join answered ${r.status}: ${r.body}`);
      if (sseMessages(r.body).find((m) => m.joined)) return r;
    }
    return null;
  }, 'the joined message');
  const joined = sseMessages(request.body).find((m) => m.joined).joined;
  const body = JSON.parse(request.postData);
  const sent = body.profileCredential ? 'credential' : (body.keepProfile ? 'keep' : 'none');
  if (how === 'first' && !joined.profileCredential) throw new Error('the first join carried no profile credential');
  if (how === 'kept' && body.checkIn?.displayName) throw new Error('the kept join sent a name');
  // The class is shown (a snapshot arrived), then her plan if one is wanted.
  await page.waitForFunction(() => {
    const view = document.querySelector('#class-view');
    return view && !view.hidden && view.dataset.phase;
  }, {timeout: STEP_MS});
  if (wantPlan === '1') {
    await page.waitForFunction(() => !document.querySelector('#plan-card').hidden &&
        document.querySelectorAll('#plan li').length > 0, {timeout: STEP_MS});
  }
  const plan = await page.$$eval('#plan li', (els) => els.length);
  const stored = (await storedCredential()).startsWith('cp_') ? 1 : 0;
  say(`joined ${joined.participantId} ${sent} ${stored} ${plan}`);
}

async function chart(classes) {
  await phone.page.waitForFunction((n) => {
    const view = document.querySelector('#history-view');
    const svg = document.querySelector('#history-svg');
    return view && !view.hidden && svg && svg.querySelectorAll('rect.bar').length === n &&
        document.querySelectorAll('#history-rows li').length > 0;
  }, {timeout: STEP_MS}, classes);
  const {bars, rows, desc} = await phone.page.evaluate(() => ({
    bars: document.querySelectorAll('#history-svg rect.bar').length,
    rows: document.querySelectorAll('#history-rows li').length,
    desc: document.querySelector('#history-svg desc')?.textContent || '',
  }));
  say(`chart ${bars} ${rows} ${oneLine(desc)}`);
}

async function openKiosk() {
  kiosk = await newPage('kiosk', {width: 1920, height: 1080});
  await kiosk.page.goto(args.base + '/kiosk', {timeout: STEP_MS});
  const code = await kiosk.page.waitForFunction(() => {
    const el = document.querySelector('#pairing-code');
    const text = el ? el.textContent.replace(/\s+/g, '') : '';
    return /^[A-Z0-9]{6}$/i.test(text) ? text : null;
  }, {timeout: STEP_MS});
  say(`pairing ${await code.jsonValue()}`);
  await until(() => [...kiosk.requests.values()].some(
      (r) => /\/v1\/classes\/[^/]+:watch/.test(r.url) && r.status === 200 && r.body.length > 0),
  'the kiosk page to open its class stream (was the pairing approved?)', 30000);
  say('kiosk watching');
}

function leaksIn(text, tokens) {
  const out = [];
  for (const token of tokens) {
    const at = text.indexOf(token);
    if (at >= 0) out.push({token, context: oneLine(text.slice(Math.max(0, at - 40), at + 60))});
  }
  return out;
}

async function finish() {
  if (kiosk) {
    for (const r of kiosk.requests.values()) {
      const path = new URL(r.url).pathname;
      if (!path.startsWith('/v1/')) continue;  // the pages' own files may name these
      for (const leak of leaksIn(r.body + r.postData, KIOSK_FORBIDDEN)) {
        say(`leak network:${path} ${JSON.stringify(leak.token)} ${leak.context}`);
      }
    }
    const dom = await kiosk.page.evaluate(() => ({
      html: document.documentElement.outerHTML,
      seen: window.__circuit.domText.join('\n'),
    }));
    const scripts = /<script\b[^>]*>[\s\S]*?<\/script>|<!--[\s\S]*?-->/g;
    for (const [where, text] of [['dom', dom.html.replace(scripts, '')], ['dom-history', dom.seen]]) {
      for (const leak of leaksIn(text, KIOSK_FORBIDDEN)) {
        say(`leak ${where} ${JSON.stringify(leak.token)} ${leak.context}`);
      }
    }
    const svgs = await kiosk.page.$$eval('svg', (els) => els.length);
    if (svgs) say(`leak dom svg ${svgs} charts on the kiosk`);
  }
  for (const p of [phone, kiosk, console_].filter(Boolean)) {
    for (const problem of p.problems) say(`problem ${problem}`);
    const cspProblems = await p.page.evaluate(() => window.__circuit.problems);
    for (const problem of cspProblems) say(`problem ${p.label}: ${problem}`);
  }
  say('finished');
}

async function run(words) {
  switch (words[0]) {
    case 'join':
      return join(words[1], words[2], words[3]);
    case 'log': {
      const index = words[1];
      const reps = words[2];
      await phone.page.waitForFunction((i) => {
        const el = document.querySelector('#countdown');
        const button = document.querySelector('#log-set');
        return el && el.getAttribute('data-interval-index') === i && button && !button.disabled;
      }, {timeout: STEP_MS}, index);
      await reportVia('completion', async () => {
        await phone.page.locator('#reps').setTimeout(STEP_MS).fill(reps);
        await phone.page.locator('#log-set').setTimeout(STEP_MS).click();
      });
      return say(`logged ${index} ${reps}`);
    }
    case 'easy':
      await reportVia('effort', () => phone.page.locator('#effort-too-easy').setTimeout(STEP_MS).click());
      return say('easy');
    case 'chart':
      return chart(Number(words[1]));
    case 'my-progress':
      await phone.page.locator('#my-progress').setTimeout(STEP_MS).click();
      return chart(Number(words[1]));
    case 'next':
      // After the class: "Done: back to the start" (no question: all is
      // saved) returns to the join screen and drops the seat; her profile
      // stays. Then a new visit, as next week.
      await phone.page.locator('#leave').setTimeout(STEP_MS).click();
      await phone.page.waitForSelector('#join-view:not([hidden])', {timeout: STEP_MS});
      if (await phone.page.evaluate((key) => localStorage.getItem(key), SEAT_KEY)) {
        throw new Error('the ended class\'s seat is still stored');
      }
      await phone.page.goto(args.base + '/', {timeout: STEP_MS});
      await phone.page.waitForSelector('#join-view:not([hidden])', {timeout: STEP_MS});
      return say('next');
    case 'kiosk':
      return openKiosk();
    case 'console': {
      const [classId, bars] = [words[1], Number(words[2])];
      console_ = await newPage('console', {width: 1280, height: 900});
      const page = console_.page;
      await page.goto(args.base + '/console', {timeout: STEP_MS});
      await page.locator('#signin-input').setTimeout(STEP_MS).fill(args.instructorKey);
      await page.keyboard.press('Enter');
      await page.locator(`button.c-class[data-class-id="${classId}"]`).setTimeout(STEP_MS).click();
      await page.locator('.c-progress-button').setTimeout(STEP_MS).click();
      await page.waitForFunction((n) => {
        const svg = document.querySelector('#progress-panel:not([hidden]) #progress-svg');
        return svg && svg.querySelectorAll('rect.bar').length === n;
      }, {timeout: STEP_MS}, bars);
      const shown = await page.evaluate(() => ({
        bars: document.querySelectorAll('#progress-svg rect.bar').length,
        status: document.querySelector('#progress-status').textContent,
      }));
      return say(`console ${shown.bars} ${oneLine(shown.status)}`);
    }
    case 'screenshot': {
      mkdirSync(words[1], {recursive: true});
      const file = `${words[1]}/phone-profile-chart-360x740.png`;
      await phone.page.evaluate(() => document.querySelector('#history-view').scrollIntoView({block: 'start'}));
      await phone.page.screenshot({path: file});
      return say(`screenshot ${file}`);
    }
    case 'finish':
      return finish();
    case 'quit':
      return quit();
    default:
      throw new Error(`unknown command ${JSON.stringify(words.join(' '))}`);
  }
}

browser = await launchChromium(args.chromium);
phone = await newPage('phone', PHONE);
await phone.page.goto(args.base + '/', {timeout: STEP_MS});
say('ready');

serveCommands(args.commandsFd, run);
