#ifndef CIRCUIT_SERVER_LIVE_PROFILES_H_
#define CIRCUIT_SERVER_LIVE_PROFILES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/common/clock.h"
#include "server/journal/journal.h"

namespace circuit {

// Kept profiles: the participants who chose to be known across classes.
// Health data (track, weeks postpartum, history): only she (with her profile
// credential) and her studio's accounts see it; it is sealed at rest by the
// journal and never logged.
//
// A profile credential is "cp_" and 48 random hex characters; only its
// SHA-256 is kept. The book holds every profile in memory with her newest
// past classes (what carry-over reads when she joins); the whole history is
// read from the journal when asked (progress, her data). Every change is
// journaled before it shows: a callback gets the outcome once durable.
//
// Thread-safe. Callbacks run on the journal's thread (inline for the
// in-memory journal) and must not block.
class ProfileBook {
 public:
  // Past classes kept in memory per profile: enough for every carry-over and
  // stage rule the library can state (their look-backs are capped to it).
  static constexpr int kRecentClasses = 8;

  ProfileBook(Journal* journal, const Clock* clock);

  // Loads the stored profiles (at startup, before serving).
  absl::Status Load();

  // Whether `token` has a profile credential's shape.
  static bool LooksLikeCredential(const std::string& token);

  // A new profile from a check-in, in `studio`, starting `programme_id` at
  // `stage_id` (both may be empty); `done` gets it and its credential once
  // durable. INVALID_ARGUMENT for a bad check-in.
  struct Created {
    v1::Profile profile;
    std::string credential;
  };
  void Create(const v1::CheckIn& check_in, const std::string& studio,
              const std::string& programme_id, const std::string& stage_id,
              const std::string& stage_name,
              absl::AnyInvocable<void(absl::StatusOr<Created>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The profile a credential opens (weeks postpartum as of now).
  // UNAUTHENTICATED for one unknown, revoked or erased.
  absl::StatusOr<v1::Profile> Authenticate(const std::string& credential) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The profile, weeks postpartum as of now; nullopt for an unknown id.
  std::optional<v1::Profile> Get(const std::string& profile_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Her newest past classes, oldest first (at most kRecentClasses); never
  // null. Shared and immutable: a join reads them without a copy, and the
  // end of a class replaces them.
  using PastClasses = std::shared_ptr<const std::vector<internal::PastClass>>;
  PastClasses Recent(const std::string& profile_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Her whole history, oldest first, from the journal.
  void History(const std::string& profile_id, HistoryDone done);

  // Changes what she may change (UpdateMyProfileRequest). INVALID_ARGUMENT
  // for bad values, NOT_FOUND for an unknown profile.
  void Update(const std::string& profile_id, const v1::Profile& changes,
              absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // A new credential for the profile, replacing its current one (which then
  // opens nothing): for a join that made the profile and was retried because
  // its answer, the only copy of the credential, was lost. NOT_FOUND for an
  // unknown or erased profile; FAILED_PRECONDITION for a revoked one (a
  // revoke stands).
  void Reissue(const std::string& profile_id,
               absl::AnyInvocable<void(absl::StatusOr<Created>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the profile's credential; the data stays.
  void Revoke(const std::string& profile_id,
              absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Seats linked to a profile in classes that have not ended yet.
  void SeatOpened(const std::string& profile_id, const std::string& class_id,
                  const std::string& participant_id) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::pair<std::string, std::string>> OpenSeats(
      const std::string& profile_id) const ABSL_LOCKS_EXCLUDED(mu_);

  // A class ended: journals `summary` (Journal::EndClass) with, for every
  // seat linked to a profile, her past class (made by `past_of` from her
  // record and her stage then) and her profile after it (its stage moved on
  // when the coach accepted a NEXT_STAGE suggestion in the class). Once
  // durable the book shows them; `done` gets the journal's answer.
  using PastOf = absl::AnyInvocable<internal::PastClass(
      const v1::ParticipantSummary&, const std::string& stage_id)>;
  void EndClass(const v1::ClassSummary& summary, PastOf past_of,
                JournalDone done) ABSL_LOCKS_EXCLUDED(mu_);

  // What the journal now keeps for `profile_id`, written by another node of
  // a cluster (Journal::WatchProfiles): replaces what the book has (the
  // seats it knows open stay), or forgets it (nullopt: erased).
  void Refresh(const std::string& profile_id,
               std::optional<StoredProfileHistory> stored)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets an erased profile (the journal erased it).
  void Forget(const std::string& profile_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Weeks postpartum at `now` from a birth date or weeks given at a time;
  // nullopt when neither is known. At most 520.
  static std::optional<int32_t> WeeksAt(const v1::Profile& profile,
                                        absl::Time now);

 private:
  struct Kept {
    internal::StoredProfile stored;
    PastClasses recent = std::make_shared<std::vector<internal::PastClass>>();
    int32_t class_count = 0;
    std::set<std::pair<std::string, std::string>> open_seats;
    bool erasing = false;
  };
  v1::Profile PublicLocked(const Kept& kept) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Her stored profile, copied; NOT_FOUND for one unknown or being erased.
  absl::StatusOr<internal::StoredProfile> StoredCopy(
      const std::string& profile_id) const ABSL_LOCKS_EXCLUDED(mu_);
  // Write, with a new credential: `done` gets it with the profile.
  void WriteWithNewCredential(
      internal::StoredProfile stored,
      absl::AnyInvocable<void(absl::StatusOr<Created>)> done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Journals `stored` as the profile's new state; on success the book takes
  // it and `done` gets the public profile.
  void Write(internal::StoredProfile stored,
             absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)> done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(mu_);

  Journal* const journal_;
  const Clock* const clock_;
  // Held while a profile write is read from the book and queued to the
  // journal, so the journal applies profile writes in the order they read
  // the book (an update never lost under a class's end). Never held by a
  // journal callback; taken before mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::map<std::string, Kept> profiles_ ABSL_GUARDED_BY(mu_);
  // SHA-256 of a live credential -> profile id.
  absl::flat_hash_map<std::string, std::string> by_credential_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_PROFILES_H_
