#ifndef CIRCUIT_SERVER_LIVE_SEATS_H_
#define CIRCUIT_SERVER_LIVE_SEATS_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/common/secrets.h"

namespace circuit {

// Where a seat is.
struct SeatRef {
  std::string class_id;
  std::string participant_id;
};

// Every seat of every class this server holds, found by the hash of its
// resume token, and by the hash of the client join id it was taken with.
// The one place seat credentials live. Thread-safe.
class SeatTable {
 public:
  // Records a seat (a join, live or replayed). `join_hash` may be empty.
  void Add(const std::string& token_hash, const std::string& join_hash,
           const SeatRef& seat) ABSL_LOCKS_EXCLUDED(mu_);
  // Gives a seat a new token; the old one stops working.
  void ReplaceToken(const std::string& class_id,
                    const std::string& participant_id,
                    const std::string& token_hash) ABSL_LOCKS_EXCLUDED(mu_);
  // The seat a token holds; UNAUTHENTICATED when none.
  absl::StatusOr<SeatRef> Find(absl::string_view token) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The participant who joined `class_id` with this client join id hash.
  std::optional<std::string> FindByJoinHash(const std::string& class_id,
                                            const std::string& join_hash) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets every seat of a class.
  void ForgetClass(const std::string& class_id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using SeatKey = std::pair<std::string, std::string>;  // class, participant
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, SeatRef> by_token_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<SeatKey, std::string> token_of_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<SeatKey, std::string> by_join_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_SEATS_H_
