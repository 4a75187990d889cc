#include "server/common/rate_limit.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace circuit {
namespace {

// The clock every test injects: the limiters read no clock of their own.
const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

// How many of `attempts` tries `take` allows.
template <typename Take>
int CountAllowed(int attempts, Take take) {
  int allowed = 0;
  for (int i = 0; i < attempts; ++i) {
    if (take()) ++allowed;
  }
  return allowed;
}

// --- TokenBucket -------------------------------------------------------------

TEST(TokenBucketTest, AllowsItsBurstAtOnceAndThenRefuses) {
  TokenBucket bucket(/*per_second=*/2, /*burst=*/5, kT0);
  EXPECT_EQ(CountAllowed(10, [&] { return bucket.TryTake(kT0); }), 5);
  EXPECT_FALSE(bucket.TryTake(kT0));
}

TEST(TokenBucketTest, RefillsAtItsRateAndNoFurtherThanItsBurst) {
  TokenBucket bucket(/*per_second=*/2, /*burst=*/3, kT0);
  ASSERT_EQ(CountAllowed(3, [&] { return bucket.TryTake(kT0); }), 3);
  // Half a token after a quarter second: none yet.
  EXPECT_FALSE(bucket.TryTake(kT0 + absl::Milliseconds(250)));
  // One token after half a second.
  const absl::Time half = kT0 + absl::Milliseconds(500);
  EXPECT_TRUE(bucket.TryTake(half));
  EXPECT_FALSE(bucket.TryTake(half));
  // An hour idle refills the burst, not 7,200 tokens.
  const absl::Time later = half + absl::Hours(1);
  EXPECT_EQ(CountAllowed(10, [&] { return bucket.TryTake(later); }), 3);
}

TEST(TokenBucketTest, AClockThatGoesBackAddsNoTokens) {
  TokenBucket bucket(/*per_second=*/1, /*burst=*/1, kT0);
  ASSERT_TRUE(bucket.TryTake(kT0));
  EXPECT_FALSE(bucket.TryTake(kT0 - absl::Seconds(10)));
  // Nor does it move the bucket's time back: a second after kT0 refills it.
  EXPECT_TRUE(bucket.TryTake(kT0 + absl::Seconds(1)));
}

TEST(TokenBucketTest, FullOnlyOnceItHasRefilledItsWholeBurst) {
  TokenBucket bucket(/*per_second=*/1, /*burst=*/2, kT0);
  EXPECT_TRUE(bucket.Full(kT0));
  ASSERT_TRUE(bucket.TryTake(kT0));
  EXPECT_FALSE(bucket.Full(kT0));
  EXPECT_FALSE(bucket.Full(kT0 + absl::Milliseconds(999)));
  EXPECT_TRUE(bucket.Full(kT0 + absl::Seconds(1)));
}

// --- PeerAddress and PeerRateLimiter -----------------------------------------

TEST(PeerAddressTest, DropsThePortOnly) {
  const struct {
    const char* peer;
    const char* address;
  } cases[] = {
      {"ipv4:10.0.0.5:41234", "ipv4:10.0.0.5"},
      {"ipv6:[::1]:5000", "ipv6:[::1]"},
      {"ipv6:[2001:db8::7]:443", "ipv6:[2001:db8::7]"},
      // Nothing after the scheme to drop.
      {"unix:/run/circuit.sock", "unix:/run/circuit.sock"},
      {"garbage", "garbage"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(PeerAddress(c.peer), c.address);
}

TEST(PeerRateLimiterTest, AllowsABurstPerAddressThenRefillsWithTime) {
  PeerRateLimiter limiter(/*per_second=*/0.5, /*burst=*/3);
  const std::string peer = "ipv4:10.0.0.5:41234";
  EXPECT_EQ(CountAllowed(5, [&] { return limiter.Allow(peer, kT0); }), 3);
  // One token every two seconds.
  EXPECT_FALSE(limiter.Allow(peer, kT0 + absl::Milliseconds(1999)));
  EXPECT_TRUE(limiter.Allow(peer, kT0 + absl::Seconds(2)));
  EXPECT_FALSE(limiter.Allow(peer, kT0 + absl::Seconds(2)));
}

TEST(PeerRateLimiterTest, PortsOfOneAddressShareItsBucket) {
  PeerRateLimiter limiter(/*per_second=*/1, /*burst=*/2);
  EXPECT_TRUE(limiter.Allow("ipv4:10.0.0.5:1000", kT0));
  EXPECT_TRUE(limiter.Allow("ipv4:10.0.0.5:1001", kT0));
  // A new connection from the same device is still the same device.
  EXPECT_FALSE(limiter.Allow("ipv4:10.0.0.5:1002", kT0));
  int port = 1000;
  EXPECT_EQ(CountAllowed(3,
                         [&] {
                           return limiter.Allow(
                               absl::StrCat("ipv6:[::1]:", port++), kT0);
                         }),
            2);
}

TEST(PeerRateLimiterTest, OneAddressOutOfTokensLeavesTheOthersTheirs) {
  PeerRateLimiter limiter(/*per_second=*/1, /*burst=*/2);
  const std::string greedy = "ipv4:10.0.0.5:1000";
  ASSERT_EQ(CountAllowed(10, [&] { return limiter.Allow(greedy, kT0); }), 2);
  EXPECT_EQ(CountAllowed(
                10, [&] { return limiter.Allow("ipv4:10.0.0.6:1000", kT0); }),
            2);
  EXPECT_EQ(
      CountAllowed(10, [&] { return limiter.Allow("ipv6:[::1]:1000", kT0); }),
      2);
  EXPECT_FALSE(limiter.Allow(greedy, kT0));
}

TEST(PeerRateLimiterTest, PastTheTableCapEveryAddressStartsAfresh) {
  // The table holds 100,000 addresses; once one more has come, the next
  // call clears it, so memory stays bounded, at the price of a fresh burst
  // for everyone.
  PeerRateLimiter limiter(/*per_second=*/1, /*burst=*/1);
  const std::string limited = "ipv4:10.0.0.1:1";
  ASSERT_TRUE(limiter.Allow(limited, kT0));
  ASSERT_FALSE(limiter.Allow(limited, kT0));
  // 99,999 other addresses fill the table to its cap, with the limited one.
  for (int i = 0; i < 99'999; ++i) {
    ASSERT_TRUE(limiter.Allow(absl::StrCat("ipv4:10.", 1 + (i >> 16), ".",
                                           (i >> 8) & 255, ".", i & 255, ":1"),
                              kT0));
  }
  // At the cap, the limited address is still refused.
  EXPECT_FALSE(limiter.Allow(limited, kT0));
  // One more address takes the table past its cap; the next call clears it.
  EXPECT_TRUE(limiter.Allow("ipv4:192.168.0.1:1", kT0));
  EXPECT_TRUE(limiter.Allow(limited, kT0));
}

// --- KeyedTokenBuckets -------------------------------------------------------

// KeyedTokenBuckets sweeps its table when it reaches this many keys.
constexpr size_t kFirstSweep = 1024;

// Gets (and drops) buckets for new keys until the table has swept itself
// once, at `now`; returns the last one, still held.
std::shared_ptr<KeyedTokenBuckets::Bucket> SweepWithNewKeys(
    KeyedTokenBuckets& buckets, const std::string& prefix, absl::Time now) {
  for (int i = 0; buckets.size() < kFirstSweep - 1; ++i) {
    buckets.Get(absl::StrCat(prefix, i), now);
  }
  return buckets.Get(prefix + "last", now);
}

TEST(KeyedTokenBucketsTest, EveryoneWithAKeyDrawsFromItsOneBucket) {
  KeyedTokenBuckets buckets(/*per_second=*/1, /*burst=*/3);
  std::shared_ptr<KeyedTokenBuckets::Bucket> first =
      buckets.Get(SeatBudgetKey("class-1", "p1"), kT0);
  std::shared_ptr<KeyedTokenBuckets::Bucket> second =
      buckets.Get(SeatBudgetKey("class-1", "p1"), kT0);
  EXPECT_EQ(first, second);
  EXPECT_TRUE(first->TryTake(kT0));
  EXPECT_TRUE(second->TryTake(kT0));
  EXPECT_TRUE(first->TryTake(kT0));
  EXPECT_FALSE(second->TryTake(kT0));
  EXPECT_EQ(buckets.size(), 1u);
}

TEST(KeyedTokenBucketsTest, KeysAreIsolated) {
  KeyedTokenBuckets buckets(/*per_second=*/1, /*burst=*/2);
  auto greedy = buckets.Get(SeatBudgetKey("class-1", "p1"), kT0);
  ASSERT_EQ(CountAllowed(10, [&] { return greedy->TryTake(kT0); }), 2);
  // The same participant in another class, and another in the same class.
  auto other_class = buckets.Get(SeatBudgetKey("class-2", "p1"), kT0);
  auto other_seat = buckets.Get(SeatBudgetKey("class-1", "p2"), kT0);
  EXPECT_EQ(CountAllowed(10, [&] { return other_class->TryTake(kT0); }), 2);
  EXPECT_EQ(CountAllowed(10, [&] { return other_seat->TryTake(kT0); }), 2);
  EXPECT_EQ(buckets.size(), 3u);
}

TEST(KeyedTokenBucketsTest, ABucketRefillsAtTheKeysRate) {
  KeyedTokenBuckets buckets(/*per_second=*/4, /*burst=*/2);
  EXPECT_EQ(buckets.per_second(), 4);
  EXPECT_EQ(buckets.burst(), 2);
  auto bucket = buckets.Get("seat", kT0);
  ASSERT_EQ(CountAllowed(10, [&] { return bucket->TryTake(kT0); }), 2);
  EXPECT_FALSE(bucket->TryTake(kT0 + absl::Milliseconds(249)));
  EXPECT_TRUE(bucket->TryTake(kT0 + absl::Milliseconds(250)));
  EXPECT_FALSE(bucket->Full(kT0 + absl::Milliseconds(250)));
  EXPECT_TRUE(bucket->Full(kT0 + absl::Milliseconds(750)));
}

TEST(KeyedTokenBucketsTest, ResumingAtOnceFindsTheBucketAsItWasLeft) {
  KeyedTokenBuckets buckets(/*per_second=*/1, /*burst=*/2);
  {
    auto stream = buckets.Get("seat", kT0);
    ASSERT_EQ(CountAllowed(10, [&] { return stream->TryTake(kT0); }), 2);
  }  // the stream is cut
  // Even after a sweep, an empty bucket nobody holds is kept.
  SweepWithNewKeys(buckets, "other-", kT0);
  auto resumed = buckets.Get("seat", kT0);
  EXPECT_FALSE(resumed->TryTake(kT0));
}

TEST(KeyedTokenBucketsTest, ASweepForgetsOnlyRefilledBucketsNobodyHolds) {
  KeyedTokenBuckets buckets(/*per_second=*/1, /*burst=*/1);
  auto held = buckets.Get("held", kT0);
  ASSERT_TRUE(held->TryTake(kT0));
  ASSERT_TRUE(buckets.Get("dropped", kT0)->TryTake(kT0));

  // At kT0 the fresh keys are full and unheld, and go; "held" and "dropped"
  // (empty) stay, with the key that made the table sweep.
  auto last = SweepWithNewKeys(buckets, "first-", kT0);
  EXPECT_EQ(buckets.size(), 3u);

  // Once refilled, "dropped" is the same as a fresh bucket and goes at the
  // next sweep; "held" stays while it is held, refilled or not.
  last.reset();
  const absl::Time later = kT0 + absl::Seconds(1);
  last = SweepWithNewKeys(buckets, "second-", later);
  EXPECT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets.Get("held", later), held);
  EXPECT_TRUE(buckets.Get("dropped", later)->TryTake(later));
}

TEST(KeyedTokenBucketsTest, TheTableDoesNotGrowPastTheKeysInUse) {
  KeyedTokenBuckets buckets(/*per_second=*/1, /*burst=*/1);
  // 10,000 streams come and go, each using its key once: the table keeps
  // only those not refilled since, never all 10,000.
  size_t largest = 0;
  for (int i = 0; i < 10'000; ++i) {
    const absl::Time now = kT0 + absl::Seconds(i);
    buckets.Get(absl::StrCat("seat-", i), now)->TryTake(now);
    largest = std::max(largest, buckets.size());
  }
  EXPECT_LE(largest, kFirstSweep);
}

}  // namespace
}  // namespace circuit
