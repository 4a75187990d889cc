#ifndef CIRCUIT_SERVER_FANOUT_WRITE_PACER_H_
#define CIRCUIT_SERVER_FANOUT_WRITE_PACER_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace circuit {

// How long a batching stream waits between writes (StreamSink::DeferWrite),
// chosen from the load: while the server writes at most `budget` messages a
// second, no stream waits; beyond that, each waits streams / budget seconds
// between writes (at most `max_interval`), so what comes meanwhile shares a
// write and the server's writes stay near the budget however many messages
// it carries. A write costs about the same whatever it carries (20-25 us
// of server CPU here, BENCHMARKS.md), so this is what keeps a big room at
// a fast rate within the machine.
//
// The rate is measured over `window`, from a running count of messages
// written (batched ones counted each), so pacing does not hide the load it
// answers. Thread-safe and lock-free: every stream asks on each write.
class WritePacer {
 public:
  struct Options {
    // Messages a second the server writes before streams start to wait.
    double budget = 25'000;
    absl::Duration max_interval = absl::Milliseconds(250);
    absl::Duration window = absl::Seconds(1);
  };

  explicit WritePacer(const Options& options);

  // The interval now: `now_ns` is a steady clock's reading, `messages` the
  // running count of messages written, `streams` the open streams.
  absl::Duration Interval(int64_t now_ns, uint64_t messages, int64_t streams);

 private:
  const Options options_;
  std::atomic<int64_t> window_start_ns_{-1};
  std::atomic<uint64_t> window_messages_{0};
  std::atomic<int64_t> interval_ns_{0};
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_FANOUT_WRITE_PACER_H_
