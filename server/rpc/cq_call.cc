#include "server/rpc/cq_call.h"

#include <utility>

#include "grpc/support/time.h"

namespace circuit {
namespace {

thread_local const CqShard* current_shard = nullptr;

}  // namespace

CqShard::CqShard(std::unique_ptr<grpc::ServerCompletionQueue> cq)
    : cq_(std::move(cq)) {}

CqShard::~CqShard() { Shutdown(); }

void CqShard::Start() {
  thread_ = std::thread([this] { Poll(); });
}

bool CqShard::OnThread() const { return current_shard == this; }

void CqShard::Kick(Kickable* target) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  kicked_.push_back(target);
  if (alarm_ == nullptr) {
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(cq_.get(), gpr_inf_past(GPR_CLOCK_MONOTONIC), &wake_);
  }
}

void CqShard::KickAfter(Kickable* target, absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  delayed_.push_back(target);
  if (delayed_alarm_ == nullptr) {
    delayed_alarm_ = std::make_unique<grpc::Alarm>();
    delayed_alarm_->Set(cq_.get(), absl::ToChronoTime(absl::Now() + delay),
                        &delayed_wake_);
  }
}

void CqShard::Wake::Proceed(bool /*ok*/) {
  if (delayed_) {
    shard_->RunDelayedKicks();
  } else {
    shard_->RunKicks();
  }
}

void CqShard::RunDelayedKicks() {
  std::vector<Kickable*> kicked;
  std::unique_ptr<grpc::Alarm> fired;
  {
    absl::MutexLock lock(&mu_);
    kicked.swap(delayed_);
    fired = std::move(delayed_alarm_);
  }
  for (Kickable* target : kicked) target->OnDelayedKick();
}

void CqShard::RunKicks() {
  std::vector<Kickable*> kicked;
  std::unique_ptr<grpc::Alarm> fired;
  {
    absl::MutexLock lock(&mu_);
    kicked.swap(kicked_);
    fired = std::move(alarm_);  // the next kick sets a new one
  }
  for (Kickable* target : kicked) target->OnKick();
}

void CqShard::Poll() {
  current_shard = this;
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) static_cast<CqTag*>(tag)->Proceed(ok);
  current_shard = nullptr;
}

void CqShard::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  cq_->Shutdown();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    // Never started: drain here.
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) static_cast<CqTag*>(tag)->Proceed(ok);
  }
}

}  // namespace circuit
