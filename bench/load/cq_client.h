#ifndef CIRCUIT_BENCH_LOAD_CQ_CLIENT_H_
#define CIRCUIT_BENCH_LOAD_CQ_CLIENT_H_

// The load tool's gRPC client: streams on the raw completion-queue API, so
// thousands of simulated phones need a few threads, not one each.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "client/lib/connection.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/status.h"

namespace circuit::bench {

// Microseconds since the Unix epoch on CLOCK_REALTIME: the cue's send stamp
// and every receipt are read from this one clock, in this one process.
using Micros = int64_t;
inline Micros NowMicros() { return absl::GetCurrentTimeNanos() / 1000; }

// "CODE: message", for the notes.
std::string StatusText(const grpc::Status& status);

// ---------------------------------------------------------------------------
// Completion queues: every stream's operations complete on one of a few
// queues, each drained by one thread, so thousands of participants need no
// thread each. All of one stream's completions run on its queue's thread,
// one at a time.

class Tagged {
 public:
  // One operation of this object completed; on a poller thread.
  virtual void Proceed(int op, bool ok) = 0;

 protected:
  ~Tagged() = default;
};

struct Tag {
  Tagged* target;
  int op;
};

class Pollers {
 public:
  explicit Pollers(int threads) {
    for (int i = 0; i < threads; ++i) {
      queues_.push_back(std::make_unique<grpc::CompletionQueue>());
    }
    for (auto& queue : queues_) {
      grpc::CompletionQueue* cq = queue.get();
      threads_.emplace_back([cq] {
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) {
          Tag* t = static_cast<Tag*>(tag);
          t->target->Proceed(t->op, ok);
        }
      });
    }
  }
  Pollers(const Pollers&) = delete;
  Pollers& operator=(const Pollers&) = delete;
  ~Pollers() { Stop(); }

  size_t size() const { return queues_.size(); }
  grpc::CompletionQueue* queue(size_t i) {
    return queues_[i % queues_.size()].get();
  }

  // Shuts the queues down and joins their threads: every operation started
  // on them must have completed or be about to (streams ended or cancelled).
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    for (auto& queue : queues_) queue->Shutdown();
    for (auto& thread : threads_) thread.join();
  }

 private:
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

// A channel of its own: its own TCP connection, as each phone has (channels
// in one process otherwise share subchannels and so connections).
// With `source` (an IP): over a connection from that address, as a device
// of its own would connect (circuitd's limits are per address); such a
// channel does not reconnect.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int salt,
                                          const std::string& source = "");

// One bidirectional stream on the completion-queue API: one read always in
// flight, writes queued and sent one at a time. Send and Cancel may be
// called from any thread; OnResponse and OnEnded run on the stream's poller
// thread. The object must outlive its poller threads (Pollers::Stop).
template <typename Request, typename Response>
class BidiStream : public Tagged {
 public:
  using Rpc = grpc::ClientAsyncReaderWriter<Request, Response>;

  BidiStream(const std::string& address, int salt,
             const std::string& source = "")
      : channel_(OwnChannel(address, salt, source)),
        stub_(v1::CircuitService::NewStub(channel_)) {}
  BidiStream(const BidiStream&) = delete;
  BidiStream& operator=(const BidiStream&) = delete;
  virtual ~BidiStream() = default;

  // Starts the call on `cq`; `first` is its first message. Call once.
  void Open(grpc::CompletionQueue* cq, Request first) {
    {
      absl::MutexLock lock(&mu_);
      outbox_.push_back(std::move(first));
    }
    rpc_ = Prepare(stub_.get(), &context_, cq);
    rpc_->StartCall(&tags_[kStart]);
  }

  // Queues `request`; false when the stream can no longer write.
  bool Send(Request request) {
    absl::MutexLock lock(&mu_);
    if (write_closed_) return false;
    outbox_.push_back(std::move(request));
    if (started_ && !writing_) WriteNextLocked();
    return true;
  }

  void Cancel() { context_.TryCancel(); }

  // True once every operation has completed; status() is then final.
  bool ended() const { return ended_.load(std::memory_order_acquire); }
  const grpc::Status& status() const { return status_; }

 protected:
  virtual std::unique_ptr<Rpc> Prepare(v1::CircuitService::Stub* stub,
                                       grpc::ClientContext* context,
                                       grpc::CompletionQueue* cq) = 0;
  virtual void OnResponse(const Response& response) = 0;
  // Each read, with the number of messages it carried, before them.
  virtual void OnRead(int messages) { (void)messages; }
  virtual void OnEnded() {}

  // Metadata may be added before Open.
  grpc::ClientContext context_;

 private:
  enum Op { kStart, kRead, kWrite, kFinish };

  void Proceed(int op, bool ok) override {
    switch (op) {
      case kStart:
        if (!ok) return Finish();
        {
          absl::MutexLock lock(&mu_);
          started_ = true;
          if (!writing_) WriteNextLocked();
        }
        rpc_->Read(&in_, &tags_[kRead]);
        return;
      case kRead:
        if (!ok) return Finish();
        HandleRead();
        rpc_->Read(&in_, &tags_[kRead]);
        return;
      case kWrite: {
        bool now_ended = false;
        {
          absl::MutexLock lock(&mu_);
          writing_ = false;
          if (ok) {
            WriteNextLocked();
          } else {
            write_closed_ = true;
            outbox_.clear();
          }
          now_ended = EndedLocked();
        }
        if (now_ended) End();
        return;
      }
      case kFinish: {
        bool now_ended = false;
        {
          absl::MutexLock lock(&mu_);
          finished_ = true;
          now_ended = EndedLocked();
        }
        if (now_ended) End();
        return;
      }
      default:
        return;
    }
  }

  // One read: one response, or each of a batch's in order, as if each had
  // arrived alone.
  void HandleRead() {
    const int size = in_.batch_size();
    OnRead(std::max(1, size));
    if (size == 0) {
      OnResponse(in_);
      return;
    }
    for (const Response& one : in_.batch()) OnResponse(one);
  }

  // The stream is over (its read failed): collect the status.
  void Finish() {
    {
      absl::MutexLock lock(&mu_);
      write_closed_ = true;
      outbox_.clear();
    }
    rpc_->Finish(&status_, &tags_[kFinish]);
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (outbox_.empty() || write_closed_) return;
    out_ = std::move(outbox_.front());
    outbox_.pop_front();
    writing_ = true;
    rpc_->Write(out_, &tags_[kWrite]);
  }

  // True once, when the status is in and no write is in flight.
  bool EndedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!finished_ || writing_ || end_reported_) return false;
    end_reported_ = true;
    return true;
  }

  void End() {
    OnEnded();
    ended_.store(true, std::memory_order_release);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CircuitService::Stub> stub_;
  std::unique_ptr<Rpc> rpc_;
  Tag tags_[4] = {
      {this, kStart}, {this, kRead}, {this, kWrite}, {this, kFinish}};
  Response in_;  // the poller thread's only
  grpc::Status status_;
  std::atomic<bool> ended_{false};

  absl::Mutex mu_;
  std::deque<Request> outbox_ ABSL_GUARDED_BY(mu_);
  Request out_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool end_reported_ ABSL_GUARDED_BY(mu_) = false;
};

// ---------------------------------------------------------------------------
// The instructor.

class InstructorStream final
    : public BidiStream<v1::RunClassRequest, v1::RunClassResponse> {
 public:
  InstructorStream(const std::string& address, const std::string& key)
      : BidiStream(address, -1) {
    client::Authorize(&context_, key);
  }

  void Attach(grpc::CompletionQueue* cq, const std::string& class_id,
              bool batches) {
    v1::RunClassRequest attach;
    attach.mutable_attach()->set_class_id(class_id);
    attach.mutable_attach()->set_accept_batches(batches);
    Open(cq, std::move(attach));
  }

  // Waits for the snapshot; false when the stream ended or at `timeout`.
  bool WaitAttached(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return attached_ || over_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&settled), timeout);
    return attached_;
  }

  // Queues `command` with `id`; false when the stream cannot write.
  bool Command(const std::string& id, v1::InstructorCommand command) {
    command.set_command_id(id);
    v1::RunClassRequest request;
    *request.mutable_command() = std::move(command);
    return Send(std::move(request));
  }

  // The result of command `id`, or nothing by `deadline` (or when the stream
  // ended first).
  std::optional<v1::CommandResult> WaitResult(const std::string& id,
                                              absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto settled = [this, &id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return over_ || results_.count(id) > 0;
    };
    mu_.AwaitWithDeadline(absl::Condition(&settled), deadline);
    auto it = results_.find(id);
    if (it == results_.end()) return std::nullopt;
    return it->second;
  }

  std::map<std::string, v1::CommandResult> Results() {
    absl::MutexLock lock(&mu_);
    return results_;
  }
  int interval_count() {
    absl::MutexLock lock(&mu_);
    return interval_count_;
  }
  // The current interval as last seen on this stream.
  int current_index() {
    absl::MutexLock lock(&mu_);
    return current_index_;
  }
  // The seqs of every state event this stream saw.
  std::vector<int64_t> state_seqs() {
    absl::MutexLock lock(&mu_);
    return state_seqs_;
  }

 private:
  std::unique_ptr<Rpc> Prepare(v1::CircuitService::Stub* stub,
                               grpc::ClientContext* context,
                               grpc::CompletionQueue* cq) override {
    return stub->PrepareAsyncRunClass(context, cq);
  }

  void OnResponse(const v1::RunClassResponse& response) override {
    if (response.has_snapshot()) {
      absl::MutexLock lock(&mu_);
      attached_ = true;
      interval_count_ = response.snapshot().state().interval_count();
      current_index_ = response.snapshot().state().current().index();
    } else if (response.has_event() && response.event().has_state()) {
      absl::MutexLock lock(&mu_);
      current_index_ = response.event().state().current().index();
      state_seqs_.push_back(response.event().seq());
    } else if (response.has_command_result()) {
      absl::MutexLock lock(&mu_);
      results_[response.command_result().command_id()] =
          response.command_result();
    }
  }

  void OnEnded() override {
    absl::MutexLock lock(&mu_);
    over_ = true;
  }

  absl::Mutex mu_;
  bool attached_ ABSL_GUARDED_BY(mu_) = false;
  bool over_ ABSL_GUARDED_BY(mu_) = false;
  int interval_count_ ABSL_GUARDED_BY(mu_) = 0;
  int current_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> state_seqs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::CommandResult> results_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit::bench

#endif  // CIRCUIT_BENCH_LOAD_CQ_CLIENT_H_
