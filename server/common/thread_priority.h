// Scheduling priority of threads a library started (by their names), for
// work that must not compete evenly with live traffic.
#ifndef CIRCUIT_SERVER_COMMON_THREAD_PRIORITY_H_
#define CIRCUIT_SERVER_COMMON_THREAD_PRIORITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace circuit {

// Sets the nice value of every thread of this process whose name starts
// with one of `prefixes` to `nice` (Linux: nice is per thread, and a thread
// starts with its creator's). The number of threads set; an error only when
// the process's threads cannot be listed.
absl::StatusOr<int> NiceThreadsNamed(const std::vector<std::string>& prefixes,
                                     int nice);

// The nice value of each thread whose name starts with `prefix`.
std::vector<int> NiceOfThreadsNamed(absl::string_view prefix);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_THREAD_PRIORITY_H_
