#ifndef CIRCUIT_CLIENT_DEMO_H_
#define CIRCUIT_CLIENT_DEMO_H_

#include "client/tui/apps.h"

namespace circuit::client {

struct DemoOptions {
  // Start a circuitd of our own (next to this binary) on a free port.
  bool spawn_server = false;
  // The instructor and kiosk keys of a running circuitd.
  std::string instructor_key;
  std::string kiosk_key;
  // The circuit to run.
  std::string circuit_id = "kickback-trio";
  // Simulated participants.
  int participants = 12;
  // How many times faster than real time the instructor moves on.
  double speed = 10;
  // Seed of the simulated participants' choices.
  uint64_t seed = 1;
  // Classes in a row, a simulated week apart: from the second on, the same
  // participants come back with their kept profiles, each with her plan
  // for today from what she did (which the demo's coach accepts).
  int weeks = 1;
};

// `circuit demo`: an auto-advancing instructor and simulated participants
// run a class while the kiosk view shows it. The exit code.
int RunDemo(const AppOptions& app, const DemoOptions& demo);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_DEMO_H_
