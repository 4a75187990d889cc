#ifndef CIRCUIT_SERVER_RPC_STREAMING_REACTOR_H_
#define CIRCUIT_SERVER_RPC_STREAMING_REACTOR_H_

// The base of the three stream reactors (run_class_reactor.cc,
// join_class_reactor.cc, watch_class_reactor.cc). Internal to rpc/.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/common/log.h"
#include "server/common/rate_limit.h"
#include "server/common/stats.h"
#include "server/fanout/stream.h"
#include "server/fanout/wire.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/cq_call.h"
#include "server/rpc/grpc_status.h"

namespace circuit {
namespace rpc_internal {

constexpr size_t kMaxIdLength = 64;

// Parses a request from raw bytes (the streaming RPCs are raw so their
// responses can be shared bytes).
template <typename Message>
bool Parse(grpc::ByteBuffer* bytes, Message* message) {
  grpc::ProtoBufferReader reader(bytes);
  return message->ParseFromZeroCopyStream(&reader);
}

inline absl::Status Draining() {
  return absl::UnavailableError(
      "circuitd is shutting down; reconnect and resume");
}

}  // namespace rpc_internal

using BidiResponder =
    grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
using WriteResponder = grpc::ServerAsyncWriter<grpc::ByteBuffer>;

// Waits for the next call of a bidirectional stream method on `shard` with a
// new `Reactor` (whose OnStarted listens again the same way); `request` is
// the service's generated RequestX for that method.
template <class Reactor, class Request>
void ListenForBidi(CircuitServiceImpl* service, CqShard* shard,
                   Request request) {
  (new Reactor(service, shard))
      ->CqStreamCall<BidiResponder>::Listen(
          [service, request](grpc::ServerContext* context,
                             BidiResponder* responder,
                             grpc::ServerCompletionQueue* cq, void* tag) {
            (service->*request)(context, responder, cq, cq, tag);
          });
}

// The write side every streaming call shares: a Stream queue in front of
// StartWrite, Finish exactly once, and the clean-up gRPC requires (Finish on
// cancel, delete on done). Created waiting for a call on a shard; OnStarted
// runs when one arrives.
template <class Responder>
class StreamingReactor : public CqStreamCall<Responder>, public StreamSink {
 public:
  // `console`: an instructor's stream, with the deeper queue
  // (max_queued_per_console).
  StreamingReactor(CircuitServiceImpl* service, CqShard* shard,
                   bool console = false)
      : CqStreamCall<Responder>(shard),
        service_(service),
        stream_(std::make_shared<Stream>(
            console ? service->options_.max_queued_per_console
                    : service->options_.max_queued_per_stream)),
        bucket_(std::make_shared<KeyedTokenBuckets::Bucket>(
            service->options_.stream_messages_per_second,
            service->options_.stream_message_burst, service->clock_->Now())) {
    stream_->Attach(this);
    service_->calls_alive_.fetch_add(1, std::memory_order_relaxed);
    service_->calls_.Add();
  }
  ~StreamingReactor() override {
    if (open_count_ != nullptr) {
      open_count_->fetch_sub(1, std::memory_order_relaxed);
    }
    service_->calls_alive_.fetch_sub(1, std::memory_order_relaxed);
    service_->calls_.Done();
  }

  void StartWriteBytes(const grpc::ByteBuffer* bytes) override {
    last_write_ns_.store(MonotonicNanos(), std::memory_order_relaxed);
    this->StartWrite(bytes);
  }
  // A batching stream picks what its next write carries on its shard's
  // thread, when that thread gets to it, not when a class actor queued the
  // first message: a shard that is behind (a broadcast to thousands takes
  // it a while) then sends everything that came meanwhile in one write, and
  // one that keeps up sends each message at once. On top of that, it writes
  // at most once per write interval (fixed, or chosen from the load).
  bool DeferWrite() override {
    const int64_t now = MonotonicNanos();
    const int64_t interval =
        absl::ToInt64Nanoseconds(service_->WriteInterval(now));
    if (interval > 0) {
      const int64_t since =
          now - last_write_ns_.load(std::memory_order_relaxed);
      if (since < interval) {
        this->FlushAfter(absl::Nanoseconds(interval - since));
        return true;
      }
    }
    if (this->shard()->OnThread()) return false;
    this->FlushSoon();
    return true;
  }
  void OnFlush() override { stream_->Flush(); }
  // The stream's status becomes the call's here, at gRPC.
  void FinishStream(const absl::Status& status) override {
    MarkFinishing();
    this->Finish(ToGrpcStatus(status));
  }
  void AbortStream(const absl::Status& status) override {
    MarkFinishing();
    this->Finish(ToGrpcStatus(status));
    // A client whose receive window is closed never takes the status; the
    // cancel frees the call (OnDone runs) instead of holding it forever.
    this->context()->TryCancel();
  }
  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override {
    stream_->Close(absl::CancelledError(), /*after_queued=*/false);
  }
  void OnDone() override {
    stream_->OnDone();
    // Their answers (ok false) release the reactor.
    if (first_message_due_) first_message_alarm_.Cancel();
    if (refusal_due_) refusal_alarm_->Cancel();
    Release();
  }
  // The server is shutting down: no call came, nothing was subscribed.
  void OnNotStarted() override { delete this; }

 protected:
  // Runs once, when the stream is over and no answer from a class actor is
  // still due, before the reactor is deleted.
  virtual void Ended() {}

  // An answer from a class actor is due: the reactor outlives OnDone until
  // it arrives (Release).
  void Hold() { refs_.fetch_add(1); }
  void Release() {
    if (refs_.fetch_sub(1) == 1) {
      Ended();
      delete this;
    }
  }

  // The call arrived: it counts in `count` (open streams of its role, for
  // /metrics) until the reactor is gone.
  void CountOpen(std::atomic<int64_t>* count) {
    open_count_ = count;
    open_count_->fetch_add(1, std::memory_order_relaxed);
  }

  // Starts the next read, unless the stream is finishing (an actor's answer
  // may arrive after the stream was closed from another thread).
  void ReadNext(grpc::ByteBuffer* into) {
    absl::MutexLock lock(&read_mu_);
    if (!finishing_) this->StartRead(into);
  }

  void Fail(const absl::Status& status) {
    stream_->Close(status, /*after_queued=*/false);
  }

  // Fails the stream with `status` once the service's refusal delay has
  // passed: a client that retries as soon as it is refused waits instead of
  // costing a stream each time. At once when the delay is zero or too many
  // refusals are waiting already (they hold a call each). On the shard's
  // thread, with no read started.
  void FailLater(const absl::Status& status) {
    const absl::Duration delay = service_->options_.refusal_delay;
    if (delay <= absl::ZeroDuration() ||
        ProcessStats().delayed_refusals.fetch_add(1,
                                                  std::memory_order_relaxed) >=
            service_->options_.max_delayed_refusals) {
      if (delay > absl::ZeroDuration()) {
        ProcessStats().delayed_refusals.fetch_sub(1, std::memory_order_relaxed);
      }
      return Fail(status);
    }
    refusal_ = status;
    refusal_due_ = true;
    Hold();  // released when the alarm answers, fired or cancelled
    refusal_alarm_ = std::make_unique<grpc::Alarm>();
    refusal_alarm_->Set(this->shard()->cq(), GprDeadline(delay), &refusal_tag_);
  }

  // The end of a bidirectional stream's OnStarted, once the call is let in:
  // refused with UNAVAILABLE while the server drains, else the first read
  // starts, into `into`.
  void StartReading(grpc::ByteBuffer* into) {
    if (service_->draining_.load()) {
      Fail(rpc_internal::Draining());
      return;
    }
    AwaitFirstMessage();
    this->StartRead(into);
  }

  // Ends the stream unless its first message is read within the service's
  // first-message timeout (a stream that never speaks holds a call, and its
  // memory, for nothing). Call in OnStarted, on the shard's thread.
  void AwaitFirstMessage() {
    const absl::Duration timeout = service_->options_.first_message_timeout;
    if (timeout == absl::InfiniteDuration()) return;
    awaiting_first_ = true;
    first_message_due_ = true;
    Hold();  // released when the alarm answers, fired or cancelled
    first_message_alarm_.Set(this->shard()->cq(), GprDeadline(timeout),
                             &first_message_tag_);
  }

  // The first read completed (a message, or the client's half-close). On the
  // shard's thread, in OnReadDone (TakeRequest).
  void FirstMessageCame() {
    if (!awaiting_first_) return;
    awaiting_first_ = false;
    first_message_alarm_.Cancel();
  }

  // From now on the client's messages are counted in `bucket` (shared with
  // the other streams of the same sender), and a refusal names `scope`.
  // Between two reads only.
  void CountMessagesIn(std::shared_ptr<KeyedTokenBuckets::Bucket> bucket,
                       const char* scope) {
    bucket_ = std::move(bucket);
    rate_scope_ = scope;
  }

  // False (and the stream failed) when the client sends faster than allowed.
  bool WithinRate() {
    if (bucket_->TryTake(service_->clock_->Now())) return true;
    ProcessStats().rate_limited_messages.fetch_add(1,
                                                   std::memory_order_relaxed);
    Fail(absl::ResourceExhaustedError(absl::StrCat(
        "more than ", service_->options_.stream_messages_per_second,
        " messages per second ", rate_scope_, " (burst ",
        service_->options_.stream_message_burst, "); slow down, then resume")));
    return false;
  }

  // The start of every OnReadDone: the client's half-close finishes the
  // stream once what is queued is written; a message over the rate, or one
  // that is not a `Request`, fails it. True when `request` holds the next
  // message from `bytes`. Either way the first message, if awaited, came.
  template <typename Request>
  bool TakeRequest(bool ok, grpc::ByteBuffer* bytes, Request* request) {
    FirstMessageCame();
    if (!ok) {
      stream_->Close(absl::OkStatus(), /*after_queued=*/true);
      return false;
    }
    if (!WithinRate()) return false;
    if (!rpc_internal::Parse(bytes, request)) {
      Fail(absl::InvalidArgumentError(absl::StrCat(
          "the message is not a ", Request::descriptor()->name())));
      return false;
    }
    return true;
  }

  CircuitServiceImpl* const service_;
  const std::shared_ptr<Stream> stream_;

 private:
  // An alarm's answer, on the shard's thread: `On(fired)`, fired false when
  // the alarm was cancelled.
  template <void (StreamingReactor::*On)(bool)>
  class AlarmDue final : public CqTag {
   public:
    explicit AlarmDue(StreamingReactor* reactor) : reactor_(reactor) {}
    void Proceed(bool fired) override { (reactor_->*On)(fired); }

   private:
    StreamingReactor* const reactor_;
  };

  void OnFirstMessageDue(bool fired) {
    first_message_due_ = false;
    if (fired && awaiting_first_) {
      awaiting_first_ = false;
      Fail(absl::DeadlineExceededError(absl::StrCat(
          "no first message within ",
          absl::FormatDuration(service_->options_.first_message_timeout),
          " of opening the stream")));
    }
    Release();
  }

  void OnRefusalDue(bool fired) {
    refusal_due_ = false;
    ProcessStats().delayed_refusals.fetch_sub(1, std::memory_order_relaxed);
    if (fired) Fail(refusal_);
    Release();
  }

  // `delay` from now on gRPC's monotonic clock, for an alarm.
  static gpr_timespec GprDeadline(absl::Duration delay) {
    return gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC),
        gpr_time_from_micros(absl::ToInt64Microseconds(delay), GPR_TIMESPAN));
  }

  void MarkFinishing() {
    absl::MutexLock lock(&read_mu_);
    finishing_ = true;
  }

  // Only the reactor's one read at a time touches these: a stream's own
  // bucket, or (CountMessagesIn) a participant's seat's.
  std::shared_ptr<KeyedTokenBuckets::Bucket> bucket_;
  const char* rate_scope_ = "on one stream";
  // The first-message deadline; these are touched on the shard's thread
  // only.
  grpc::Alarm first_message_alarm_;
  AlarmDue<&StreamingReactor::OnFirstMessageDue> first_message_tag_{this};
  bool awaiting_first_ = false;     // no read has completed yet
  bool first_message_due_ = false;  // the alarm has not answered yet
  // A refusal waiting out the refusal delay (FailLater); made only then,
  // since an alarm allocates. On the shard's thread only.
  std::unique_ptr<grpc::Alarm> refusal_alarm_;
  AlarmDue<&StreamingReactor::OnRefusalDue> refusal_tag_{this};
  absl::Status refusal_;
  bool refusal_due_ = false;  // the alarm has not answered yet

  // One for gRPC (released in OnDone), one per answer due from an actor.
  std::atomic<int> refs_{1};
  std::atomic<int64_t>* open_count_ = nullptr;  // see CountOpen
  // When the last write started (steady clock), for DeferWrite.
  std::atomic<int64_t> last_write_ns_{0};
  // Finish and StartRead never race: Finish is called with the Stream's
  // lock held, then this one; ReadNext takes only this one.
  absl::Mutex read_mu_;
  bool finishing_ ABSL_GUARDED_BY(read_mu_) = false;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_STREAMING_REACTOR_H_
