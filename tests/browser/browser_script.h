#ifndef CIRCUIT_TESTS_BROWSER_BROWSER_SCRIPT_H_
#define CIRCUIT_TESTS_BROWSER_BROWSER_SCRIPT_H_

// The C++ side of a browser test's script (tests/browser/*.mjs, run with
// node; the line protocol is in harness.mjs): it is started with commands on
// a pipe of ours, each command is one line, and each answer one line of its
// stdout. Everything it said is kept for failure messages.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit::testing {

inline constexpr char kChromium[] = "/usr/bin/chromium";

// Fails (never skips) when node, chromium or puppeteer-core is missing.
inline void CheckBrowserInstalled(const std::string& browser_dir) {
  bool node = false;
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':')) {
    node = node || access(absl::StrCat(dir, "/node").c_str(), X_OK) == 0;
  }
  ASSERT_TRUE(node) << "node is not on PATH (deploy/install-deps.sh "
                    << "installs Debian's nodejs)";
  ASSERT_EQ(access(kChromium, X_OK), 0)
      << kChromium << " is missing: Debian's chromium package is needed "
      << "(deploy/install-deps.sh installs it; `make test` runs that)";
  const std::string puppeteer =
      absl::StrCat(browser_dir, "/node_modules/puppeteer-core/package.json");
  ASSERT_EQ(access(puppeteer.c_str(), R_OK), 0)
      << puppeteer << " is missing: run `npm ci --ignore-scripts` in "
      << browser_dir << " (deploy/install-deps.sh does it)";
}

// The words of `line`.
inline std::vector<std::string> Words(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

class BrowserScript {
 public:
  BrowserScript() = default;
  BrowserScript(const BrowserScript&) = delete;
  BrowserScript& operator=(const BrowserScript&) = delete;
  ~BrowserScript() {
    if (commands_fd_ >= 0) close(commands_fd_);
    if (script_.has_value() && !exit_.has_value()) {
      exit_ = script_->Wait(absl::Now() + absl::Seconds(5));
    }
  }

  // Starts `node <script> <args...> --chromium ... --commands-fd N`.
  void Start(const std::string& script, std::vector<std::string> args) {
    // A write to the script after it died must fail, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
    // The read end goes to the script (and, harmlessly, to any other child
    // started meanwhile); the write end stays ours.
    ASSERT_EQ(fcntl(fds[0], F_SETFD, 0), 0) << std::strerror(errno);
    std::vector<std::string> argv = {"/usr/bin/env", "node", script};
    for (std::string& arg : args) argv.push_back(std::move(arg));
    for (std::string arg :
         {std::string("--chromium"), std::string(kChromium),
          std::string("--commands-fd"), absl::StrCat(fds[0])}) {
      argv.push_back(std::move(arg));
    }
    absl::StatusOr<Subprocess> started = Subprocess::Start(argv);
    close(fds[0]);
    commands_fd_ = fds[1];
    ASSERT_TRUE(started.ok()) << started.status();
    script_.emplace(*std::move(started));
  }

  // Sends one command line.
  void Send(const std::string& command) {
    const std::string line = command + "\n";
    ASSERT_EQ(write(commands_fd_, line.data(), line.size()),
              static_cast<ssize_t>(line.size()))
        << "writing `" << command << "`: " << std::strerror(errno);
  }

  // Reads lines until one starts with `prefix` and returns the rest of it.
  // Fails on an `error` line, at the end of output and at the deadline.
  absl::StatusOr<std::string> Await(const std::string& prefix,
                                    absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      absl::StatusOr<std::string> line = script_->ReadLine(deadline);
      if (!line.ok()) {
        return absl::Status(line.status().code(),
                            absl::StrCat("waiting for `", prefix,
                                         "`: ", line.status().message()));
      }
      transcript_.push_back(*line);
      if (absl::StartsWith(*line, prefix)) return line->substr(prefix.size());
      if (absl::StartsWith(*line, "error")) {
        return absl::InternalError(
            absl::StrCat("waiting for `", prefix, "`, got `", *line, "`"));
      }
    }
  }

  // Sends `command` and returns the rest of the answer starting with
  // `answer` (empty, after a failure, when none came).
  std::string Ask(const std::string& command, const std::string& answer,
                  absl::Duration timeout) {
    Send(command);
    absl::StatusOr<std::string> rest = Await(answer, timeout);
    EXPECT_TRUE(rest.ok()) << command << ": " << rest.status();
    return rest.ok() ? *rest : "";
  }

  // Reads lines until `last` and returns those before it.
  absl::StatusOr<std::vector<std::string>> Until(const std::string& last,
                                                 absl::Duration timeout) {
    const size_t from = transcript_.size();
    absl::StatusOr<std::string> end = Await(last, timeout);
    if (!end.ok()) return end.status();
    return std::vector<std::string>(transcript_.begin() + from,
                                    transcript_.end() - 1);
  }

  // Ends the commands (after `quit`) and waits for the script to exit; its
  // exit code.
  absl::StatusOr<int> Finish(absl::Duration timeout) {
    if (commands_fd_ >= 0) close(commands_fd_);
    commands_fd_ = -1;
    exit_ = script_->Wait(absl::Now() + timeout);
    return *exit_;
  }

  // Everything the script said, and how it ended, for a failure message.
  std::string Dump() {
    if (!script_.has_value()) return "(the script never started)";
    if (!exit_.has_value())
      exit_ = script_->Wait(absl::Now() + absl::Seconds(5));
    return absl::StrCat("exit ",
                        exit_->ok() ? absl::StrCat(**exit_)
                                    : std::string(exit_->status().message()),
                        "\n--- stdout ---\n", absl::StrJoin(transcript_, "\n"),
                        "\n", script_->ReadAll(absl::Now()), "--- stderr ---\n",
                        script_->stderr_text());
  }

 private:
  int commands_fd_ = -1;
  std::optional<Subprocess> script_;
  std::optional<absl::StatusOr<int>> exit_;
  std::vector<std::string> transcript_;
};

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_BROWSER_BROWSER_SCRIPT_H_
