#!/usr/bin/env node
// The browser side of tests/browser/browser_cluster_test.cc: a phone page and
// a studio TV page loaded from node a of a two-node cluster go on on node b
// when node a is killed. The C++ test runs the cluster and the instructor,
// and drives this script with one command per line (tests/browser/
// harness.mjs has the protocol).
//
//   node cluster_test.mjs --base-a URL --base-b URL --code JOINCODE
//                         [--chromium PATH] [--commands-fd N]
//
// --base-a and --base-b are the nodes' HTTP addresses, as their
// --cluster_http_urls name them; both pages are loaded from --base-a.
//
// On start it opens the TV page and prints
//   pairing <CODE>              the code the TV page shows
// then, once the instructor approved it and the page opened its class stream,
//   kiosk watching
// Commands, and what each answers (a node is `a` or `b`: where the page's
// call went):
//   join                        joined <participant_id>
//   servers                     servers <urls the phone learned> <urls the TV learned>
//   shows <index>               shows <index> <phone's stream node> <TV's stream node>
//       (both pages show interval <index>; the node of each one's open stream)
//   log <index> <reps>          logged <index> <reps> <node> (acknowledged)
//   effort                      effort <node>     (too hard, acknowledged)
//   finish                      problem <text> lines (page errors, CSP
//                               violations, calls the browser blocked) and
//                               leak <text> lines (health data on the TV's
//                               network); then `finished`
//   quit                        bye (and exits 0)

import {STEP_MS, launchChromium, oneLine, openPage, parseArgs, quit, say, serveCommands,
  sseMessages, trace, until} from './harness.mjs';

const args = parseArgs(process.argv.slice(2), ['baseA', 'baseB', 'code']);
// How long a page may take to move after its node died: the other node takes
// the class over when the lease runs out, and the pages back off meanwhile.
const FAILOVER_MS = 45000;
// Health data: never on the TV's network.
const KIOSK_FORBIDDEN = ['EFFORT_FEEL_', '"effort', 'lastFeel', 'SYMPTOM_', '"symptom'];
const PHONE = {width: 360, height: 740, deviceScaleFactor: 2, isMobile: true, hasTouch: true};

/** `a` or `b`: the node `url` went to. */
function nodeOf(url) {
  const origin = new URL(url).origin;
  if (origin === new URL(args.baseA).origin) return 'a';
  if (origin === new URL(args.baseB).origin) return 'b';
  return `elsewhere(${origin})`;
}

let browser = null;

// Runs in each page before its own scripts: CSP violations are problems.
function instrumentPage() {
  window.__problems = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__problems.push(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
  });
}

async function newPage(label, viewport) {
  const p = await openPage(browser, label, viewport, {instrument: instrumentPage});
  p.page.on('console', (m) => {
    // What the browser blocks it says on the console.
    if (/CORS|Content Security Policy|Access-Control/i.test(m.text())) {
      p.problems.push(`${label}: ${oneLine(m.text())}`);
    }
  });
  p.page.on('response', (r) => {
    if (r.status() >= 400) trace(`${label} ${r.request().method()} ${r.url()} ${r.status()}`);
  });
  return p;
}

/** The newest event stream of `p` whose path matches `pattern` and that opened (200). */
function openStream(p, pattern) {
  let last = null;
  for (const r of p.requests.values()) {
    if (pattern.test(new URL(r.url).pathname) && r.status === 200 && r.body.length > 0) last = r;
  }
  return last;
}

async function showsInterval(page, index, ms = STEP_MS) {
  await page.waitForFunction((i) => {
    const el = document.querySelector('#countdown');
    return el && el.getAttribute('data-interval-index') === String(i);
  }, {timeout: ms}, index);
}

// --- The TV page ---------------------------------------------------------------

let kiosk = null;

async function openKiosk() {
  kiosk = await newPage('kiosk', {width: 1920, height: 1080});
  await kiosk.page.goto(args.baseA + '/kiosk', {timeout: STEP_MS});
  const code = await kiosk.page.waitForFunction(() => {
    const el = document.querySelector('#pairing-code');
    const text = el ? el.textContent.replace(/\s+/g, '') : '';
    return /^[A-Z0-9]{6}$/i.test(text) ? text : null;
  }, {timeout: STEP_MS});
  say(`pairing ${await code.jsonValue()}`);
  await until(() => openStream(kiosk, /:watch$/),
      'the TV page to open its class stream (was the pairing approved?)', 30000);
  say('kiosk watching');
}

// --- The phone page --------------------------------------------------------------

let phone = null;

async function join() {
  phone = await newPage('phone', PHONE);
  await phone.page.goto(args.baseA + '/', {timeout: STEP_MS});
  await phone.page.locator('#join-code').setTimeout(STEP_MS).fill(args.code);
  await phone.page.locator('#display-name').setTimeout(STEP_MS).fill('Cass Lee');
  await phone.page.locator('#join-button').setTimeout(STEP_MS).click();
  const joined = await until(() => {
    for (const r of phone.requests.values()) {
      if (!r.url.endsWith('/v1/classes:join')) continue;
      const first = sseMessages(r.body).find((m) => m.joined);
      if (first) return first.joined;
      if (r.status >= 400) throw new Error(`join answered ${r.status}: ${r.body}`);
    }
    return null;
  }, 'the joined message');
  say(`joined ${joined.participantId}`);
}

/** The reports the phone sent: {kind, id, node, ack}. */
function reports() {
  const out = [];
  for (const r of phone.requests.values()) {
    if (r.method !== 'POST' || !/:report$/.test(new URL(r.url).pathname)) continue;
    let body = {};
    try {
      body = JSON.parse(r.postData);
    } catch {
      continue;
    }
    const kind = Object.keys(body)[0] || '';
    let ack = null;
    if (r.done && r.status === 200) {
      try {
        ack = JSON.parse(r.body);
      } catch {
        ack = null;
      }
    }
    out.push({kind, id: (body[kind] || {}).reportId, node: nodeOf(r.url), ack});
  }
  return out;
}

/** Does `clicks`, then waits for the new report of `kind` to be acknowledged; its node. */
async function reportAcked(kind, clicks) {
  const before = new Set(reports().map((r) => r.id));
  await clicks();
  const sent = await until(() => reports().find((r) => r.kind === kind && !before.has(r.id)),
      `the phone's ${kind} report`);
  const acked = await until(() => reports().find((r) => r.id === sent.id && r.ack),
      `the ack of ${sent.id}`, FAILOVER_MS);
  await phone.page.waitForFunction(() => {
    const el = document.querySelector('#unacked-count');
    return el && Number(el.textContent.trim() || '0') === 0;
  }, {timeout: STEP_MS});
  return acked.node;
}

/** The cluster's addresses a page learned from GET /v1/servers. */
function learned(p) {
  for (const r of p.requests.values()) {
    if (new URL(r.url).pathname !== '/v1/servers' || !r.done || r.status !== 200) continue;
    try {
      return (JSON.parse(r.body).httpUrls || []).length;
    } catch {
      return 0;
    }
  }
  return null;
}

async function finish() {
  for (const p of [phone, kiosk]) {
    const seen = await p.page.evaluate(() => window.__problems);
    for (const text of p.problems.concat(seen.map((s) => `${p.label}: ${s}`))) say(`problem ${text}`);
  }
  for (const r of kiosk.requests.values()) {
    for (const token of KIOSK_FORBIDDEN) {
      const at = r.body.indexOf(token);
      if (at >= 0) say(`leak ${new URL(r.url).pathname} ${token} ${oneLine(r.body.slice(Math.max(0, at - 40), at + 40))}`);
    }
  }
  say('finished');
}

async function run(words) {
  switch (words[0]) {
    case 'join':
      return join();
    case 'servers': {
      const urls = await until(() => {
        const a = learned(phone);
        const b = learned(kiosk);
        return a !== null && b !== null ? [a, b] : null;
      }, 'both pages to ask for the servers');
      return say(`servers ${urls[0]} ${urls[1]}`);
    }
    case 'shows': {
      const index = Number(words[1]);
      await showsInterval(phone.page, index, FAILOVER_MS);
      await showsInterval(kiosk.page, index, FAILOVER_MS);
      const streams = [openStream(phone, /:join$|:events$/), openStream(kiosk, /:watch$/)];
      return say(`shows ${index} ${streams.map((s) => (s ? nodeOf(s.url) : 'none')).join(' ')}`);
    }
    case 'log': {
      const index = Number(words[1]);
      await showsInterval(phone.page, index, FAILOVER_MS);
      await phone.page.waitForFunction(() => !document.querySelector('#log-set').disabled,
          {timeout: STEP_MS}).catch(async () => {
        const state = await phone.page.evaluate(() => ['#log-set', '#log-hint', '#status', '#phase']
            .map((sel) => `${sel}=${document.querySelector(sel)?.textContent?.trim()}`).join(' '));
        throw new Error(`the phone cannot log interval ${index}: ${oneLine(state)}`);
      });
      const node = await reportAcked('completion', async () => {
        await phone.page.locator('#reps').setTimeout(STEP_MS).fill(words[2]);
        await phone.page.locator('#log-set').setTimeout(STEP_MS).click();
      });
      return say(`logged ${index} ${words[2]} ${node}`);
    }
    case 'effort': {
      const node = await reportAcked('effort',
          () => phone.page.locator('#effort-too-hard').setTimeout(STEP_MS).click());
      return say(`effort ${node}`);
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
await openKiosk();
serveCommands(args.commandsFd, run);
