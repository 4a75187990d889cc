#ifndef CIRCUIT_BENCH_LOAD_ATTACK_H_
#define CIRCUIT_BENCH_LOAD_ATTACK_H_

// `circuit-bench --attack=...`: hostile traffic played against circuitd while
// a healthy class is measured, from a loopback address of its own (the
// healthy participants each have theirs), so circuitd's per-address limits
// treat it as the one device it is.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace circuit::bench {

enum class BenchAttack {
  kOff,          // no --attack: the bench's usual set-up
  kNone,         // the attack set-up (an address per participant) without one
  kJoins,        // `size` join attempts, spread over the attack
  kIdleTcp,      // `size` TCP connections to gRPC that never send a byte
  kSlowloris,    // `size` HTTP connections trickling a request, a byte a second
  kReportFlood,  // one participant sending `size` reports a second
};

// "none", "joins", "idle_tcp", "slowloris", "report_flood"; false otherwise.
bool ParseBenchAttack(const std::string& name, BenchAttack* attack);
const char* BenchAttackName(BenchAttack attack);
// The sizes: 10,000 joins, 5,000 connections, 1,000 slow HTTP
// connections, 1,000 reports a second.
int DefaultAttackSize(BenchAttack attack);

// A TCP socket bound to `from` (an IP; empty: any) and connected to
// host:port, blocking; -1 with errno on failure.
int ConnectFrom(const std::string& from, const std::string& host, int port);

// A gRPC channel over one such connection (it does not reconnect); null when
// the connection could not be made.
std::shared_ptr<grpc::Channel> ChannelFrom(const std::string& from,
                                           const std::string& host, int port);

struct AttackOptions {
  BenchAttack attack = BenchAttack::kNone;
  int size = 0;
  // The attacker's source address (any 127/8 address is this machine).
  std::string from = "127.0.0.2";
  std::string host = "127.0.0.1";
  int grpc_port = 0;
  int http_port = 0;
  std::string join_code;
  // How long the attack is planned to last (joins are spread over it).
  absl::Duration duration = absl::Seconds(20);
  // circuitd's pid, to sample its RSS while attacked (0: not sampled).
  pid_t server_pid = 0;
  // Idle TCP and slow loris: reopen each connection the server closes (an
  // attacker keeping its count up); false: each is opened once.
  bool reopen = true;
  // Slow loris: one byte per connection this often.
  absl::Duration trickle_every = absl::Seconds(1);
};

// What the attack did and what circuitd answered.
struct AttackTally {
  // Joins.
  int64_t join_attempts = 0;
  int64_t joins_ok = 0;
  int64_t joins_refused = 0;  // RESOURCE_EXHAUSTED
  int64_t joins_other = 0;
  std::string first_other;
  // Idle TCP and slow loris: connections opened (and reopened once the
  // server closed them), closed by the server, the most open at once, and
  // how long the server kept them (median and longest, in seconds).
  int64_t opened = 0;
  int64_t closed_by_server = 0;
  int64_t connect_failed = 0;
  int64_t open_peak = 0;
  double held_p50_s = 0;
  double held_max_s = 0;
  // Slow loris: a well-behaved HTTP client (GET /healthz from 127.0.0.1, a
  // new connection each, every 100 ms) during the attack.
  int64_t probes = 0;
  int64_t probes_ok = 0;
  double probe_p99_ms = 0;
  // Report flood.
  int64_t reports_sent = 0;
  int64_t reports_acked = 0;    // code 0
  int64_t reports_refused = 0;  // an ack with another code
  int64_t streams_cut = 0;      // ended by the server
  std::string first_cut;
  int64_t resumes = 0;
  // Of the streams cut: joins and resumes refused before they were answered
  // (the per-address limit), and the first such status.
  int64_t entries_refused = 0;
  std::string first_entry_refused;
  // circuitd's highest RSS sampled while attacked (every 250 ms), in MB.
  double server_rss_peak_mb = 0;

  // One line for the bench's notes.
  std::string Summary(BenchAttack attack, int size) const;
};

// Runs one attack on threads of its own. Thread-safe; Stop ends it within a
// few seconds.
class Attack {
 public:
  explicit Attack(AttackOptions options);
  Attack(const Attack&) = delete;
  Attack& operator=(const Attack&) = delete;
  ~Attack();

  // Starts the attack's threads.
  void Start();
  // Waits until the attack is at full strength (its connections open, its
  // flooder joined), at most `timeout`; false at the timeout.
  bool WaitRampedUp(absl::Duration timeout);
  // Stops sending, closes every connection, joins the threads. Idempotent.
  void Stop();
  // Call after Stop.
  AttackTally tally();

 private:
  class JoinAttempt;
  void RunJoins();
  // A join attempt's end: `joined` when it was answered with a seat.
  void JoinAnswered(bool joined, const grpc::Status& status)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RunConnections(bool http);
  void RunProbes();
  void RunFlood();
  void RunSampler();
  void RampedUp();
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  const AttackOptions options_;
  // Set by Stop; every loop checks it.
  std::atomic<bool> stop_{false};
  absl::Time start_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  AttackTally tally_ ABSL_GUARDED_BY(mu_);
  std::vector<double> held_s_ ABSL_GUARDED_BY(mu_);
  std::vector<double> probe_ms_ ABSL_GUARDED_BY(mu_);
  int ramped_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t joins_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int ramp_needed_ = 1;
  bool stopped_ = false;
};

}  // namespace circuit::bench

#endif  // CIRCUIT_BENCH_LOAD_ATTACK_H_
