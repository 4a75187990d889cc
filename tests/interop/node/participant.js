#!/usr/bin/env node
// A scripted class participant in Node (@grpc/grpc-js + @grpc/proto-loader),
// driven by the interop tests against circuitd. It speaks the same line
// protocol as the Python participant (tests/interop/python):
//
//   node participant.js --address HOST:PORT --code JOINCODE --name NAME
//
// It joins with the code, reports every work interval it sees (9 reps), one
// effort rating after its first acknowledged completion and one symptom in
// block 1, survives connection loss by resuming with its resume token and
// resending every unacknowledged report under the same id, and prints one
// line per step on stdout:
//
//   joined <participant_id>
//   acked <report_id>             (every report acknowledged with code 0)
//   reported <interval_index>     (right after a completion's `acked`)
//   resumed <last_seq>            (first response on a resumed stream)
//   done <total_reps> <completions> <symptoms>   (class ended; exit 0)
//   error <text>                  (anything unexpected; exit 1)
//
// A resumed stream first replays the missed events (then a progress
// message) or sends a snapshot; only the state after the replay counts, so an
// interval that came and went while disconnected is not reported.
//
// The protos are loaded at run time from $CIRCUIT_PROTO_DIR (the repo's
// proto/ directory by default). Set PARTICIPANT_TRACE=1 for a trace of every
// stream and response kind on stderr. Dependencies: `npm ci` in this
// directory (deploy/install-deps.sh does it).
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPS = 9;
const BACKOFF_INITIAL_MS = 100;
const BACKOFF_MAX_MS = 1000;
const GIVE_UP_MS = 30000;
const END_GRACE_MS = 3000;

// Status codes that no retry can fix: fail at once instead of retrying for
// 30 s. Everything else (UNAVAILABLE, CANCELLED, INTERNAL, ABORTED, ...) is
// treated as a lost connection.
const PERMANENT_CODES = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.UNIMPLEMENTED,
  grpc.status.UNAUTHENTICATED,
]);

let exiting = false;

function say(line) {
  process.stdout.write(line + '\n');
}

const TRACE = Boolean(process.env.PARTICIPANT_TRACE);

function trace(text) {
  if (TRACE) process.stderr.write(`[${new Date().toISOString()}] ${text}\n`);
}

function oneLine(text) {
  return String(text).replace(/\s+/g, ' ').trim();
}

function exitWith(code, line) {
  if (exiting) return;
  exiting = true;
  const finish = () => process.exit(code);
  if (line !== undefined) {
    process.stdout.write(line + '\n', finish);
  } else {
    finish();
  }
  // Never hang on a blocked stdout.
  setTimeout(finish, 2000).unref();
}

function fail(text) {
  exitWith(1, 'error ' + oneLine(text));
}

process.on('uncaughtException', (err) => fail('uncaught: ' + (err && err.stack ? err.stack : err)));
process.on('unhandledRejection', (err) => fail('unhandled rejection: ' + err));

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([a-z_]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error('unexpected argument ' + JSON.stringify(arg));
    const key = m[1];
    let value = m[2];
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new Error('--' + key + ' needs a value');
      value = argv[++i];
    }
    args[key] = value;
  }
  for (const key of ['address', 'code', 'name']) {
    if (!args[key]) {
      throw new Error('usage: node participant.js --address HOST:PORT --code JOINCODE --name NAME');
    }
  }
  return args;
}

function loadService() {
  const protoDir = process.env.CIRCUIT_PROTO_DIR ||
      path.resolve(__dirname, '..', '..', '..', 'proto');
  const definition = protoLoader.loadSync('circuit/v1/service.proto', {
    includeDirs: [protoDir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);
  return loaded.circuit.v1.CircuitService;
}

// int64 fields arrive as decimal strings (longs: String); every seq is well
// under 2^53, so plain Numbers are exact.
function seqOf(value) {
  const n = Number(value || 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('bad seq ' + JSON.stringify(value));
  return n;
}

class Participant {
  constructor(args, Service) {
    this.name = args.name;
    this.code = args.code;
    this.client = new Service(args.address, grpc.credentials.createInsecure(), {
      // Notice a dead connection even when the server goes quiet.
      'grpc.keepalive_time_ms': 15000,
      'grpc.keepalive_timeout_ms': 5000,
      'grpc.keepalive_permit_without_calls': 1,
      // Try a new connection promptly after a cut.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // Talk to the address given, never through an http_proxy from the env.
      'grpc.enable_http_proxy': 0,
    });

    this.participantId = '';
    this.resumeToken = '';
    this.lastSeq = 0;
    this.state = null;            // ClassState
    this.reportedIntervals = new Set();
    this.symptomSent = false;
    this.effortSent = false;
    this.firstCompletionAcked = false;
    // Reports sent and not yet acknowledged, in send order: report_id ->
    // {request, kind, intervalIndex, reps}.
    this.pending = new Map();
    this.acked = new Set();
    this.totalReps = 0;
    this.completionsAcked = 0;
    this.symptomsAcked = 0;

    this.call = null;
    this.generation = 0;
    // True on a resumed stream until the replay of missed events is over
    // (the server ends it with a progress message): replayed intervals are
    // history, so only the state after the replay is reported.
    this.catchingUp = false;
    this.awaitingFirstResponse = false;
    this.resumedFrom = null;      // last_seq sent on the current resume stream
    this.goingAwayMs = 0;
    this.backoffMs = BACKOFF_INITIAL_MS;
    this.failingSince = null;     // when the connection was lost
    this.lastFailure = '';
    this.ending = false;
  }

  start() {
    this.open();
  }

  // Opens a JoinClass stream: a join before the first `joined`, a resume
  // afterwards.
  open() {
    if (exiting) return;
    const generation = ++this.generation;
    const metadata = new grpc.Metadata();
    let first;
    if (this.resumeToken) {
      metadata.set('authorization', 'Bearer ' + this.resumeToken);
      this.resumedFrom = this.lastSeq;
      first = {resume: {last_seq: String(this.lastSeq)}};
    } else {
      this.resumedFrom = null;
      first = {
        join: {
          join_code: this.code,
          check_in: {display_name: this.name, show_name_on_kiosk: true},
        },
      };
    }
    trace('open ' + JSON.stringify(first));
    const call = this.client.JoinClass(metadata);
    this.call = call;
    this.catchingUp = Boolean(this.resumeToken);
    this.awaitingFirstResponse = true;
    this.goingAwayMs = 0;

    call.on('data', (response) => {
      if (generation !== this.generation || exiting) return;
      try {
        this.onResponse(response);
      } catch (err) {
        fail('handling ' + (response && response.kind) + ': ' + (err && err.stack ? err.stack : err));
      }
    });
    // The status is reported on 'status'; 'error' only needs a listener.
    call.on('error', () => {});
    call.on('status', (status) => {
      // Let any data already received be handled first.
      setImmediate(() => {
        if (generation !== this.generation || exiting) return;
        this.onStreamEnd(status);
      });
    });

    call.write(first);
    // A resumed stream carries every report still unacknowledged, same ids.
    if (this.resumeToken) {
      for (const report of this.pending.values()) call.write(report.request);
    }
  }

  onStreamEnd(status) {
    trace(`stream ended: ${status.code} ${status.details}`);
    this.call = null;
    if (this.ending) {
      this.finish();
      return;
    }
    const code = status.code;
    const text = `${grpc.status[code] || code} (${code}): ${status.details}`;
    if (code === grpc.status.OK && this.goingAwayMs === 0) {
      fail('the stream ended without the class ending: ' + text);
      return;
    }
    if (PERMANENT_CODES.has(code)) {
      fail((this.resumeToken ? 'resume' : 'join') + ' stream failed: ' + text);
      return;
    }
    this.lastFailure = text;
    const now = Date.now();
    if (this.failingSince === null) {
      this.failingSince = now;
      this.backoffMs = BACKOFF_INITIAL_MS;
    }
    if (now - this.failingSince >= GIVE_UP_MS) {
      fail(`no connection for ${Math.round((now - this.failingSince) / 1000)} s; last: ${text}`);
      return;
    }
    const delay = Math.max(this.backoffMs, this.goingAwayMs);
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    setTimeout(() => this.open(), delay);
  }

  onResponse(response) {
    if (TRACE) {
      const body = response[response.kind] || {};
      const detail = response.kind === 'event' ? `${body.kind} seq ${body.seq}` :
          response.kind === 'snapshot' ? `${body.reason} seq ${body.seq}` :
          response.kind === 'ack' ? `${body.report_id} code ${body.code} duplicate ${body.duplicate}` : '';
      trace(`${response.kind} ${detail}`);
    }
    if (this.awaitingFirstResponse) {
      this.awaitingFirstResponse = false;
      this.failingSince = null;
      this.backoffMs = BACKOFF_INITIAL_MS;
      if (this.resumedFrom !== null) say('resumed ' + this.resumedFrom);
    }
    switch (response.kind) {
      case 'joined':
        this.onJoined(response.joined);
        break;
      case 'snapshot':
        this.onSnapshot(response.snapshot);
        break;
      case 'event':
        this.onEvent(response.event);
        break;
      case 'ack':
        this.onAck(response.ack);
        break;
      case 'progress':
        if (this.catchingUp) {
          this.catchingUp = false;
          if (this.state) this.setState(this.state);
        }
        break;
      case 'going_away':
        this.goingAwayMs = Math.max(1, seqOf(response.going_away.reconnect_after_ms));
        break;
      default:
        throw new Error('unexpected response kind ' + JSON.stringify(response.kind));
    }
  }

  onJoined(joined) {
    if (this.resumeToken) throw new Error('joined twice');
    if (!joined.participant_id || !joined.resume_token) {
      throw new Error('joined without participant_id or resume_token');
    }
    this.participantId = joined.participant_id;
    this.resumeToken = joined.resume_token;
    say('joined ' + this.participantId);
  }

  onSnapshot(snapshot) {
    if (!this.resumeToken) throw new Error('a snapshot before joined');
    // INITIAL on join, MISSED_EVENTS after a resume that missed too much:
    // either way the snapshot replaces what we knew.
    this.lastSeq = seqOf(snapshot.seq);
    this.catchingUp = false;
    if (!snapshot.state) throw new Error('a snapshot without state');
    this.setState(snapshot.state);
  }

  onEvent(event) {
    const seq = seqOf(event.seq);
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (event.kind === 'state') this.setState(event.state);
  }

  setState(state) {
    this.state = state;
    if (this.ending) return;
    if (state.phase === 'CLASS_PHASE_ENDED') {
      this.end();
      return;
    }
    if (this.catchingUp) return;
    const interval = state.current;
    if (interval && interval.kind === 'INTERVAL_KIND_WORK' &&
        !this.reportedIntervals.has(interval.index)) {
      this.reportInterval(interval);
    }
  }

  send(kind, body, extra) {
    const request = {[kind]: body};
    this.pending.set(body.report_id, Object.assign({request, kind}, extra || {}));
    // With no stream open, the report goes out on the next resume.
    if (this.call !== null) this.call.write(request);
  }

  reportInterval(interval) {
    this.reportedIntervals.add(interval.index);
    this.send('completion', {
      report_id: `${this.name}-c${interval.index}`,
      block_index: interval.block_index,
      set: interval.set,
      side: interval.side,
      reps: REPS,
    }, {intervalIndex: interval.index, blockIndex: interval.block_index, reps: REPS});
    if (interval.block_index === 1 && !this.symptomSent) {
      this.symptomSent = true;
      this.send('symptom', {
        report_id: `${this.name}-symptom`,
        symptom: 'SYMPTOM_HIP_PINCH',
        block_index: 1,
      });
    }
  }

  onAck(ack) {
    const id = ack.report_id;
    if (ack.code !== 0) {
      fail(`ack ${id} ${ack.code} ${oneLine(ack.message)}`);
      return;
    }
    const report = this.pending.get(id);
    if (report === undefined) {
      if (this.acked.has(id)) return;  // already counted
      throw new Error('an ack for a report never sent: ' + JSON.stringify(id));
    }
    this.pending.delete(id);
    this.acked.add(id);
    say('acked ' + id);
    if (report.kind === 'completion') {
      this.totalReps += report.reps;
      this.completionsAcked++;
      say('reported ' + report.intervalIndex);
      if (!this.firstCompletionAcked) {
        this.firstCompletionAcked = true;
        if (!this.effortSent && !this.ending) {
          this.effortSent = true;
          this.send('effort', {
            report_id: `${this.name}-effort`,
            block_index: report.blockIndex,
            feel: 'EFFORT_FEEL_JUST_RIGHT',
            cr10: 5,
          });
        }
      }
    } else if (report.kind === 'symptom') {
      this.symptomsAcked++;
    }
  }

  // The class is over: half-close, take the acks still on their way, then
  // report the totals once the server has closed the stream.
  end() {
    this.ending = true;
    if (this.call === null) {
      this.finish();
      return;
    }
    this.call.end();
    setTimeout(() => this.finish(), END_GRACE_MS);
  }

  finish() {
    if (exiting) return;
    try {
      this.client.close();
    } catch (err) {
      // Closing is best effort; the process exits next.
    }
    exitWith(0, `done ${this.totalReps} ${this.completionsAcked} ${this.symptomsAcked}`);
  }
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    fail(err.message);
    return;
  }
  const Service = loadService();
  new Participant(args, Service).start();
}

main();
