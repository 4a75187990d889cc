#include "server/live/executor.h"

#include <utility>

namespace circuit {
namespace {

// The strand whose task this thread is running, if any.
thread_local const Strand* current_strand = nullptr;

constexpr int kTasksPerTurn = 64;

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::Post(Task task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
}

void ThreadPool::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.empty() && running_ == 0;
  };
  mu_.Await(absl::Condition(&idle));
}

void ThreadPool::Run() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stop_;
      };
      mu_.Await(absl::Condition(&ready));
      // Stopping still runs what is queued: tasks carry acks and journal
      // results that must not be lost.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task();
    task = nullptr;  // destroy captures outside the lock
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

std::shared_ptr<Strand> Strand::Create(Executor* executor) {
  return std::shared_ptr<Strand>(new Strand(executor));
}

bool Strand::RunningHere() const { return current_strand == this; }

void Strand::Post(Task task) {
  bool schedule = false;
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(task));
    schedule = !std::exchange(scheduled_, true);
  }
  if (schedule) {
    executor_->Post([self = shared_from_this()] { self->Drain(); });
  }
}

void Strand::Drain() {
  const Strand* outer = std::exchange(current_strand, this);
  for (int i = 0; i < kTasksPerTurn; ++i) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) {
        scheduled_ = false;
        current_strand = outer;
        return;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
  current_strand = outer;
  // More to do: go to the back of the pool's queue (still scheduled, so no
  // other thread starts this strand meanwhile).
  executor_->Post([self = shared_from_this()] { self->Drain(); });
}

}  // namespace circuit
