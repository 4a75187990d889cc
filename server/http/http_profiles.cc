// Kept profiles over HTTP (server/http/API.md): her profile, progress, data,
// erase and revoke with her profile credential; an instructor's view of a
// profile's progress, an admin's revoke and erase. live/profile_access answers
// them as it answers the gRPC door.

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "server/http/http_api.h"
#include "server/live/profile_access.h"

namespace circuit {
namespace {

template <class Message>
auto JsonOr(absl::AnyInvocable<void(HttpResponse)> done) {
  return [done = std::move(done)](absl::StatusOr<Message> result) mutable {
    done(result.ok() ? JsonResponse(*result) : ErrorResponse(result.status()));
  };
}

}  // namespace

bool HttpApi::HandleProfiles(absl::string_view path, const HttpRequest& request,
                             Done* done) {
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  std::string profile_id;
  enum class Call { kProfile, kUpdate, kData, kErase, kRevoke, kProgress } call;
  if (path == "/v1/profile") {
    if (!get && !post) return (*done)(Unimplemented(request)), true;
    call = get ? Call::kProfile : Call::kUpdate;
  } else if (path == "/v1/profile/data") {
    if (!get) return (*done)(Unimplemented(request)), true;
    call = Call::kData;
  } else if (path == "/v1/profile/progress") {
    if (!get) return (*done)(Unimplemented(request)), true;
    call = Call::kProgress;
  } else if (path == "/v1/profile:erase" || path == "/v1/profile:revoke") {
    if (!post) return (*done)(Unimplemented(request)), true;
    call = absl::EndsWith(path, ":erase") ? Call::kErase : Call::kRevoke;
  } else if (absl::ConsumePrefix(&path, "/v1/profiles/")) {
    // {profile}/progress (GET), {profile}:revoke or {profile}:erase (POST)
    if (absl::ConsumeSuffix(&path, "/progress")) {
      if (!get) return (*done)(Unimplemented(request)), true;
      call = Call::kProgress;
    } else if (absl::ConsumeSuffix(&path, ":revoke")) {
      if (!post) return (*done)(Unimplemented(request)), true;
      call = Call::kRevoke;
    } else if (absl::ConsumeSuffix(&path, ":erase")) {
      if (!post) return (*done)(Unimplemented(request)), true;
      call = Call::kErase;
    } else {
      return (*done)(NoSuchPath(request.target)), true;
    }
    if (path.empty() || absl::StrContains(path, '/')) {
      return (*done)(NoSuchPath(request.target)), true;
    }
    profile_id = std::string(path);
  } else {
    return false;
  }

  ProfileBook* book = options_.registry->profiles();
  absl::StatusOr<ProfileCaller> caller = IdentifyProfileCaller(
      BearerOf(request.authorization), options_.keys, *book);
  if (!caller.ok()) return (*done)(ErrorResponse(caller.status())), true;
  switch (call) {
    case Call::kProfile:
      JsonOr<v1::Profile>(std::move(*done))(RequireSelf(*caller));
      break;
    case Call::kUpdate: {
      v1::UpdateMyProfileRequest update;
      if (absl::Status parsed = ParseJson(request.body, &update);
          !parsed.ok()) {
        (*done)(ErrorResponse(parsed));
        break;
      }
      UpdateMyProfile(book, *caller, update,
                      JsonOr<v1::Profile>(std::move(*done)));
      break;
    }
    case Call::kData:
      GetMyData(book, *caller, JsonOr<v1::MyData>(std::move(*done)));
      break;
    case Call::kErase: {
      v1::EraseMyDataRequest erase;
      erase.set_profile_id(profile_id);
      EraseMyData(options_.registry, *caller, erase,
                  JsonOr<v1::EraseMyDataResponse>(std::move(*done)));
      break;
    }
    case Call::kRevoke: {
      v1::RevokeProfileCredentialRequest revoke;
      revoke.set_profile_id(profile_id);
      RevokeProfileCredential(book, *caller, revoke,
                              JsonOr<v1::Profile>(std::move(*done)));
      break;
    }
    case Call::kProgress: {
      v1::GetProgressRequest progress;
      progress.set_profile_id(profile_id);
      GetProgress(options_.registry, *caller, progress,
                  JsonOr<v1::Progress>(std::move(*done)));
      break;
    }
  }
  return true;
}

}  // namespace circuit
