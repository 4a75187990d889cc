#ifndef CIRCUIT_TESTS_TESTING_SUBPROCESS_H_
#define CIRCUIT_TESTS_TESTING_SUBPROCESS_H_

// The tests' child processes: the spawner the CLI tools use
// (client/lib/spawner.h), so a test that dies or times out takes its
// circuitd and CLI runs, and circuitd's temporary directory, with it.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/lib/spawner.h"

namespace circuit::testing {

// A child process with its stdout and stderr captured.
using Subprocess = spawn::Child;

// The directory of the built binaries (build/bin), from the test's
// compile definitions.
std::string BinaryPath(const std::string& name);

// A fresh empty directory under the test's temporary directory.
std::string MakeTempDir();

// A real circuitd (build/bin/circuitd) serving on 127.0.0.1.
using Circuitd = spawn::Circuitd;

// Starts circuitd on a free port (--listen=127.0.0.1:0, and
// --http_listen=127.0.0.1:0) with a fresh --data_dir (removed with the
// process) and `flags`, and waits for its "circuitd listening on HOST:PORT"
// and "circuitd http on HOST:PORT" lines until `deadline`.
absl::StatusOr<Circuitd> StartCircuitd(const std::vector<std::string>& flags,
                                       absl::Time deadline);

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TESTING_SUBPROCESS_H_
