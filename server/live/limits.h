#ifndef CIRCUIT_SERVER_LIVE_LIMITS_H_
#define CIRCUIT_SERVER_LIVE_LIMITS_H_

#include "server/common/rate_limit.h"

namespace circuit {

// The rates of SharedLimits: each a burst, then a steady rate.
struct LimitOptions {
  // Joins (and resumes) per device address.
  double joins_per_second = 2;
  double join_burst = 40;
  // Look-ups of a class by join code per device address, so nobody finds
  // live codes by trying them.
  double lookups_per_second = 5;
  double lookup_burst = 60;
  // Messages per participant seat, across every stream and resume of it.
  double seat_messages_per_second = 20;
  double seat_message_burst = 60;
};

// The limits that hold whichever door a client comes in by: a device's
// joins and look-ups, and a seat's message budget, are counted over gRPC and
// HTTP together, so switching doors lifts none of them. The composition root
// (server/app/) owns one and hands it to both adapters, which never reach
// into each other for it. Thread-safe.
class SharedLimits {
 public:
  explicit SharedLimits(const LimitOptions& options)
      : joins_(options.joins_per_second, options.join_burst),
        lookups_(options.lookups_per_second, options.lookup_burst),
        seat_messages_(options.seat_messages_per_second,
                       options.seat_message_burst) {}
  SharedLimits(const SharedLimits&) = delete;
  SharedLimits& operator=(const SharedLimits&) = delete;

  // Joins (and resumes) per device address.
  PeerRateLimiter* joins() { return &joins_; }
  // Look-ups by join code per device address.
  PeerRateLimiter* lookups() { return &lookups_; }
  // Messages per participant seat, keyed by SeatBudgetKey: a participant cut
  // for sending too fast finds its bucket as it left it when it resumes, by
  // either door.
  KeyedTokenBuckets* seat_messages() { return &seat_messages_; }

 private:
  PeerRateLimiter joins_;
  PeerRateLimiter lookups_;
  KeyedTokenBuckets seat_messages_;
};

// Signing in (a sign-in code or a credential) comes out of the same
// per-address budget as look-ups by join code.
inline constexpr char kTooManySignIns[] =
    "too many sign-in attempts from this address (they count with look-ups "
    "by join code); try again in a minute";

// Why a look-up by join code was refused (RESOURCE_EXHAUSTED): the caller's
// address looked up too many codes too fast.
inline constexpr char kTooManyLookups[] =
    "too many class look-ups by join code from this address; try again in a "
    "minute";

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_LIMITS_H_
