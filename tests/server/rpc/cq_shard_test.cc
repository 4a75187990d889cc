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

}  // namespace
}  // namespace circuit
