#ifndef CIRCUIT_BENCH_LOAD_SSE_H_
#define CIRCUIT_BENCH_LOAD_SSE_H_

// `circuit-bench --transport=sse_kiosk|sse_participant`: the simulated
// screens and phones speak circuitd's HTTP API instead of gRPC. Each one is a
// TCP connection of its own to circuitd's HTTP listener (never shared, as
// each TV or browser has its own) carrying one server-sent event stream:
// `GET /v1/classes/{id}:watch` (a kiosk, with a Bearer key) or
// `POST /v1/classes:join` (a participant). A few threads, each running one
// Boost.Asio io_context, serve every connection asynchronously, so thousands
// of clients need no thread each. Each event's `data:` JSON is read just
// enough to time the cues and interval changes in it.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace circuit::bench {

// How the simulated clients reach circuitd. The instructor always uses gRPC.
enum class BenchTransport {
  // gRPC JoinClass streams (participants), one channel each.
  kGrpc,
  // HTTP `GET /v1/classes/{id}:watch`: kiosks (server-sent events).
  kSseKiosk,
  // HTTP `POST /v1/classes:join`: participants (server-sent events).
  kSseParticipant,
  // HTTP `GET /v1/classes/{id}:run`: instructor consoles (server-sent
  // events), only as --consoles' transport.
  kSseConsole,
};

// "grpc", "sse_kiosk", "sse_participant"; false for an unknown name.
bool ParseBenchTransport(const std::string& name, BenchTransport* transport);
const char* BenchTransportName(BenchTransport transport);

struct SseFleetOptions {
  BenchTransport transport = BenchTransport::kSseKiosk;
  // circuitd's HTTP listener: an IP address and a port.
  std::string host = "127.0.0.1";
  int port = 0;
  // Kiosks and consoles: the class to watch or run and the Bearer key.
  std::string class_id;
  std::string key;
  // Participants: the join code.
  std::string join_code;
  // io_context threads serving every connection.
  int threads = 2;
  // Streams opened and not yet answered with a snapshot, at most.
  int opens_in_flight = 64;
  // An open not answered with a snapshot in this time fails.
  absl::Duration open_timeout = absl::Seconds(30);
  // Cues are "<cue_prefix>NNNNNN at MICROS us ..."; index below max_cues.
  std::string cue_prefix;
  int max_cues = 0;
};

// The receipts of the bench's cues by some clients, whatever their
// transport. Times are microseconds on CLOCK_REALTIME. Not thread-safe.
struct CueReceipts {
  std::vector<int64_t> latency_us;
  int64_t last_received_us = 0;
  int64_t duplicates = 0;

  // Cue `index`, sent at `sent_us`, reached a client at `now_us`; `seen` is
  // that client's cues so far (a cue it saw before counts as a duplicate).
  // An index outside `seen` is not the bench's cue and is ignored.
  void Record(std::vector<bool>* seen, int64_t index, int64_t sent_us,
              int64_t now_us) {
    if (index < 0 || static_cast<size_t>(index) >= seen->size()) return;
    if ((*seen)[static_cast<size_t>(index)]) {
      ++duplicates;
      return;
    }
    (*seen)[static_cast<size_t>(index)] = true;
    latency_us.push_back(now_us - sent_us);
    last_received_us = std::max(last_received_us, now_us);
  }

  // Adds `other`'s receipts to these.
  void Add(const CueReceipts& other) {
    latency_us.insert(latency_us.end(), other.latency_us.begin(),
                      other.latency_us.end());
    last_received_us = std::max(last_received_us, other.last_received_us);
    duplicates += other.duplicates;
  }
};

// What the clients measured. Times are microseconds on CLOCK_REALTIME.
struct SseTally {
  CueReceipts cues;
  // Every interval change (state event) each client received: seq, when.
  std::vector<std::pair<int64_t, int64_t>> changes;
};

// N event-stream clients. Open, CaughtUp and the figures are called from one
// thread (the bench's); the connections live on the fleet's own threads.
class SseFleet {
 public:
  explicit SseFleet(SseFleetOptions options);
  SseFleet(const SseFleet&) = delete;
  SseFleet& operator=(const SseFleet&) = delete;
  ~SseFleet();  // Close()

  // Opens `n` streams, each on its own connection, and waits until every one
  // has had its snapshot; the first failure otherwise ("client 3: HTTP 429
  // RESOURCE_EXHAUSTED ..."), or a deadline. Call once.
  absl::Status Open(int n);

  // Every client has seen the events up to `seq`, or its stream ended.
  bool CaughtUp(int64_t seq) const;

  // From starting to connect to the snapshot, per client (sorted), and when
  // the last one got its snapshot.
  std::vector<int64_t> OpenLatencies() const;
  int64_t LastOpened() const;

  // Reads on the connections, and the events they carried.
  std::pair<int64_t, int64_t> ReadsAndEvents() const;

  // The figures so far.
  SseTally Collect();

  // Streams that ended before Close was called (by the server), and why the
  // first did.
  int cut() const;
  std::string first_cut() const;

  // From now on streams that end are not counted as cut.
  void Cancelling();
  // Closes every connection and stops the threads; bounded. Idempotent.
  void Close();

 private:
  class Client;
  struct Shared;

  const SseFleetOptions options_;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Client>> clients_;
  bool closed_ = false;
};

}  // namespace circuit::bench

#endif  // CIRCUIT_BENCH_LOAD_SSE_H_
