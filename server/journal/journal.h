#ifndef CIRCUIT_SERVER_JOURNAL_JOURNAL_H_
#define CIRCUIT_SERVER_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "circuit/v1/live.pb.h"

namespace circuit {

// The durable record of accepted events, per class. A report is acknowledged
// only after its event is appended. Implementations are thread-safe.
//
// Implementations: InMemoryJournal (below); SQLite, the embedded default, and
// a distributed log come with the durability and scale-out work.
class Journal {
 public:
  virtual ~Journal() = default;

  // Records that a class exists. ALREADY_EXISTS when it was recorded before.
  virtual absl::Status CreateClass(const v1::ClassInfo& info) = 0;

  // Appends events of a class, in seq order, each seq higher than any
  // appended before for that class (INVALID_ARGUMENT otherwise). Durable when
  // it returns OK. NOT_FOUND for a class never created.
  virtual absl::Status Append(const std::string& class_id,
                              const std::vector<v1::ClassEvent>& events) = 0;
};

// A Journal in memory: lost when the process exits. Thread-safe.
class InMemoryJournal : public Journal {
 public:
  absl::Status CreateClass(const v1::ClassInfo& info) override;
  absl::Status Append(const std::string& class_id,
                      const std::vector<v1::ClassEvent>& events) override;

  // Every event appended for a class, in order (empty for unknown classes).
  std::vector<v1::ClassEvent> Events(const std::string& class_id) const;

 private:
  struct ClassLog {
    v1::ClassInfo info;
    std::vector<v1::ClassEvent> events;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, ClassLog> classes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_JOURNAL_H_
