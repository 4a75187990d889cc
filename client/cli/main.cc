// circuit: the command-line client of circuitd. Each group of subcommands
// is a file of its own here (class, history, live, kiosk, admin, demo);
// this one assembles them, and prints the overview and each one's help.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/cli.h"

namespace circuit::client::cli {
namespace {

// The flags every subcommand reads.
const char* const kGlobalFlags[] = {
    "address", "timeout_seconds", "key",     "data_dir",       "tls_ca",
    "tls",     "tls_cert",        "tls_key", "tls_server_name"};

// Every subcommand, in the overview's order.
const std::vector<Subcommand>& Subcommands() {
  static const std::vector<Subcommand>* const subcommands = [] {
    auto* all = new std::vector<Subcommand>;
    for (auto group : {ClassSubcommands, LiveSubcommands, KioskSubcommands,
                       AdminSubcommands, DemoSubcommands, ProfileSubcommands}) {
      std::vector<Subcommand> some = group();
      all->insert(all->end(), some.begin(), some.end());
    }
    return all;
  }();
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
}  // namespace circuit::client::cli

int main(int argc, char** argv) {
  using circuit::client::cli::AsksForHelp;
  using circuit::client::cli::HelpText;
  using circuit::client::cli::Subcommand;
  using circuit::client::cli::Subcommands;
  using circuit::client::cli::UsageText;
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
    return at == argc ? circuit::client::cli::kExitUsage
                      : circuit::client::cli::kExitOk;
  }
  for (const Subcommand& s : Subcommands()) {
    if (std::strcmp(argv[at], s.name) != 0) continue;
    // Parse everything but the subcommand's name.
    std::vector<char*> rest(argv, argv + argc);
    rest.erase(rest.begin() + at);
    if (AsksForHelp(std::vector<char*>(rest.begin() + 1, rest.end()))) {
      std::printf("%s", HelpText(s).c_str());
      return circuit::client::cli::kExitOk;
    }
    std::vector<char*> args =
        absl::ParseCommandLine(static_cast<int>(rest.size()), rest.data());
    args.erase(args.begin());  // the program's name
    if (absl::Status tls = circuit::client::cli::LoadTlsFlags(); !tls.ok()) {
      return circuit::client::cli::BadFlag(std::string(tls.message()));
    }
    return s.run(args);
  }
  std::fprintf(stderr, "circuit: unknown subcommand \"%s\"\n\n%s\n", argv[at],
               UsageText().c_str());
  return circuit::client::cli::kExitUsage;
}
