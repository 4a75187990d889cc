// Server-sent events over fetch(), shared by the participant and kiosk pages.
//
// The pages read circuitd's event streams with fetch() instead of EventSource
// so they can send `Authorization: Bearer ...` (see server/http/API.md). This
// module parses the text/event-stream format as the HTML spec describes it
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
// reports HTTP errors in the API's `{code, message}` shape, and has the small
// helpers both pages use to reconnect with backoff.

/**
 * Incremental text/event-stream parser. Feed it decoded text in chunks of any
 * size (split anywhere, even between a CR and its LF); it calls `onEvent` with
 * `{type, data, id, lastEventId}` for each complete event.
 */
export class SseParser {
  /** @param {(event: {type: string, data: string, id: string|null, lastEventId: string}) => void} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';         // text after the last complete line
    this.skipLf = false;      // the previous chunk ended with CR: drop a leading LF
    this.data = [];           // data lines of the event being built
    this.type = '';
    this.id = null;           // the id field of the event being built, if any
    this.lastEventId = '';    // the stream's last event id (persists across events)
    this.retryMs = null;      // the server's `retry:` advice, if it sent one
  }

  /** Feeds decoded text. */
  push(text) {
    if (text === '') return;
    if (this.skipLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLf = false;
    this.buffer += text;
    // Lines end with CRLF, LF or CR.
    const lineEnd = /\r\n|\n|\r/g;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(this.buffer)) !== null) {
      // A CR at the very end may be the first half of a CRLF split across
      // chunks: take it as the line end and skip the LF if it comes next.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) {
        this.skipLf = true;
      }
      this.processLine(this.buffer.slice(start, match.index));
      start = lineEnd.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** Call when the stream ends; an unterminated event is dropped, per spec. */
  end() {
    this.buffer = '';
    this.data = [];
    this.type = '';
    this.id = null;
  }

  processLine(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;  // a comment (keep-alive)
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
    }
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;  // unknown fields are ignored
    }
  }

  dispatch() {
    const data = this.data.join('\n');
    const hadData = this.data.length > 0;
    const event = {type: this.type || 'message', data, id: this.id, lastEventId: this.lastEventId};
    this.data = [];
    this.type = '';
    this.id = null;
    if (hadData) this.onEvent(event);
  }
}

/** An HTTP answer that was not 2xx, or an `event: end` with an error. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the stream itself ended)
   * @param {string} code the gRPC code's name, e.g. "NOT_FOUND"
   * @param {string} message the server's message
   */
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

// gRPC status codes by number, for `event: end` and ReportAck.code.
const GRPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED',
  'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** The name of a gRPC code given as a number or a name. */
export function codeName(code) {
  if (typeof code === 'number') return GRPC_CODES[code] || String(code);
  return code ? String(code) : 'OK';
}

/** Turns a non-2xx fetch Response into an ApiError (reads the JSON body). */
export async function apiErrorFrom(response) {
  let code = '';
  let message = '';
  try {
    const body = await response.json();
    code = codeName(body.code);
    message = body.message || '';
  } catch {
    // Not JSON (a proxy's error page, say): the status is all we know.
  }
  return new ApiError(response.status, code, message);
}

/**
 * Where the page's calls go: the node it was loaded from, or another node of
 * its cluster. The nodes come from GET /v1/servers (circuitd
 * --cluster_http_urls; none on a single node). When the node in use stops
 * answering (a network error, a cut stream, or 502 or 504 from a proxy in
 * front of it) calls move to the next node, in turn, and the pages'
 * reconnect loops (with their backoff) resume there with their tokens:
 * every node serves every class. A node that answers 503 (UNAVAILABLE,
 * "retry": say, while it takes over a class whose node died) is retried, not
 * left; so is one that said `goingAway` (a node that stops refuses the
 * reconnect, which moves the page on). The page's own node is '', so its
 * calls stay same-origin, as without a cluster.
 */
class Servers {
  constructor() {
    this.bases = [''];
    this.index = 0;
    this.loading = null;
  }

  /** Asks the page's node for the others (once it has answered). */
  load() {
    if (this.loading === null) {
      this.loading = fetch('/v1/servers', {cache: 'no-store'})
          .then((response) => (response.ok ? response.json() : {}))
          .then((answer) => {
            const others = [];
            for (const url of answer.httpUrls || []) {
              const base = String(url).replace(/\/+$/, '');
              if (base !== location.origin && base !== '' && !others.includes(base)) others.push(base);
            }
            // Each page starts its turn at a random other node, so the pages
            // of a node that dies spread over the rest instead of all landing
            // on one.
            const start = Math.floor(Math.random() * others.length);
            this.bases = [''].concat(others.slice(start), others.slice(0, start));
          })
          .catch(() => {
            this.loading = null;  // ask again after the next failure
          });
    }
    return this.loading;
  }

  /** The node in use now (pass it to moveOn). */
  current() {
    return this.index;
  }

  /** `path` ("/v1/...") on the node in use. */
  url(path) {
    return this.bases[this.index] + path;
  }

  /**
   * The node `from` stopped answering: calls go to the next one. Several
   * calls failing together move once (the others see it has moved already).
   */
  moveOn(from) {
    if (this.loading === null) this.load();
    if (from !== this.index || this.bases.length < 2) return;
    this.index = (this.index + 1) % this.bases.length;
    console.info(`circuit: calls go to ${this.bases[this.index] || location.origin} now`);
  }
}

/** The page's servers (one list for all its calls). */
export const servers = new Servers();
if (typeof location !== 'undefined') servers.load();

// Answers a proxy gives for a node behind it that does not answer.
function nodeUnavailable(status) {
  return status === 502 || status === 504;
}

// One request to circuitd: the bearer token, a JSON body, never cached; on
// the node in use, and moving on from it when it does not answer.
// Resolves with the response when it is 2xx; rejects with ApiError otherwise.
async function request(url, {method, accept, token, body, extraHeaders = {}, signal}) {
  const headers = {Accept: accept, ...extraHeaders};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const node = servers.current();
  let response;
  try {
    response = await fetch(servers.url(url), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    if (!isAbort(error)) servers.moveOn(node);
    throw error;
  }
  if (!response.ok) {
    if (nodeUnavailable(response.status)) servers.moveOn(node);
    throw await apiErrorFrom(response);
  }
  return response;
}

/** fetch() on the node in use, moving on when it does not answer (the export download). */
export async function fetchFromNode(path, init) {
  const node = servers.current();
  try {
    const response = await fetch(servers.url(path), init);
    if (nodeUnavailable(response.status)) servers.moveOn(node);
    return response;
  } catch (error) {
    if (!isAbort(error)) servers.moveOn(node);
    throw error;
  }
}

export async function fetchJson(url, {method = 'GET', token = null, body = undefined, signal} = {}) {
  const response = await request(url, {method, accept: 'application/json', token, body, signal});
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

/**
 * Opens an event stream and reads it to the end.
 *
 * Resolves when the server ends the stream cleanly; rejects with ApiError for
 * an HTTP error answer or an `event: end` carrying a non-OK code, with an
 * AbortError when `signal` aborts, or with a TypeError for a network failure.
 *
 * @param {string} url
 * @param {object} options
 * @param {string} [options.method]
 * @param {string} [options.token] sent as `Authorization: Bearer`
 * @param {object} [options.body] sent as JSON
 * @param {string|number} [options.lastEventId] sent as `Last-Event-ID` when set
 * @param {AbortSignal} [options.signal]
 * @param {() => void} [options.onOpen] called once the answer is 200
 * @param {(message: object, event: object) => void} options.onMessage called
 *     with each `data:` parsed as JSON (the default event type)
 */
export async function readEventStream(url, {method = 'GET', token = null, body, lastEventId, signal, onOpen, onMessage}) {
  const extraHeaders = {};
  if (lastEventId !== undefined && lastEventId !== null && String(lastEventId) !== '' && String(lastEventId) !== '0') {
    extraHeaders['Last-Event-ID'] = String(lastEventId);
  }
  const node = servers.current();
  const response = await request(url, {method, accept: 'text/event-stream', token, body, extraHeaders, signal});
  if (onOpen) onOpen();

  let endError = null;
  const parser = new SseParser((event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      console.warn('circuit: event with data that is not JSON, ignored');
      return;
    }
    if (event.type === 'end' || event.type === 'error') {
      // The server closes the stream with a status: OK, or why not.
      const code = codeName(message.code);
      if (code !== 'OK') endError = new ApiError(0, code, message.message || '');
      return;
    }
    if (event.type === 'message') onMessage(message, event);
  });

  const reader = response.body.getReader();
  const decoder = new TextDecoder('utf-8');
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, {stream: true}));
    }
    parser.push(decoder.decode());
  } catch (error) {
    // The stream was cut (its node died, or the network went): resume on
    // the next node.
    if (!isAbort(error)) servers.moveOn(node);
    throw error;
  } finally {
    parser.end();
    reader.releaseLock?.();
  }
  if (endError) throw endError;
}

/**
 * Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... up to `maxMs`,
 * each delay a random point in its upper half so a room of phones does not
 * reconnect in lockstep after a server restart.
 */
export class Backoff {
  constructor({baseMs = 500, maxMs = 15000} = {}) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }

  /** The next delay in milliseconds. */
  next() {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
  }

  /** Call after a success. */
  reset() {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, {once: true});
  });
}

/** True for the error fetch() throws when its signal aborts. */
export function isAbort(error) {
  return error?.name === 'AbortError';
}

/**
 * The highest of two seqs. Seqs are int64, sent as strings in JSON; they stay
 * far below 2^53, so Number is exact.
 */
export function maxSeq(a, b) {
  return Math.max(Number(a) || 0, Number(b) || 0);
}
