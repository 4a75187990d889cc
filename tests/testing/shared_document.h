#ifndef CIRCUIT_TESTS_TESTING_SHARED_DOCUMENT_H_
#define CIRCUIT_TESTS_TESTING_SHARED_DOCUMENT_H_

// A Document several "nodes" share in memory, as a cluster's bucket does
// (server/cluster/shared_state.h): each node's handle saves only on the
// revision it last read, else ABORTED. For tests of what uses documents
// without a nats-server.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/common/document.h"

namespace circuit::testing {

class SharedDocumentStore {
 public:
  // A node's handle.
  std::shared_ptr<Document> Open() { return std::make_shared<Handle>(this); }

  // Another node's write lands before the next save (which then fails
  // ABORTED, as a save racing it does).
  void InterveneBeforeNextSave() {
    absl::MutexLock lock(&mu_);
    intervene_ = true;
  }
  int saves() const {
    absl::MutexLock lock(&mu_);
    return saves_;
  }

 private:
  class Handle : public Document {
   public:
    explicit Handle(SharedDocumentStore* store) : store_(store) {}
    absl::StatusOr<std::optional<std::string>> Load() override {
      absl::MutexLock lock(&store_->mu_);
      seen_ = store_->revision_;
      return store_->value_;
    }
    absl::Status Save(const std::string& bytes) override {
      absl::MutexLock lock(&store_->mu_);
      if (store_->intervene_) {
        store_->intervene_ = false;
        ++store_->revision_;
      }
      if (seen_ != store_->revision_) {
        return absl::AbortedError("changed on another node at the same time");
      }
      store_->value_ = bytes;
      seen_ = ++store_->revision_;
      ++store_->saves_;
      return absl::OkStatus();
    }

   private:
    SharedDocumentStore* const store_;
    uint64_t seen_ = 0;  // guarded by store_->mu_
  };

  mutable absl::Mutex mu_;
  std::optional<std::string> value_ ABSL_GUARDED_BY(mu_);
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  bool intervene_ ABSL_GUARDED_BY(mu_) = false;
  int saves_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TESTING_SHARED_DOCUMENT_H_
