// What the browser tests' scripts share: the line protocol with their C++
// test (commands on a file descriptor, one answer line each on stdout, an
// `error <text>` line and exit 1 for anything unexpected), waiting on
// conditions with deadlines, chromium, and a record of every request a page
// makes with its response body (event streams chunk by chunk).
//
// Set BROWSER_TEST_TRACE=1 for a trace on stderr.

import {createInterface} from 'node:readline';
import {Socket} from 'node:net';
import puppeteer from 'puppeteer-core';

export const STEP_MS = 15000;
const TRACE = Boolean(process.env.BROWSER_TEST_TRACE);

export function trace(text) {
  if (TRACE) process.stderr.write(`[${new Date().toISOString()}] ${text}\n`);
}

export function say(line) {
  trace('> ' + line);
  process.stdout.write(line + '\n');
}

export function oneLine(text) {
  return String(text).replace(/\s+/g, ' ').trim();
}

let browser = null;
export async function die(text) {
  process.stdout.write('error ' + oneLine(text) + '\n');
  try {
    if (browser) await browser.close();
  } finally {
    process.exit(1);
  }
}
process.on('uncaughtException', (e) => die('uncaught: ' + (e && e.stack || e)));
process.on('unhandledRejection', (e) => die('unhandled: ' + (e && e.stack || e)));

/** `--some-flag value` pairs as {someFlag: value}; `required` must be there. */
export function parseArgs(argv, required) {
  const args = {chromium: '/usr/bin/chromium', commandsFd: '0'};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = argv[i + 1];
  }
  for (const key of required) {
    if (!args[key]) throw new Error(`--${key} is required`);
  }
  return args;
}

// Resolves when `predicate()` holds, re-checked whenever `changed()` is
// called; rejects after `ms` with `what` in the message.
const waiters = new Set();
export function changed() {
  for (const w of waiters) w();
}
export function until(predicate, what, ms = STEP_MS) {
  return new Promise((resolve, reject) => {
    let timer = null;
    const settle = (fn, value) => {
      clearTimeout(timer);
      waiters.delete(check);
      fn(value);
    };
    const check = () => {
      try {
        const value = predicate();
        if (value) settle(resolve, value);
      } catch (e) {
        settle(reject, e);
      }
    };
    timer = setTimeout(() => settle(reject, new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    waiters.add(check);
    check();
  });
}

/** Headless chromium over a pipe (it exits when this process does). */
export async function launchChromium(path) {
  browser = await puppeteer.launch({
    executablePath: path,
    headless: true,
    // No sandbox: the test may run as root, where chromium refuses to sandbox.
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
    pipe: true,
    protocolTimeout: 30000,
  });
  trace(`chromium ${await browser.version()}`);
  return browser;
}

/** Closes chromium, says `bye` and exits 0 (the `quit` command). */
export async function quit() {
  await browser.close();
  browser = null;
  say('bye');
  process.exit(0);
}

/**
 * Every request `page` makes and every response body it gets, through a CDP
 * session of our own: plain bodies when they finish, event streams chunk by
 * chunk as they arrive (Network.streamResourceContent). A Map from request
 * id to {url, method, postData, status, body, chunks, failed, done}.
 */
export async function recordNetwork(page, label) {
  const requests = new Map();
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable', {maxTotalBufferSize: 64 << 20, maxResourceBufferSize: 16 << 20});
  const text = (base64) => Buffer.from(base64 || '', 'base64').toString('utf8');
  cdp.on('Network.requestWillBeSent', (e) => {
    requests.set(e.requestId, {url: e.request.url, method: e.request.method,
      postData: e.request.postData || '', status: 0, body: '', chunks: 0, failed: '',
      done: false, stream: false, early: null});
    changed();
  });
  cdp.on('Network.responseReceived', async (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    if (e.response.mimeType === 'text/event-stream') {
      r.stream = true;
      // Chunks that come before the buffered part is back go after it.
      r.early = [];
      try {
        const {bufferedData} = await cdp.send('Network.streamResourceContent', {requestId: e.requestId});
        r.body = text(bufferedData);
      } catch (err) {
        trace(`${label}: streamResourceContent ${r.url}: ${err.message}`);
      }
      r.body += r.early.join('');
      r.early = null;
    }
    changed();
  });
  cdp.on('Network.dataReceived', (e) => {
    const r = requests.get(e.requestId);
    if (!r || !e.data) return;
    r.chunks++;
    if (r.early) {
      r.early.push(text(e.data));
    } else {
      r.body += text(e.data);
    }
    changed();
  });
  cdp.on('Network.loadingFinished', async (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    if (!r.stream) {
      try {
        const {body, base64Encoded} = await cdp.send('Network.getResponseBody', {requestId: e.requestId});
        r.body = base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
      } catch (err) {
        trace(`${label}: getResponseBody ${r.url}: ${err.message}`);
      }
    }
    r.done = true;
    changed();
  });
  cdp.on('Network.loadingFailed', (e) => {
    const r = requests.get(e.requestId);
    if (r) {
      r.failed = e.errorText || 'failed';
      r.done = true;
      changed();
    }
  });
  return requests;
}

/** The data of each server-sent event in `text`, parsed. */
export function sseMessages(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (data) {
      try {
        out.push(JSON.parse(data));
      } catch {
        // an event still arriving
      }
    }
  }
  return out;
}

/**
 * Runs `run(words)` for each command line, one at a time, in order; dies on
 * a command that fails and when the commands end before `quit`.
 */
export function serveCommands(commandsFd, run) {
  let queue = Promise.resolve();
  // A pipe read as a socket: a pending read on it does not hold up exit.
  const commands = commandsFd === '0' ? process.stdin
      : new Socket({fd: Number(commandsFd), readable: true, writable: false});
  createInterface({input: commands}).on('line', (line) => {
    const words = line.trim().split(/\s+/);
    if (!words[0]) return;
    trace('< ' + line);
    queue = queue.then(() => run(words)).catch((e) => die(`${line}: ${e && e.message || e}`));
  }).on('close', () => {
    queue = queue.then(() => die('the commands ended before quit'));
  });
}

/**
 * A page in a browser context of its own (no storage shared with the
 * others) at `viewport`: page errors and dialogs are its `problems`, its
 * console goes to the trace, `instrument(...instrumentArgs)` runs in it
 * before its own scripts, and with `network` every request it makes is
 * recorded (recordNetwork) as its `requests`.
 */
export async function openPage(browserInstance, label, viewport,
    {instrument = null, instrumentArgs = [], network = true} = {}) {
  const context = await browserInstance.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  const p = {label, page, context, problems: [], requests: null};
  page.on('pageerror', (e) => p.problems.push(`${label}: uncaught ${oneLine(e.message)}`));
  page.on('dialog', async (d) => {
    p.problems.push(`${label}: a ${d.type()} dialog: ${oneLine(d.message())}`);
    await d.dismiss();
  });
  page.on('console', (m) => trace(`${label} console ${m.type()}: ${m.text()}`));
  if (instrument) await page.evaluateOnNewDocument(instrument, ...instrumentArgs);
  if (network) p.requests = await recordNetwork(page, label);
  return p;
}
