#ifndef CIRCUIT_TESTS_TESTING_SUBPROCESS_H_
#define CIRCUIT_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace circuit::testing {

// A child process with its stdout and stderr captured, for tests that run
// the real binaries. Not thread-safe. The destructor kills a child that is
// still running.
class Subprocess {
 public:
  // Starts argv[0] with the given arguments.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&&) = delete;
  ~Subprocess();

  // The next line of stdout, without its newline. DEADLINE_EXCEEDED when
  // none arrives by `deadline`; OUT_OF_RANGE at end of output.
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);

  // Everything left on stdout until the child closes it, or by `deadline`.
  std::string ReadAll(absl::Time deadline);

  // Sends a signal.
  void Signal(int signal_number);

  // Waits for the child to exit; its exit code, or 128 + signal. Kills it
  // and returns DEADLINE_EXCEEDED at `deadline`.
  absl::StatusOr<int> Wait(absl::Time deadline);

  pid_t pid() const { return pid_; }

  // What the child wrote to stderr so far (read when it exits).
  const std::string& stderr_text() const { return stderr_text_; }

 private:
  Subprocess() = default;
  void DrainStderr();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int pid_fd_ = -1;
  std::string buffer_;
  std::string stderr_text_;
  bool exited_ = false;
  // What Wait returned, for later calls.
  absl::StatusOr<int> exit_status_ = 0;
};

// The directory of the built binaries (build/bin), from the test's
// compile definitions.
std::string BinaryPath(const std::string& name);

// A fresh empty directory under the test's temporary directory.
std::string MakeTempDir();

// A real circuitd (build/bin/circuitd) serving on 127.0.0.1.
struct Circuitd {
  std::unique_ptr<Subprocess> process;
  int port = 0;
  // "127.0.0.1:PORT".
  std::string address;
  // The HTTP listener's port (--http_listen=127.0.0.1:0); 0 when a flag
  // turned it off.
  int http_port = 0;
};

// Starts circuitd on a free port (--listen=127.0.0.1:0, and
// --http_listen=127.0.0.1:0) with a fresh --data_dir and `flags`, and waits
// for its "circuitd listening on HOST:PORT" and "circuitd http on HOST:PORT"
// lines until `deadline`.
absl::StatusOr<Circuitd> StartCircuitd(const std::vector<std::string>& flags,
                                       absl::Time deadline);

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TESTING_SUBPROCESS_H_
