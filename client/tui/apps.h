#ifndef CIRCUIT_CLIENT_TUI_APPS_H_
#define CIRCUIT_CLIENT_TUI_APPS_H_

// The three live views of the `circuit` command: the instructor console,
// the participant app and the kiosk screen. Each runs full-screen when
// stdin and stdout are terminals, and as plain lines (no escape codes) or
// JSON lines (--json) otherwise. Each returns the process exit code:
// 0 ok, 1 failure (with a one-line reason on stderr).

#include <memory>
#include <string>

#include "client/lib/connection.h"
#include "client/lib/live_session.h"

namespace circuit::client {

enum class OutputMode {
  kAuto,   // full-screen on a terminal, plain lines otherwise
  kPlain,  // plain lines even on a terminal
  kJson,   // one JSON object per line: every message as received
};

struct AppOptions {
  std::shared_ptr<Connection> connection;
  OutputMode mode = OutputMode::kAuto;
  // Exit when the class ends (after showing the final screen briefly);
  // otherwise wait for `q`. Plain and JSON modes always exit at the end.
  bool exit_at_end = false;
};

// `circuit instruct CLASS`: the interactive console.
int RunInstructorConsole(const AppOptions& options,
                         const std::string& instructor_key,
                         const std::string& class_id);

// `circuit join CODE --name NAME`. In plain mode, reads commands from stdin:
// `reps N`, `effort easy|right|hard|0-10`, `symptom NAME [text]`, `leave`.
// `session_options` carry a kept profile's credential or keep_profile;
// `joined`, when not null, gets the seat's Joined at the end (its profile
// credential when the join made her profile).
int RunParticipantApp(const AppOptions& options, const std::string& join_code,
                      const v1::CheckIn& check_in,
                      const SessionOptions& session_options = {},
                      v1::Joined* joined = nullptr);

// `circuit kiosk CLASS`.
int RunKioskScreen(const AppOptions& options, const std::string& kiosk_key,
                   const std::string& class_id);

// Shows a running kiosk session until the class ends (or `q` on a
// terminal). For `circuit demo`, which runs its own session.
int ShowKiosk(const AppOptions& options, KioskSession* session);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_TUI_APPS_H_
