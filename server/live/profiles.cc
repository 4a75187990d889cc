#include "server/live/profiles.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/secrets.h"
#include "server/engine/class_session.h"

namespace circuit {
namespace {

constexpr char kCredentialPrefix[] = "cp_";
constexpr int32_t kMaxWeeks = 520;

absl::Status BadBirthDate(const std::string& date) {
  return absl::InvalidArgumentError(absl::StrCat(
      "birth_date must be a date as YYYY-MM-DD, not in the future, got \"",
      date.substr(0, 16), "\""));
}

std::optional<absl::Time> ParseDate(const std::string& date) {
  absl::Time at;
  std::string error;
  if (date.size() != 10 ||
      !absl::ParseTime("%Y-%m-%d", date, absl::UTCTimeZone(), &at, &error)) {
    return std::nullopt;
  }
  return at;
}

}  // namespace

ProfileBook::ProfileBook(Journal* journal, const Clock* clock)
    : journal_(journal), clock_(clock) {}

absl::Status ProfileBook::Load() {
  absl::StatusOr<std::vector<StoredProfileHistory>> loaded =
      journal_->LoadProfiles(kRecentClasses);
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&mu_);
  for (StoredProfileHistory& stored : *loaded) {
    const std::string id = stored.profile.profile().profile_id();
    Kept& kept = profiles_[id];
    kept.stored = std::move(stored.profile);
    kept.recent = std::make_shared<std::vector<internal::PastClass>>(
        std::make_move_iterator(stored.recent.begin()),
        std::make_move_iterator(stored.recent.end()));
    kept.class_count = stored.class_count;
    if (!kept.stored.profile().revoked()) {
      by_credential_[kept.stored.credential_sha256()] = id;
    }
  }
  return absl::OkStatus();
}

bool ProfileBook::LooksLikeCredential(const std::string& token) {
  return absl::StartsWith(token, kCredentialPrefix);
}

std::optional<int32_t> ProfileBook::WeeksAt(const v1::Profile& profile,
                                            absl::Time now) {
  absl::Duration since;
  int32_t base = 0;
  if (std::optional<absl::Time> birth = ParseDate(profile.birth_date())) {
    since = now - *birth;
  } else if (profile.has_weeks_given()) {
    base = profile.weeks_given();
    since = now - absl::FromUnixMillis(profile.weeks_given_unix_ms());
  } else {
    return std::nullopt;
  }
  const int64_t weeks =
      base + std::max<int64_t>(0, absl::ToInt64Hours(since) / (24 * 7));
  return static_cast<int32_t>(std::min<int64_t>(weeks, kMaxWeeks));
}

v1::Profile ProfileBook::PublicLocked(const Kept& kept) const {
  v1::Profile profile = kept.stored.profile();
  if (std::optional<int32_t> weeks = WeeksAt(profile, clock_->Now())) {
    profile.set_weeks_postpartum(*weeks);
  } else {
    profile.clear_weeks_postpartum();
  }
  profile.set_class_count(kept.class_count);
  return profile;
}

void ProfileBook::Create(
    const v1::CheckIn& check_in, const std::string& studio,
    const std::string& programme_id, const std::string& stage_id,
    const std::string& stage_name,
    absl::AnyInvocable<void(absl::StatusOr<Created>)> done) {
  if (absl::Status valid = engine::ValidateCheckIn(check_in); !valid.ok()) {
    done(valid);
    return;
  }
  const int64_t now_ms = clock_->NowUnixMs();
  internal::StoredProfile stored;
  v1::Profile* profile = stored.mutable_profile();
  profile->set_profile_id(absl::StrCat("pf-", RandomHex(8)));
  profile->set_studio_id(studio);
  profile->set_display_name(
      std::string(absl::StripAsciiWhitespace(check_in.display_name())));
  profile->set_track(check_in.track());
  if (check_in.has_weeks_postpartum()) {
    profile->set_weeks_given(check_in.weeks_postpartum());
    profile->set_weeks_given_unix_ms(now_ms);
  }
  profile->set_equipment(check_in.equipment());
  profile->set_show_name_on_kiosk(check_in.show_name_on_kiosk());
  profile->set_programme_id(programme_id);
  profile->set_stage_id(stage_id);
  profile->set_stage_name(stage_name);
  profile->set_created_unix_ms(now_ms);
  absl::MutexLock order(&write_mu_);
  WriteWithNewCredential(std::move(stored), std::move(done));
}

void ProfileBook::WriteWithNewCredential(
    internal::StoredProfile stored,
    absl::AnyInvocable<void(absl::StatusOr<Created>)> done) {
  std::string credential = absl::StrCat(kCredentialPrefix, RandomHex(24));
  stored.set_credential_sha256(Sha256(credential));
  Write(std::move(stored),
        [credential = std::move(credential),
         done = std::move(done)](absl::StatusOr<v1::Profile> written) mutable {
          if (!written.ok()) {
            done(written.status());
            return;
          }
          done(Created{*std::move(written), std::move(credential)});
        });
}

absl::StatusOr<internal::StoredProfile> ProfileBook::StoredCopy(
    const std::string& profile_id) const {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it == profiles_.end() || it->second.erasing) {
    return absl::NotFoundError(absl::StrCat("no profile ", profile_id));
  }
  return it->second.stored;
}

void ProfileBook::Write(
    internal::StoredProfile stored,
    absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)> done) {
  journal_->PutProfile(stored, [this, stored, done = std::move(done)](
                                   absl::Status status) mutable {
    if (!status.ok()) {
      done(status);
      return;
    }
    v1::Profile shown;
    {
      absl::MutexLock lock(&mu_);
      const std::string& id = stored.profile().profile_id();
      Kept& kept = profiles_[id];
      if (kept.stored.has_profile() &&
          kept.stored.credential_sha256() != stored.credential_sha256()) {
        by_credential_.erase(kept.stored.credential_sha256());
      }
      if (stored.profile().revoked()) {
        by_credential_.erase(stored.credential_sha256());
      } else {
        by_credential_[stored.credential_sha256()] = id;
      }
      kept.stored = std::move(stored);
      shown = PublicLocked(kept);
    }
    done(std::move(shown));
  });
}

absl::StatusOr<v1::Profile> ProfileBook::Authenticate(
    const std::string& credential) const {
  absl::MutexLock lock(&mu_);
  auto id = by_credential_.find(Sha256(credential));
  if (id == by_credential_.end()) {
    return absl::UnauthenticatedError(
        "the profile credential is not one this server issued, or it was "
        "revoked or erased");
  }
  auto it = profiles_.find(id->second);
  if (it == profiles_.end() || it->second.erasing) {
    return absl::UnauthenticatedError("the profile is being erased");
  }
  return PublicLocked(it->second);
}

std::optional<v1::Profile> ProfileBook::Get(
    const std::string& profile_id) const {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it == profiles_.end()) return std::nullopt;
  return PublicLocked(it->second);
}

ProfileBook::PastClasses ProfileBook::Recent(
    const std::string& profile_id) const {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it == profiles_.end()) {
    return std::make_shared<std::vector<internal::PastClass>>();
  }
  return it->second.recent;
}

void ProfileBook::History(const std::string& profile_id, HistoryDone done) {
  journal_->ReadHistory(profile_id, std::move(done));
}

void ProfileBook::Update(
    const std::string& profile_id, const v1::Profile& changes,
    absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)> done) {
  v1::CheckIn check;
  check.set_display_name(changes.display_name().empty()
                             ? std::string("x")
                             : changes.display_name());
  check.set_track(changes.track());
  check.set_equipment(changes.equipment());
  if (changes.has_weeks_given()) {
    check.set_weeks_postpartum(changes.weeks_given());
  }
  if (absl::Status valid = engine::ValidateCheckIn(check); !valid.ok()) {
    done(valid);
    return;
  }
  if (!changes.birth_date().empty()) {
    std::optional<absl::Time> birth = ParseDate(changes.birth_date());
    if (!birth.has_value() || *birth > clock_->Now() ||
        *birth < clock_->Now() - absl::Hours(24 * 7 * kMaxWeeks)) {
      done(BadBirthDate(changes.birth_date()));
      return;
    }
  }
  absl::MutexLock order(&write_mu_);
  absl::StatusOr<internal::StoredProfile> stored = StoredCopy(profile_id);
  if (!stored.ok()) {
    done(stored.status());
    return;
  }
  v1::Profile* profile = stored->mutable_profile();
  if (!changes.display_name().empty()) {
    profile->set_display_name(
        std::string(absl::StripAsciiWhitespace(changes.display_name())));
  }
  profile->set_track(changes.track());
  profile->set_birth_date(changes.birth_date());
  if (changes.has_weeks_given()) {
    profile->set_weeks_given(changes.weeks_given());
    profile->set_weeks_given_unix_ms(clock_->NowUnixMs());
  } else {
    profile->clear_weeks_given();
    profile->set_weeks_given_unix_ms(0);
  }
  profile->set_equipment(changes.equipment());
  profile->set_show_name_on_kiosk(changes.show_name_on_kiosk());
  Write(*std::move(stored), std::move(done));
}

void ProfileBook::Revoke(
    const std::string& profile_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)> done) {
  absl::MutexLock order(&write_mu_);
  absl::StatusOr<internal::StoredProfile> stored = StoredCopy(profile_id);
  if (!stored.ok()) {
    done(stored.status());
    return;
  }
  stored->mutable_profile()->set_revoked(true);
  Write(*std::move(stored), std::move(done));
}

void ProfileBook::Reissue(
    const std::string& profile_id,
    absl::AnyInvocable<void(absl::StatusOr<Created>)> done) {
  absl::MutexLock order(&write_mu_);
  absl::StatusOr<internal::StoredProfile> stored = StoredCopy(profile_id);
  if (!stored.ok()) {
    done(stored.status());
    return;
  }
  if (stored->profile().revoked()) {
    done(absl::FailedPreconditionError(
        "this profile's credential was revoked; ask the studio"));
    return;
  }
  WriteWithNewCredential(*std::move(stored), std::move(done));
}

void ProfileBook::SeatOpened(const std::string& profile_id,
                             const std::string& class_id,
                             const std::string& participant_id) {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it != profiles_.end()) {
    it->second.open_seats.emplace(class_id, participant_id);
  }
}

std::vector<std::pair<std::string, std::string>> ProfileBook::OpenSeats(
    const std::string& profile_id) const {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it == profiles_.end()) return {};
  return {it->second.open_seats.begin(), it->second.open_seats.end()};
}

void ProfileBook::EndClass(const v1::ClassSummary& summary, PastOf past_of,
                           JournalDone done) {
  const std::string& class_id = summary.class_info().class_id();
  absl::MutexLock order(&write_mu_);
  std::vector<internal::ProfileUpdate> updates;
  {
    absl::MutexLock lock(&mu_);
    for (const v1::ParticipantSummary& p : summary.participants()) {
      if (p.profile_id().empty()) continue;
      auto it = profiles_.find(p.profile_id());
      if (it == profiles_.end() || it->second.erasing) continue;
      internal::ProfileUpdate& update = updates.emplace_back();
      *update.mutable_profile() = it->second.stored;
      *update.mutable_past() =
          past_of(p, it->second.stored.profile().stage_id());
      for (const v1::Suggestion& s : p.suggestions()) {
        if (s.kind() == v1::SUGGESTION_KIND_NEXT_STAGE &&
            s.decision() == v1::SUGGESTION_DECISION_ACCEPTED) {
          v1::Profile* profile = update.mutable_profile()->mutable_profile();
          profile->set_stage_id(s.suggested_stage_id());
          profile->set_stage_name(s.suggested_stage_name());
        }
      }
    }
  }
  std::vector<internal::ProfileUpdate> shown = updates;
  journal_->EndClass(
      summary, std::move(updates),
      [this, class_id, shown = std::move(shown),
       done = std::move(done)](absl::Status status) mutable {
        if (status.ok()) {
          absl::MutexLock lock(&mu_);
          for (internal::ProfileUpdate& update : shown) {
            auto it = profiles_.find(update.profile().profile().profile_id());
            if (it == profiles_.end()) continue;
            Kept& kept = it->second;
            kept.open_seats.erase(
                {class_id, update.past().participant().participant_id()});
            kept.stored.mutable_profile()->set_stage_id(
                update.profile().profile().stage_id());
            kept.stored.mutable_profile()->set_stage_name(
                update.profile().profile().stage_name());
            // A new list: joins may be reading the old one.
            const std::vector<internal::PastClass>& old = *kept.recent;
            const size_t keep =
                std::min<size_t>(old.size(), kRecentClasses - 1);
            auto recent = std::make_shared<std::vector<internal::PastClass>>(
                old.end() - static_cast<std::ptrdiff_t>(keep), old.end());
            recent->push_back(std::move(*update.mutable_past()));
            kept.recent = std::move(recent);
            ++kept.class_count;
          }
        }
        done(status);
      });
}

void ProfileBook::Refresh(const std::string& profile_id,
                          std::optional<StoredProfileHistory> stored) {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it != profiles_.end()) {
    if (it->second.erasing) return;  // this node is erasing it
    by_credential_.erase(it->second.stored.credential_sha256());
  }
  if (!stored.has_value()) {
    if (it != profiles_.end()) profiles_.erase(it);
    return;
  }
  Kept& kept = profiles_[profile_id];
  kept.stored = std::move(stored->profile);
  kept.recent = std::make_shared<std::vector<internal::PastClass>>(
      std::make_move_iterator(stored->recent.begin()),
      std::make_move_iterator(stored->recent.end()));
  kept.class_count = stored->class_count;
  if (!kept.stored.profile().revoked()) {
    by_credential_[kept.stored.credential_sha256()] = profile_id;
  }
}

void ProfileBook::Forget(const std::string& profile_id) {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(profile_id);
  if (it == profiles_.end()) return;
  by_credential_.erase(it->second.stored.credential_sha256());
  profiles_.erase(it);
}

}  // namespace circuit
