#include "server/fanout/write_pacer.h"

#include <cstdint>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace circuit {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

WritePacer::Options Budget(double budget) {
  WritePacer::Options options;
  options.budget = budget;
  options.max_interval = absl::Milliseconds(250);
  options.window = absl::Seconds(1);
  return options;
}

TEST(WritePacerTest, NoWaitWithinTheBudget) {
  WritePacer pacer(Budget(10'000));
  EXPECT_EQ(pacer.Interval(0, 0, 1'000), absl::ZeroDuration());
  // 10,000 messages in a second: at the budget, not over it.
  EXPECT_EQ(pacer.Interval(kSecond, 10'000, 1'000), absl::ZeroDuration());
  EXPECT_EQ(pacer.Interval(2 * kSecond, 15'000, 1'000), absl::ZeroDuration());
}

TEST(WritePacerTest, OverTheBudgetEachStreamWaitsItsShareOfASecond) {
  WritePacer pacer(Budget(10'000));
  pacer.Interval(0, 0, 1'000);
  // 20,000 a second to 1,000 streams: each may write 10 times a second.
  EXPECT_EQ(pacer.Interval(kSecond, 20'000, 1'000), absl::Milliseconds(100));
  // Within the window the interval holds, whatever the count says.
  EXPECT_EQ(pacer.Interval(kSecond + 1, 20'001, 1'000),
            absl::Milliseconds(100));
  // The load stays over the budget: still pacing (the count is of messages,
  // not writes, so pacing does not hide the load).
  EXPECT_EQ(pacer.Interval(2 * kSecond, 40'000, 2'000),
            absl::Milliseconds(200));
  // It stops when the load does.
  EXPECT_EQ(pacer.Interval(3 * kSecond, 41'000, 2'000), absl::ZeroDuration());
}

TEST(WritePacerTest, TheWaitIsCapped) {
  WritePacer pacer(Budget(10'000));
  pacer.Interval(0, 0, 10'000);
  EXPECT_EQ(pacer.Interval(kSecond, 200'000, 10'000), absl::Milliseconds(250));
}

TEST(WritePacerTest, ABurstShorterThanTheWindowIsAveragedOverIt) {
  WritePacer pacer(Budget(10'000));
  pacer.Interval(0, 0, 5'000);
  // 5,000 messages in 10 ms, then nothing: 5,000 in the second.
  EXPECT_EQ(pacer.Interval(10'000'000, 5'000, 5'000), absl::ZeroDuration());
  EXPECT_EQ(pacer.Interval(kSecond, 5'000, 5'000), absl::ZeroDuration());
}

TEST(WritePacerTest, ZeroBudgetNeverPaces) {
  WritePacer pacer(Budget(0));
  pacer.Interval(0, 0, 10);
  EXPECT_EQ(pacer.Interval(kSecond, 1'000'000, 10), absl::ZeroDuration());
}

}  // namespace
}  // namespace circuit
