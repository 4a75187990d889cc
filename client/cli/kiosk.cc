#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/lib/kiosks.h"
#include "client/lib/summary_format.h"
#include "client/tui/apps.h"

namespace circuit::client::cli {

namespace {

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

}  // namespace

std::vector<Subcommand> KioskSubcommands() {
  return {
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
  };
}

}  // namespace circuit::client::cli
