#!/usr/bin/python3
"""A scripted Circuit participant in Python, for the interop tests.

It speaks circuit.v1 with Debian's grpcio (run it with /usr/bin/python3 and
PYTHONPATH set to the generated stubs) and prints one line per step on
stdout, flushed at once, for the orchestrating test to wait on:

  joined <participant_id>      checked in
  acked <report_id>            a report was recorded (ack code 0)
  reported <interval_index>    ... and it was the completion of that interval
  resumed <last_seq>           the first response after a reconnect arrived
  done <reps> <completions> <symptoms>   the class ended (exit 0)
  error <text>                 anything unexpected (exit 1)

Behaviour: joins with the code, reports 9 reps for every work interval it
sees as current, rates the first acked set "just right" (CR-10 5), reports a
pinch at the front of the hip with its first set of block 1, keeps every
report until it is acked and resends it with the same id after a reconnect,
and resumes with its resume token and last seq after any drop, with backoff
from 100 ms doubling to 1 s, giving up after 30 s of failing.
"""

import argparse
import collections
import queue
import sys
import time

import grpc
from circuit.v1 import live_pb2
from circuit.v1 import service_pb2
from circuit.v1 import service_pb2_grpc

REPS = 9
BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 1.0
GIVE_UP_AFTER_S = 30

# Codes no reconnect can cure: say so and stop instead of retrying.
PERMANENT_CODES = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.UNIMPLEMENTED,
})

CHANNEL_OPTIONS = [
    # A fresh channel per attempt, with its own subchannel: no backoff state
    # is inherited from the connection that was cut.
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.enable_retries", 0),
]


class Fatal(Exception):
    """Something unexpected: print `error <text>` and exit 1."""


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Requests:
    """The request side of one JoinClass stream: a queue the stream drains."""

    _CLOSE = object()

    def __init__(self):
        self._queue = queue.Queue()

    def send(self, request):
        self._queue.put(request)

    def close(self):
        """Half-closes the stream once what is queued has been sent."""
        self._queue.put(self._CLOSE)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._CLOSE:
                return
            yield item


class Participant:

    def __init__(self, address, code, name):
        self.address = address
        self.code = code
        self.name = name
        self.participant_id = ""
        self.resume_token = ""
        self.last_seq = 0
        self.state = live_pb2.ClassState()
        # Completion intervals already reported (sent, acked or not).
        self.reported_intervals = set()
        # Unacknowledged reports by id, in the order made.
        self.pending = collections.OrderedDict()
        # Interval index of each completion report, by id.
        self.completion_interval = {}
        self.acked = set()
        self.effort_made = False
        self.symptom_made = False
        self.total_reps = 0
        self.completions = 0
        self.symptoms = 0
        self.requests = None  # the open stream's, when there is one
        self.reconnect_after_s = 0.0  # from the server's GoingAway
        # When the streams started failing; None while one is up.
        self.failing_since = None
        # True while a resume replays missed events: the intervals they
        # pass through are history, not sets to report now. The first
        # progress (or a snapshot) after them marks the present.
        self.catching_up = False

    # -- Reports --------------------------------------------------------

    def submit(self, report_id, request):
        self.pending[report_id] = request
        if self.requests is not None:
            self.requests.send(request)

    def maybe_report(self):
        """Reports the current interval when it is unreported work."""
        if self.catching_up:
            return
        if self.state.phase not in (live_pb2.CLASS_PHASE_RUNNING,
                                    live_pb2.CLASS_PHASE_PAUSED):
            return
        if not self.state.HasField("current"):
            return
        interval = self.state.current
        if interval.kind != live_pb2.INTERVAL_KIND_WORK:
            return
        if interval.index in self.reported_intervals:
            return
        self.reported_intervals.add(interval.index)
        report_id = "%s-c%d" % (self.name, interval.index)
        request = service_pb2.JoinClassRequest(
            completion=live_pb2.CompletionReport(
                report_id=report_id,
                block_index=interval.block_index,
                set=interval.set,
                side=interval.side,
                reps=REPS))
        self.completion_interval[report_id] = (interval.index,
                                               interval.block_index)
        self.submit(report_id, request)
        if interval.block_index == 1 and not self.symptom_made:
            self.symptom_made = True
            symptom_id = "%s-symptom" % self.name
            self.submit(
                symptom_id,
                service_pb2.JoinClassRequest(symptom=live_pb2.SymptomReport(
                    report_id=symptom_id,
                    symptom=live_pb2.SYMPTOM_HIP_PINCH,
                    block_index=1)))

    def on_ack(self, ack):
        if ack.code != 0:
            raise Fatal("ack %s %d %s" % (ack.report_id, ack.code,
                                          ack.message))
        if ack.report_id in self.acked:
            return  # the same ack again: counted once
        request = self.pending.pop(ack.report_id, None)
        if request is None:
            raise Fatal("ack for unknown report %s" % ack.report_id)
        self.acked.add(ack.report_id)
        kind = request.WhichOneof("kind")
        say("acked %s" % ack.report_id)
        if kind == "completion":
            self.total_reps += request.completion.reps
            self.completions += 1
            index, block_index = self.completion_interval[ack.report_id]
            say("reported %d" % index)
            if not self.effort_made:
                self.effort_made = True
                effort_id = "%s-effort" % self.name
                self.submit(
                    effort_id,
                    service_pb2.JoinClassRequest(effort=live_pb2.EffortReport(
                        report_id=effort_id,
                        block_index=block_index,
                        feel=live_pb2.EFFORT_FEEL_JUST_RIGHT,
                        cr10=5)))
        elif kind == "symptom":
            self.symptoms += 1

    # -- Responses ------------------------------------------------------

    def apply(self, response):
        kind = response.WhichOneof("kind")
        if kind == "joined":
            raise Fatal("a second `joined` on one stream")
        if kind == "snapshot":
            snapshot = response.snapshot
            self.last_seq = snapshot.seq
            self.state.CopyFrom(snapshot.state)
        elif kind == "event":
            event = response.event
            if event.seq > self.last_seq:
                self.last_seq = event.seq
            if event.WhichOneof("kind") == "state":
                self.state.CopyFrom(event.state)
        elif kind == "ack":
            self.on_ack(response.ack)
        elif kind == "going_away":
            self.reconnect_after_s = (response.going_away.reconnect_after_ms /
                                      1000.0)
        elif kind != "progress":
            raise Fatal("unexpected response %s" % kind)
        if kind in ("progress", "snapshot"):
            self.catching_up = False
        self.maybe_report()

    def ended(self):
        return self.state.phase == live_pb2.CLASS_PHASE_ENDED

    # -- Streams --------------------------------------------------------

    def run_stream(self, stub):
        """Runs one stream to its end.

        Returns True when the class ended (and the stream was closed
        cleanly); raises grpc.RpcError when the stream broke, or Fatal.
        """
        requests = Requests()
        resuming = bool(self.resume_token)
        metadata = None
        if resuming:
            self.catching_up = True
            metadata = (("authorization", "Bearer " + self.resume_token),)
            last_seq_sent = self.last_seq
            requests.send(
                service_pb2.JoinClassRequest(
                    resume=service_pb2.ResumeRequest(last_seq=last_seq_sent)))
        else:
            requests.send(
                service_pb2.JoinClassRequest(join=service_pb2.JoinRequest(
                    join_code=self.code,
                    check_in=live_pb2.CheckIn(display_name=self.name,
                                              show_name_on_kiosk=True))))
        call = stub.JoinClass(iter(requests), metadata=metadata)
        first = True
        closing = False
        try:
            for response in call:
                if first:
                    first = False
                    self.failing_since = None
                    if resuming:
                        say("resumed %d" % last_seq_sent)
                    else:
                        if response.WhichOneof("kind") != "joined":
                            raise Fatal("the first response is %s, not joined" %
                                        response.WhichOneof("kind"))
                        self.participant_id = response.joined.participant_id
                        self.resume_token = response.joined.resume_token
                        say("joined %s" % self.participant_id)
                    self.requests = requests
                    # Whatever was not acked on the last stream, again.
                    for request in self.pending.values():
                        requests.send(request)
                    if not resuming:
                        continue
                self.apply(response)
                if self.ended() and not closing:
                    # Half-close; the server finishes the stream once it has
                    # written what is queued (acks included).
                    closing = True
                    requests.close()
            if closing:
                return True
            raise Fatal("the stream ended (OK) before the class did")
        except grpc.RpcError:
            if closing:
                return True  # the class is over; nothing more to wait for
            raise
        finally:
            self.requests = None
            requests.close()
            call.cancel()

    def run(self):
        backoff = BACKOFF_INITIAL_S
        while True:
            channel = grpc.insecure_channel(self.address,
                                            options=CHANNEL_OPTIONS)
            try:
                stub = service_pb2_grpc.CircuitServiceStub(channel)
                if self.run_stream(stub):
                    say("done %d %d %d" %
                        (self.total_reps, self.completions, self.symptoms))
                    return
            except grpc.RpcError as e:
                code = e.code()
                if code in PERMANENT_CODES:
                    raise Fatal("stream %s: %s" % (code.name, e.details()))
                if self.failing_since is None:
                    # It was up a moment ago: start over with short waits.
                    self.failing_since = time.monotonic()
                    backoff = BACKOFF_INITIAL_S
                elif time.monotonic() - self.failing_since > GIVE_UP_AFTER_S:
                    raise Fatal("gave up reconnecting after %ds: %s: %s" %
                                (GIVE_UP_AFTER_S, code.name, e.details()))
            finally:
                channel.close()
            time.sleep(max(backoff, self.reconnect_after_s))
            self.reconnect_after_s = 0.0
            backoff = min(backoff * 2, BACKOFF_MAX_S)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", required=True, help="host:port")
    parser.add_argument("--code", required=True, help="the class's join code")
    parser.add_argument("--name", required=True, help="display name")
    args = parser.parse_args()
    try:
        Participant(args.address, args.code, args.name).run()
    except Fatal as e:
        say("error %s" % e)
        return 1
    except Exception as e:  # pylint: disable=broad-except
        say("error %s: %s" % (type(e).__name__, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
