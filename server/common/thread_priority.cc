#include "server/common/thread_priority.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace circuit {
namespace {

// Calls `visit(tid, name)` for each thread of this process; false when they
// cannot be listed.
bool ForEachThread(
    const std::function<void(int tid, const std::string& name)>& visit) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return false;
  while (const dirent* entry = readdir(dir)) {
    int tid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &tid)) continue;  // "." and ".."
    std::ifstream comm(absl::StrCat("/proc/self/task/", tid, "/comm"));
    std::string name;
    if (!std::getline(comm, name)) continue;  // it ended meanwhile
    visit(tid, name);
  }
  closedir(dir);
  return true;
}

bool Named(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (absl::StartsWith(name, prefix)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<int> NiceThreadsNamed(const std::vector<std::string>& prefixes,
                                     int nice) {
  int set = 0;
  const bool listed = ForEachThread([&](int tid, const std::string& name) {
    if (!Named(name, prefixes)) return;
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) == 0) ++set;
  });
  if (!listed) {
    return absl::UnavailableError(absl::StrCat(
        "cannot list this process's threads: ", std::strerror(errno)));
  }
  return set;
}

std::vector<int> NiceOfThreadsNamed(absl::string_view prefix) {
  std::vector<int> nice;
  ForEachThread([&](int tid, const std::string& name) {
    if (!absl::StartsWith(name, prefix)) return;
    errno = 0;
    const int value = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno == 0) nice.push_back(value);
  });
  return nice;
}

}  // namespace circuit
