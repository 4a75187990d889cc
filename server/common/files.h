#ifndef CIRCUIT_SERVER_COMMON_FILES_H_
#define CIRCUIT_SERVER_COMMON_FILES_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace circuit {

// Writes `bytes` to `path` (mode 0600) so that a crash leaves the old file or
// the new one, whole: a temporary file, flushed, renamed over, and the
// directory flushed.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& bytes);

// The file's contents; nullopt when it does not exist; an error when it
// exists but cannot be read.
absl::StatusOr<std::optional<std::string>> ReadFileIfExists(
    const std::string& path);

// Creates `path` (mode 0700) when missing. FAILED_PRECONDITION when it exists
// and others than its owner may read or enter it (secrets live there).
absl::Status MakePrivateDirectory(const std::string& path);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_FILES_H_
