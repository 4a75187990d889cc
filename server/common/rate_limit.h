#ifndef CIRCUIT_SERVER_COMMON_RATE_LIMIT_H_
#define CIRCUIT_SERVER_COMMON_RATE_LIMIT_H_

#include <map>
#include <string>

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

// "ipv4:10.0.0.5:41234" -> "ipv4:10.0.0.5"; "ipv6:[::1]:5000" -> "ipv6:[::1]".
std::string PeerAddress(const std::string& peer);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_RATE_LIMIT_H_
