#ifndef CIRCUIT_BENCH_LOAD_LOAD_H_
#define CIRCUIT_BENCH_LOAD_LOAD_H_

// `circuit-bench`: the operator's load tool. Simulated participants, each on
// a TCP connection of its own, join one class of the kickback trio and the
// tool measures what a real room costs circuitd: how fast a cue or an
// interval change reaches everyone, how fast joins and reports are
// answered, and circuitd's CPU and memory (from /proc) while it does so.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/load/attack.h"
#include "bench/load/sse.h"

namespace circuit::bench {

// What one run does after the participants have joined.
enum class BenchMode {
  // The instructor sends `messages` cues at `rate` a second; every
  // participant's receipt of every cue is timed.
  kCues,
  // The instructor moves the class on (`next`, and `previous` at the end of
  // the plan) `messages` times at `rate` a second; every participant's
  // receipt of every interval change is timed.
  kNext,
  // Only the joins are measured.
  kJoins,
  // Every participant sends `messages` completion reports at `rate` a second
  // (the class at N * rate a second, in turn); acks are timed from when each
  // report was due.
  kReports,
  // Nothing is sent for `seconds`; circuitd's CPU is what is measured.
  kIdle,
  // The shape of a real class for `seconds`: a cue every 5 s, a `next` every
  // 45 s, every participant reporting a set every 45 s (spread), and the
  // class progress the server sends.
  kClass,
};

// "cues", "next", ...; false for an unknown name.
bool ParseBenchMode(const std::string& name, BenchMode* mode);

struct BenchOptions {
  BenchMode mode = BenchMode::kCues;
  // How the simulated clients reach circuitd: gRPC participants, or
  // server-sent events over HTTP as kiosks or participants (each its own
  // connection; bench/load/sse.h). The instructor always uses gRPC. The
  // SSE transports run cues, next, joins and idle.
  BenchTransport transport = BenchTransport::kGrpc;
  // One run per entry, each with that many participants.
  std::vector<int> participants = {200};
  // Per participant: cues or interval changes it receives, or reports it
  // sends.
  int messages = 100;
  // Per second: the instructor's commands (cues, next), or each
  // participant's reports (reports).
  double rate = 20;
  // How long idle and class runs last.
  int seconds = 60;
  // Joins started and not yet answered, at most.
  int joins_in_flight = 64;
  // Completion-queue threads that serve every participant's stream.
  int threads = 2;

  // Start a circuitd of our own for each run (next to this binary, on a free
  // port, a fresh data directory and keys) with the per-address limits
  // lifted by its flags, plus `server_flags`.
  bool spawn_server = false;
  std::vector<std::string> server_flags;
  // Otherwise: circuitd's address, the instructor key, and its process id
  // for CPU and RSS (0: not measured).
  std::string address;
  std::string instructor_key;
  pid_t server_pid = 0;
  // When set, where participants connect instead, in turn (the nodes of a
  // cluster; the instructor stays on `address`).
  std::vector<std::string> participant_addresses;
  // The SSE transports without spawn_server: circuitd's HTTP listener
  // (IP:PORT), and the kiosks' Bearer key (the instructor key if empty).
  std::string http_address;
  std::string kiosk_key;

  // Instructor consoles besides the instructor, each on a connection of its
  // own, attached to the class for the whole run (they send nothing): over
  // gRPC (RunClass) or, with consoles_over_http, HTTP (`GET :run`,
  // server-sent events). What consoles' streams cost circuitd, e.g. in a
  // reports run, whose roster changes on every tick.
  int consoles = 0;
  bool consoles_over_http = false;

  // Ask for batches (several messages in one response) on every stream,
  // when the contract offers them (`accept_batches`), as an app would.
  bool accept_batches = true;

  // Hostile traffic during the measured phase (bench/load/attack.h), from
  // `attack_from`; `attack_size` 0 is the attack's default. Any value but
  // kOff (kNone too, for the baseline) gives each participant an address
  // of its own (127.1.x.y) and keeps a spawned server's per-address limits.
  BenchAttack attack = BenchAttack::kOff;
  int attack_size = 0;
  std::string attack_from = "127.0.0.2";
  // idle_tcp and slowloris: reopen what the server closes.
  bool attack_reopen = true;

  // One JSON object per run instead of a markdown table row.
  bool json = false;
  // A join not answered with a snapshot in this time fails the run.
  absl::Duration join_timeout = absl::Seconds(30);
  // How long after the last send the run waits for deliveries.
  absl::Duration drain_timeout = absl::Seconds(30);
};

// Why `options` cannot run (a usage error), or "" when they can.
std::string BenchUsageError(const BenchOptions& options);

// Runs one measurement per entry of `options.participants` and prints a row
// for each on stdout (progress and failures on stderr). Returns the exit
// code: 0 when every run completed (whatever it measured), 1 when one could
// not (circuitd would not start, a participant could not join, ...), with
// the reason on stderr; 2 for a usage error.
int RunBench(const BenchOptions& options);

}  // namespace circuit::bench

#endif  // CIRCUIT_BENCH_LOAD_LOAD_H_
