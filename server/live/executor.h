#ifndef CIRCUIT_SERVER_LIVE_EXECUTOR_H_
#define CIRCUIT_SERVER_LIVE_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace circuit {

using Task = absl::AnyInvocable<void()>;

// Runs tasks. The seam between the class actors and the threads they run on:
// in circuitd the completion-queue shards (server/rpc/cq_call.h, CqShards);
// in tests a ThreadPool or a manual executor. Implementations are
// thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` later, never inline. A task must not block.
  virtual void Post(Task task) = 0;
};

// A fixed set of threads taking tasks from one queue. Destruction runs every
// task already posted (including those they post), then joins the threads.
// Thread-safe.
class ThreadPool final : public Executor {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(Task task) override ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until no task is queued or running (tests, shutdown).
  void WaitIdle() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Runs its tasks one at a time, in the order posted, on an underlying
// executor: the serialized executor of one class actor. Many strands share
// one pool, so a thousand classes need no thousand threads. Thread-safe.
//
// Held by shared_ptr: a scheduled run keeps the strand alive.
class Strand final : public Executor,
                     public std::enable_shared_from_this<Strand> {
 public:
  // `executor` must outlive every task posted here.
  static std::shared_ptr<Strand> Create(Executor* executor);

  void Post(Task task) override ABSL_LOCKS_EXCLUDED(mu_);

  // True while called from one of this strand's tasks.
  bool RunningHere() const;

 private:
  explicit Strand(Executor* executor) : executor_(executor) {}
  // Runs a bounded number of tasks, then yields the thread so one busy class
  // cannot starve the others.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);

  Executor* const executor_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_EXECUTOR_H_
