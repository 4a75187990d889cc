#ifndef CIRCUIT_BENCH_LOAD_PARTICIPANTS_H_
#define CIRCUIT_BENCH_LOAD_PARTICIPANTS_H_

// The simulated participants on gRPC, and what they measured.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "bench/load/cq_client.h"
#include "bench/load/sse.h"
#include "circuit/v1/service.grpc.pb.h"

namespace circuit::bench {

// Every cue's text starts with this, then its number and send time.
inline constexpr char kCuePrefix[] = "bench cue ";

// ---------------------------------------------------------------------------
// What the participants measured, one shard per poller thread (so the
// locks are taken by one poller and, at the end, the main thread).

struct Change {
  int64_t seq;
  Micros received;
};

struct Shard {
  absl::Mutex mu;
  CueReceipts cues ABSL_GUARDED_BY(mu);
  // Every state event each participant received.
  std::vector<Change> changes ABSL_GUARDED_BY(mu);
  std::vector<int64_t> ack_latency_us ABSL_GUARDED_BY(mu);
  Micros last_ack_received ABSL_GUARDED_BY(mu) = 0;
  int64_t refused ABSL_GUARDED_BY(mu) = 0;
  std::string first_refusal ABSL_GUARDED_BY(mu);
  // Reads on participant streams, and the messages they carried.
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> messages{0};
};

// What every participant of a run shares.
class RunState {
 public:
  RunState(int participants, int shards, int max_cues)
      : participants_(participants), max_cues_(max_cues) {
    for (int i = 0; i < shards; ++i) {
      shards_.push_back(std::make_unique<Shard>());
    }
  }

  int participants() const { return participants_; }
  int max_cues() const { return max_cues_; }
  Shard& shard(size_t i) { return *shards_[i % shards_.size()]; }
  size_t shard_count() const { return shards_.size(); }

  // When reports are due: report k of participant i at
  // reports_start + (k + i / N) * report_period.
  void SetReportSchedule(Micros start, Micros period) {
    report_period_.store(period, std::memory_order_relaxed);
    reports_start_.store(start, std::memory_order_release);
  }
  Micros ReportDue(int participant, int64_t k) const {
    const Micros start = reports_start_.load(std::memory_order_acquire);
    const Micros period = report_period_.load(std::memory_order_relaxed);
    return start + k * period + participant * period / participants_;
  }

  // A join was started / answered (snapshot) or failed.
  void JoinStarted() {
    absl::MutexLock lock(&join_mu_);
    ++in_flight_;
  }
  void JoinSettled(int participant, bool ok, const grpc::Status& status) {
    absl::MutexLock lock(&join_mu_);
    --in_flight_;
    if (ok) {
      ++joined_;
      return;
    }
    if (failed_++ == 0) {
      first_failure_ = absl::StrCat("participant ", participant,
                                    " could not join: ", StatusText(status));
    }
  }
  // Waits until fewer than `limit` joins are in flight (or one failed), at
  // most `timeout`; false at the timeout.
  bool WaitJoinSlot(int limit, absl::Duration timeout) {
    absl::MutexLock lock(&join_mu_);
    auto free = [this, limit]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(join_mu_) {
      return in_flight_ < limit || failed_ > 0;
    };
    return join_mu_.AwaitWithTimeout(absl::Condition(&free), timeout);
  }
  // Waits until no join is in flight, at most `timeout`.
  bool WaitJoinsSettled(absl::Duration timeout) {
    absl::MutexLock lock(&join_mu_);
    auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(join_mu_) {
      return in_flight_ == 0 || failed_ > 0;
    };
    return join_mu_.AwaitWithTimeout(absl::Condition(&settled), timeout);
  }
  int joined() {
    absl::MutexLock lock(&join_mu_);
    return joined_;
  }
  std::string first_join_failure() {
    absl::MutexLock lock(&join_mu_);
    return first_failure_;
  }

  // A joined participant's stream ended before the tool cancelled it.
  void StreamCut(const grpc::Status& status) {
    absl::MutexLock lock(&join_mu_);
    if (cut_++ == 0) first_cut_ = StatusText(status);
  }
  int cut() {
    absl::MutexLock lock(&join_mu_);
    return cut_;
  }
  std::string first_cut() {
    absl::MutexLock lock(&join_mu_);
    return first_cut_;
  }

  // Reads and messages on participant streams so far.
  std::pair<int64_t, int64_t> ReadsAndMessages() {
    int64_t reads = 0, messages = 0;
    for (auto& shard : shards_) {
      reads += shard->reads.load(std::memory_order_relaxed);
      messages += shard->messages.load(std::memory_order_relaxed);
    }
    return {reads, messages};
  }

  // Set before the tool cancels every stream at the end of a run.
  std::atomic<bool> cancelling{false};

 private:
  const int participants_;
  const int max_cues_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<Micros> reports_start_{0};
  std::atomic<Micros> report_period_{1};

  absl::Mutex join_mu_;
  int in_flight_ ABSL_GUARDED_BY(join_mu_) = 0;
  int joined_ ABSL_GUARDED_BY(join_mu_) = 0;
  int failed_ ABSL_GUARDED_BY(join_mu_) = 0;
  std::string first_failure_ ABSL_GUARDED_BY(join_mu_);
  int cut_ ABSL_GUARDED_BY(join_mu_) = 0;
  std::string first_cut_ ABSL_GUARDED_BY(join_mu_);
};

// One simulated participant: joins with the code, then times what arrives.
class Participant final
    : public BidiStream<v1::JoinClassRequest, v1::JoinClassResponse> {
 public:
  Participant(RunState* run, int index, const std::string& address,
              const std::string& source)
      : BidiStream(address, index, source),
        run_(run),
        index_(index),
        shard_(&run->shard(static_cast<size_t>(index))),
        cue_seen_(static_cast<size_t>(run->max_cues()), false) {}

  void Join(grpc::CompletionQueue* cq, const std::string& join_code,
            bool batches) {
    v1::JoinClassRequest join;
    join.mutable_join()->set_join_code(join_code);
    join.mutable_join()->set_accept_batches(batches);
    join.mutable_join()->mutable_check_in()->set_display_name(
        absl::StrCat("Bench ", index_));
    join_started_ = NowMicros();
    run_->JoinStarted();
    Open(cq, std::move(join));
  }

  // Sends completion report number k (block 0, alternating sides and sets).
  void Report(int64_t k) {
    v1::JoinClassRequest request;
    v1::CompletionReport* c = request.mutable_completion();
    c->set_report_id(absl::StrCat("r", k));
    c->set_block_index(0);
    c->set_set(static_cast<int32_t>(1 + (k / 2) % 2));
    c->set_side(k % 2 == 0 ? v1::SIDE_LEFT : v1::SIDE_RIGHT);
    c->set_reps(static_cast<int32_t>(8 + k % 3));
    sent_.fetch_add(1, std::memory_order_relaxed);
    if (!Send(std::move(request))) {
      sent_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Has seen every event up to `seq` and an answer to every report sent, or
  // will see nothing more.
  bool CaughtUp(int64_t seq) const {
    return ended() || (last_seq_.load(std::memory_order_acquire) >= seq &&
                       answered_.load(std::memory_order_acquire) >=
                           sent_.load(std::memory_order_relaxed));
  }

  bool joined() const { return joined_.load(std::memory_order_acquire); }
  // From opening the stream to its snapshot; valid once joined().
  Micros join_latency() const {
    return joined_at_.load(std::memory_order_relaxed) - join_started_;
  }
  Micros joined_at() const {
    return joined_at_.load(std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<Rpc> Prepare(v1::CircuitService::Stub* stub,
                               grpc::ClientContext* context,
                               grpc::CompletionQueue* cq) override {
    return stub->PrepareAsyncJoinClass(context, cq);
  }

  void OnResponse(const v1::JoinClassResponse& response) override {
    const Micros now = NowMicros();
    switch (response.kind_case()) {
      case v1::JoinClassResponse::kSnapshot:
        NoteSeq(response.snapshot().seq());
        if (!joined()) {
          joined_at_.store(now, std::memory_order_relaxed);
          joined_.store(true, std::memory_order_release);
          run_->JoinSettled(index_, true, grpc::Status::OK);
        }
        return;
      case v1::JoinClassResponse::kEvent: {
        const v1::ClassEvent& event = response.event();
        if (event.has_cue()) {
          RecordCue(event.cue().text(), now);
        } else if (event.has_state()) {
          absl::MutexLock lock(&shard_->mu);
          shard_->changes.push_back({event.seq(), now});
        }
        NoteSeq(event.seq());
        return;
      }
      case v1::JoinClassResponse::kAck:
        RecordAck(response.ack(), now);
        answered_.fetch_add(1, std::memory_order_release);
        return;
      default:
        return;
    }
  }

  void OnRead(int messages) override {
    shard_->reads.fetch_add(1, std::memory_order_relaxed);
    shard_->messages.fetch_add(messages, std::memory_order_relaxed);
  }

  void OnEnded() override {
    if (!joined()) {
      run_->JoinSettled(index_, false, status());
    } else if (!run_->cancelling.load()) {
      run_->StreamCut(status());
    }
  }

  void NoteSeq(int64_t seq) {
    if (seq > last_seq_.load(std::memory_order_relaxed)) {
      last_seq_.store(seq, std::memory_order_release);
    }
  }

  // "bench cue NNNNNN at MICROS us ...": the send stamp in the text.
  void RecordCue(const std::string& text, Micros now) {
    absl::string_view rest = text;
    if (!absl::ConsumePrefix(&rest, kCuePrefix)) return;
    std::vector<absl::string_view> parts = absl::StrSplit(rest, ' ');
    int index = -1;
    Micros sent = 0;
    if (parts.size() < 3 || !absl::SimpleAtoi(parts[0], &index) ||
        !absl::SimpleAtoi(parts[2], &sent)) {
      return;
    }
    absl::MutexLock lock(&shard_->mu);
    shard_->cues.Record(&cue_seen_, index, sent, now);
  }

  // Ack latency runs from when the report was due (not when it was
  // written), so a server that falls behind shows it in full.
  void RecordAck(const v1::ReportAck& ack, Micros now) {
    absl::string_view id = ack.report_id();
    int64_t k = -1;
    if (!absl::ConsumePrefix(&id, "r") || !absl::SimpleAtoi(id, &k) || k < 0) {
      return;
    }
    absl::MutexLock lock(&shard_->mu);
    if (ack.code() != 0) {
      if (shard_->refused++ == 0) {
        shard_->first_refusal =
            absl::StrCat("code ", ack.code(), ": ", ack.message());
      }
      return;
    }
    shard_->ack_latency_us.push_back(now - run_->ReportDue(index_, k));
    shard_->last_ack_received = std::max(shard_->last_ack_received, now);
  }

  RunState* const run_;
  const int index_;
  Shard* const shard_;
  Micros join_started_ = 0;
  std::atomic<bool> joined_{false};
  std::atomic<Micros> joined_at_{0};
  std::atomic<int64_t> last_seq_{0};
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> answered_{0};
  // Which cues arrived; the poller thread's (under shard_->mu).
  std::vector<bool> cue_seen_;
};

}  // namespace circuit::bench

#endif  // CIRCUIT_BENCH_LOAD_PARTICIPANTS_H_
