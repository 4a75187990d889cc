#ifndef CIRCUIT_SERVER_COMMON_CLOCK_H_
#define CIRCUIT_SERVER_COMMON_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace circuit {

// The source of server time. Everything that reads the time takes a Clock so
// tests can drive time by hand. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // Now() as milliseconds since the Unix epoch: the wire's representation.
  int64_t NowUnixMs() const { return absl::ToUnixMillis(Now()); }

  // The wall clock of this machine. Never destroyed.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixMillis(1'780'000'000'000))
      : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_CLOCK_H_
