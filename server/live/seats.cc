#include "server/live/seats.h"

namespace circuit {

void SeatTable::Add(const std::string& token_hash, const std::string& join_hash,
                    const SeatRef& seat) {
  absl::MutexLock lock(&mu_);
  SeatKey key{seat.class_id, seat.participant_id};
  by_token_[token_hash] = seat;
  token_of_[key] = token_hash;
  if (!join_hash.empty()) by_join_[{seat.class_id, join_hash}] = key.second;
}

void SeatTable::ReplaceToken(const std::string& class_id,
                             const std::string& participant_id,
                             const std::string& token_hash) {
  absl::MutexLock lock(&mu_);
  SeatKey key{class_id, participant_id};
  auto it = token_of_.find(key);
  if (it != token_of_.end()) by_token_.erase(it->second);
  by_token_[token_hash] = SeatRef{class_id, participant_id};
  token_of_[key] = token_hash;
}

absl::StatusOr<SeatRef> SeatTable::Find(absl::string_view token) const {
  const std::string hash = Sha256(token);
  absl::MutexLock lock(&mu_);
  auto it = by_token_.find(hash);
  if (it == by_token_.end()) {
    return absl::UnauthenticatedError(
        "unknown resume token; join again with the class's join code");
  }
  return it->second;
}

std::optional<std::string> SeatTable::FindByJoinHash(
    const std::string& class_id, const std::string& join_hash) const {
  absl::MutexLock lock(&mu_);
  auto it = by_join_.find(SeatKey{class_id, join_hash});
  if (it == by_join_.end()) return std::nullopt;
  return it->second;
}

void SeatTable::ForgetClass(const std::string& class_id) {
  absl::MutexLock lock(&mu_);
  for (auto it = token_of_.begin(); it != token_of_.end();) {
    if (it->first.first == class_id) {
      by_token_.erase(it->second);
      token_of_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = by_join_.begin(); it != by_join_.end();) {
    if (it->first.first == class_id) {
      by_join_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace circuit
