#include "server/common/stats.h"

#include <algorithm>
#include <chrono>

namespace circuit {

Histogram::Histogram(std::initializer_list<int64_t> bounds)
    : bounds_(bounds), counts_(bounds.size() + 1) {}

void Histogram::Observe(int64_t value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) -
      bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  snapshot.counts.reserve(counts_.size());
  for (const std::atomic<uint64_t>& count : counts_) {
    snapshot.counts.push_back(count.load(std::memory_order_relaxed));
    snapshot.count += snapshot.counts.back();
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

void ServerStats::CountReport(int code) {
  if (code >= 0 && code < kCodes) {
    reports_by_code[static_cast<size_t>(code)].fetch_add(
        1, std::memory_order_relaxed);
  }
}

void ServerStats::CountCommand(int code) {
  if (code >= 0 && code < kCodes) {
    commands_by_code[static_cast<size_t>(code)].fetch_add(
        1, std::memory_order_relaxed);
  }
}

ServerStats& ProcessStats() {
  static ServerStats* const stats = new ServerStats();
  return *stats;
}

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace circuit
