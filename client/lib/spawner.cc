#include "client/lib/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace circuit::spawn {
namespace {

int MillisUntil(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  if (left > absl::Hours(24)) return -1;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void CloseIfOpen(int fd) {
  if (fd >= 0) close(fd);
}

// The reaper (see spawner.h), in a child forked from a possibly
// multi-threaded process: async-signal-safe calls only, no allocation.
// `word` is the read end of the pipe only the parent writes, `child` the
// pidfd of the process whose directory `rm_argv` removes.
[[noreturn]] void Reap(int word, int quiet, int child, char* const* rm_argv) {
  struct sigaction ignore;
  std::memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  // A Ctrl-C or a hang-up reaches the whole process group: the reaper
  // outlives the parent it is there to outlive.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) {
    sigaction(sig, &ignore, nullptr);
  }
  // Only these on 0, 1, 2 and 3, so the reaper holds no other pipe's end
  // open (a reader waiting for the parent's stdout to close, say).
  word = fcntl(word, F_DUPFD, 10);
  quiet = fcntl(quiet, F_DUPFD, 10);
  child = fcntl(child, F_DUPFD, 10);
  dup2(word, 0);
  dup2(quiet, 1);
  dup2(quiet, 2);
  dup2(child, 3);
  syscall(SYS_close_range, 4U, ~0U, 0U);
  char byte;
  ssize_t n;
  do {
    n = read(0, &byte, 1);
  } while (n < 0 && errno == EINTR);
  // A word: the parent looks after the directory itself.
  if (n > 0) _exit(0);
  // End of file: the parent has died. Its death signal has killed the
  // child, or is about to; make sure, and wait until the child has exited,
  // so nothing writes into the directory while it is removed.
  syscall(SYS_pidfd_send_signal, 3, SIGKILL, nullptr, 0U);
  pollfd exited{3, POLLIN, 0};
  while (poll(&exited, 1, -1) < 0 && errno == EINTR) {
  }
  execv("/bin/rm", rm_argv);
  _exit(127);
}

}  // namespace

absl::StatusOr<Child> Child::Start(const std::vector<std::string>& argv) {
  ChildOptions options;
  options.argv = argv;
  return Start(options);
}

absl::StatusOr<Child> Child::Start(const ChildOptions& options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("no program to start");
  }
  // Everything the forked processes use is made here, before fork.
  std::vector<char*> args;
  for (const std::string& a : options.argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::vector<char*> env;
  if (options.environment.has_value()) {
    for (const std::string& e : *options.environment) {
      env.push_back(const_cast<char*>(e.c_str()));
    }
    env.push_back(nullptr);
  }
  std::string rm_dir = options.owned_dir;
  char rm[] = "rm";
  char rf[] = "-rf";
  char dashes[] = "--";
  char* rm_argv[] = {rm, rf, dashes, rm_dir.data(), nullptr};

  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  if (options.stderr_path.empty()) {
    if (pipe2(err, O_CLOEXEC) != 0) {
      absl::Status status = Errno("pipe");
      close(out[0]);
      close(out[1]);
      return status;
    }
  } else {
    err[1] = open(options.stderr_path.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err[1] < 0) {
      absl::Status status = Errno(options.stderr_path);
      close(out[0]);
      close(out[1]);
      return status;
    }
  }
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  const bool null_stdin = options.stdin_from_dev_null;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Die with the parent. If it died before prctl, this process has been
    // reparented already and the signal would never come: give up.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (null_stdin) dup2(null_fd, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    if (env.empty()) {
      execv(args[0], args.data());
    } else {
      execve(args[0], args.data(), env.data());
    }
    _exit(127);
  }
  const int fork_errno = errno;
  close(out[1]);
  CloseIfOpen(err[1]);
  if (pid < 0) {
    close(out[0]);
    CloseIfOpen(err[0]);
    CloseIfOpen(null_fd);
    return absl::InternalError(
        absl::StrCat("fork: ", std::strerror(fork_errno)));
  }
  Child child;
  child.pid_ = pid;
  // Readable when the child exits, so Wait() sleeps on the event itself.
  // Opened before the child can be reaped, so it is this child's.
  child.pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0U));
  child.stdout_fd_ = out[0];
  child.stderr_fd_ = err[0];
  if (child.stderr_fd_ >= 0) fcntl(child.stderr_fd_, F_SETFL, O_NONBLOCK);
  if (!rm_dir.empty()) {
    child.owned_dir_ = rm_dir;
    int word[2];
    if (pipe2(word, O_CLOEXEC) != 0) {
      CloseIfOpen(null_fd);
      return Errno("pipe");  // the destructor kills the child
    }
    const pid_t reaper = fork();
    if (reaper == 0) Reap(word[0], null_fd, child.pid_fd_, rm_argv);
    close(word[0]);
    if (reaper < 0) {
      close(word[1]);
      CloseIfOpen(null_fd);
      return Errno("fork");
    }
    child.reaper_pid_ = reaper;
    child.reaper_fd_ = word[1];
  }
  CloseIfOpen(null_fd);
  return child;
}

Child::Child(Child&& other) noexcept
    : pid_(other.pid_),
      stdout_fd_(other.stdout_fd_),
      stderr_fd_(other.stderr_fd_),
      pid_fd_(other.pid_fd_),
      reaper_pid_(other.reaper_pid_),
      reaper_fd_(other.reaper_fd_),
      owned_dir_(std::move(other.owned_dir_)),
      keep_dir_(other.keep_dir_),
      buffer_(std::move(other.buffer_)),
      stderr_text_(std::move(other.stderr_text_)),
      exited_(other.exited_),
      exit_status_(std::move(other.exit_status_)) {
  other.pid_ = -1;
  other.stdout_fd_ = -1;
  other.stderr_fd_ = -1;
  other.pid_fd_ = -1;
  other.reaper_pid_ = -1;
  other.reaper_fd_ = -1;
  other.owned_dir_.clear();
}

Child::~Child() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  CloseIfOpen(stdout_fd_);
  CloseIfOpen(stderr_fd_);
  CloseIfOpen(pid_fd_);
  if (!owned_dir_.empty() && !keep_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(owned_dir_, ignored);
  }
  if (reaper_pid_ > 0) {
    // The word that sends the reaper away without removing anything.
    const char word = 'k';
    ssize_t n;
    do {
      n = write(reaper_fd_, &word, 1);
    } while (n < 0 && errno == EINTR);
    close(reaper_fd_);
    waitpid(reaper_pid_, nullptr, 0);
  }
}

absl::StatusOr<std::string> Child::ReadLine(absl::Time deadline) {
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

std::string Child::ReadAll(absl::Time deadline) {
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

void Child::Signal(int signal_number) {
  if (pid_ > 0 && !exited_) kill(pid_, signal_number);
}

void Child::DrainStderr() {
  if (stderr_fd_ < 0) return;
  char chunk[4096];
  ssize_t n;
  while ((n = read(stderr_fd_, chunk, sizeof chunk)) > 0) {
    stderr_text_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<int> Child::Wait(absl::Time deadline) {
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
    // Wake when the child exits or writes to stderr (a closed stderr_fd_,
    // -1, is ignored by poll).
    pollfd fds[2] = {{pid_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
    poll(fds, 2, MillisUntil(deadline));
  }
}

namespace {

// "PREFIX HOST:PORT (...)" -> PORT; 0 when `line` is not that.
int PortFrom(absl::string_view line, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&line, prefix)) return 0;
  line = line.substr(0, line.find(' '));
  int port = 0;
  const size_t colon = line.rfind(':');
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(line.substr(colon + 1), &port) || port <= 0) {
    return 0;
  }
  return port;
}

// What circuitd said before it failed to start, for the error.
std::string Said(Child* process, const std::string& log_path) {
  // It has closed stdout to exit, or is stuck: either way it goes.
  process->Signal(SIGKILL);
  (void)process->Wait(absl::InfiniteFuture());
  std::string text = process->stderr_text();
  if (!log_path.empty()) {
    std::ifstream in(log_path);
    std::stringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  constexpr size_t kTail = 2000;
  if (text.size() > kTail) text = "..." + text.substr(text.size() - kTail);
  return text;
}

}  // namespace

absl::StatusOr<Circuitd> StartCircuitd(const CircuitdOptions& options) {
  std::string temp =
      absl::StrCat(options.temp_root, "/", options.prefix, "-XXXXXX");
  if (mkdtemp(temp.data()) == nullptr) {
    return Errno(
        absl::StrCat("cannot make a directory in ", options.temp_root));
  }
  Circuitd circuitd;
  circuitd.temp_dir = temp;
  circuitd.data_dir = temp + "/data";
  ChildOptions child;
  child.argv = {options.binary, "--listen=127.0.0.1:0",
                "--http_listen=127.0.0.1:0", "--data_dir=" + circuitd.data_dir};
  child.argv.insert(child.argv.end(), options.flags.begin(),
                    options.flags.end());
  child.environment = options.environment;
  const std::string log = options.log_to_file ? temp + "/circuitd.log" : "";
  child.stderr_path = log;
  child.stdin_from_dev_null = true;
  child.owned_dir = temp;
  absl::StatusOr<Child> process = Child::Start(child);
  if (!process.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp, ignored);
    return process.status();
  }
  circuitd.process = std::make_unique<Child>(std::move(*process));
  // "circuitd listening on HOST:PORT (...)".
  absl::StatusOr<std::string> banner =
      circuitd.process->ReadLine(options.deadline);
  if (!banner.ok()) {
    return absl::Status(banner.status().code(),
                        absl::StrCat("circuitd did not say where it listens (",
                                     banner.status().message(),
                                     "): ", Said(circuitd.process.get(), log)));
  }
  circuitd.port = PortFrom(*banner, "circuitd listening on ");
  if (circuitd.port == 0) {
    return absl::InternalError(absl::StrCat("circuitd printed \"", *banner,
                                            "\" instead of its address"));
  }
  circuitd.address = absl::StrCat("127.0.0.1:", circuitd.port);
  // "circuitd http on HOST:PORT (...)", unless the flags turned it off.
  bool http = true;
  for (const std::string& flag : options.flags) {
    if (flag == "--http_listen=" || flag == "--http_listen=\"\"") {
      http = false;
    }
  }
  if (http) {
    absl::StatusOr<std::string> line =
        circuitd.process->ReadLine(options.deadline);
    if (!line.ok()) return line.status();
    circuitd.http_port = PortFrom(*line, "circuitd http on ");
    if (circuitd.http_port == 0) {
      return absl::InternalError(absl::StrCat(
          "circuitd printed \"", *line, "\" instead of its HTTP address"));
    }
  }
  return circuitd;
}

SpawnedServer::SpawnedServer(Options options) : options_(std::move(options)) {}

SpawnedServer::~SpawnedServer() { Stop(); }

absl::Status SpawnedServer::Start() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return absl::InternalError("cannot find this binary's path");
  std::string dir(exe, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  CircuitdOptions circuitd;
  circuitd.binary = dir + "/circuitd";
  if (access(circuitd.binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no circuitd next to ",
                                            program_invocation_short_name, " (",
                                            circuitd.binary, ")"));
  }
  absl::BitGen gen;
  instructor_key_ = absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                                    absl::Uniform<uint64_t>(gen));
  kiosk_key_ = absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                               absl::Uniform<uint64_t>(gen));
  std::vector<std::string> env = {"CIRCUIT_INSTRUCTOR_KEY=" + instructor_key_,
                                  "CIRCUIT_KIOSK_KEY=" + kiosk_key_};
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "CIRCUIT_")) env.push_back(*e);
  }
  circuitd.environment = std::move(env);
  circuitd.flags = options_.extra_args;
  circuitd.prefix = options_.prefix;
  circuitd.log_to_file = true;
  circuitd.deadline = absl::Now() + options_.start_timeout;
  absl::StatusOr<Circuitd> started = StartCircuitd(circuitd);
  if (!started.ok()) return started.status();
  server_ = std::move(*started);
  return absl::OkStatus();
}

void SpawnedServer::Stop(absl::Duration grace) {
  if (server_.process == nullptr) return;
  server_.process->Signal(SIGTERM);
  absl::StatusOr<int> rc = server_.process->Wait(absl::Now() + grace);
  if (!rc.ok() || *rc != 0) {
    server_.process->KeepDirectory();
    std::fprintf(stderr, "%s: circuitd did not stop cleanly; its log: %s\n",
                 program_invocation_short_name,
                 (server_.temp_dir + "/circuitd.log").c_str());
  }
  server_.process.reset();
}

}  // namespace circuit::spawn
