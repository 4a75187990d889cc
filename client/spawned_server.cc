#include "client/spawned_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

extern char** environ;

namespace circuit::client {

SpawnedServer::SpawnedServer(SpawnOptions options)
    : options_(std::move(options)) {}

SpawnedServer::~SpawnedServer() { Stop(); }

absl::Status SpawnedServer::Start() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return absl::InternalError("cannot find this binary's path");
  std::string dir(exe, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  const std::string binary = dir + "/circuitd";
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("no circuitd next to circuit (", binary, ")"));
  }
  std::string temp = absl::StrCat("/tmp/", options_.prefix, "-XXXXXX");
  if (mkdtemp(temp.data()) == nullptr) {
    return absl::InternalError("cannot make a temporary directory");
  }
  data_dir_ = temp;
  absl::BitGen gen;
  instructor_key_ = absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                                    absl::Uniform<uint64_t>(gen));
  kiosk_key_ = absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                               absl::Uniform<uint64_t>(gen));
  const std::string out = data_dir_ + "/circuitd.out";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                   (data_dir_ + "/circuitd.log").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> args = {binary, "--listen=127.0.0.1:0",
                                   "--http_listen=127.0.0.1:0",
                                   "--data_dir=" + data_dir_};
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  std::vector<std::string> env = {"CIRCUIT_INSTRUCTOR_KEY=" + instructor_key_,
                                  "CIRCUIT_KIOSK_KEY=" + kiosk_key_};
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "CIRCUIT_")) env.push_back(*e);
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(),
                       envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = 0;
    return absl::InternalError(absl::StrCat("cannot start ", binary));
  }
  // circuitd prints "circuitd listening on HOST:PORT (...)" when ready.
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(out);
    std::string line;
    if (std::getline(in, line) &&
        absl::StartsWith(line, "circuitd listening on ")) {
      std::string rest = line.substr(line.rfind(':', line.find(' ', 22)) + 1);
      int port = 0;
      if (absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &port)) {
        address_ = absl::StrCat("127.0.0.1:", port);
        return absl::OkStatus();
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return absl::InternalError(absl::StrCat("circuitd exited at start; see ",
                                              data_dir_, "/circuitd.log"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("circuitd did not start in time");
}

void SpawnedServer::Stop(absl::Duration grace) {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  bool exited = false;
  while (!exited && absl::Now() < deadline) {
    exited = waitpid(pid_, &status, WNOHANG) == pid_;
    if (!exited) absl::SleepFor(absl::Milliseconds(10));
  }
  bool clean = exited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = 0;
  if (clean && options_.remove_data_dir && !data_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

}  // namespace circuit::client
