// Placeholder until the views land (next commit).
#include <cstdio>

#include "client/tui/apps.h"

namespace circuit::client {

int RunInstructorConsole(const AppOptions&, const std::string&,
                         const std::string&) {
  std::fprintf(stderr, "circuit: the instructor console is not built yet\n");
  return 1;
}
int RunParticipantApp(const AppOptions&, const std::string&,
                      const v1::CheckIn&) {
  std::fprintf(stderr, "circuit: the participant view is not built yet\n");
  return 1;
}
int RunKioskScreen(const AppOptions&, const std::string&, const std::string&) {
  std::fprintf(stderr, "circuit: the kiosk view is not built yet\n");
  return 1;
}
int ShowKiosk(const AppOptions&, KioskSession*) { return 1; }

}  // namespace circuit::client
