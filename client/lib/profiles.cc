#include "client/lib/profiles.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/lib/atomic_file.h"
#include "grpcpp/client_context.h"

namespace circuit::client {
namespace {

const char* SymptomName(int symptom) {
  switch (symptom) {
    case v1::SYMPTOM_HIP_PINCH:
      return "hip pinch";
    case v1::SYMPTOM_LEAKING:
      return "leaking";
    case v1::SYMPTOM_PELVIC_HEAVINESS:
      return "heaviness";
    case v1::SYMPTOM_LOW_BACK_PAIN:
      return "low back";
    case v1::SYMPTOM_PELVIC_PAIN:
      return "pelvic pain";
    case v1::SYMPTOM_ABDOMINAL_DOMING:
      return "doming";
    default:
      return "other";
  }
}

}  // namespace

std::string DefaultProfileFile() {
  if (const char* config = std::getenv("XDG_CONFIG_HOME");
      config != nullptr && *config != '\0') {
    return absl::StrCat(config, "/circuit/profile");
  }
  if (const char* home = std::getenv("HOME");
      home != nullptr && *home != '\0') {
    return absl::StrCat(home, "/.config/circuit/profile");
  }
  return "";
}

std::string ReadProfileCredential(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

absl::Status SaveProfileCredential(const std::string& path,
                                   const std::string& credential) {
  // Make the directories on the way (mode 0700: the credential is hers).
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    mkdir(path.substr(0, slash).c_str(), 0700);
  }
  return WriteFileAtomically(path, absl::StrCat(credential, "\n"), 0600);
}

absl::StatusOr<v1::Profile> GetMyProfile(const Connection& connection,
                                         const std::string& credential) {
  return CallUnary<v1::GetMyProfileRequest, v1::Profile>(
      connection, credential, &v1::CircuitService::Stub::GetMyProfile, {});
}

absl::StatusOr<v1::MyData> GetMyData(const Connection& connection,
                                     const std::string& credential) {
  return CallUnary<v1::GetMyDataRequest, v1::MyData>(
      connection, credential, &v1::CircuitService::Stub::GetMyData, {});
}

absl::StatusOr<v1::EraseMyDataResponse> EraseMyData(
    const Connection& connection, const std::string& key,
    const std::string& profile_id) {
  v1::EraseMyDataRequest request;
  request.set_profile_id(profile_id);
  return CallUnary<v1::EraseMyDataRequest, v1::EraseMyDataResponse>(
      connection, key, &v1::CircuitService::Stub::EraseMyData, request);
}

absl::StatusOr<v1::Profile> RevokeProfileCredential(
    const Connection& connection, const std::string& key,
    const std::string& profile_id) {
  v1::RevokeProfileCredentialRequest request;
  request.set_profile_id(profile_id);
  return CallUnary<v1::RevokeProfileCredentialRequest, v1::Profile>(
      connection, key, &v1::CircuitService::Stub::RevokeProfileCredential,
      request);
}

absl::StatusOr<v1::Progress> GetProgress(
    const Connection& connection, const std::string& key,
    const v1::GetProgressRequest& request) {
  return CallUnary<v1::GetProgressRequest, v1::Progress>(
      connection, key, &v1::CircuitService::Stub::GetProgress, request);
}

std::string Sparkline(const std::vector<double>& values) {
  static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (values.empty()) return "";
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  std::string out;
  for (double v : values) {
    int level = 3;
    if (*high > *low) {
      level = static_cast<int>((v - *low) / (*high - *low) * 7.0 + 0.5);
    }
    out += kBars[std::clamp(level, 0, 7)];
  }
  return out;
}

std::string FormatProgress(const v1::Progress& progress) {
  const v1::Profile& profile = progress.profile();
  std::string out = absl::StrCat("Progress of ", profile.display_name());
  if (!profile.stage_name().empty()) {
    absl::StrAppend(&out, " (stage: ", profile.stage_name(), ")");
  }
  if (profile.has_weeks_postpartum()) {
    absl::StrAppend(&out, ", ", profile.weeks_postpartum(),
                    " weeks postpartum");
  }
  absl::StrAppend(&out, "\n");
  if (progress.classes().empty()) {
    absl::StrAppend(&out, "  no classes yet\n");
    return out;
  }
  // Reps per exercise and side over the classes (0 when absent that class).
  std::map<std::string, std::vector<double>> rows;
  std::vector<std::string> order;
  const int n = progress.classes_size();
  for (int i = 0; i < n; ++i) {
    const v1::ClassProgressRecord& c = progress.classes(i);
    for (const v1::ExerciseTotals& e : c.exercises()) {
      auto add = [&](const std::string& label, int reps) {
        auto [it, fresh] = rows.try_emplace(label, n, 0.0);
        if (fresh) order.push_back(label);
        it->second[i] = reps;
      };
      if (e.left_reps() > 0 || e.right_reps() > 0) {
        add(absl::StrCat(e.exercise_name(), " (left)"), e.left_reps());
        add(absl::StrCat(e.exercise_name(), " (right)"), e.right_reps());
      } else if (e.both_reps() > 0) {
        add(e.exercise_name(), e.both_reps());
      }
    }
  }
  std::vector<double> totals, efforts;
  for (const v1::ClassProgressRecord& c : progress.classes()) {
    totals.push_back(c.total_reps());
    efforts.push_back(c.has_mean_cr10() ? c.mean_cr10() : 0);
  }
  absl::StrAppendFormat(&out, "  %-40s %s  %d -> %d\n", "reps per class",
                        Sparkline(totals), static_cast<int>(totals.front()),
                        static_cast<int>(totals.back()));
  absl::StrAppendFormat(&out, "  %-40s %s\n", "effort (CR-10)",
                        Sparkline(efforts));
  for (const std::string& label : order) {
    const std::vector<double>& reps = rows[label];
    absl::StrAppendFormat(&out, "  %-40s %s  %d -> %d\n", label.substr(0, 40),
                          Sparkline(reps), static_cast<int>(reps.front()),
                          static_cast<int>(reps.back()));
  }
  for (const v1::ClassProgressRecord& c : progress.classes()) {
    if (c.symptoms().empty()) continue;
    absl::StrAppend(
        &out, "  ",
        absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(c.started_unix_ms()),
                         absl::LocalTimeZone()),
        " symptoms:");
    for (int s : c.symptoms()) absl::StrAppend(&out, " ", SymptomName(s));
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace circuit::client
