#include "server/common/document.h"

#include "server/common/files.h"

namespace circuit {

absl::StatusOr<std::optional<std::string>> FileDocument::Load() {
  return ReadFileIfExists(path_);
}

absl::Status FileDocument::Save(const std::string& bytes) {
  return WriteFileAtomically(path_, bytes);
}

}  // namespace circuit
