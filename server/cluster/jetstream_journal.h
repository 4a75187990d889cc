#ifndef CIRCUIT_SERVER_CLUSTER_JETSTREAM_JOURNAL_H_
#define CIRCUIT_SERVER_CLUSTER_JETSTREAM_JOURNAL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/internal/cluster.pb.h"
#include "server/cluster/class_log.h"
#include "server/cluster/lease.h"
#include "server/cluster/nats.h"
#include "server/common/data_cipher.h"
#include "server/journal/journal.h"

namespace circuit::cluster {

struct JetStreamJournalOptions {
  // This node's name: in the leases it holds and the records it writes.
  std::string node;
  // Copies of every stream and bucket (3 on a 3-server cluster; 1 on a
  // single nats-server).
  int replicas = 3;
  // The ownership lease (the lease bucket's TTL).
  absl::Duration lease = absl::Seconds(10);
  // How long a write is retried through a JetStream leader election before
  // it fails UNAVAILABLE.
  absl::Duration timeout = absl::Seconds(20);
  // The data keys health data is sealed with (the same on every node).
  // Null: nothing is sealed (tests of other things).
  std::shared_ptr<const KeyRing> keys;
};

// The cluster's Journal, on NATS JetStream:
//   stream CIRCUIT_CLASSES  each class's log, subject circuit.class.<id>
//                           (class_log.h: fenced by the owner's term)
//   bucket circuit_classes  the class directory (ClusterClass)
//   stream CIRCUIT_SUMMARIES  each ended class's summary, sealed
//                           (circuit.summary.<class id>)
//   stream CIRCUIT_PROFILES each kept profile, sealed
//                           (circuit.profile.<profile id>)
//   stream CIRCUIT_HISTORY  each kept profile's past classes, subject
//                           circuit.history.<profile id>, sealed
//   bucket circuit_leases   who owns which class (lease.h)
// all created at Open when missing.
//
// This node appends only to the classes it owns: those it created, and
// those LoadEntries claimed for it (it takes the lease, appends its takeover
// and replays the log). It renews their leases; a lease it cannot renew in
// time, or a log a newer term took over, ends its ownership: appends to
// that class fail UNAVAILABLE from then on.
//
// Writes are done in order by the journal's own thread: appends waiting
// together go out together (each class's log acks in its order) and every
// callback runs in the order its write was made, as the Journal contract
// says. An append is answered OK only once it is read back taken from its
// class's log (fence.h), so no later owner's replay can lose it.
// EraseHealthData and EraseProfile overwrite the erased records on the
// servers' disks (JetStream's erase), not only unlink them.
class JetStreamJournal : public Journal {
 public:
  static absl::StatusOr<std::unique_ptr<JetStreamJournal>> Open(
      Nats& nats, JetStreamJournalOptions options);
  ~JetStreamJournal() override;

  void CreateClass(const internal::ClassRecord& record,
                   JournalDone done) override;
  void Append(const std::string& class_id, internal::Entry entry,
              JournalDone done) override;
  using Journal::EndClass;
  void EndClass(const v1::ClassSummary& summary,
                std::vector<internal::ProfileUpdate> profiles,
                JournalDone done) override;
  void ReadSummary(
      const std::string& class_id,
      absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) override;
  void EraseHealthData(const v1::ClassSummary& scrubbed,
                       const std::string& participant_id,
                       JournalDone done) override;
  void PutProfile(const internal::StoredProfile& profile,
                  JournalDone done) override;
  void ReadHistory(const std::string& profile_id, HistoryDone done) override;
  void EraseProfile(const std::string& profile_id,
                    std::vector<ErasedSeat> seats, JournalDone done) override;
  absl::StatusOr<std::vector<StoredProfileHistory>> LoadProfiles(
      int recent) override;
  absl::StatusOr<std::vector<StoredClass>> LoadClasses() override;
  // For a class that has not ended, this node claims it: FAILED_PRECONDITION
  // (naming the node) when another node holds its lease.
  absl::StatusOr<std::vector<internal::Entry>> LoadEntries(
      const std::string& class_id) override;

  // The classes this node owns now.
  std::vector<std::string> OwnedClasses() const;

 private:
  // A write as the journal's thread does it: an append goes out without
  // waiting (`append`), anything else runs to its end (`run`); `done` gets
  // the result, in order.
  struct Op {
    std::string append_class;
    std::string append_bytes;
    absl::AnyInvocable<absl::Status()> run;
    absl::AnyInvocable<void(absl::Status)> done;
  };
  // A class this node owns.
  struct Owned {
    std::unique_ptr<OwnedLog> log;
    Held lease;
  };

  JetStreamJournal(Nats& nats, JetStreamJournalOptions options);
  absl::Status Setup();
  void Enqueue(Op op) ABSL_LOCKS_EXCLUDED(mu_);
  void RunWrites();
  void RenewLeases();

  // On the journal's thread (or at startup).
  absl::Status DoCreate(const internal::ClassRecord& record);
  absl::Status DoEnd(const v1::ClassSummary& summary,
                     std::vector<internal::ProfileUpdate>& profiles);
  absl::Status DoEraseHealth(const v1::ClassSummary& scrubbed,
                             const std::string& participant_id);
  absl::Status DoEraseProfile(const std::string& profile_id,
                              const std::vector<ErasedSeat>& seats);
  // Takes the lease and claims the log of `class_id`; its replay.
  absl::StatusOr<std::vector<internal::Entry>> Claim(
      const std::string& class_id);
  absl::StatusOr<internal::ClusterClass> ReadClass(const std::string& class_id,
                                                   uint64_t* revision);
  absl::Status PutSummary(const v1::ClassSummary& summary);
  // A class's log as it is (for an ended class: erasures' gaps flushed),
  // with each entry's stream sequence.
  struct LoggedEntry {
    uint64_t seq = 0;
    internal::Entry entry;
  };
  absl::StatusOr<std::vector<LoggedEntry>> ReadEntries(
      const std::string& class_id, bool ended);
  absl::StatusOr<std::vector<StoredMessage>> ReadHistoryMessages(
      const std::string& profile_id);
  absl::StatusOr<std::vector<internal::PastClass>> DoReadHistory(
      const std::string& profile_id);
  absl::StatusOr<std::string> Seal(const std::string& identity,
                                   const std::string& plain) const;
  absl::StatusOr<std::string> Open(const std::string& identity,
                                   const std::string& stored) const;
  std::string EntryBytes(const std::string& class_id, int64_t term, int64_t n,
                         const internal::Entry& entry) const;

  Nats& nats_;
  const JetStreamJournalOptions options_;
  std::unique_ptr<LeaseBucket> leases_;
  std::unique_ptr<Bucket> classes_;
  std::unique_ptr<RecordStream> summaries_;
  std::unique_ptr<RecordStream> profiles_;

  mutable absl::Mutex mu_;
  std::deque<Op> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::shared_ptr<Owned>> owned_
      ABSL_GUARDED_BY(mu_);
  std::thread writer_;
  std::thread renewer_;
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_JETSTREAM_JOURNAL_H_
