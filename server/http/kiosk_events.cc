#include "server/http/kiosk_events.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/common/json.h"
#include "server/common/stats.h"

namespace circuit {

KioskEvents::KioskEvents(std::shared_ptr<ClassActor> actor, int64_t last_seq,
                         size_t max_queued)
    : actor_(std::move(actor)),
      last_seq_(last_seq),
      stream_(std::make_shared<Stream>(max_queued)) {}

std::string KioskEvents::Encode(const grpc::ByteBuffer& bytes) {
  grpc::ByteBuffer copy = bytes;  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  v1::WatchClassResponse response;
  std::string json;
  if (!response.ParseFromZeroCopyStream(&reader) ||
      !google::protobuf::util::MessageToJsonString(response, &json).ok()) {
    return "event: error\ndata: {\"code\":\"INTERNAL\"}\n\n";
  }
  std::string chunk;
  if (response.has_event() && response.event().seq() > 0) {
    absl::StrAppend(&chunk, "id: ", response.event().seq(), "\n");
  }
  absl::StrAppend(&chunk, "data: ", json, "\n\n");
  return chunk;
}

void KioskEvents::Start(std::shared_ptr<EventSink> sink) {
  ProcessStats().open_http_kiosks.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    sink_ = std::move(sink);
  }
  stream_->Attach(this);
  actor_->AttachKiosk(stream_, last_seq_);
}

void KioskEvents::Stop() {
  {
    absl::MutexLock lock(&mu_);
    sink_.reset();  // nothing more goes to the connection
  }
  stream_->Close(grpc::Status::CANCELLED, /*after_queued=*/false);
  stream_->OnDone();  // no Stream calls into this after it returns
  ProcessStats().open_http_kiosks.fetch_sub(1, std::memory_order_relaxed);
}

std::shared_ptr<EventSink> KioskEvents::sink() {
  absl::MutexLock lock(&mu_);
  return sink_;
}

void KioskEvents::StartWriteBytes(const grpc::ByteBuffer* bytes) {
  std::shared_ptr<EventSink> to = sink();
  if (to == nullptr) return;
  to->Send(Encode(*bytes), [stream = stream_] { stream->OnWriteDone(true); });
}

void KioskEvents::FinishStream(const grpc::Status& status) {
  std::shared_ptr<EventSink> to = sink();
  if (to == nullptr) return;
  to->Send(absl::StrCat("event: end\ndata: {\"code\":", status.error_code(),
                        ",\"message\":", JsonString(status.error_message()),
                        "}\n\n"),
           [] {});
  to->End();
}

void KioskEvents::AbortStream(const grpc::Status& status) {
  FinishStream(status);
}

}  // namespace circuit
