#ifndef CIRCUIT_CLIENT_LIB_SPAWNER_H_
#define CIRCUIT_CLIENT_LIB_SPAWNER_H_

// Child processes that never outlive the process that started them: the one
// way `circuit demo --spawn_server`, `circuit-bench --spawn_server` and the
// tests start circuitd (and the tests start the CLI).
//
// A child gets PR_SET_PDEATHSIG(SIGKILL) between fork and exec, so the kernel
// kills it when its parent dies, however it dies (kill -9 included). Its
// temporary directory (a circuitd's data) cannot be removed by the child,
// which is killed without a chance to clean up, nor by the parent, which may
// be the one killed; so a tiny reaper process, forked alongside, waits on a
// pipe whose only writer is the parent. When the Child is destroyed normally
// the parent says so on the pipe and looks after the directory itself; when
// the parent dies the pipe reaches end of file, and the reaper kills the
// child (should the death signal have missed it), waits on the child's pidfd
// until it has exited, and replaces itself with `rm -rf DIR`. Between fork
// and exec both processes call only async-signal-safe functions, so any
// thread of a multi-threaded parent may spawn.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the whole
// process: start children from a thread that lives as long as they should
// (the main thread, in every caller today).

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace circuit::spawn {

struct ChildOptions {
  // argv[0] is the binary's path.
  std::vector<std::string> argv;
  // The child's environment ("NAME=VALUE"); unset: this process's.
  std::optional<std::vector<std::string>> environment;
  // Where the child's stderr goes: a file (created or truncated), or "" for
  // a pipe this process drains (Child::stderr_text()).
  std::string stderr_path;
  // Read stdin from /dev/null rather than this process's stdin.
  bool stdin_from_dev_null = false;
  // A directory that belongs to the child (its data): removed when the Child
  // is destroyed unless KeepDirectory() was called, and by the reaper if
  // this process dies first.
  std::string owned_dir;
};

// A child process with its stdout (and, unless redirected, stderr) captured.
// Not thread-safe. The destructor kills a child that is still running.
class Child {
 public:
  // Starts argv[0] with the given arguments, inheriting the environment.
  static absl::StatusOr<Child> Start(const std::vector<std::string>& argv);
  static absl::StatusOr<Child> Start(const ChildOptions& options);

  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  ~Child();

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

  // Leaves owned_dir in place when the Child is destroyed (to read a log
  // after a failure). The reaper still removes it if this process dies.
  void KeepDirectory() { keep_dir_ = true; }

  pid_t pid() const { return pid_; }

  // What the child wrote to stderr so far (read when it exits), when it
  // goes to a pipe.
  const std::string& stderr_text() const { return stderr_text_; }

 private:
  Child() = default;
  void DrainStderr();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int pid_fd_ = -1;
  // The reaper of owned_dir, and the write end of its pipe.
  pid_t reaper_pid_ = -1;
  int reaper_fd_ = -1;
  std::string owned_dir_;
  bool keep_dir_ = false;
  std::string buffer_;
  std::string stderr_text_;
  bool exited_ = false;
  // What Wait returned, for later calls.
  absl::StatusOr<int> exit_status_ = 0;
};

struct CircuitdOptions {
  // The circuitd binary.
  std::string binary;
  // Flags after --listen=127.0.0.1:0, --http_listen=127.0.0.1:0 and
  // --data_dir=<temporary>/data, so a flag here wins.
  std::vector<std::string> flags;
  // circuitd's environment; unset: this process's.
  std::optional<std::vector<std::string>> environment;
  // The temporary directory is <temp_root>/<prefix>-XXXXXX; it holds the
  // data directory (data/) and, with log_to_file, circuitd.log. It goes
  // away with the Child (and with this process).
  std::string temp_root = "/tmp";
  std::string prefix = "circuit";
  // circuitd's stderr to <temporary>/circuitd.log instead of a pipe.
  bool log_to_file = false;
  // Until when circuitd may take to say where it listens.
  absl::Time deadline = absl::InfiniteFuture();
};

// A circuitd serving on 127.0.0.1.
struct Circuitd {
  std::unique_ptr<Child> process;
  int port = 0;
  // "127.0.0.1:PORT".
  std::string address;
  // The HTTP listener's port; 0 when a flag turned it off.
  int http_port = 0;
  // The temporary directory and the data directory in it.
  std::string temp_dir;
  std::string data_dir;
};

// Starts circuitd on free ports with a fresh data directory and waits for
// its "circuitd listening on HOST:PORT" and "circuitd http on HOST:PORT"
// lines until `options.deadline`.
absl::StatusOr<Circuitd> StartCircuitd(const CircuitdOptions& options);

// A circuitd of our own for the CLI's tools: `circuitd` next to this binary,
// with fresh random instructor and kiosk keys (in its environment, not on
// its command line) and its log in <temporary>/circuitd.log. Not
// thread-safe. The destructor stops it.
class SpawnedServer {
 public:
  struct Options {
    std::string prefix = "circuit";
    // Flags for circuitd besides --listen and --data_dir.
    std::vector<std::string> extra_args;
    // How long circuitd may take to say where it listens.
    absl::Duration start_timeout = absl::Seconds(15);
  };

  explicit SpawnedServer(Options options);
  SpawnedServer(const SpawnedServer&) = delete;
  SpawnedServer& operator=(const SpawnedServer&) = delete;
  ~SpawnedServer();

  // Starts circuitd and waits until it listens. Call once.
  absl::Status Start();

  // Drains it with SIGTERM, waits up to `grace` for it to exit, then kills
  // it (SIGKILL). Removes its temporary directory when it stopped cleanly,
  // else keeps it and says where on stderr. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(20));

  // "127.0.0.1:PORT", once started.
  const std::string& address() const { return server_.address; }
  int http_port() const { return server_.http_port; }
  // The temporary directory: its data (data/) and log (circuitd.log).
  const std::string& directory() const { return server_.temp_dir; }
  const std::string& instructor_key() const { return instructor_key_; }
  const std::string& kiosk_key() const { return kiosk_key_; }
  // The process id while it runs; 0 otherwise.
  pid_t pid() const {
    return server_.process != nullptr ? server_.process->pid() : 0;
  }

 private:
  const Options options_;
  Circuitd server_;
  std::string instructor_key_;
  std::string kiosk_key_;
};

}  // namespace circuit::spawn

#endif  // CIRCUIT_CLIENT_LIB_SPAWNER_H_
