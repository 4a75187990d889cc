#include "client/lib/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"

namespace circuit::client {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int error = errno;
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

// Writes all of `contents` to `fd`.
bool WriteAll(int fd, absl::string_view contents) {
  while (!contents.empty()) {
    const ssize_t n = ::write(fd, contents.data(), contents.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("no file name given");
  std::string temp_name = absl::StrCat(path, ".tmp-XXXXXX");
  std::vector<char> name(temp_name.begin(), temp_name.end());
  name.push_back('\0');
  // mkstemp creates the file with mode 0600, so no one else can open it
  // before fchmod sets the final mode.
  const int fd = ::mkstemp(name.data());
  if (fd < 0) return Errno("cannot create a file next to", path);
  temp_name = name.data();
  absl::Status status;
  if (::fchmod(fd, mode) != 0) {
    status = Errno("cannot set the mode of", temp_name);
  } else if (!WriteAll(fd, contents)) {
    status = Errno("cannot write", temp_name);
  } else if (::fsync(fd) != 0) {
    status = Errno("cannot flush", temp_name);
  }
  if (::close(fd) != 0 && status.ok()) {
    status = Errno("cannot close", temp_name);
  }
  if (status.ok() && std::rename(temp_name.c_str(), path.c_str()) != 0) {
    status = Errno("cannot rename the new file to", path);
  }
  if (!status.ok()) {
    ::unlink(temp_name.c_str());
    return status;
  }
  // Makes the rename itself durable; the file is complete either way.
  const int dir = ::open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace circuit::client
