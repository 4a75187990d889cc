#include "server/live/profile_access.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/quote.h"

namespace circuit {
namespace {

using PrincipalRole = Principal::Role;

absl::Status NotYours() {
  return absl::PermissionDeniedError(
      "send the profile's own credential (from Joined.profile_credential)");
}

// Whether an account caller may see `profile`: an account of its studio or
// the bootstrap key; a class credential only for a seat of its own class.
absl::Status MaySeeProfile(const Principal& who, const v1::Profile& profile,
                           const std::string& class_id) {
  switch (who.role) {
    case PrincipalRole::kBootstrap:
      return absl::OkStatus();
    case PrincipalRole::kAdmin:
    case PrincipalRole::kInstructor:
      if (StudioOf(who) == profile.studio_id()) return absl::OkStatus();
      break;
    case PrincipalRole::kClass:
      if (!class_id.empty() && who.class_id == class_id &&
          StudioOf(who) == profile.studio_id()) {
        return absl::OkStatus();
      }
      break;
    default:
      break;
  }
  return absl::PermissionDeniedError(
      "only the participant and her studio's instructors and admins see a "
      "profile's progress");
}

// The profile a call acts on: her own (her credential; `profile_id` empty
// or hers), or the one `profile_id` names for an admin of its studio or the
// bootstrap key. `what` says what only they may do.
absl::StatusOr<std::string> HerselfOrHerStudioAdmin(
    const ProfileBook& book, const ProfileCaller& caller,
    const std::string& profile_id, absl::string_view what) {
  if (caller.self.has_value()) {
    if (!profile_id.empty() && profile_id != caller.self->profile_id()) {
      return NotYours();
    }
    return caller.self->profile_id();
  }
  if (profile_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give the profile_id (only the participant or an admin "
                     "of the profile's studio may ",
                     what, ")"));
  }
  const Principal& who = caller.who;
  if (who.role != PrincipalRole::kBootstrap &&
      who.role != PrincipalRole::kAdmin) {
    return absl::PermissionDeniedError(
        absl::StrCat("only the participant or an admin of the profile's "
                     "studio may ",
                     what));
  }
  // An admin sees only their studio's profiles: another studio's is as
  // unknown as an erased one.
  std::optional<v1::Profile> profile = book.Get(profile_id);
  if (!profile.has_value() || (who.role == PrincipalRole::kAdmin &&
                               StudioOf(who) != profile->studio_id())) {
    return absl::NotFoundError(
        absl::StrCat("no profile ", QuoteForError(profile_id),
                     who.role == PrincipalRole::kAdmin
                         ? absl::StrCat(" in studio ", StudioOf(who))
                         : std::string()));
  }
  return profile_id;
}

}  // namespace

absl::StatusOr<ProfileCaller> IdentifyProfileCaller(const std::string& bearer,
                                                    const AccessKeys& keys,
                                                    const ProfileBook& book) {
  ProfileCaller caller;
  if (ProfileBook::LooksLikeCredential(bearer)) {
    absl::StatusOr<v1::Profile> profile = book.Authenticate(bearer);
    if (!profile.ok()) return profile.status();
    caller.self = *std::move(profile);
    return caller;
  }
  if (absl::Status known = Authenticate(bearer, keys, &caller.who);
      !known.ok()) {
    return known;
  }
  return caller;
}

absl::StatusOr<v1::Profile> RequireSelf(const ProfileCaller& caller) {
  if (!caller.self.has_value()) return NotYours();
  return *caller.self;
}

v1::Progress ProgressFrom(const v1::Profile& profile,
                          const std::vector<internal::PastClass>& history) {
  v1::Progress progress;
  *progress.mutable_profile() = profile;
  for (const internal::PastClass& past : history) {
    const v1::ParticipantSummary& p = past.participant();
    v1::ClassProgressRecord* out = progress.add_classes();
    out->set_class_id(past.class_id());
    out->set_circuit_name(past.circuit_name());
    out->set_started_unix_ms(past.started_unix_ms());
    out->set_stage_id(past.stage_id());
    *out->mutable_exercises() = p.exercises();
    out->set_total_reps(p.total_reps());
    double sum = 0;
    int rated = 0;
    for (const v1::EffortRecord& effort : p.efforts()) {
      if (effort.has_cr10()) {
        sum += effort.cr10();
        ++rated;
      }
      switch (effort.feel()) {
        case v1::EFFORT_FEEL_TOO_EASY:
          out->set_too_easy_count(out->too_easy_count() + 1);
          break;
        case v1::EFFORT_FEEL_JUST_RIGHT:
          out->set_just_right_count(out->just_right_count() + 1);
          break;
        case v1::EFFORT_FEEL_TOO_HARD:
          out->set_too_hard_count(out->too_hard_count() + 1);
          break;
        default:
          break;
      }
    }
    if (rated > 0) out->set_mean_cr10(sum / rated);
    for (const v1::SymptomRecord& symptom : p.symptoms()) {
      out->add_symptoms(symptom.symptom());
    }
  }
  return progress;
}

void UpdateMyProfile(ProfileBook* book, const ProfileCaller& caller,
                     const v1::UpdateMyProfileRequest& request,
                     ProfileDone done) {
  absl::StatusOr<v1::Profile> self = RequireSelf(caller);
  if (!self.ok()) {
    done(self.status());
    return;
  }
  book->Update(self->profile_id(), request.profile(), std::move(done));
}

void GetMyData(ProfileBook* book, const ProfileCaller& caller,
               absl::AnyInvocable<void(absl::StatusOr<v1::MyData>)> done) {
  absl::StatusOr<v1::Profile> self = RequireSelf(caller);
  if (!self.ok()) {
    done(self.status());
    return;
  }
  book->History(
      self->profile_id(),
      [profile = *self, done = std::move(done)](
          absl::StatusOr<std::vector<internal::PastClass>> history) mutable {
        if (!history.ok()) {
          done(history.status());
          return;
        }
        v1::MyData data;
        *data.mutable_profile() = profile;
        for (const internal::PastClass& past : *history) {
          v1::ProfileClass* out = data.add_classes();
          out->set_class_id(past.class_id());
          out->set_circuit_id(past.circuit_id());
          out->set_circuit_name(past.circuit_name());
          out->set_started_unix_ms(past.started_unix_ms());
          out->set_ended_unix_ms(past.ended_unix_ms());
          out->set_stage_id(past.stage_id());
          *out->mutable_participant() = past.participant();
        }
        done(std::move(data));
      });
}

void EraseMyData(
    ClassRegistry* registry, const ProfileCaller& caller,
    const v1::EraseMyDataRequest& request,
    absl::AnyInvocable<void(absl::StatusOr<v1::EraseMyDataResponse>)> done) {
  absl::StatusOr<std::string> whose = HerselfOrHerStudioAdmin(
      *registry->profiles(), caller, request.profile_id(), "erase her data");
  if (!whose.ok()) {
    done(whose.status());
    return;
  }
  registry->EraseProfile(
      *whose, [done = std::move(done)](absl::StatusOr<int> erased) mutable {
        if (!erased.ok()) {
          done(erased.status());
          return;
        }
        v1::EraseMyDataResponse response;
        response.set_erased_class_count(*erased);
        done(std::move(response));
      });
}

void RevokeProfileCredential(ProfileBook* book, const ProfileCaller& caller,
                             const v1::RevokeProfileCredentialRequest& request,
                             ProfileDone done) {
  absl::StatusOr<std::string> whose = HerselfOrHerStudioAdmin(
      *book, caller, request.profile_id(), "revoke its credential");
  if (!whose.ok()) {
    done(whose.status());
    return;
  }
  book->Revoke(*whose, std::move(done));
}

void GetProgress(ClassRegistry* registry, const ProfileCaller& caller,
                 const v1::GetProgressRequest& request,
                 absl::AnyInvocable<void(absl::StatusOr<v1::Progress>)> done) {
  ProfileBook* book = registry->profiles();
  auto answer = [book](v1::Profile profile,
                       absl::AnyInvocable<void(absl::StatusOr<v1::Progress>)>
                           reply) {
    const std::string id = profile.profile_id();
    book->History(
        id,
        [profile = std::move(profile), done = std::move(reply)](
            absl::StatusOr<std::vector<internal::PastClass>> history) mutable {
          if (!history.ok()) {
            done(history.status());
            return;
          }
          done(ProgressFrom(profile, *history));
        });
  };
  if (caller.self.has_value()) {
    const bool own = (request.profile_id().empty() ||
                      request.profile_id() == caller.self->profile_id()) &&
                     request.class_id().empty();
    if (!own) {
      done(NotYours());
      return;
    }
    answer(*caller.self, std::move(done));
    return;
  }
  if (caller.who.role == PrincipalRole::kKiosk ||
      caller.who.role == PrincipalRole::kNone) {
    done(absl::PermissionDeniedError(
        "a kiosk never sees a participant's progress"));
    return;
  }
  auto by_id = [book, who = caller.who, class_id = request.class_id(), answer](
                   const std::string& profile_id,
                   absl::AnyInvocable<void(absl::StatusOr<v1::Progress>)>
                       reply) mutable {
    std::optional<v1::Profile> profile = book->Get(profile_id);
    // An unknown profile and another studio's answer alike.
    if (!profile.has_value() || !MaySeeProfile(who, *profile, class_id).ok()) {
      reply(absl::NotFoundError(absl::StrCat(
          "no profile ", QuoteForError(profile_id), " in your studio")));
      return;
    }
    answer(*std::move(profile), std::move(reply));
  };
  if (!request.profile_id().empty()) {
    by_id(request.profile_id(), std::move(done));
    return;
  }
  if (request.class_id().empty() || request.participant_id().empty()) {
    done(absl::InvalidArgumentError(
        "give a profile_id, or a class_id and a participant_id"));
    return;
  }
  absl::StatusOr<v1::ClassInfo> info =
      AccessClass(*registry, caller.who, request.class_id(), MayRunClass);
  if (!info.ok()) {
    done(info.status());
    return;
  }
  registry->Summary(
      request.class_id(),
      [participant_id = request.participant_id(), by_id = std::move(by_id),
       done =
           std::move(done)](absl::StatusOr<v1::ClassSummary> summary) mutable {
        if (!summary.ok()) {
          done(summary.status());
          return;
        }
        for (const v1::ParticipantSummary& p : summary->participants()) {
          if (p.participant_id() != participant_id) continue;
          if (p.profile_id().empty()) break;
          by_id(p.profile_id(), std::move(done));
          return;
        }
        done(absl::NotFoundError(
            absl::StrCat("participant ", QuoteForError(participant_id),
                         " of this class keeps no profile")));
      });
}

}  // namespace circuit
