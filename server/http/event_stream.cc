#include "server/http/event_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/common/json.h"

namespace circuit {
namespace {

// The message's seq, when it has one (an event's or a snapshot's); else 0.
int64_t SeqOf(const v1::WatchClassResponse& response) {
  if (response.has_event()) return response.event().seq();
  if (response.has_snapshot()) return response.snapshot().seq();
  return 0;
}

int64_t SeqOf(const v1::JoinClassResponse& response) {
  if (response.has_event()) return response.event().seq();
  if (response.has_snapshot()) return response.snapshot().seq();
  return 0;
}

template <typename Response>
std::string EncodeAs(const grpc::ByteBuffer& bytes) {
  grpc::ByteBuffer copy = bytes;  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  Response response;
  std::string json;
  if (!response.ParseFromZeroCopyStream(&reader) ||
      !google::protobuf::util::MessageToJsonString(response, &json).ok()) {
    return "event: error\ndata: {\"code\":\"INTERNAL\"}\n\n";
  }
  std::string chunk;
  if (const int64_t seq = SeqOf(response); seq > 0) {
    absl::StrAppend(&chunk, "id: ", seq, "\n");
  }
  absl::StrAppend(&chunk, "data: ", json, "\n\n");
  return chunk;
}

}  // namespace

std::shared_ptr<EventStream> EventStream::Create(
    Kind kind, size_t max_queued, std::atomic<int64_t>* open_count) {
  std::shared_ptr<EventStream> events(
      new EventStream(kind, max_queued, open_count));
  events->stream_->Attach(events.get());
  return events;
}

EventStream::EventStream(Kind kind, size_t max_queued,
                         std::atomic<int64_t>* open_count)
    : kind_(kind),
      open_count_(open_count),
      stream_(std::make_shared<Stream>(max_queued)) {}

EventStream::~EventStream() { Stop(); }

std::string EventStream::Encode(Kind kind, const grpc::ByteBuffer& bytes) {
  return kind == Kind::kWatch ? EncodeAs<v1::WatchClassResponse>(bytes)
                              : EncodeAs<v1::JoinClassResponse>(bytes);
}

void EventStream::OnStop(absl::AnyInvocable<void()> on_stop) {
  absl::MutexLock lock(&mu_);
  on_stop_ = std::move(on_stop);
}

void EventStream::Start(std::shared_ptr<EventSink> sink) {
  if (open_count_ != nullptr) {
    open_count_->fetch_add(1, std::memory_order_relaxed);
  }
  std::optional<Kept> kept;
  std::optional<std::string> kept_end;
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
    sink_ = sink;
    kept.swap(kept_);
    kept_end.swap(kept_end_);
  }
  if (kept.has_value())
    sink->Send(std::move(kept->chunk), std::move(kept->written));
  if (kept_end.has_value()) {
    sink->Send(std::move(*kept_end), [] {});
    sink->End();
  }
}

void EventStream::Stop() {
  absl::AnyInvocable<void()> on_stop;
  bool started;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    started = started_;
    sink_.reset();  // nothing more goes to the connection
    kept_.reset();
    kept_end_.reset();
    on_stop = std::move(on_stop_);
  }
  stream_->Close(grpc::Status::CANCELLED, /*after_queued=*/false);
  stream_->OnDone();  // no Stream calls into this after it returns
  if (on_stop) on_stop();
  if (started && open_count_ != nullptr) {
    open_count_->fetch_sub(1, std::memory_order_relaxed);
  }
}

void EventStream::Abandon() {
  {
    absl::MutexLock lock(&mu_);
    on_stop_ = nullptr;  // the actor never took the stream
  }
  Stop();
}

void EventStream::SendOrKeep(std::string chunk,
                             absl::AnyInvocable<void()> written, bool end) {
  std::shared_ptr<EventSink> to;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    if (!started_) {
      if (end) {
        kept_end_ = std::move(chunk);
      } else {
        kept_ = Kept{std::move(chunk), std::move(written)};
      }
      return;
    }
    to = sink_;
  }
  if (to == nullptr) return;
  to->Send(std::move(chunk), std::move(written));
  if (end) to->End();
}

void EventStream::StartWriteBytes(const grpc::ByteBuffer* bytes) {
  SendOrKeep(
      Encode(kind_, *bytes), [stream = stream_] { stream->OnWriteDone(true); },
      /*end=*/false);
}

void EventStream::FinishStream(const grpc::Status& status) {
  SendOrKeep(
      absl::StrCat(
          "event: end\ndata: {\"code\":\"", StatusCodeName(status.error_code()),
          "\",\"message\":", JsonString(status.error_message()), "}\n\n"),
      [] {}, /*end=*/true);
}

void EventStream::AbortStream(const grpc::Status& status) {
  FinishStream(status);
}

}  // namespace circuit
