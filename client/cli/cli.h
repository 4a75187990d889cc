#ifndef CIRCUIT_CLIENT_CLI_CLI_H_
#define CIRCUIT_CLIENT_CLI_CLI_H_

// What the groups of `circuit` subcommands share: the flags more than one
// group reads, exit codes, the connection and keys from the flags, and the
// usage and error lines. Each group (class.cc, history.cc, live.cc,
// kiosk.cc, admin.cc, demo.cc) defines its own flags and its Subcommand
// entries; main.cc assembles them.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "client/lib/connection.h"
#include "client/tui/apps.h"
#include "google/protobuf/message.h"

ABSL_DECLARE_FLAG(std::string, address);
ABSL_DECLARE_FLAG(int, timeout_seconds);
ABSL_DECLARE_FLAG(std::string, key);
ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(bool, plain);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(int64_t, ttl_seconds);
ABSL_DECLARE_FLAG(bool, exit_at_end);
ABSL_DECLARE_FLAG(std::string, profile_file);
ABSL_DECLARE_FLAG(int, weeks);

namespace circuit::client::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

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

// The groups, in the overview's order.
// class.cc: circuits, clock, class, classes.
std::vector<Subcommand> ClassSubcommands();
// live.cc: instruct, join.
std::vector<Subcommand> LiveSubcommands();
// kiosk.cc, admin.cc, demo.cc.
std::vector<Subcommand> KioskSubcommands();
std::vector<Subcommand> AdminSubcommands();
std::vector<Subcommand> DemoSubcommands();
// profile.cc: progress, profile.
std::vector<Subcommand> ProfileSubcommands();

// The kept profile's credential file: --profile_file, else
// DefaultProfileFile().
std::string ProfileFile();

// The forms of `circuit class`.
inline constexpr char kClassCreateUsage[] =
    "class create CIRCUIT [--title=T] [--json]";
inline constexpr char kClassSummaryUsage[] = "class summary CLASS [--json]";
inline constexpr char kClassExportUsage[] =
    "class export CLASS --format=csv|json "
    "[--table=sets|totals|efforts|symptoms] [--output=FILE]";
inline constexpr char kClassEraseUsage[] = "class erase CLASS --participant=ID";
inline constexpr char kClassWallUsage[] = "class wall CLASS [--json]";
inline constexpr char kClassCredentialUsage[] =
    "class credential CLASS [--ttl_seconds=N] [--json]";

// history.cc: the after-class forms of `circuit class` (summary, export,
// erase, wall).
int ShowSummary(const std::vector<char*>& args);
int ExportClass(const std::vector<char*>& args);
int EraseHealth(const std::vector<char*>& args);
int ShowWall(const std::vector<char*>& args);

// Reads the --tls_* flags' files, for Connect(); the reason when they do
// not load. Once, before a subcommand runs.
absl::Status LoadTlsFlags();

// A connection from the flags (--address, --timeout_seconds, TLS).
std::shared_ptr<Connection> Connect();

// A failed call: one line with circuitd's address, then kExitFailure.
int Fail(const absl::Status& status);

// "usage: circuit LINE" for each line of `usage`, then kExitUsage.
int Usage(absl::string_view usage);

// A usage error about the flags: one line, then kExitUsage.
int BadFlag(const std::string& reason);

// The local date and time of `unix_ms`.
std::string LocalTime(int64_t unix_ms);

// `message` as one JSON line on stdout.
void PrintJson(const google::protobuf::Message& message);

// The key for `role` ("instructor" or "kiosk"): the flag (with
// `use_flag`), the environment, then the file circuitd generated in its
// data directory.
std::string Key(const std::string& role, bool use_flag = true);

// The live views' options from the flags (--json, --plain, --exit_at_end).
AppOptions MakeAppOptions();

}  // namespace circuit::client::cli

#endif  // CIRCUIT_CLIENT_CLI_CLI_H_
