#include "client/demo.h"

#include <cstdio>

namespace circuit::client {

int RunDemo(const AppOptions&, const DemoOptions&) {
  std::fprintf(stderr, "circuit: demo not built yet\n");
  return 1;
}

}  // namespace circuit::client
