#include "client/demo.h"

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

}  // namespace

std::vector<Subcommand> DemoSubcommands() {
  return {
      {"demo",
       {{"", "a whole simulated class on the kiosk view (--spawn_server)"}},
       "demo [--spawn_server] [--participants=N] [--speed=X] [--circuit=ID]",
       "Runs a whole simulated class and shows it on the kiosk view.",
       {"spawn_server", "participants", "speed", "circuit", "seed"},
       Demo},
  };
}

}  // namespace circuit::client::cli
