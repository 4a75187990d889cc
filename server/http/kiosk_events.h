#ifndef CIRCUIT_SERVER_HTTP_KIOSK_EVENTS_H_
#define CIRCUIT_SERVER_HTTP_KIOSK_EVENTS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/fanout/stream.h"
#include "server/http/http_api.h"
#include "server/live/class_actor.h"

namespace circuit {

// WatchClass over HTTP: a kiosk's subscription to a class actor, exactly as
// the gRPC kiosk stream's (the same Stream, the same broadcaster, the same
// privacy filter), each message sent as a server-sent event whose data is
// the WatchClassResponse in canonical JSON and whose id is the event's seq.
// Thread-safe.
class KioskEvents final : public EventSource,
                          public StreamSink,
                          public std::enable_shared_from_this<KioskEvents> {
 public:
  KioskEvents(std::shared_ptr<ClassActor> actor, int64_t last_seq,
              size_t max_queued);

  // EventSource.
  void Start(std::shared_ptr<EventSink> sink) override ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() override ABSL_LOCKS_EXCLUDED(mu_);

  // StreamSink (the Stream calls these with its lock held).
  void StartWriteBytes(const grpc::ByteBuffer* bytes) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void FinishStream(const grpc::Status& status) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void AbortStream(const grpc::Status& status) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // One message as text/event-stream lines (for tests).
  static std::string Encode(const grpc::ByteBuffer& bytes);

 private:
  std::shared_ptr<EventSink> sink() ABSL_LOCKS_EXCLUDED(mu_);

  const std::shared_ptr<ClassActor> actor_;
  const int64_t last_seq_;
  const std::shared_ptr<Stream> stream_;
  absl::Mutex mu_;
  std::shared_ptr<EventSink> sink_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_KIOSK_EVENTS_H_
