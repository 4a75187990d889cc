#include "server/fanout/write_pacer.h"

#include <algorithm>

namespace circuit {

WritePacer::WritePacer(const Options& options) : options_(options) {}

absl::Duration WritePacer::Interval(int64_t now_ns, uint64_t messages,
                                    int64_t streams) {
  int64_t start = window_start_ns_.load(std::memory_order_acquire);
  if (start < 0) {
    // The first call opens the first window.
    if (window_start_ns_.compare_exchange_strong(start, now_ns)) {
      window_messages_.store(messages, std::memory_order_relaxed);
    }
    return absl::ZeroDuration();
  }
  const int64_t elapsed = now_ns - start;
  if (elapsed >= absl::ToInt64Nanoseconds(options_.window) &&
      window_start_ns_.compare_exchange_strong(start, now_ns)) {
    // This caller closes the window: the others keep the last interval.
    const uint64_t before =
        window_messages_.exchange(messages, std::memory_order_relaxed);
    const double rate = static_cast<double>(messages - before) * 1e9 /
                        static_cast<double>(elapsed);
    int64_t interval = 0;
    if (options_.budget > 0 && rate > options_.budget && streams > 0) {
      interval = std::min(absl::ToInt64Nanoseconds(options_.max_interval),
                          static_cast<int64_t>(static_cast<double>(streams) *
                                               1e9 / options_.budget));
    }
    interval_ns_.store(interval, std::memory_order_relaxed);
  }
  return absl::Nanoseconds(interval_ns_.load(std::memory_order_relaxed));
}

}  // namespace circuit
