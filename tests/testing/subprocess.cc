#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace circuit::testing {
namespace {

int MillisUntil(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

}  // namespace

absl::StatusOr<Subprocess> Subprocess::Start(
    const std::vector<std::string>& argv) {
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  Subprocess p;
  p.pid_ = pid;
  // Readable when the child exits, so Wait() sleeps on the event itself.
  p.pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  p.stdout_fd_ = out[0];
  p.stderr_fd_ = err[0];
  return p;
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(other.pid_),
      stdout_fd_(other.stdout_fd_),
      stderr_fd_(other.stderr_fd_),
      pid_fd_(other.pid_fd_),
      buffer_(std::move(other.buffer_)),
      stderr_text_(std::move(other.stderr_text_)),
      exited_(other.exited_),
      exit_status_(std::move(other.exit_status_)) {
  other.pid_ = -1;
  other.stdout_fd_ = -1;
  other.stderr_fd_ = -1;
  other.pid_fd_ = -1;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
  if (pid_fd_ >= 0) close(pid_fd_);
}

absl::StatusOr<std::string> Subprocess::ReadLine(absl::Time deadline) {
  while (true) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    pollfd fd{stdout_fd_, POLLIN, 0};
    int ready = poll(&fd, 1, MillisUntil(deadline));
    if (ready == 0) {
      return absl::DeadlineExceededError("no line from the child in time");
    }
    if (ready < 0 && errno == EINTR) continue;
    char chunk[4096];
    ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) return absl::OutOfRangeError("end of the child's output");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

std::string Subprocess::ReadAll(absl::Time deadline) {
  std::string all;
  while (true) {
    absl::StatusOr<std::string> line = ReadLine(deadline);
    if (!line.ok()) break;
    absl::StrAppend(&all, *line, "\n");
  }
  absl::StrAppend(&all, buffer_);
  buffer_.clear();
  return all;
}

void Subprocess::Signal(int signal_number) {
  if (pid_ > 0 && !exited_) kill(pid_, signal_number);
}

void Subprocess::DrainStderr() {
  char chunk[4096];
  ssize_t n;
  while ((n = read(stderr_fd_, chunk, sizeof chunk)) > 0) {
    stderr_text_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<int> Subprocess::Wait(absl::Time deadline) {
  // Once reaped, the pid may belong to another process: never wait or
  // signal it again.
  if (exited_) return exit_status_;
  while (true) {
    DrainStderr();
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      DrainStderr();
      exit_status_ =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_status_;
    }
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      exited_ = true;
      exit_status_ =
          absl::DeadlineExceededError("the child did not exit in time");
      return exit_status_;
    }
    // Wake when the child exits or writes to stderr.
    pollfd fds[2] = {{pid_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
    poll(fds, 2, MillisUntil(deadline));
  }
}

std::string BinaryPath(const std::string& name) {
  return absl::StrCat(CIRCUIT_BINARY_DIR, "/", name);
}

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr ? base : "/tmp", "/circuit-test-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "/tmp";
  return pattern;
}

absl::StatusOr<Circuitd> StartCircuitd(const std::vector<std::string>& flags,
                                       absl::Time deadline) {
  std::vector<std::string> argv = {
      BinaryPath("circuitd"), "--listen=127.0.0.1:0",
      "--http_listen=127.0.0.1:0", "--data_dir=" + MakeTempDir() + "/data"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  Circuitd circuitd;
  circuitd.process = std::make_unique<Subprocess>(std::move(*process));
  absl::StatusOr<std::string> banner = circuitd.process->ReadLine(deadline);
  if (!banner.ok()) return banner.status();
  // "circuitd listening on HOST:PORT (...)".
  absl::string_view line = *banner;
  absl::string_view address = line;
  bool parsed = absl::ConsumePrefix(&address, "circuitd listening on ");
  address = address.substr(0, address.find(' '));
  parsed = parsed && absl::SimpleAtoi(address.substr(address.rfind(':') + 1),
                                      &circuitd.port);
  if (!parsed || circuitd.port <= 0) {
    return absl::InternalError(
        absl::StrCat("circuitd printed \"", line, "\" instead of its address"));
  }
  circuitd.address = absl::StrCat("127.0.0.1:", circuitd.port);
  // "circuitd http on HOST:PORT (...)", unless the flags turned it off.
  bool http = true;
  for (const std::string& flag : flags) {
    if (flag == "--http_listen=" || flag == "--http_listen=\"\"") {
      http = false;
    }
  }
  if (http) {
    absl::StatusOr<std::string> http_line =
        circuitd.process->ReadLine(deadline);
    if (!http_line.ok()) return http_line.status();
    absl::string_view http_address = *http_line;
    bool http_parsed = absl::ConsumePrefix(&http_address, "circuitd http on ");
    http_address = http_address.substr(0, http_address.find(' '));
    http_parsed =
        http_parsed &&
        absl::SimpleAtoi(http_address.substr(http_address.rfind(':') + 1),
                         &circuitd.http_port);
    if (!http_parsed || circuitd.http_port <= 0) {
      return absl::InternalError(absl::StrCat(
          "circuitd printed \"", *http_line, "\" instead of its HTTP address"));
    }
  }
  return circuitd;
}

}  // namespace circuit::testing
