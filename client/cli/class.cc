#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/cli.h"
#include "client/lib/accounts.h"
#include "client/lib/connection.h"
#include "client/lib/summary_format.h"
#include "client/tui/views.h"

ABSL_FLAG(std::string, title, "", "class create: a title for the class");
ABSL_FLAG(bool, all, false, "classes: include classes that have ended");

namespace circuit::client::cli {

namespace {

// Every form of `circuit class`, one a line.
const char* ClassUsage() {
  static const std::string* const usage = new std::string(
      absl::StrJoin({kClassCreateUsage, kClassSummaryUsage, kClassExportUsage,
                     kClassEraseUsage, kClassWallUsage, kClassCredentialUsage},
                    "\n"));
  return usage->c_str();
}

int ListCircuits(const std::vector<char*>& args) {
  if (!args.empty()) return Usage("circuits [--json]");
  absl::StatusOr<v1::ListCircuitsResponse> response = Connect()->ListCircuits();
  if (!response.ok()) return Fail(response.status());
  if (absl::GetFlag(FLAGS_json)) {
    for (const auto& c : response->circuits()) PrintJson(c);
    return kExitOk;
  }
  for (const auto& c : response->circuits()) {
    std::printf("%-20s %2d blocks  ~%2d min  %s\n", c.id().c_str(),
                c.blocks_size(), (c.estimated_seconds() + 59) / 60,
                c.name().c_str());
  }
  return kExitOk;
}

int ShowClock(const std::vector<char*>& args) {
  if (!args.empty()) return Usage("clock [--json]");
  absl::StatusOr<ClockSample> sample = Connect()->EstimateClockOffset(5);
  if (!sample.ok()) return Fail(sample.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("{\"offset_ms\": %lld, \"round_trip_ms\": %lld}\n",
                static_cast<long long>(sample->offset_ms),
                static_cast<long long>(sample->delay_ms));
  } else {
    std::printf("offset %+lld ms, round trip %lld ms\n",
                static_cast<long long>(sample->offset_ms),
                static_cast<long long>(sample->delay_ms));
  }
  return kExitOk;
}

int CreateClass(const std::vector<char*>& args) {
  if (args.size() != 1) {
    return Usage(kClassCreateUsage);
  }
  absl::StatusOr<v1::ClassInfo> info = Connect()->CreateClass(
      Key("instructor"), args[0], absl::GetFlag(FLAGS_title));
  if (!info.ok()) return Fail(info.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*info);
  } else {
    std::printf("class %s  join code %s  (%s)\n", info->class_id().c_str(),
                info->join_code().c_str(), info->title().c_str());
  }
  return kExitOk;
}

int IssueClassCredential(const std::vector<char*>& args) {
  if (args.size() != 1) return Usage(kClassCredentialUsage);
  absl::StatusOr<v1::ClassCredential> credential = client::IssueClassCredential(
      *Connect(), Key("instructor"), args[0], absl::GetFlag(FLAGS_ttl_seconds));
  if (!credential.ok()) return Fail(credential.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*credential);
  } else {
    std::printf(
        "%s\nopens class %s only, until %s; keep it secret (give it as "
        "--key or CIRCUIT_INSTRUCTOR_KEY)\n",
        credential->credential().c_str(),
        SanitizeText(credential->class_id()).c_str(),
        LocalTime(credential->expires_unix_ms()).c_str());
  }
  return kExitOk;
}

int ClassSubcommand(const std::vector<char*>& args) {
  static const auto* const verbs = new std::vector<
      std::pair<const char*, int (*)(const std::vector<char*>&)>>{
      {"create", CreateClass}, {"summary", ShowSummary},
      {"export", ExportClass}, {"erase", EraseHealth},
      {"wall", ShowWall},      {"credential", IssueClassCredential},
  };
  if (!args.empty()) {
    for (const auto& [verb, run] : *verbs) {
      if (std::strcmp(args[0], verb) == 0) {
        return run(std::vector<char*>(args.begin() + 1, args.end()));
      }
    }
  }
  return Usage(ClassUsage());
}

// When a class was created, started or ended, whichever is latest.
std::string ClassTime(const v1::ClassInfo& c) {
  if (c.ended_unix_ms() > 0) {
    return absl::StrCat("ended ", LocalTime(c.ended_unix_ms()));
  }
  if (c.started_unix_ms() > 0) {
    return absl::StrCat("started ", LocalTime(c.started_unix_ms()));
  }
  return absl::StrCat("created ", LocalTime(c.created_unix_ms()));
}

int ListClasses(const std::vector<char*>& args) {
  if (!args.empty()) return Usage("classes [--all] [--json]");
  absl::StatusOr<std::vector<v1::ClassInfo>> classes =
      Connect()->ListClasses(Key("instructor"), absl::GetFlag(FLAGS_all));
  if (!classes.ok()) return Fail(classes.status());
  for (const auto& c : *classes) {
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(c);
      continue;
    }
    std::printf("%s  %s  %-8s %3d in  %-24s  %s\n", c.class_id().c_str(),
                c.join_code().c_str(), tui::PhaseName(c.phase()).c_str(),
                c.participant_count(), ClassTime(c).c_str(),
                SanitizeText(c.title()).c_str());
  }
  return kExitOk;
}

}  // namespace

std::vector<Subcommand> ClassSubcommands() {
  return {
      {"circuits",
       {{"", "list the circuit library"}},
       "circuits [--json]",
       "Lists the circuit library: id, blocks, estimated length and name.",
       {"json"},
       ListCircuits},
      {"clock",
       {{"", "show this machine's clock offset from circuitd's"}},
       "clock [--json]",
       "Estimates this machine's clock offset from circuitd's, from five\n"
       "samples.",
       {"json"},
       ShowClock},
      {"class",
       {{"create CIRCUIT", "create a class; prints its id and join code"},
        {"summary CLASS", "a class's record: reps by side, efforts, symptoms"},
        {"export CLASS", "the record as CSV or JSON (--format, --output)"},
        {"erase CLASS", "erase a participant's health data (--participant)"},
        {"wall CLASS", "the studio wall's summary: names and reps only"},
        {"credential CLASS", "a credential that opens this class only"}},
       ClassUsage(),
       "create   Creates a class from CIRCUIT, in the lobby; prints its\n"
       "         id and join code. Instructor key.\n"
       "summary  The class's record, live or ended: per participant the\n"
       "         reps of each exercise by side (noting when left and right\n"
       "         differ by 20% or more), efforts, symptoms, suggestions and\n"
       "         the coach's decisions; then the class-wide figures.\n"
       "         --json prints the record as JSON. Instructor key.\n"
       "export   The record as one CSV table (--table=sets, the default:\n"
       "         one row per set and side; totals: per participant and\n"
       "         exercise; efforts; symptoms) or as JSON, on stdout or\n"
       "         into --output, which is replaced atomically and gets mode\n"
       "         0600: it holds health data. Instructor key.\n"
       "erase    Erases one participant's efforts and symptoms, and the\n"
       "         alerts and suggestions drawn from them, from an ended\n"
       "         class, at their request; reps and attendance stay. Asks\n"
       "         nothing. Instructor key.\n"
       "wall     The studio wall's summary: totals, and the names and\n"
       "         reps of those who agreed to be shown; never health data.\n"
       "         Kiosk key (or the instructor's, with --key).\n"
       "credential  A credential that opens CLASS only (run, summarize,\n"
       "         export, erase), for a substitute; at most a day\n"
       "         (--ttl_seconds). The class's instructor or an admin.",
       {"title", "json", "format", "table", "output", "participant",
        "ttl_seconds"},
       ClassSubcommand},
      {"classes",
       {{"", "list classes (--all includes ended ones)"}},
       "classes [--all] [--json]",
       "Lists classes, newest first: id, join code, phase, participants,\n"
       "when it was created, started or ended, and title. Instructor key.",
       {"all", "json"},
       ListClasses},
  };
}

}  // namespace circuit::client::cli
