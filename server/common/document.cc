#include "server/common/document.h"

#include "server/common/files.h"

namespace circuit {

absl::Status ChangeDocument(
    Document& document,
    absl::FunctionRef<absl::Status(const std::optional<std::string>&)> read,
    absl::FunctionRef<absl::Status()> change,
    absl::FunctionRef<std::string()> write, int tries) {
  absl::Status saved = absl::AbortedError("no try was made");
  for (int attempt = 0; attempt < tries; ++attempt) {
    absl::StatusOr<std::optional<std::string>> bytes = document.Load();
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = read(*bytes); !s.ok()) return s;
    if (absl::Status s = change(); !s.ok()) return s;
    saved = document.Save(write());
    if (!absl::IsAborted(saved)) return saved;
  }
  return saved;
}

absl::StatusOr<std::optional<std::string>> FileDocument::Load() {
  return ReadFileIfExists(path_);
}

absl::Status FileDocument::Save(const std::string& bytes) {
  return WriteFileAtomically(path_, bytes);
}

}  // namespace circuit
