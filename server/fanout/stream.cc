#include "server/fanout/stream.h"

namespace circuit {

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

void Stream::Send(const grpc::ByteBuffer& bytes, Delivery delivery) {
  absl::MutexLock lock(&mu_);
  if (finished_ || closing_) return;
  if (!queue_.Push(bytes, delivery)) {
    FinishLocked(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "this client fell too far behind reading the class; "
                     "reconnect and resume with the last seq it has"),
        /*abort=*/true);
    return;
  }
  WriteNextLocked();
}

void Stream::Close(const grpc::Status& status, bool after_queued) {
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

void Stream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  in_flight_.Clear();
  if (!ok) {
    FinishLocked(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream is broken"));
    return;
  }
  WriteNextLocked();
}

void Stream::OnDone() {
  absl::MutexLock lock(&mu_);
  sink_ = nullptr;
  finished_ = true;
  finish_pending_ = false;
  queue_.Clear();
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
  if (sink_ == nullptr || finished_ || writing_) return;
  if (queue_.empty()) {
    if (closing_) FinishLocked(close_status_);
    return;
  }
  in_flight_ = queue_.Pop();
  writing_ = true;
  sink_->StartWriteBytes(&in_flight_);
}

void Stream::FinishLocked(const grpc::Status& status, bool abort) {
  if (finished_) return;
  finished_ = true;
  queue_.Clear();
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
