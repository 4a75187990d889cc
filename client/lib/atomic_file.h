#ifndef CIRCUIT_CLIENT_LIB_ATOMIC_FILE_H_
#define CIRCUIT_CLIENT_LIB_ATOMIC_FILE_H_

// Writing a whole file so that no reader ever sees part of it.

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace circuit::client {

// Writes `contents` to `path` atomically: into a new temporary file next to
// it, flushed to disk, then renamed over `path`; a reader sees the old file
// or the whole new one. The file gets exactly `mode` (the umask does not
// apply; the default suits health data). An existing `path` is replaced.
// INVALID_ARGUMENT for an empty path; otherwise the failing step's errno as
// a status, with the temporary file removed.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents,
                                 mode_t mode = 0600);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_ATOMIC_FILE_H_
