#include "client/demo.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"

ABSL_FLAG(bool, spawn_server, false,
          "demo: start a circuitd of its own on a free port (it and its "
          "temporary data directory go when the demo does)");
ABSL_FLAG(std::string, participants, "",
          "demo: simulated participants, 1 to 200 (default 12)");
ABSL_FLAG(double, speed, 10,
          "demo: how many times faster than real time the class runs");
ABSL_FLAG(std::string, circuit, "kickback-trio", "demo: the circuit to run");
ABSL_FLAG(uint64_t, seed, 1, "demo: seed of the participants' choices");

namespace circuit::client::cli {

namespace {

int Demo(const std::vector<char*>& args) {
  if (!args.empty()) {
    return Usage(
        "demo [--spawn_server] [--participants=N] [--speed=X] "
        "[--circuit=ID] [--weeks=N]");
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
  // --weeks is join's too (weeks postpartum); unset, one class.
  demo.weeks = std::max(1, absl::GetFlag(FLAGS_weeks));
  if (demo.weeks < 1 || demo.weeks > 12) {
    std::fprintf(stderr, "circuit: --weeks is 1 to 12\n");
    return kExitUsage;
  }
  AppOptions app = MakeAppOptions();
  app.exit_at_end = true;
  return RunDemo(app, demo);
}

}  // namespace

std::vector<Subcommand> DemoSubcommands() {
  return {
      {"demo",
       {{"", "a whole simulated class on the kiosk view (--spawn_server)"}},
       "demo [--spawn_server] [--participants=N] [--speed=X] [--circuit=ID] "
       "[--weeks=N]",
       "Runs a whole simulated class and shows it on the kiosk view. With\n"
       "--weeks=N, N classes in a row: the same participants come back with\n"
       "kept profiles, and before each class the demo prints each one's plan\n"
       "for today (which its coach accepts), a stage change among them once\n"
       "someone meets her stage's criteria.",
       {"spawn_server", "participants", "speed", "circuit", "seed", "weeks"},
       Demo},
  };
}

}  // namespace circuit::client::cli
