// `circuit progress` and `circuit profile`: a kept profile's progress over
// the weeks (hers with her credential, anyone's in the studio with an
// instructor key), her data, its erasure and the credential's revoke.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/cli.h"
#include "client/lib/profiles.h"

ABSL_FLAG(std::string, profile_file, "",
          "join, progress, profile: where the profile credential is kept "
          "(default: ~/.config/circuit/profile)");

namespace circuit::client::cli {

std::string ProfileFile() {
  const std::string flag = absl::GetFlag(FLAGS_profile_file);
  return flag.empty() ? DefaultProfileFile() : flag;
}

namespace {

constexpr char kProgressUsage[] =
    "progress [PROFILE | CLASS/PARTICIPANT] [--json]";
constexpr char kProfileUsage[] =
    "profile show|data|erase|revoke [--profile_file=F] [--json]\n"
    "profile revoke|erase PROFILE (an admin of her studio, on her request)";

// "1 class", "3 classes".
std::string Classes(int n) {
  return absl::StrCat(n, n == 1 ? " class" : " classes");
}

// Her credential from the profile file; "" (after saying why) when none.
std::string Credential() {
  const std::string path = ProfileFile();
  const std::string credential = ReadProfileCredential(path);
  if (credential.empty()) {
    std::fprintf(stderr,
                 "circuit: no profile credential in %s (join with "
                 "--keep_profile to keep one)\n",
                 path.c_str());
  }
  return credential;
}

int Progress(const std::vector<char*>& args) {
  if (args.size() > 1) return Usage(kProgressUsage);
  v1::GetProgressRequest request;
  std::string key;
  if (args.empty()) {
    key = Credential();
    if (key.empty()) return kExitFailure;
  } else {
    const std::string who = args[0];
    std::vector<std::string> parts = absl::StrSplit(who, '/');
    if (parts.size() == 2 && !parts[0].empty() && !parts[1].empty()) {
      request.set_class_id(parts[0]);
      request.set_participant_id(parts[1]);
    } else if (parts.size() == 1 && !who.empty()) {
      request.set_profile_id(who);
    } else {
      return Usage(kProgressUsage);
    }
    key = Key("instructor");
  }
  absl::StatusOr<v1::Progress> progress = GetProgress(*Connect(), key, request);
  if (!progress.ok()) return Fail(progress.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*progress);
  } else {
    std::fputs(FormatProgress(*progress).c_str(), stdout);
  }
  return kExitOk;
}

int Profile(const std::vector<char*>& args) {
  if (args.empty()) return Usage(kProfileUsage);
  const std::string verb = args[0];
  if (verb == "revoke" && args.size() == 2) {
    absl::StatusOr<v1::Profile> revoked =
        RevokeProfileCredential(*Connect(), Key("instructor"), args[1]);
    if (!revoked.ok()) return Fail(revoked.status());
    std::printf("profile %s: credential revoked (the data stays)\n",
                revoked->profile_id().c_str());
    return kExitOk;
  }
  if (verb == "erase" && args.size() == 2) {
    absl::StatusOr<v1::EraseMyDataResponse> erased =
        EraseMyData(*Connect(), Key("instructor"), args[1]);
    if (!erased.ok()) return Fail(erased.status());
    std::printf("profile %s and her record in %s are erased\n", args[1],
                Classes(erased->erased_class_count()).c_str());
    return kExitOk;
  }
  if (args.size() != 1) return Usage(kProfileUsage);
  const std::string credential = Credential();
  if (credential.empty()) return kExitFailure;
  if (verb == "show") {
    absl::StatusOr<v1::Profile> profile = GetMyProfile(*Connect(), credential);
    if (!profile.ok()) return Fail(profile.status());
    PrintJson(*profile);
    return kExitOk;
  }
  if (verb == "data") {
    absl::StatusOr<v1::MyData> data = GetMyData(*Connect(), credential);
    if (!data.ok()) return Fail(data.status());
    PrintJson(*data);
    return kExitOk;
  }
  if (verb == "erase") {
    absl::StatusOr<v1::EraseMyDataResponse> erased =
        EraseMyData(*Connect(), credential);
    if (!erased.ok()) return Fail(erased.status());
    std::remove(ProfileFile().c_str());
    std::printf("your profile and your record in %s are erased; %s removed\n",
                Classes(erased->erased_class_count()).c_str(),
                ProfileFile().c_str());
    return kExitOk;
  }
  if (verb == "revoke") {
    absl::StatusOr<v1::Profile> revoked =
        RevokeProfileCredential(*Connect(), credential, "");
    if (!revoked.ok()) return Fail(revoked.status());
    std::remove(ProfileFile().c_str());
    std::printf(
        "your profile credential is revoked (your data stays: erase it first "
        "if you want it gone, or ask your studio's admin to erase it)\n");
    return kExitOk;
  }
  return Usage(kProfileUsage);
}

}  // namespace

std::vector<Subcommand> ProfileSubcommands() {
  return {
      {"progress",
       {{"", "your progress over the weeks (your kept profile)"},
        {"PROFILE | CLASS/PARTICIPANT",
         "anyone's in your studio (instructor)"}},
       kProgressUsage,
       "Progress over the weeks: reps per exercise and side, effort and\n"
       "symptoms per class, as sparklines. Without an argument, yours (the\n"
       "profile credential in --profile_file); with a profile id, or a class\n"
       "and a participant in it, anyone's in your studio (instructor key).",
       {"profile_file", "json"},
       Progress},
      {"profile",
       {{"show|data|erase|revoke", "your kept profile, your data, erase it"}},
       kProfileUsage,
       "Your kept profile (the credential in --profile_file): show it,\n"
       "download everything stored about you (data, JSON), erase it all\n"
       "(erase), or end the credential and keep the data (revoke). An admin\n"
       "revokes any profile of the studio with `profile revoke PROFILE`.",
       {"profile_file", "json"},
       Profile},
  };
}

}  // namespace circuit::client::cli
