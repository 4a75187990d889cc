#include "server/fanout/stream.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "server/common/stats.h"

namespace circuit {
namespace {

std::atomic<uint64_t> total_writes{0};
std::atomic<uint64_t> total_messages{0};
std::atomic<uint64_t> total_bytes{0};

// The `batch` field of every stream's response: field 15, length-delimited.
constexpr uint8_t kBatchTag = (15 << 3) | 2;

// Frames each message as one `batch` entry: its tag and length, then its
// bytes (shared, not copied).
void AppendBatchEntry(grpc::Slice message, std::vector<grpc::Slice>* slices) {
  uint8_t header[1 + 10];
  size_t n = 0;
  header[n++] = kBatchTag;
  for (uint64_t length = message.size();; length >>= 7) {
    const uint8_t low = static_cast<uint8_t>(length & 0x7f);
    if (length < 0x80) {
      header[n++] = low;
      break;
    }
    header[n++] = static_cast<uint8_t>(low | 0x80);
  }
  slices->emplace_back(header, n);
  slices->push_back(std::move(message));
}

}  // namespace

void Stream::Attach(StreamSink* sink) {
  absl::MutexLock lock(&mu_);
  sink_ = sink;
  if (finish_pending_) {
    finish_pending_ = false;
    sink_->FinishStream(close_status_);
    return;
  }
  WriteNextLocked();
}

Stream::Totals Stream::totals() {
  Totals t;
  t.writes = total_writes.load(std::memory_order_relaxed);
  t.messages = total_messages.load(std::memory_order_relaxed);
  t.bytes = total_bytes.load(std::memory_order_relaxed);
  return t;
}

void Stream::AcceptBatches() {
  absl::MutexLock lock(&mu_);
  batches_ = true;
}

void Stream::Send(const grpc::ByteBuffer& bytes, Delivery delivery) {
  absl::MutexLock lock(&mu_);
  if (finished_ || closing_) return;
  if (!queue_.Push(bytes, delivery)) {
    ProcessStats().slow_reader_disconnects.fetch_add(1,
                                                     std::memory_order_relaxed);
    FinishLocked(absl::ResourceExhaustedError(
                     "this client fell too far behind reading the class; "
                     "reconnect and resume with the last seq it has"),
                 /*abort=*/true);
    return;
  }
  WriteNextLocked();
}

void Stream::Close(const absl::Status& status, bool after_queued) {
  absl::MutexLock lock(&mu_);
  if (finished_ || closing_) return;
  if (!after_queued) {
    FinishLocked(status);
    return;
  }
  closing_ = true;
  close_status_ = status;
  WriteNextLocked();
}

void Stream::Flush() {
  absl::MutexLock lock(&mu_);
  flush_pending_ = false;
  WriteNextLocked();
}

void Stream::OnWriteDone(bool ok) {
  absl::AnyInvocable<void()> ready;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    in_flight_.Clear();
    if (!ok) {
      FinishLocked(absl::UnavailableError("the stream is broken"));
      return;
    }
    WriteNextLocked();
    ready = TakeReadyLocked();
  }
  if (ready) ready();
}

void Stream::WhenQueueAtMost(size_t at_most, absl::AnyInvocable<void()> ready) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || closing_) return;
    ready_at_most_ = at_most;
    ready_ = std::move(ready);
    ready = TakeReadyLocked();
  }
  if (ready) ready();
}

absl::AnyInvocable<void()> Stream::TakeReadyLocked() {
  if (!ready_ || finished_ || closing_ || queue_.size() > ready_at_most_) {
    return nullptr;
  }
  return std::move(ready_);
}

void Stream::OnDone() {
  absl::MutexLock lock(&mu_);
  sink_ = nullptr;
  finished_ = true;
  finish_pending_ = false;
  queue_.Clear();
  ready_ = nullptr;
}

bool Stream::dead() const {
  absl::MutexLock lock(&mu_);
  return finished_ || closing_;
}

size_t Stream::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void Stream::WriteNextLocked() {
  if (sink_ == nullptr || finished_ || writing_ || flush_pending_) return;
  if (queue_.empty()) {
    if (closing_) FinishLocked(close_status_);
    return;
  }
  if (batches_ && !closing_ && sink_->DeferWrite()) {
    flush_pending_ = true;
    return;
  }
  if (batches_ && queue_.size() > 1) {
    std::vector<grpc::Slice> slices;
    slices.reserve(2 * std::min(queue_.size(), kMaxBatchMessages));
    size_t messages = 0, bytes = 0;
    while (!queue_.empty() && messages < kMaxBatchMessages &&
           bytes < kMaxBatchBytes) {
      grpc::Slice message = queue_.Pop();
      bytes += message.size();
      ++messages;
      AppendBatchEntry(std::move(message), &slices);
    }
    in_flight_ = grpc::ByteBuffer(slices.data(), slices.size());
    total_messages.fetch_add(messages, std::memory_order_relaxed);
    total_bytes.fetch_add(bytes, std::memory_order_relaxed);
  } else {
    grpc::Slice message = queue_.Pop();
    total_bytes.fetch_add(message.size(), std::memory_order_relaxed);
    in_flight_ = grpc::ByteBuffer(&message, 1);
    total_messages.fetch_add(1, std::memory_order_relaxed);
  }
  total_writes.fetch_add(1, std::memory_order_relaxed);
  writing_ = true;
  sink_->StartWriteBytes(&in_flight_);
}

void Stream::FinishLocked(const absl::Status& status, bool abort) {
  if (finished_) return;
  finished_ = true;
  queue_.Clear();
  ready_ = nullptr;
  if (sink_ != nullptr) {
    if (abort) {
      sink_->AbortStream(status);
    } else {
      sink_->FinishStream(status);
    }
  } else {
    finish_pending_ = true;  // delivered on Attach
    close_status_ = status;
  }
}

}  // namespace circuit
