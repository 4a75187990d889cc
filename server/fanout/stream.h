#ifndef CIRCUIT_SERVER_FANOUT_STREAM_H_
#define CIRCUIT_SERVER_FANOUT_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/fanout/outbound_queue.h"

namespace circuit {

// What a Stream drives: the write side of one gRPC server stream (a
// reactor). Both calls are made with the Stream's lock held and must not
// block or call back into the Stream inline (gRPC reactions never run inline
// from StartWrite or Finish).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Starts writing `bytes`, which stay valid until the sink's write completes
  // and it calls Stream::OnWriteDone.
  virtual void StartWriteBytes(const grpc::ByteBuffer* bytes) = 0;
  // Ends the stream with `status`, which the sink puts in its protocol's
  // terms (a gRPC status, an SSE `end` event). Called once.
  virtual void FinishStream(const absl::Status& status) = 0;
  // Asked, with the Stream's lock held, before a batching stream starts a
  // write: true when the sink would rather the write waited (its last one
  // was too recent, or it takes what to write on its own thread), in which
  // case it calls Stream::Flush() later, once.
  // Whatever queues meanwhile goes in that write. The default never waits.
  virtual bool DeferWrite() { return false; }
  // Ends the stream of a client that stopped reading: Finish with `status`
  // (delivered if the client ever reads again), then cancel the call so its
  // buffers and reactor are freed even if it never does. Called once,
  // instead of FinishStream.
  virtual void AbortStream(const absl::Status& status) = 0;
};

// The server's side of one client stream, as the fan-out sees it: a bounded
// outbound queue with one write in flight. Send and Close never block, so a
// broadcast walks every stream without waiting for any of them.
//
// Lifetime: shared between the class runner (which sends) and the reactor
// (which owns the StreamSink). When the reactor is done, OnDone() detaches
// the sink; later Sends are dropped and dead() turns true, so the runner
// prunes the stream. Thread-safe.
class Stream {
 public:
  // At most `max_queued` messages may wait behind the one being written.
  explicit Stream(size_t max_queued)
      : max_queued_(max_queued), queue_(max_queued) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Connects the reactor's write side. Call once, before anything is sent.
  void Attach(StreamSink* sink) ABSL_LOCKS_EXCLUDED(mu_);

  // The client handles batches (its request's accept_batches): from now on,
  // when several messages wait, the next write carries them all (up to
  // kMaxBatchMessages or kMaxBatchBytes) as one response whose `batch`
  // field (number 15 in every stream's response) holds each in order. The
  // bytes are framed, not parsed or copied: such a write's slices are
  // pairs of (the entry's tag and length, the message's own slice), so a
  // sink may also take the messages back out one by one.
  void AcceptBatches() ABSL_LOCKS_EXCLUDED(mu_);
  static constexpr size_t kMaxBatchMessages = 256;
  static constexpr size_t kMaxBatchBytes = 256 * 1024;

  // Queues a message. A reader that lets the queue fill is closed with
  // RESOURCE_EXHAUSTED. Dropped after Close() or once done.
  void Send(const grpc::ByteBuffer& bytes, Delivery delivery)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Finishes the stream with `status`: after what is queued is written when
  // `after_queued`, else now (the queue is discarded). Only the first Close
  // counts.
  void Close(const absl::Status& status, bool after_queued)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `ready` once, when no more than `at_most` messages wait (at once
  // if that is already so), so a sender can feed a long replay a slice at a
  // time as the reader takes it instead of queueing it whole. Dropped
  // without running once the stream is finishing or done. Replaces an
  // earlier `ready` that has not run. `ready` runs with no lock held, on the
  // thread that completed a write (or the caller's); it must not block.
  void WhenQueueAtMost(size_t at_most, absl::AnyInvocable<void()> ready)
      ABSL_LOCKS_EXCLUDED(mu_);

  // How many messages may wait behind the write in flight.
  size_t max_queued() const { return max_queued_; }

  // The sink's deferred write (StreamSink::DeferWrite) may start now.
  void Flush() ABSL_LOCKS_EXCLUDED(mu_);

  // The reactor reports a completed write; `ok` false means the client is
  // gone, and the stream finishes.
  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);

  // The reactor is done (OnDone): the sink is gone.
  void OnDone() ABSL_LOCKS_EXCLUDED(mu_);

  // True once the stream is finishing or done: nothing more will be written.
  bool dead() const ABSL_LOCKS_EXCLUDED(mu_);

  // Messages waiting (for tests and metrics).
  size_t queued() const ABSL_LOCKS_EXCLUDED(mu_);

  // Every stream's writes so far, the messages they carried (more than one
  // each when batched) and those messages' bytes.
  struct Totals {
    uint64_t writes = 0;
    uint64_t messages = 0;
    uint64_t bytes = 0;  // of the messages, as serialized protobuf
  };
  static Totals totals();

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `abort`: the client stopped reading (see StreamSink::AbortStream).
  void FinishLocked(const absl::Status& status, bool abort = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The `ready` of WhenQueueAtMost, taken out when it is due (to be run
  // once the lock is released).
  absl::AnyInvocable<void()> TakeReadyLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  StreamSink* sink_ ABSL_GUARDED_BY(mu_) = nullptr;
  OutboundQueue queue_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool batches_ ABSL_GUARDED_BY(mu_) = false;
  bool flush_pending_ ABSL_GUARDED_BY(mu_) = false;  // the sink deferred
  size_t ready_at_most_ ABSL_GUARDED_BY(mu_) = 0;
  absl::AnyInvocable<void()> ready_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // Close(after_queued) pending
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish called or done
  // Finished before Attach: FinishStream is owed to the sink.
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_FANOUT_STREAM_H_
