#include "server/common/rate_limit.h"

#include <algorithm>

namespace circuit {

bool TokenBucket::TryTake(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min(
        burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
    last_ = now;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::string PeerAddress(const std::string& peer) {
  size_t colon = peer.rfind(':');
  size_t first = peer.find(':');
  if (colon == std::string::npos || colon == first) return peer;
  return peer.substr(0, colon);
}

bool PeerRateLimiter::Allow(const std::string& peer, absl::Time now) {
  std::string address = PeerAddress(peer);
  absl::MutexLock lock(&mu_);
  if (buckets_.size() > 100000) buckets_.clear();  // memory bound
  auto it = buckets_.try_emplace(address, per_second_, burst_, now).first;
  return it->second.TryTake(now);
}

}  // namespace circuit
