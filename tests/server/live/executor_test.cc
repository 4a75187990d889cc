#include "server/live/executor.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace circuit {
namespace {

TEST(StrandTest, RunsOneTaskAtATimeInTheOrderPosted) {
  ThreadPool pool(4);
  std::shared_ptr<Strand> strand = Strand::Create(&pool);
  constexpr int kThreads = 4;
  constexpr int kTasks = 2000;
  std::atomic<int> running{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> outside{0};
  std::vector<std::vector<int>> seen(kThreads);  // strand only
  absl::BlockingCounter done(kThreads * kTasks);
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kTasks; ++i) {
        strand->Post([&, t, i] {
          if (running.fetch_add(1) != 0) ++overlaps;
          if (!strand->RunningHere()) ++outside;
          seen[static_cast<size_t>(t)].push_back(i);
          running.fetch_sub(1);
          done.DecrementCount();
        });
      }
    });
  }
  for (std::thread& p : posters) p.join();
  done.Wait();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(outside.load(), 0);
  for (const std::vector<int>& order : seen) {
    ASSERT_EQ(order.size(), static_cast<size_t>(kTasks));
    for (int i = 0; i < kTasks; ++i)
      EXPECT_EQ(order[static_cast<size_t>(i)], i);
  }
  EXPECT_FALSE(strand->RunningHere());
}

TEST(StrandTest, ManyStrandsShareAPoolAndEachStaysSerial) {
  ThreadPool pool(2);
  constexpr int kStrands = 50;
  constexpr int kTasks = 200;
  std::vector<std::shared_ptr<Strand>> strands;
  std::vector<int> counts(kStrands, 0);  // each touched by its strand only
  std::vector<std::atomic<int>> running(kStrands);
  std::atomic<int> overlaps{0};
  absl::BlockingCounter done(kStrands * kTasks);
  for (int s = 0; s < kStrands; ++s) strands.push_back(Strand::Create(&pool));
  for (int i = 0; i < kTasks; ++i) {
    for (int s = 0; s < kStrands; ++s) {
      strands[static_cast<size_t>(s)]->Post([&, s] {
        if (running[static_cast<size_t>(s)].fetch_add(1) != 0) ++overlaps;
        ++counts[static_cast<size_t>(s)];
        running[static_cast<size_t>(s)].fetch_sub(1);
        done.DecrementCount();
      });
    }
  }
  done.Wait();
  EXPECT_EQ(overlaps.load(), 0);
  for (int c : counts) EXPECT_EQ(c, kTasks);
}

TEST(ThreadPoolTest, DestructionRunsWhatIsQueuedAndWhatItPosts) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    std::shared_ptr<Strand> strand = Strand::Create(&pool);
    for (int i = 0; i < 100; ++i) {
      strand->Post([&, strand] {
        ++ran;
        strand->Post([&] { ++ran; });
      });
    }
  }
  EXPECT_EQ(ran.load(), 200);
}

TEST(ThreadPoolTest, WaitIdleReturnsOnceEverythingRan) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  for (int i = 0; i < 500; ++i) pool.Post([&] { ++ran; });
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 500);
}

}  // namespace
}  // namespace circuit
