#ifndef CIRCUIT_SERVER_COMMON_RATE_LIMIT_H_
#define CIRCUIT_SERVER_COMMON_RATE_LIMIT_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace circuit {

// A token bucket: `burst` events at once, refilled at `per_second`. Not
// thread-safe.
class TokenBucket {
 public:
  TokenBucket(double per_second, double burst, absl::Time now)
      : per_second_(per_second), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token if there is one.
  bool TryTake(absl::Time now);
  // True when the bucket holds its whole burst at `now` (it is then the same
  // as a fresh one).
  bool Full(absl::Time now) const;

 private:
  double per_second_;
  double burst_;
  double tokens_;
  absl::Time last_;
};

// Token buckets keyed by peer address (the IP, without the port), for
// limiting joins per device. Thread-safe.
class PeerRateLimiter {
 public:
  PeerRateLimiter(double per_second, double burst)
      : per_second_(per_second), burst_(burst) {}

  // True when `peer` (a gRPC peer string such as "ipv4:10.0.0.5:41234") may
  // act now.
  bool Allow(const std::string& peer, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const double per_second_;
  const double burst_;
  absl::Mutex mu_;
  std::map<std::string, TokenBucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// Token buckets by key, for a limit that must outlive any one stream: a
// participant's messages, keyed by seat, so that a client that is cut for
// sending too fast and resumes at once finds its bucket as it left it. A
// key's bucket is forgotten only when nobody holds it and it has refilled
// (a fresh one would be the same), so forgetting never lifts a limit; the
// table holds the buckets in use and those used within the last
// burst / per_second seconds. Thread-safe.
class KeyedTokenBuckets {
 public:
  // One key's bucket, shared by everyone who got it. Thread-safe.
  class Bucket {
   public:
    Bucket(double per_second, double burst, absl::Time now)
        : bucket_(per_second, burst, now) {}
    bool TryTake(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
    bool Full(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);

   private:
    mutable absl::Mutex mu_;
    TokenBucket bucket_ ABSL_GUARDED_BY(mu_);
  };

  KeyedTokenBuckets(double per_second, double burst)
      : per_second_(per_second), burst_(burst) {}

  // The bucket of `key`, a full one when the key has none. Hold it for as
  // long as the key is in use (a stream's life): it is not forgotten while
  // held.
  std::shared_ptr<Bucket> Get(const std::string& key, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Keys with a bucket now (for tests).
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

  // Every key's budget, for refusals that say what it is.
  double per_second() const { return per_second_; }
  double burst() const { return burst_; }

 private:
  // The table is swept for buckets to forget when it reaches this size, and
  // next at twice what was left: sweeps cost amortized O(1) per Get.
  static constexpr size_t kFirstSweep = 1024;

  // Forgets every bucket nobody holds that has refilled.
  void Sweep(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double per_second_;
  const double burst_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Bucket>> buckets_
      ABSL_GUARDED_BY(mu_);
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = kFirstSweep;
};

// The key of a participant seat's message budget among KeyedTokenBuckets:
// the gRPC and HTTP adapters share one budget per seat.
inline std::string SeatBudgetKey(const std::string& class_id,
                                 const std::string& participant_id) {
  return class_id + "/" + participant_id;
}

// "ipv4:10.0.0.5:41234" -> "ipv4:10.0.0.5"; "ipv6:[::1]:5000" -> "ipv6:[::1]".
std::string PeerAddress(const std::string& peer);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_RATE_LIMIT_H_
