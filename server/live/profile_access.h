#ifndef CIRCUIT_SERVER_LIVE_PROFILE_ACCESS_H_
#define CIRCUIT_SERVER_LIVE_PROFILE_ACCESS_H_

// The kept-profile calls as both doors answer them: who may read, change,
// download, erase or revoke a profile, and the answers. A profile is health
// data: she (her profile credential) and her studio's accounts (and the
// bootstrap key) only; never a kiosk, never another participant.

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/auth/access.h"
#include "server/live/class_access.h"
#include "server/live/class_registry.h"

namespace circuit {

// Who is calling: her (a profile credential) or an account.
struct ProfileCaller {
  std::optional<v1::Profile> self;  // set for a profile credential
  Principal who;                    // otherwise
};

// Who `bearer` is: a profile credential opens her own profile; anything else
// is authenticated as the accounts' rules say. UNAUTHENTICATED otherwise.
absl::StatusOr<ProfileCaller> IdentifyProfileCaller(const std::string& bearer,
                                                    const AccessKeys& keys,
                                                    const ProfileBook& book);

// Her own profile: PERMISSION_DENIED unless the caller is a profile.
absl::StatusOr<v1::Profile> RequireSelf(const ProfileCaller& caller);

// Progress from a history, oldest first.
v1::Progress ProgressFrom(const v1::Profile& profile,
                          const std::vector<internal::PastClass>& history);

using ProfileDone = absl::AnyInvocable<void(absl::StatusOr<v1::Profile>)>;

void UpdateMyProfile(ProfileBook* book, const ProfileCaller& caller,
                     const v1::UpdateMyProfileRequest& request,
                     ProfileDone done);
void GetMyData(ProfileBook* book, const ProfileCaller& caller,
               absl::AnyInvocable<void(absl::StatusOr<v1::MyData>)> done);
// Her own, or an admin of its studio (or the bootstrap key) naming it.
void EraseMyData(
    ClassRegistry* registry, const ProfileCaller& caller,
    const v1::EraseMyDataRequest& request,
    absl::AnyInvocable<void(absl::StatusOr<v1::EraseMyDataResponse>)> done);
// Her own, or an admin of its studio (or the bootstrap key) naming it.
void RevokeProfileCredential(ProfileBook* book, const ProfileCaller& caller,
                             const v1::RevokeProfileCredentialRequest& request,
                             ProfileDone done);
// Her own, or anyone's in their studio for its accounts (by profile id, or
// by a class and a participant in it linked to a profile).
void GetProgress(ClassRegistry* registry, const ProfileCaller& caller,
                 const v1::GetProgressRequest& request,
                 absl::AnyInvocable<void(absl::StatusOr<v1::Progress>)> done);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_PROFILE_ACCESS_H_
