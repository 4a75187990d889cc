#ifndef CIRCUIT_SERVER_CLUSTER_CLASS_LOG_H_
#define CIRCUIT_SERVER_CLUSTER_CLASS_LOG_H_

// A class's log on the cluster's JetStream stream: one subject per class,
// read through FenceReader (fence.h) by everyone, appended to by its owner
// only. Internal to server/cluster/.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/internal/cluster.pb.h"
#include "server/cluster/fence.h"
#include "server/cluster/nats.h"

namespace circuit::cluster {

// The stream every class's log is on, and a class's subject in it.
inline constexpr char kClassStream[] = "CIRCUIT_CLASSES";
std::string ClassSubject(absl::string_view class_id);

// Creates the class stream with `replicas` copies when it is missing (at
// cluster set-up: on nats-server 2.9 an R3 stream cannot be created while a
// server is down). Its duplicate window lets a publish that timed out be
// retried with its message id.
absl::Status EnsureClassStream(Nats& nats, int replicas);

// Records a new class: the first record of its subject. ALREADY_EXISTS when
// the subject has another (checked by the stream, safely under
// concurrency). A publish with no answer (a JetStream leader election) is
// made again until `timeout`; one refused because the subject has a record
// reads that record back first: the earlier try may have landed, and then
// the class is created.
absl::Status CreateClassLog(Nats& nats, const internal::ClassRecord& record,
                            const std::string& node,
                            absl::Duration timeout = absl::Seconds(20));

// Reads a class's log from its start, in order, through a FenceReader, and
// hands every record and what it did to `on_read` on a nats.c thread, one
// at a time. Stops when destroyed (waiting for a running callback).
class LogReader {
 public:
  using OnRead = absl::AnyInvocable<void(
      const internal::LogRecord& record, FenceReader::Read read,
      std::vector<internal::LogRecord> taken)>;
  static absl::StatusOr<std::unique_ptr<LogReader>> Start(
      Nats& nats, const std::string& class_id, OnRead on_read);
  ~LogReader();

  // Subscribes again from after the last record read, keeping the fence's
  // state, and drops the older subscription: for a reader that stopped
  // getting records (its consumer was on a server that went away, and
  // nats.c does not always notice). Blocks for a JetStream request.
  absl::Status Resubscribe();

  // What nats.c's callbacks hold (shared, so the last one frees it).
  struct Core;

 private:
  explicit LogReader(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  const std::shared_ptr<Core> core_;
};

// A class's log as its owner of one term writes it. Thread-safe.
class OwnedLog {
 public:
  struct Options {
    std::string class_id;
    // The lease revision this node holds the class with.
    int64_t term = 0;
    std::string node;
    // How long Claim waits to read its takeover back, and how long an
    // append is retried (a JetStream leader election takes 4-9 s) before the
    // log gives up and steps down.
    absl::Duration timeout = absl::Seconds(20);
  };

  // What a claim found before its takeover.
  struct Claimed {
    internal::ClassRecord record;
    // The entries every reader takes, in order (FenceReader): the class's
    // state to replay. Each is a LogRecord whose body is `entry`.
    std::vector<internal::LogRecord> entries;
  };

  // Takes the class for `options.term`: appends the takeover, then reads the
  // log until it reads it back. NOT_FOUND for a class never created;
  // FAILED_PRECONDITION when a newer term took it first; UNAVAILABLE when the
  // cluster did not answer within the timeout.
  static absl::StatusOr<std::unique_ptr<OwnedLog>> Claim(Nats& nats,
                                                         Options options,
                                                         Claimed* claimed);
  ~OwnedLog();

  // Appends an entry (its bytes as the LogRecord's `entry`). `done` runs on
  // a nats.c thread, in append order: OK once the append is read back taken,
  // so every reader after takes it too; UNAVAILABLE once the log is fenced (a
  // newer term's takeover), or could not be appended in time: then nothing
  // after it is taken either, and the owner must step down.
  void Append(std::string entry, absl::AnyInvocable<void(absl::Status)> done);
  // The same, with the entry's bytes made once its n is known (to seal it
  // bound to its place in the log).
  void Append(absl::FunctionRef<std::string(int64_t n)> entry_for,
              absl::AnyInvocable<void(absl::Status)> done);

  // Runs once, on a nats.c thread, when the log is fenced or fails (see
  // Append). Set it before appending.
  void OnLost(absl::AnyInvocable<void(absl::Status)> on_lost);

  // Stops owning: pending and later appends fail with `why` (a lease that
  // could not be renewed in time).
  void StepDown(absl::Status why) { Lose(std::move(why)); }

  // False once fenced or failed.
  bool owned() const;
  int64_t term() const { return options_.term; }

 private:
  struct Pending {
    std::string msg_id;
    std::string data;
    absl::Time deadline;
    absl::AnyInvocable<void(absl::Status)> done;
  };

  OwnedLog(Nats& nats, Options options);
  void Read(const internal::LogRecord& record, FenceReader::Read read,
            std::vector<internal::LogRecord> taken);
  void Publish(int64_t n) ABSL_LOCKS_EXCLUDED(mu_);
  void Published(int64_t n, absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // An append the stream acked that is not read back yet: after a pause,
  // the reader resubscribes; past the append's deadline, the log is lost.
  void WatchReadBack(int64_t n) ABSL_LOCKS_EXCLUDED(mu_);
  // Fails every pending append and calls on_lost; once.
  void Lose(absl::Status why) ABSL_LOCKS_EXCLUDED(mu_);

  // Whether the log still exists, for the callbacks nats.c and the timer
  // run: each takes `mu` and does nothing once `log` is null, so the
  // destructor waits for a running one and later ones find nothing.
  struct Alive {
    absl::Mutex mu;
    OwnedLog* log ABSL_GUARDED_BY(mu) = nullptr;
  };

  Nats& nats_;
  const Options options_;
  const std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();
  const std::string subject_;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  // Claim's progress.
  bool claimed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status claim_failed_ ABSL_GUARDED_BY(mu_);
  Claimed* claimed_out_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Appending.
  int64_t next_n_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void(absl::Status)> on_lost_ ABSL_GUARDED_BY(mu_);
  // Shared with the read-back watch, which resubscribes it without `mu_`.
  std::shared_ptr<LogReader> reader_;
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_CLASS_LOG_H_
