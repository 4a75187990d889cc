#ifndef CIRCUIT_SERVER_COMMON_STATS_H_
#define CIRCUIT_SERVER_COMMON_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace circuit {

// A histogram of integer observations (nanoseconds, entries...) with fixed
// upper bounds, counted with relaxed atomics: observing never waits.
class Histogram {
 public:
  explicit Histogram(std::initializer_list<int64_t> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(int64_t value);

  struct Snapshot {
    std::vector<int64_t> bounds;
    // Per bucket (not cumulative); the last one is above every bound.
    std::vector<uint64_t> counts;
    int64_t sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<int64_t> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;
  std::atomic<int64_t> sum_{0};
};

// What circuitd counts as it works, for /metrics. Process-wide, like the
// fan-out's totals (Stream::totals). Nothing here carries a name, an id or
// health data.
struct ServerStats {
  static constexpr int kCodes = 17;  // gRPC status codes 0..16

  // Reports (completion, effort, symptom) answered, by status code.
  std::array<std::atomic<uint64_t>, kCodes> reports_by_code{};
  // Instructor commands answered, by status code.
  std::array<std::atomic<uint64_t>, kCodes> commands_by_code{};
  // From a report reaching its class to its ack being queued, in ns.
  Histogram ack_latency_ns{500'000,     1'000'000,   2'500'000,    5'000'000,
                           10'000'000,  25'000'000,  50'000'000,   100'000'000,
                           250'000'000, 500'000'000, 1'000'000'000};
  // One journal transaction (write and commit), in ns.
  Histogram journal_commit_ns{100'000,    250'000,     500'000,    1'000'000,
                              2'500'000,  5'000'000,   10'000'000, 25'000'000,
                              50'000'000, 100'000'000, 250'000'000};
  // Entries per journal transaction.
  Histogram journal_batch_entries{1,   2,   5,   10,   20,  50,
                                  100, 200, 500, 1000, 5000};
  // Streams closed because their reader fell too far behind.
  std::atomic<uint64_t> slow_reader_disconnects{0};
  // In a cluster (set once the node joined one): the classes this node
  // owns, the live classes no node owns as its last look saw them (each
  // waits for a node to take it over), and lease renewals that failed.
  std::atomic<bool> clustered{false};
  std::atomic<int64_t> cluster_classes_owned{0};
  std::atomic<int64_t> cluster_classes_without_owner{0};
  std::atomic<uint64_t> cluster_lease_renew_failures{0};
  // Classes other nodes own that this node follows (serves streams of),
  // and inputs forwarded to an owner that got no answer in time.
  std::atomic<int64_t> cluster_classes_followed{0};
  std::atomic<uint64_t> cluster_forward_failures{0};
  // Refused by the rate limits.
  std::atomic<uint64_t> rate_limited_joins{0};
  std::atomic<uint64_t> rate_limited_messages{0};
  // Joins and resumes refused by the rate limit whose answer is still
  // waiting out the refusal delay.
  std::atomic<int64_t> delayed_refusals{0};
  // HTTP connections closed on accept: over --http_max_connections or
  // --http_max_connections_per_address.
  std::atomic<uint64_t> refused_http_connections{0};
  // Kiosk and participant event streams open over HTTP (gRPC's are the
  // service's count).
  std::atomic<int64_t> open_http_kiosks{0};
  std::atomic<int64_t> open_http_participants{0};
  // Resumed streams that got what they missed as events, or a snapshot.
  std::atomic<uint64_t> resumes_with_events{0};
  std::atomic<uint64_t> resumes_with_snapshot{0};

  void CountReport(int code);
  void CountCommand(int code);
};

ServerStats& ProcessStats();

// A monotonic clock's reading in ns, for the latency histograms.
int64_t MonotonicNanos();

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_STATS_H_
