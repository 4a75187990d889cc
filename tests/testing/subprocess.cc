#include "tests/testing/subprocess.h"

#include <stdlib.h>

#include "absl/strings/str_cat.h"

namespace circuit::testing {
namespace {

std::string TempRoot() {
  const char* base = getenv("TEST_TMPDIR");
  return base != nullptr ? base : "/tmp";
}

}  // namespace

std::string BinaryPath(const std::string& name) {
  return absl::StrCat(CIRCUIT_BINARY_DIR, "/", name);
}

std::string MakeTempDir() {
  std::string pattern = absl::StrCat(TempRoot(), "/circuit-test-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "/tmp";
  return pattern;
}

absl::StatusOr<Circuitd> StartCircuitd(const std::vector<std::string>& flags,
                                       absl::Time deadline) {
  spawn::CircuitdOptions options;
  options.binary = BinaryPath("circuitd");
  options.flags = flags;
  options.temp_root = TempRoot();
  options.prefix = "circuit-test";
  options.deadline = deadline;
  return spawn::StartCircuitd(options);
}

}  // namespace circuit::testing
