#include "server/rpc/cq_call.h"

#include <utility>

#include "grpc/support/time.h"

namespace circuit {
namespace {

thread_local CqShard* current_shard = nullptr;

}  // namespace

void Outstanding::Add() {
  absl::MutexLock lock(&mu_);
  ++count_;
}

void Outstanding::Done(int64_t n) {
  absl::MutexLock lock(&mu_);
  count_ -= n;
}

void Outstanding::WaitZero() {
  absl::MutexLock lock(&mu_);
  auto zero = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ <= 0; };
  mu_.Await(absl::Condition(&zero));
}

bool Outstanding::WaitZeroUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto zero = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ <= 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&zero), deadline);
}

CqShard::CqShard(std::unique_ptr<grpc::ServerCompletionQueue> cq,
                 Outstanding* tasks)
    : cq_(std::move(cq)), tasks_(tasks) {}

CqShard::~CqShard() { Shutdown(); }

void CqShard::Start() {
  thread_ = std::thread([this] { Poll(); });
}

bool CqShard::OnThread() const { return current_shard == this; }

CqShard* CqShard::Current() { return current_shard; }

void CqShard::WakeLocked() {
  if (alarm_ == nullptr) {
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(cq_.get(), gpr_inf_past(GPR_CLOCK_MONOTONIC), &wake_);
  }
}

void CqShard::Kick(Kickable* target) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  kicked_.push_back(target);
  WakeLocked();
}

void CqShard::Post(Task task) {
  // Counted before it can run, so the count never passes zero while a task
  // it posts is still to come.
  if (tasks_ != nullptr) tasks_->Add();
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    if (tasks_ != nullptr) tasks_->Done(1);
    return;
  }
  posted_.push_back(std::move(task));
  WakeLocked();
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
  std::vector<Task> posted;
  std::unique_ptr<grpc::Alarm> fired;
  {
    absl::MutexLock lock(&mu_);
    kicked.swap(kicked_);
    posted.swap(posted_);
    fired = std::move(alarm_);  // the next kick sets a new one
  }
  for (Kickable* target : kicked) target->OnKick();
  for (Task& task : posted) {
    task();
    task = nullptr;  // its captures go before the count says it is done
  }
  if (tasks_ != nullptr && !posted.empty()) {
    tasks_->Done(static_cast<int64_t>(posted.size()));
  }
}

void CqShard::Poll() {
  current_shard = this;
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) static_cast<CqTag*>(tag)->Proceed(ok);
  current_shard = nullptr;
}

void CqShard::Shutdown() {
  size_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    dropped = posted_.size();
  }
  // Tasks still queued never run: the count forgets them. (A server waits
  // for its shards to be idle before it shuts them down.)
  if (tasks_ != nullptr && dropped > 0) {
    tasks_->Done(static_cast<int64_t>(dropped));
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

void CqShards::Add(std::unique_ptr<grpc::ServerCompletionQueue> cq) {
  shards_.push_back(std::make_unique<CqShard>(std::move(cq), &tasks_));
}

void CqShards::Start() {
  for (auto& shard : shards_) shard->Start();
}

void CqShards::Post(Task task) {
  CqShard* here = CqShard::Current();
  if (here == nullptr || here->tasks() != &tasks_) {
    here =
        shards_[next_.fetch_add(1, std::memory_order_relaxed) % shards_.size()]
            .get();
  }
  here->Post(std::move(task));
}

void CqShards::Shutdown() {
  for (auto& shard : shards_) shard->Shutdown();
}

}  // namespace circuit
