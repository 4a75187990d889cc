#ifndef CIRCUIT_SERVER_COMMON_DOCUMENT_H_
#define CIRCUIT_SERVER_COMMON_DOCUMENT_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace circuit {

// Something a server keeps whole and rewrites whole on each change (the
// accounts, the signing keys, the paired TVs). On a single node it is a file
// (FileDocument); on a cluster it is a key of the cluster's state bucket
// (server/cluster/shared_state.h), the same on every node.
class Document {
 public:
  virtual ~Document() = default;

  // What was last kept; nullopt when nothing ever was.
  virtual absl::StatusOr<std::optional<std::string>> Load() = 0;

  // Keeps `bytes` in place of what was kept, before it returns. ABORTED when
  // another node changed the document since this one last loaded, saved or
  // was told of it: nothing is kept, and the change is to be made again on
  // the newer document (which the watcher delivers).
  virtual absl::Status Save(const std::string& bytes) = 0;

  // From now on, `changed` gets what another node keeps, each time it
  // changes, on a thread of the document's own (never for this node's own
  // saves). A file has no other writer: the default never calls it. Once.
  virtual void Watch(absl::AnyInvocable<void(const std::string&)> changed) {
    (void)changed;
  }
};

// Makes a change to what `document` keeps: `read` takes what it keeps now
// (nullopt: nothing yet), `change` changes that, and `write`'s bytes are
// saved. When another node saved first (ABORTED), all three run again on
// the newer document, up to `tries` times. An error of `read` or `change`
// is returned and nothing is saved.
absl::Status ChangeDocument(
    Document& document,
    absl::FunctionRef<absl::Status(const std::optional<std::string>&)> read,
    absl::FunctionRef<absl::Status()> change,
    absl::FunctionRef<std::string()> write, int tries = 4);

// A document in a file, written atomically (mode 0600).
class FileDocument : public Document {
 public:
  explicit FileDocument(std::string path) : path_(std::move(path)) {}

  absl::StatusOr<std::optional<std::string>> Load() override;
  absl::Status Save(const std::string& bytes) override;

 private:
  const std::string path_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_DOCUMENT_H_
