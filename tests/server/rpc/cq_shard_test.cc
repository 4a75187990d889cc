#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "server/rpc/cq_call.h"

namespace circuit {
namespace {

// Records each kick: on which shard's thread it ran, and in what order.
class Counter final : public CqShard::Kickable {
 public:
  Counter(CqShard* shard, absl::Mutex* mu, std::vector<int>* order, int id)
      : shard_(shard), mu_(mu), order_(order), id_(id) {}
  void OnKick() override {
    absl::MutexLock lock(mu_);
    on_thread_ = on_thread_ && shard_->OnThread();
    order_->push_back(id_);
  }
  bool on_thread() const { return on_thread_; }

 private:
  CqShard* const shard_;
  absl::Mutex* const mu_;
  std::vector<int>* const order_;
  const int id_;
  bool on_thread_ = true;
};

TEST(CqShardTest, KicksFromAnyThreadRunOnTheShardsThreadInOrder) {
  grpc::ServerBuilder builder;
  auto shard = std::make_unique<CqShard>(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  shard->Start();
  EXPECT_FALSE(shard->OnThread());

  absl::Mutex mu;
  std::vector<int> order;
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::unique_ptr<Counter>> counters;
  for (int i = 0; i < kThreads * kEach; ++i) {
    counters.push_back(std::make_unique<Counter>(shard.get(), &mu, &order, i));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        shard->Kick(counters[t * kEach + i].get());
    });
  }
  for (std::thread& t : threads) t.join();
  {
    absl::MutexLock lock(&mu);
    auto all_ran = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return order.size() == counters.size();
    };
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&all_ran), absl::Seconds(30)));
    // Each thread's kicks ran once each, in the order that thread made them.
    std::vector<int> last(kThreads, -1);
    for (int id : order) {
      EXPECT_GT(id % kEach, last[id / kEach]);
      last[id / kEach] = id % kEach;
    }
  }
  for (const auto& c : counters) EXPECT_TRUE(c->on_thread());

  server->Shutdown();
  shard->Shutdown();
  // After Shutdown, kicks are dropped rather than touching a closed queue.
  Counter late(shard.get(), &mu, &order, -1);
  shard->Kick(&late);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order.size(), counters.size());
}

// The executor the class actors run on: a task posted from a shard's thread
// stays on that shard; from another thread, the shards take turns; WaitIdle
// counts the tasks that tasks post.
TEST(CqShardsTest, TasksStayOnTheShardThatPostsThemAndWaitIdleSeesNested) {
  grpc::ServerBuilder builder;
  CqShards shards;
  shards.Add(builder.AddCompletionQueue());
  shards.Add(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  shards.Start();

  absl::Mutex mu;
  // For each first-level task: the shard it ran on, and the shards its
  // nested tasks ran on.
  std::vector<CqShard*> first(8, nullptr);
  std::vector<CqShard*> nested(8, nullptr);
  std::vector<CqShard*> deepest(8, nullptr);
  for (int i = 0; i < 8; ++i) {
    shards.Post([&, i] {
      {
        absl::MutexLock lock(&mu);
        first[i] = CqShard::Current();
      }
      shards.Post([&, i] {
        {
          absl::MutexLock lock(&mu);
          nested[i] = CqShard::Current();
        }
        shards.Post([&, i] {
          absl::MutexLock lock(&mu);
          deepest[i] = CqShard::Current();
        });
      });
    });
  }
  ASSERT_TRUE(shards.WaitIdle(absl::Now() + absl::Seconds(30)));
  absl::MutexLock lock(&mu);
  int on_first_shard = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_NE(first[i], nullptr);
    // Every task ran, the nested ones before WaitIdle returned.
    EXPECT_EQ(nested[i], first[i]);
    EXPECT_EQ(deepest[i], first[i]);
    if (first[i] == shards.shards()[0].get()) ++on_first_shard;
  }
  // Posted from this thread, they took turns.
  EXPECT_EQ(on_first_shard, 4);

  server->Shutdown();
  shards.Shutdown();
  // After Shutdown, tasks are dropped, not run, and not counted.
  bool ran = false;
  shards.Post([&ran] { ran = true; });
  EXPECT_TRUE(shards.WaitIdle(absl::Now()));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace circuit
