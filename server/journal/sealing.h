#ifndef CIRCUIT_SERVER_JOURNAL_SEALING_H_
#define CIRCUIT_SERVER_JOURNAL_SEALING_H_

// Health data sealed at rest (see SqliteJournal): which records are sealed,
// what each is bound to, and Reseal's pass over the stored rows. Internal to
// server/journal/.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "circuit/internal/journal.pb.h"
#include "server/common/data_cipher.h"

struct sqlite3;

namespace circuit {
namespace journal_internal {

// What Reseal did.
struct ResealCounts {
  int64_t resealed = 0;    // sealed records moved to the current key
  int64_t sealed = 0;      // plain health records sealed
  int64_t unreadable = 0;  // sealed records that did not open (left as is)
};

// Whether an entry's body is sealed at rest: the reports that are health data,
// and joins (the check-in's recovery track and weeks postpartum are too).
bool ShouldSeal(const internal::Entry& entry);

// What a sealed row is bound to: its kind, class, and (for an entry) row id,
// length-prefixed so no two identities share a spelling.
std::string EntryIdentity(absl::string_view class_id, int64_t id);
std::string SummaryIdentity(absl::string_view class_id);
// A kept profile's row, and its past class row `id`.
std::string ProfileIdentity(absl::string_view profile_id);
std::string PastClassIdentity(absl::string_view profile_id, int64_t id);

// Seals `plain` bound to `identity` when there are `keys`; `plain` when
// they are null.
absl::StatusOr<std::string> SealAs(const KeyRing* keys,
                                   const std::string& identity,
                                   const std::string& plain);

// Seals `plain` for the entry row `id` of `class_id` (or the summary of
// `class_id`, for id 0) when there are `keys`; `plain` when they are null.
absl::StatusOr<std::string> SealRow(const KeyRing* keys,
                                    const std::string& class_id, int64_t id,
                                    const std::string& plain);

// Opens a sealed record bound to `identity`; NOT_FOUND without `keys`.
absl::StatusOr<std::string> OpenSealed(const KeyRing* keys,
                                       absl::string_view sealed,
                                       const std::string& identity);

// The record as stored when it is not sealed, else OpenSealed's answer.
absl::StatusOr<std::string> OpenIfSealed(const KeyRing* keys,
                                         absl::string_view stored,
                                         const std::string& identity);

// Reseal's work on `db` (in its open transaction), for the journal at `path`
// (named in the log): plain health rows are sealed; with `rekey`, sealed rows
// under older keys too.
absl::Status ResealRows(sqlite3* db, const KeyRing& keys,
                        const std::string& path, bool rekey,
                        ResealCounts* counts);

}  // namespace journal_internal
}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_SEALING_H_
