#include "server/http/event_stream.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "server/common/json.h"

namespace circuit {
namespace {

// The message's seq, when it has one (an event's or a snapshot's); else 0.
// Every stream's response has both.
template <typename Response>
int64_t SeqOf(const Response& response) {
  if (response.has_event()) return response.event().seq();
  if (response.has_snapshot()) return response.snapshot().seq();
  return 0;
}

template <typename Response>
std::string EncodeAs(absl::string_view message) {
  Response response;
  std::string json;
  if (!response.ParseFromArray(message.data(),
                               static_cast<int>(message.size())) ||
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

// `message` (a response of `kind`'s type) as its event text.
std::string EncodeKind(EventStream::Kind kind, absl::string_view message) {
  switch (kind) {
    case EventStream::Kind::kWatch:
      return EncodeAs<v1::WatchClassResponse>(message);
    case EventStream::Kind::kJoin:
      return EncodeAs<v1::JoinClassResponse>(message);
    case EventStream::Kind::kRun:
      return EncodeAs<v1::RunClassResponse>(message);
  }
  return EncodeAs<v1::JoinClassResponse>(message);
}

// The event text of recent messages, by their bytes: a broadcast reaches
// every stream as the same bytes, so it is turned into JSON once, not once
// per connection. Found by hash, confirmed byte for byte. Thread-safe.
class EncodedEvents {
 public:
  std::shared_ptr<const std::string> Get(EventStream::Kind kind,
                                         absl::string_view message) {
    const size_t hash = absl::Hash<absl::string_view>()(message);
    {
      absl::MutexLock lock(&mu_);
      for (const Entry& entry : entries_) {
        if (entry.text != nullptr && entry.hash == hash && entry.kind == kind &&
            entry.message == message) {
          return entry.text;
        }
      }
    }
    auto text = std::make_shared<const std::string>(EncodeKind(kind, message));
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[next_];
    next_ = (next_ + 1) % entries_.size();
    entry.kind = kind;
    entry.hash = hash;
    entry.message = std::string(message);
    entry.text = text;
    return text;
  }

 private:
  struct Entry {
    EventStream::Kind kind = EventStream::Kind::kWatch;
    size_t hash = 0;
    std::string message;
    std::shared_ptr<const std::string> text;
  };
  absl::Mutex mu_;
  // The latest messages, replaced in turn: enough for every stream of a
  // busy class to find what was broadcast while it wrote the last one.
  std::array<Entry, 64> entries_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

EncodedEvents& Encoded() {
  static EncodedEvents* const encoded = new EncodedEvents();
  return *encoded;
}

// The `batch` field (15, length-delimited) of every stream's response.
constexpr uint32_t kBatchTag = (15 << 3) | 2;

}  // namespace

std::shared_ptr<EventStream> EventStream::Create(
    Kind kind, size_t max_queued, std::atomic<int64_t>* open_count) {
  std::shared_ptr<EventStream> events(
      new EventStream(kind, max_queued, open_count));
  // What queues behind a write goes out with the next one: consecutive
  // events are just consecutive text.
  events->stream_->AcceptBatches();
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
  // Most writes are one message in one slice: read in place. A batch's
  // entries (headers and messages, small ones merged) are joined first.
  std::vector<grpc::Slice> slices;
  if (!bytes.Dump(&slices).ok() || slices.empty()) return "";
  grpc::Slice flat = slices[0];
  if (slices.size() > 1 && !bytes.DumpToSingleSlice(&flat).ok()) return "";
  const absl::string_view write(reinterpret_cast<const char*>(flat.begin()),
                                flat.size());
  // One response, or a batch of them: a response whose only field is
  // `batch` (a single response never carries one), each entry a message.
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(write.data()),
      static_cast<int>(write.size()));
  if (in.ReadTag() != kBatchTag) return *Encoded().Get(kind, write);
  std::string chunk;
  uint32_t tag = kBatchTag;
  do {
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || !in.Skip(static_cast<int>(length))) break;
    const int start = in.CurrentPosition() - static_cast<int>(length);
    chunk += *Encoded().Get(kind, write.substr(start, length));
    tag = in.ReadTag();
  } while (tag == kBatchTag);
  return chunk;
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
  stream_->Close(absl::CancelledError(), /*after_queued=*/false);
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

void EventStream::FinishStream(const absl::Status& status) {
  SendOrKeep(
      absl::StrCat("event: end\ndata: {\"code\":\"",
                   StatusCodeName(status.code()),
                   "\",\"message\":", JsonString(status.message()), "}\n\n"),
      [] {}, /*end=*/true);
}

void EventStream::AbortStream(const absl::Status& status) {
  FinishStream(status);
}

}  // namespace circuit
