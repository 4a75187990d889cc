#ifndef CIRCUIT_CLIENT_LIB_PROFILES_H_
#define CIRCUIT_CLIENT_LIB_PROFILES_H_

// Kept profiles from the client's side: the calls her profile credential
// opens (and an instructor's view of progress), where `circuit join
// --keep_profile` keeps the credential, and progress as text with
// sparklines.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "circuit/v1/service.pb.h"
#include "client/lib/connection.h"

namespace circuit::client {

// Where the credential is kept by default: $XDG_CONFIG_HOME/circuit/profile,
// else $HOME/.config/circuit/profile; "" when neither is set.
std::string DefaultProfileFile();
// The credential in `path`; "" when the file is missing or empty.
std::string ReadProfileCredential(const std::string& path);
// Writes the credential to `path` (mode 0600), making its directory.
absl::Status SaveProfileCredential(const std::string& path,
                                   const std::string& credential);

absl::StatusOr<v1::Profile> GetMyProfile(const Connection& connection,
                                         const std::string& credential);
absl::StatusOr<v1::MyData> GetMyData(const Connection& connection,
                                     const std::string& credential);
// `key` is her profile credential (and `profile_id` empty) or an admin's
// key naming the profile.
absl::StatusOr<v1::EraseMyDataResponse> EraseMyData(
    const Connection& connection, const std::string& key,
    const std::string& profile_id = "");
absl::StatusOr<v1::Profile> RevokeProfileCredential(
    const Connection& connection, const std::string& key,
    const std::string& profile_id);
// `key` is her profile credential (and `request` empty) or an account's.
absl::StatusOr<v1::Progress> GetProgress(const Connection& connection,
                                         const std::string& key,
                                         const v1::GetProgressRequest& request);

// One character a value, from ▁ (the lowest) to █ (the highest); all ▄ when
// every value is the same. Pure.
std::string Sparkline(const std::vector<double>& values);

// Progress as lines a terminal shows: her stage, then per class the date,
// reps and effort, then one sparkline row per exercise and side (reps over
// the classes), and the symptoms she reported. Pure.
std::string FormatProgress(const v1::Progress& progress);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_PROFILES_H_
