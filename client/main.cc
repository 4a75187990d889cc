// circuit: the command-line client of circuitd.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "client/demo.h"
#include "client/lib/accounts.h"
#include "client/lib/atomic_file.h"
#include "client/lib/connection.h"
#include "client/lib/history.h"
#include "client/lib/kiosks.h"
#include "client/lib/live_session.h"
#include "client/lib/summary_format.h"
#include "client/tui/apps.h"
#include "client/tui/plain.h"
#include "client/tui/views.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "circuitd's host:port");
ABSL_FLAG(std::string, tls_ca, "",
          "connect over TLS, trusting circuitd's certificate when this PEM "
          "CA signed it (circuitd --tls_cert); without it and --tls: "
          "plaintext, for a circuitd on loopback");
ABSL_FLAG(bool, tls, false,
          "connect over TLS trusting the system's CAs (implied by --tls_ca)");
ABSL_FLAG(std::string, tls_cert, "",
          "with TLS: this device's client certificate (PEM), for a circuitd "
          "with --tls_client_ca; needs --tls_key");
ABSL_FLAG(std::string, tls_key, "", "with TLS: the key of --tls_cert (PEM)");
ABSL_FLAG(std::string, tls_server_name, "",
          "with TLS: the name circuitd's certificate must carry, when it is "
          "not the host in --address");
ABSL_FLAG(int, timeout_seconds, 5, "deadline for each call");
ABSL_FLAG(std::string, key, "",
          "the instructor or kiosk key, or an account or class credential; "
          "default: env CIRCUIT_INSTRUCTOR_KEY or "
          "CIRCUIT_KIOSK_KEY, else <data_dir>/instructor.key or kiosk.key");
ABSL_FLAG(std::string, data_dir, "var",
          "circuitd's data directory, where it keeps generated keys");
ABSL_FLAG(bool, json, false,
          "print JSON (one object per line) instead of text, for scripts");
ABSL_FLAG(bool, plain, false,
          "instruct, join, kiosk: plain lines even on a terminal");
ABSL_FLAG(std::string, title, "", "class create: a title for the class");
ABSL_FLAG(std::string, command, "",
          "instruct: send one command and exit: start, pause, resume, next, "
          "previous, plus30, minus30, end, cue (with --text)");
ABSL_FLAG(std::string, text, "", "instruct --command=cue: the cue text");
ABSL_FLAG(std::string, name, "",
          "join: your display name; kiosk pair: what to call the TV");
ABSL_FLAG(bool, show_name, false,
          "join: show your name on the studio's kiosk screens");
ABSL_FLAG(std::string, track, "",
          "join: your recovery track: vaginal or cesarean (optional)");
ABSL_FLAG(int, weeks, -1, "join: weeks since giving birth (optional)");
ABSL_FLAG(std::string, equipment, "",
          "join: the equipment or band you have, e.g. \"medium band\"");
ABSL_FLAG(bool, all, false, "classes: include classes that have ended");
ABSL_FLAG(std::string, format, "", "class export: csv or json");
ABSL_FLAG(std::string, table, "",
          "class export --format=csv: the table: sets (the default), totals, "
          "efforts or symptoms");
ABSL_FLAG(std::string, output, "",
          "class export: write to this file instead of stdout (replaced "
          "atomically, mode 0600: it holds health data)");
ABSL_FLAG(std::string, participant, "",
          "class erase: the id of the participant whose health data to erase");
ABSL_FLAG(std::string, role, "instructor",
          "admin add: instructor (runs their own classes) or admin (runs "
          "the studio: its classes, accounts and TVs)");
ABSL_FLAG(std::string, studio, "",
          "admin add: the account's studio (default: the caller's, \"main\" "
          "for the bootstrap key)");
ABSL_FLAG(int64_t, ttl_seconds, 0,
          "admin add/reissue: how long the credential works (default 90 "
          "days, at most 400); class credential: (default 12 hours, at most "
          "24)");
ABSL_FLAG(bool, exit_at_end, false,
          "instruct, join, kiosk: exit when the class ends");
ABSL_FLAG(bool, spawn_server, false,
          "demo: start a circuitd of its own on a free port (it and its "
          "temporary data directory go when the demo does)");
ABSL_FLAG(std::string, participants, "",
          "demo: simulated participants, 1 to 200 (default 12)");
ABSL_FLAG(double, speed, 10,
          "demo: how many times faster than real time the class runs");
ABSL_FLAG(std::string, circuit, "kickback-trio", "demo: the circuit to run");
ABSL_FLAG(uint64_t, seed, 1, "demo: seed of the participants' choices");

namespace circuit::client {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Subcommand {
  const char* name;
  // The overview's lines: each form's arguments, and what it does.
  std::vector<std::pair<const char*, const char*>> forms;
  // `circuit NAME --help`: the usage lines (one form a line, without
  // "circuit "), what they do, and the flags read besides the global ones.
  const char* usage;
  const char* help;
  std::vector<const char*> flags;
  std::function<int(const std::vector<char*>& args)> run;
};

// The flags every subcommand reads.
const char* const kGlobalFlags[] = {
    "address", "timeout_seconds", "key",     "data_dir",       "tls_ca",
    "tls",     "tls_cert",        "tls_key", "tls_server_name"};

// TLS from the flags, read once before a subcommand runs; none: plaintext.
std::optional<ClientTls>& FlagTls() {
  static auto* const tls = new std::optional<ClientTls>();
  return *tls;
}

// Reads the --tls_* flags' files into FlagTls(); the reason when they do not
// load.
absl::Status LoadTlsFlags() {
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string name = absl::GetFlag(FLAGS_tls_server_name);
  const bool tls = absl::GetFlag(FLAGS_tls) || !ca.empty();
  if (!tls) {
    if (!cert.empty() || !key.empty() || !name.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert, --tls_key and --tls_server_name need TLS: add "
          "--tls_ca=CA.pem (or --tls for the system's CAs)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<ClientTls> loaded = LoadClientTls(ca, cert, key, name);
  if (!loaded.ok()) return loaded.status();
  FlagTls() = std::move(*loaded);
  return absl::OkStatus();
}

constexpr char kClassCreateUsage[] =
    "class create CIRCUIT [--title=T] [--json]";
constexpr char kClassSummaryUsage[] = "class summary CLASS [--json]";
constexpr char kClassExportUsage[] =
    "class export CLASS --format=csv|json "
    "[--table=sets|totals|efforts|symptoms] [--output=FILE]";
constexpr char kClassEraseUsage[] = "class erase CLASS --participant=ID";
constexpr char kClassWallUsage[] = "class wall CLASS [--json]";

// Every form of `circuit class`, one a line.
constexpr char kClassCredentialUsage[] =
    "class credential CLASS [--ttl_seconds=N] [--json]";
const char* ClassUsage() {
  static const std::string* const usage = new std::string(
      absl::StrJoin({kClassCreateUsage, kClassSummaryUsage, kClassExportUsage,
                     kClassEraseUsage, kClassWallUsage, kClassCredentialUsage},
                    "\n"));
  return usage->c_str();
}

std::shared_ptr<Connection> Connect() {
  ConnectOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.call_timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  options.tls = FlagTls();
  return std::make_shared<Connection>(options);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "circuit: %s (%s)\n",
               std::string(status.message()).c_str(),
               absl::GetFlag(FLAGS_address).c_str());
  return kExitFailure;
}

// "usage: circuit LINE" for each line of `usage`, then kExitUsage.
int Usage(absl::string_view usage) {
  const char* lead = "usage:";
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    std::fprintf(stderr, "%s circuit %s\n", lead, std::string(line).c_str());
    lead = "      ";
  }
  return kExitUsage;
}

// A usage error about the flags: one line, then kExitUsage.
int BadFlag(const std::string& reason) {
  std::fprintf(stderr, "circuit: %s\n", reason.c_str());
  return kExitUsage;
}

// The local date and time of `unix_ms`.
std::string LocalTime(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixMillis(unix_ms),
                          absl::LocalTimeZone());
}

void PrintJson(const google::protobuf::Message& message) {
  std::printf("%s\n", tui::JsonLine(message).c_str());
}

// The key for `role` ("instructor" or "kiosk"): the flag, the environment,
// then the file circuitd generated in its data directory.
std::string Key(const std::string& role, bool use_flag = true) {
  if (use_flag && !absl::GetFlag(FLAGS_key).empty()) {
    return absl::GetFlag(FLAGS_key);
  }
  std::string env_name =
      role == "kiosk" ? "CIRCUIT_KIOSK_KEY" : "CIRCUIT_INSTRUCTOR_KEY";
  if (const char* env = std::getenv(env_name.c_str()); env && *env) return env;
  std::ifstream in(absl::GetFlag(FLAGS_data_dir) + "/" + role + ".key");
  std::string key;
  std::getline(in, key);
  return key;
}

AppOptions MakeAppOptions() {
  AppOptions options;
  options.connection = Connect();
  options.mode = absl::GetFlag(FLAGS_json)    ? OutputMode::kJson
                 : absl::GetFlag(FLAGS_plain) ? OutputMode::kPlain
                                              : OutputMode::kAuto;
  options.exit_at_end = absl::GetFlag(FLAGS_exit_at_end);
  return options;
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
  const std::string contents = format == "csv"
                                   ? SummaryCsv(*summary, *table)
                                   : absl::StrCat(SummaryJson(*summary), "\n");
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

int IssueClassCredential(const std::vector<char*>& args) {
  if (args.size() != 1) return Usage(kClassCredentialUsage);
  absl::StatusOr<v1::ClassCredential> credential = IssueClassCredential(
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

// Non-interactive instructor: attach, send one command, print its result.
int SendOneCommand(const std::string& class_id) {
  const std::string name = absl::GetFlag(FLAGS_command);
  v1::InstructorCommand command;
  std::string error;
  const std::string line =
      name == "cue" ? absl::StrCat("cue ", absl::GetFlag(FLAGS_text)) : name;
  if (name.find(' ') != std::string::npos ||
      !tui::ParseInstructorCommand(line, &command, &error)) {
    std::fprintf(stderr, "circuit: --command=%s: %s\n", name.c_str(),
                 error.c_str());
    return kExitUsage;
  }
  const absl::Duration timeout =
      absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  InstructorSession session(Connect(), Key("instructor"), class_id);
  session.Start();
  if (!session.WaitFor([](const ClassMirror& m) { return m.has_snapshot(); },
                       timeout)) {
    SessionStatus status = session.Status();
    return Fail(status.error.ok()
                    ? absl::DeadlineExceededError("no answer from circuitd")
                    : status.error);
  }
  absl::StatusOr<v1::CommandResult> result =
      session.SendAndWait(command, timeout);
  if (!result.ok()) {
    std::fprintf(stderr, "circuit: %s\n",
                 std::string(result.status().message()).c_str());
    return kExitFailure;
  }
  // The event a command produced arrives before its result.
  ClassMirror mirror = session.Mirror();
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*result);
    PrintJson(mirror.state());
  } else {
    std::printf("%s: ok  %s\n", name.c_str(),
                tui::DescribeState(mirror.state()).c_str());
  }
  return kExitOk;
}

int Instruct(const std::vector<char*>& args) {
  if (args.size() != 1) {
    return Usage(
        "instruct CLASS [--command=start|pause|resume|next|previous|plus30|"
        "minus30|end|cue --text=T]");
  }
  if (!absl::GetFlag(FLAGS_command).empty()) return SendOneCommand(args[0]);
  return RunInstructorConsole(MakeAppOptions(), Key("instructor"), args[0]);
}

int Join(const std::vector<char*>& args) {
  if (args.size() != 1 || absl::GetFlag(FLAGS_name).empty()) {
    return Usage(
        "join CODE --name=NAME [--show_name] [--track=vaginal|cesarean] "
        "[--weeks=N] [--equipment=E]");
  }
  v1::CheckIn check_in;
  check_in.set_display_name(absl::GetFlag(FLAGS_name));
  check_in.set_show_name_on_kiosk(absl::GetFlag(FLAGS_show_name));
  check_in.set_equipment(absl::GetFlag(FLAGS_equipment));
  if (absl::GetFlag(FLAGS_weeks) >= 0) {
    check_in.set_weeks_postpartum(absl::GetFlag(FLAGS_weeks));
  }
  const std::string track = absl::GetFlag(FLAGS_track);
  if (track == "vaginal") {
    check_in.set_track(v1::RECOVERY_TRACK_VAGINAL);
  } else if (track == "cesarean") {
    check_in.set_track(v1::RECOVERY_TRACK_CESAREAN);
  } else if (!track.empty()) {
    std::fprintf(stderr, "circuit: --track is vaginal or cesarean\n");
    return kExitUsage;
  }
  return RunParticipantApp(MakeAppOptions(), args[0], check_in);
}

constexpr char kKioskUsage[] =
    "kiosk CLASS [--plain|--json]\n"
    "kiosk pair CODE [--name=NAME]\n"
    "kiosk list [--json]\n"
    "kiosk revoke KIOSK";

// One paired kiosk as a line of `circuit kiosk list`.
std::string KioskLine(const v1::Kiosk& kiosk) {
  return absl::StrCat(
      SanitizeText(kiosk.kiosk_id()), "  ", SanitizeText(kiosk.name()),
      kiosk.revoked_unix_ms() != 0 ? "  (revoked)" : "  (paired)");
}

int Kiosk(const std::vector<char*>& args) {
  if (args.size() == 2 && std::strcmp(args[0], "pair") == 0) {
    absl::StatusOr<v1::Kiosk> kiosk = ApproveKioskPairing(
        *Connect(), Key("instructor"), args[1], absl::GetFlag(FLAGS_name));
    if (!kiosk.ok()) return Fail(kiosk.status());
    std::printf(
        "paired %s as %s; it shows the studio's classes until "
        "revoked (circuit kiosk revoke %s)\n",
        SanitizeText(kiosk->name()).c_str(),
        SanitizeText(kiosk->kiosk_id()).c_str(),
        SanitizeText(kiosk->kiosk_id()).c_str());
    return kExitOk;
  }
  if (args.size() == 1 && std::strcmp(args[0], "list") == 0) {
    absl::StatusOr<std::vector<v1::Kiosk>> kiosks =
        ListKiosks(*Connect(), Key("instructor"));
    if (!kiosks.ok()) return Fail(kiosks.status());
    for (const v1::Kiosk& kiosk : *kiosks) {
      if (absl::GetFlag(FLAGS_json)) {
        PrintJson(kiosk);
      } else {
        std::printf("%s\n", KioskLine(kiosk).c_str());
      }
    }
    return kExitOk;
  }
  if (args.size() == 2 && std::strcmp(args[0], "revoke") == 0) {
    absl::StatusOr<v1::Kiosk> kiosk =
        RevokeKiosk(*Connect(), Key("instructor"), args[1]);
    if (!kiosk.ok()) return Fail(kiosk.status());
    std::printf("revoked %s; that TV must be paired again\n",
                KioskLine(*kiosk).c_str());
    return kExitOk;
  }
  if (args.size() != 1) return Usage(kKioskUsage);
  return RunKioskScreen(MakeAppOptions(), Key("kiosk"), args[0]);
}

constexpr char kAdminUsage[] =
    "admin add NAME [--role=instructor|admin] [--studio=S] [--ttl_seconds=N]\n"
    "admin list [--json]\n"
    "admin revoke ACCOUNT\n"
    "admin reissue ACCOUNT [--ttl_seconds=N]\n"
    "admin rotate-key\n"
    "admin retire-key KEY";

// One account as a line of `circuit admin list`.
std::string AccountLine(const v1::Account& account) {
  return absl::StrCat(
      SanitizeText(account.account_id()), "  ",
      account.role() == v1::ACCOUNT_ROLE_ADMIN ? "admin     " : "instructor",
      "  studio ", SanitizeText(account.studio_id()), "  ",
      SanitizeText(account.name()),
      account.revoked_unix_ms() != 0
          ? "  (revoked)"
          : absl::StrCat("  (credential until ",
                         LocalTime(account.credential_expires_unix_ms()), ")"));
}

// An account's new credential, shown this once.
int PrintCredential(const v1::AccountCredential& credential) {
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(credential);
    return kExitOk;
  }
  std::printf(
      "%s\n%s\ncircuitd keeps only its hash: keep it secret, give it to "
      "them once (as --key or CIRCUIT_INSTRUCTOR_KEY)\n",
      AccountLine(credential.account()).c_str(),
      credential.credential().c_str());
  return kExitOk;
}

int PrintSigningKeys(const v1::SigningKeys& keys) {
  for (const v1::SigningKey& key : keys.keys()) {
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(key);
    } else {
      std::printf("%s  since %s%s\n", SanitizeText(key.key_id()).c_str(),
                  LocalTime(key.created_unix_ms()).c_str(),
                  key.signing() ? "  (signs new credentials)" : "");
    }
  }
  return kExitOk;
}

int Admin(const std::vector<char*>& args) {
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "add" && args.size() == 2) {
    v1::AddAccountRequest add;
    add.set_name(args[1]);
    const std::string role = absl::GetFlag(FLAGS_role);
    if (role == "instructor") {
      add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
    } else if (role == "admin") {
      add.set_role(v1::ACCOUNT_ROLE_ADMIN);
    } else {
      return BadFlag("--role is instructor or admin");
    }
    add.set_studio_id(absl::GetFlag(FLAGS_studio));
    add.set_credential_ttl_seconds(absl::GetFlag(FLAGS_ttl_seconds));
    absl::StatusOr<v1::AccountCredential> credential =
        AddAccount(*Connect(), Key("instructor"), add);
    if (!credential.ok()) return Fail(credential.status());
    return PrintCredential(*credential);
  }
  if (verb == "list" && args.size() == 1) {
    absl::StatusOr<std::vector<v1::Account>> accounts =
        ListAccounts(*Connect(), Key("instructor"));
    if (!accounts.ok()) return Fail(accounts.status());
    for (const v1::Account& account : *accounts) {
      if (absl::GetFlag(FLAGS_json)) {
        PrintJson(account);
      } else {
        std::printf("%s\n", AccountLine(account).c_str());
      }
    }
    return kExitOk;
  }
  if (verb == "revoke" && args.size() == 2) {
    absl::StatusOr<v1::Account> account =
        RevokeAccount(*Connect(), Key("instructor"), args[1]);
    if (!account.ok()) return Fail(account.status());
    std::printf(
        "%s\nits credential and the class credentials it issued no longer "
        "work\n",
        AccountLine(*account).c_str());
    return kExitOk;
  }
  if (verb == "reissue" && args.size() == 2) {
    absl::StatusOr<v1::AccountCredential> credential =
        ReissueAccountCredential(*Connect(), Key("instructor"), args[1],
                                 absl::GetFlag(FLAGS_ttl_seconds));
    if (!credential.ok()) return Fail(credential.status());
    return PrintCredential(*credential);
  }
  if (verb == "rotate-key" && args.size() == 1) {
    absl::StatusOr<v1::SigningKeys> keys =
        RotateSigningKey(*Connect(), Key("instructor"));
    if (!keys.ok()) return Fail(keys.status());
    return PrintSigningKeys(*keys);
  }
  if (verb == "retire-key" && args.size() == 2) {
    absl::StatusOr<v1::SigningKeys> keys =
        RetireSigningKey(*Connect(), Key("instructor"), args[1]);
    if (!keys.ok()) return Fail(keys.status());
    return PrintSigningKeys(*keys);
  }
  return Usage(kAdminUsage);
}

int Demo(const std::vector<char*>& args) {
  if (!args.empty()) {
    return Usage(
        "demo [--spawn_server] [--participants=N] [--speed=X] "
        "[--circuit=ID]");
  }
  int participants = 12;
  if (const std::string flag = absl::GetFlag(FLAGS_participants);
      !flag.empty() && !absl::SimpleAtoi(flag, &participants)) {
    participants = 0;
  }
  if (participants < 1 || participants > 200) {
    std::fprintf(stderr, "circuit: --participants is 1 to 200\n");
    return kExitUsage;
  }
  if (!(absl::GetFlag(FLAGS_speed) >= 1 &&
        absl::GetFlag(FLAGS_speed) <= 1000)) {
    std::fprintf(stderr, "circuit: --speed is 1 to 1000\n");
    return kExitUsage;
  }
  DemoOptions demo;
  demo.spawn_server = absl::GetFlag(FLAGS_spawn_server);
  if (!demo.spawn_server) {
    demo.instructor_key = Key("instructor");
    // --key is the instructor's here; the kiosk's comes from the
    // environment or circuitd's data directory.
    demo.kiosk_key = Key("kiosk", /*use_flag=*/false);
  }
  demo.circuit_id = absl::GetFlag(FLAGS_circuit);
  demo.participants = participants;
  demo.speed = absl::GetFlag(FLAGS_speed);
  demo.seed = absl::GetFlag(FLAGS_seed);
  AppOptions app = MakeAppOptions();
  app.exit_at_end = true;
  return RunDemo(app, demo);
}

const std::vector<Subcommand>& Subcommands() {
  static const auto* const subcommands = new std::vector<Subcommand>{
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
      {"instruct",
       {{"CLASS", "the instructor console (--command=... sends one command)"}},
       "instruct CLASS [--command=start|pause|resume|next|previous|plus30|"
       "minus30|end|cue --text=T]",
       "The instructor console for CLASS; with --command, sends that one\n"
       "command, prints its result and exits. Instructor key.",
       {"command", "text", "plain", "json", "exit_at_end"},
       Instruct},
      {"join",
       {{"CODE", "join a class as a participant (--name)"}},
       "join CODE --name=NAME [--show_name] [--track=vaginal|cesarean] "
       "[--weeks=N] [--equipment=E]",
       "Joins the class with join code CODE as a participant.",
       {"name", "show_name", "track", "weeks", "equipment", "plain", "json",
        "exit_at_end"},
       Join},
      {"kiosk",
       {{"CLASS", "the studio screen for a class"},
        {"pair CODE", "approve the pairing code a studio TV shows (--name)"},
        {"list", "the paired studio TVs"},
        {"revoke KIOSK", "revoke a paired TV's credential"}},
       kKioskUsage,
       "The studio screen for CLASS: the class's state and the completion\n"
       "wall; never health data. Kiosk key.\n"
       "pair CODE: a browser TV at http://HOST:8080/kiosk shows a pairing\n"
       "code; approving it gives that TV a credential of its own, kept in\n"
       "its browser, that opens the studio's classes and nothing else.\n"
       "list, revoke: the paired TVs; a revoked TV must pair again.\n"
       "pair, list and revoke need the instructor key.",
       {"plain", "json", "exit_at_end", "name"},
       Kiosk},
      {"admin",
       {{"add NAME", "add an instructor or admin account (--role, --studio)"},
        {"list", "the accounts you administer"},
        {"revoke ACCOUNT", "revoke an account and what it issued"},
        {"reissue ACCOUNT", "a new credential; the old one stops working"},
        {"rotate-key", "sign new credentials with a new key"},
        {"retire-key KEY", "retire an older signing key"}},
       kAdminUsage,
       "Accounts: each instructor has one, and only they (or an admin of\n"
       "their studio) run, summarize, export or erase the classes they\n"
       "create. add prints the account's credential once (circuitd keeps\n"
       "only its hash); they use it as --key or CIRCUIT_INSTRUCTOR_KEY.\n"
       "An admin manages its studio's accounts; the bootstrap key\n"
       "(<data_dir>/instructor.key) manages every studio's.\n"
       "rotate-key, retire-key: credentials are signed; after a rotation\n"
       "the older key still verifies what it signed until it is retired\n"
       "(then those credentials stop working: reissue them). Bootstrap key.",
       {"role", "studio", "ttl_seconds", "json"},
       Admin},
      {"demo",
       {{"", "a whole simulated class on the kiosk view (--spawn_server)"}},
       "demo [--spawn_server] [--participants=N] [--speed=X] [--circuit=ID]",
       "Runs a whole simulated class and shows it on the kiosk view.",
       {"spawn_server", "participants", "speed", "circuit", "seed"},
       Demo},
  };
  return *subcommands;
}

std::string UsageText() {
  std::string text =
      "circuit: the command-line client of circuitd.\n"
      "Usage: circuit SUBCOMMAND [ARGS] [--address=HOST:PORT]\n\n"
      "Subcommands:\n";
  for (const Subcommand& s : Subcommands()) {
    for (const auto& [args, summary] : s.forms) {
      std::string head = absl::StrCat(s.name, args[0] ? " " : "", args);
      absl::StrAppend(&text, "  ", head,
                      std::string(head.size() < 22 ? 22 - head.size() : 1, ' '),
                      summary, "\n");
    }
  }
  absl::StrAppend(
      &text,
      "\nWithout a terminal, instruct, join and kiosk print plain lines;\n"
      "--json prints JSON lines. `circuit SUBCOMMAND --help` shows the flags.\n"
      "Exit codes: 0 ok, 1 failure, 2 usage.");
  return text;
}

// "  --name  help (default: value)".
std::string FlagLine(const char* name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return "";
  std::string default_value = flag->DefaultValue();
  if (flag->IsOfType<std::string>()) {
    default_value = absl::StrCat("\"", default_value, "\"");
  }
  return absl::StrCat("  --", name, "  ", flag->Help(),
                      " (default: ", default_value, ")\n");
}

// What `circuit NAME --help` prints.
std::string HelpText(const Subcommand& s) {
  std::string text;
  const char* lead = "usage:";
  for (absl::string_view line : absl::StrSplit(s.usage, '\n')) {
    absl::StrAppend(&text, lead, " circuit ", line, "\n");
    lead = "      ";
  }
  absl::StrAppend(&text, "\n", s.help, "\n");
  if (!s.flags.empty()) {
    absl::StrAppend(&text, "\nFlags:\n");
    for (const char* flag : s.flags) absl::StrAppend(&text, FlagLine(flag));
  }
  absl::StrAppend(&text, "\nGlobal flags:\n");
  for (const char* flag : kGlobalFlags) absl::StrAppend(&text, FlagLine(flag));
  absl::StrAppend(&text, "\nExit codes: 0 ok, 1 failure, 2 usage.\n");
  return text;
}

// True when `args` asks for help before a "--".
bool AsksForHelp(const std::vector<char*>& args) {
  for (const char* arg : args) {
    if (std::strcmp(arg, "--") == 0) return false;
    if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0 ||
        std::strcmp(arg, "-help") == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace
}  // namespace circuit::client

int main(int argc, char** argv) {
  using circuit::client::AsksForHelp;
  using circuit::client::HelpText;
  using circuit::client::Subcommand;
  using circuit::client::Subcommands;
  using circuit::client::UsageText;
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "client/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(UsageText());

  // The subcommand is the first argument that is not a flag, so global
  // flags may come before it: `circuit --address=H:P classes`.
  int at = 1;
  while (at < argc && argv[at][0] == '-' &&
         std::strcmp(argv[at], "--help") != 0 &&
         std::strcmp(argv[at], "-h") != 0) {
    ++at;
  }
  if (at == argc || std::strcmp(argv[at], "--help") == 0 ||
      std::strcmp(argv[at], "-h") == 0 || std::strcmp(argv[at], "help") == 0) {
    std::printf("%s\n", UsageText().c_str());
    return at == argc ? circuit::client::kExitUsage : circuit::client::kExitOk;
  }
  for (const Subcommand& s : Subcommands()) {
    if (std::strcmp(argv[at], s.name) != 0) continue;
    // Parse everything but the subcommand's name.
    std::vector<char*> rest(argv, argv + argc);
    rest.erase(rest.begin() + at);
    if (AsksForHelp(std::vector<char*>(rest.begin() + 1, rest.end()))) {
      std::printf("%s", HelpText(s).c_str());
      return circuit::client::kExitOk;
    }
    std::vector<char*> args =
        absl::ParseCommandLine(static_cast<int>(rest.size()), rest.data());
    args.erase(args.begin());  // the program's name
    if (absl::Status tls = circuit::client::LoadTlsFlags(); !tls.ok()) {
      return circuit::client::BadFlag(std::string(tls.message()));
    }
    return s.run(args);
  }
  std::fprintf(stderr, "circuit: unknown subcommand \"%s\"\n\n%s\n", argv[at],
               UsageText().c_str());
  return circuit::client::kExitUsage;
}
