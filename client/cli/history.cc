#include "client/lib/history.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/lib/atomic_file.h"
#include "client/lib/summary_format.h"

ABSL_FLAG(std::string, format, "", "class export: csv or json");
ABSL_FLAG(std::string, table, "",
          "class export --format=csv: the table: sets (the default), totals, "
          "efforts or symptoms");
ABSL_FLAG(std::string, output, "",
          "class export: write to this file instead of stdout (replaced "
          "atomically, mode 0600: it holds health data)");
ABSL_FLAG(std::string, participant, "",
          "class erase: the id of the participant whose health data to erase");

namespace circuit::client::cli {

int ShowSummary(const std::vector<char*>& args) {
  if (args.size() != 1) return Usage(kClassSummaryUsage);
  absl::StatusOr<v1::ClassSummary> summary =
      GetClassSummary(*Connect(), Key("instructor"), args[0]);
  if (!summary.ok()) return Fail(summary.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", SummaryJson(*summary).c_str());
    return kExitOk;
  }
  SummaryTextOptions options;
  options.time_zone = absl::LocalTimeZone();
  std::fputs(SummaryText(*summary, options).c_str(), stdout);
  return kExitOk;
}

int ExportClass(const std::vector<char*>& args) {
  if (args.size() != 1) return Usage(kClassExportUsage);
  const std::string format = absl::GetFlag(FLAGS_format);
  const std::string table_name = absl::GetFlag(FLAGS_table);
  if (format != "csv" && format != "json") {
    return BadFlag("class export needs --format=csv or --format=json");
  }
  if (format == "json" && !table_name.empty()) {
    return BadFlag("--table is for --format=csv; JSON holds every table");
  }
  absl::optional<CsvTable> table =
      ParseCsvTable(table_name.empty() ? "sets" : table_name);
  if (!table.has_value()) {
    return BadFlag("--table is sets, totals, efforts or symptoms");
  }
  absl::StatusOr<v1::ClassSummary> summary =
      GetClassSummary(*Connect(), Key("instructor"), args[0]);
  if (!summary.ok()) return Fail(summary.status());
  const std::string contents =
      SummaryExport(*summary, format == "json", *table);
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) {
    std::fwrite(contents.data(), 1, contents.size(), stdout);
    return kExitOk;
  }
  if (absl::Status written = WriteFileAtomically(output, contents, 0600);
      !written.ok()) {
    std::fprintf(stderr, "circuit: %s\n",
                 std::string(written.message()).c_str());
    return kExitFailure;
  }
  const std::string what =
      format == "json"
          ? format
          : absl::StrCat("csv, ", table_name.empty() ? "sets" : table_name);
  std::printf("wrote %s (%s, %zu bytes)\n", output.c_str(), what.c_str(),
              contents.size());
  return kExitOk;
}

int EraseHealth(const std::vector<char*>& args) {
  const std::string participant = absl::GetFlag(FLAGS_participant);
  if (args.size() != 1 || participant.empty()) return Usage(kClassEraseUsage);
  std::shared_ptr<Connection> connection = Connect();
  const std::string key = Key("instructor");
  // What there is to erase, for the message; the erase goes ahead without it.
  absl::StatusOr<v1::ClassSummary> before =
      GetClassSummary(*connection, key, args[0]);
  if (absl::Status erased =
          EraseHealthData(*connection, key, args[0], participant);
      !erased.ok()) {
    return Fail(erased);
  }
  std::string who = absl::StrCat("participant ", SanitizeText(participant));
  std::string what = "efforts and symptoms";
  if (before.ok()) {
    for (const v1::ParticipantSummary& p : before->participants()) {
      if (p.participant_id() != participant) continue;
      who = absl::StrCat(SanitizeText(p.check_in().display_name()), " (",
                         SanitizeText(participant), ")");
      what = absl::StrCat(p.efforts_size(),
                          p.efforts_size() == 1 ? " effort" : " efforts",
                          " and ", p.symptoms_size(),
                          p.symptoms_size() == 1 ? " symptom" : " symptoms");
    }
  }
  std::printf(
      "erased the health data of %s in class %s: %s, and the alerts and "
      "suggestions drawn from them; reps and attendance stay\n",
      who.c_str(), SanitizeText(args[0]).c_str(), what.c_str());
  return kExitOk;
}

int ShowWall(const std::vector<char*>& args) {
  if (args.size() != 1) return Usage(kClassWallUsage);
  absl::StatusOr<v1::WallSummary> wall =
      GetWallSummary(*Connect(), Key("kiosk"), args[0]);
  if (!wall.ok()) return Fail(wall.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*wall);
  } else {
    std::fputs(WallText(*wall).c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace circuit::client::cli
