#ifndef CIRCUIT_SERVER_HTTP_EVENT_STREAM_H_
#define CIRCUIT_SERVER_HTTP_EVENT_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/fanout/stream.h"
#include "server/http/http_api.h"

namespace circuit {

// A class stream (a kiosk's WatchClass, a participant's JoinClass or the
// instructor console's RunClass) over HTTP: the same Stream the gRPC reactors
// use, subscribed to the class actor the same way (the same snapshot, events,
// progress and privacy filter), each message sent as one server-sent event
// whose data is the response in canonical JSON and whose id is its seq (an
// event's, or a snapshot's).
//
// The Stream exists from construction, so the actor can be asked (a join,
// a resume) before the HTTP answer is chosen: what it writes meanwhile waits
// here until Start, and an answer that turns out to be an error simply never
// starts the stream (Abandon). Flow control is the Stream's: a chunk's write
// completion acks it, so a reader that stops reading is cut off as on gRPC.
// Thread-safe.
class EventStream final : public EventSource,
                          public StreamSink,
                          public std::enable_shared_from_this<EventStream> {
 public:
  // Which response message the stream's bytes are.
  enum class Kind { kWatch, kJoin, kRun };

  // `open_count` (may be null) counts the stream while it is started.
  static std::shared_ptr<EventStream> Create(Kind kind, size_t max_queued,
                                             std::atomic<int64_t>* open_count);

  // Stops (as Stop) if never stopped: the Stream no longer points here.
  ~EventStream() override;

  // The stream to hand to the class actor.
  const std::shared_ptr<Stream>& stream() const { return stream_; }

  // Runs once, when the connection is gone or the server stops (after
  // Start), e.g. to tell the actor a participant's stream ended.
  void OnStop(absl::AnyInvocable<void()> on_stop) ABSL_LOCKS_EXCLUDED(mu_);

  // The answer is an error after all: the stream is closed and never
  // started.
  void Abandon() ABSL_LOCKS_EXCLUDED(mu_);

  // EventSource.
  void Start(std::shared_ptr<EventSink> sink) override ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() override ABSL_LOCKS_EXCLUDED(mu_);

  // StreamSink (the Stream calls these with its lock held).
  void StartWriteBytes(const grpc::ByteBuffer* bytes) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void FinishStream(const absl::Status& status) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void AbortStream(const absl::Status& status) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // One message as text/event-stream lines.
  static std::string Encode(Kind kind, const grpc::ByteBuffer& bytes);

 private:
  EventStream(Kind kind, size_t max_queued, std::atomic<int64_t>* open_count);

  // Sends `chunk` now, or keeps it for Start.
  void SendOrKeep(std::string chunk, absl::AnyInvocable<void()> written,
                  bool end) ABSL_LOCKS_EXCLUDED(mu_);

  const Kind kind_;
  std::atomic<int64_t>* const open_count_;
  const std::shared_ptr<Stream> stream_;
  absl::Mutex mu_;
  std::shared_ptr<EventSink> sink_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Written before Start: the Stream has one write in flight at most, so
  // one chunk, and perhaps the end after it.
  struct Kept {
    std::string chunk;
    absl::AnyInvocable<void()> written;
  };
  std::optional<Kept> kept_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> kept_end_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void()> on_stop_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_EVENT_STREAM_H_
