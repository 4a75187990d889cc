#ifndef CIRCUIT_SERVER_JOURNAL_SQLITE_LOCK_H_
#define CIRCUIT_SERVER_JOURNAL_SQLITE_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace circuit {
namespace journal_internal {

// The exclusive lock on a journal's data file: `<path>.lock`, flock'ed and
// holding the pid of its user, so a second circuitd (or SqliteJournal) on
// the same file is refused at Open with the pid it should stop. Move-only;
// the lock is held until Release() or destruction.
class DataFileLock {
 public:
  // Takes the lock on `<path>.lock` (created when missing) and writes our
  // pid into it.
  //   FAILED_PRECONDITION  another process holds it (the message names its
  //                        pid)
  //   UNAVAILABLE          the lock file cannot be opened, locked or written
  static absl::StatusOr<DataFileLock> Acquire(const std::string& path);

  DataFileLock() = default;
  DataFileLock(DataFileLock&& other) noexcept;
  DataFileLock& operator=(DataFileLock&& other) noexcept;
  ~DataFileLock();

  // Releases the lock; idempotent.
  void Release();

 private:
  explicit DataFileLock(int fd) : fd_(fd) {}

  int fd_ = -1;  // flock'ed <path>.lock; -1 once released
};

}  // namespace journal_internal
}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_SQLITE_LOCK_H_
