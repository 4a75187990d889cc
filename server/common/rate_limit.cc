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

bool TokenBucket::Full(absl::Time now) const {
  double tokens = tokens_;
  if (now > last_) tokens += absl::ToDoubleSeconds(now - last_) * per_second_;
  return tokens >= burst_;
}

bool KeyedTokenBuckets::Bucket::TryTake(absl::Time now) {
  absl::MutexLock lock(&mu_);
  return bucket_.TryTake(now);
}

bool KeyedTokenBuckets::Bucket::Full(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return bucket_.Full(now);
}

std::shared_ptr<KeyedTokenBuckets::Bucket> KeyedTokenBuckets::Get(
    const std::string& key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto [it, added] = buckets_.try_emplace(key);
  if (added) {
    it->second = std::make_shared<Bucket>(per_second_, burst_, now);
    if (buckets_.size() >= sweep_at_) {
      std::shared_ptr<Bucket> bucket = it->second;  // held: not swept
      Sweep(now);
      return bucket;
    }
  }
  return it->second;
}

void KeyedTokenBuckets::Sweep(absl::Time now) {
  // Only Get hands out a bucket, under mu_: one the table alone holds
  // cannot be taken meanwhile.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (it->second.use_count() == 1 && it->second->Full(now)) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  sweep_at_ = std::max(kFirstSweep, 2 * buckets_.size());
}

size_t KeyedTokenBuckets::size() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
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
