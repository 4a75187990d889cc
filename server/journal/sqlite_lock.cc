#include "server/journal/sqlite_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace circuit {
namespace journal_internal {
namespace {

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// The pid written in a lock file, or "unknown".
std::string ReadPid(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof(buf), 0);
  if (n <= 0) return "unknown";
  std::string pid(absl::StripAsciiWhitespace(
      absl::string_view(buf, static_cast<size_t>(n))));
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

absl::StatusOr<DataFileLock> DataFileLock::Acquire(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", lock_path, ": ", ErrnoMessage(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = ReadPid(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("another circuitd is using ", path, " (pid ", holder,
                       "); stop it first or use another --data_dir"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot lock ", lock_path, ": ", ErrnoMessage(err)));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                   static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot write ", lock_path, ": ", ErrnoMessage(err)));
  }
  return DataFileLock(fd);
}

DataFileLock::DataFileLock(DataFileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

DataFileLock& DataFileLock::operator=(DataFileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DataFileLock::~DataFileLock() { Release(); }

void DataFileLock::Release() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

}  // namespace journal_internal
}  // namespace circuit
