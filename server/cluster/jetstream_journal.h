#ifndef CIRCUIT_SERVER_CLUSTER_JETSTREAM_JOURNAL_H_
#define CIRCUIT_SERVER_CLUSTER_JETSTREAM_JOURNAL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
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
  // Every node tells the others of each profile it stores or erases (a
  // notice on circuit.profiles.changed, once durable); the profile is then
  // read back on the journal's profile thread. A notice lost while a node
  // was cut off from NATS is not read again before that node restarts.
  void WatchProfiles(int recent, ProfileChanged changed) override;
  // Another node's (or this node's) notice that a profile changed.
  void ProfileNoticed(const std::string& profile_id) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<StoredClass>> LoadClasses() override;
  // For a class that has not ended, this node claims it: FAILED_PRECONDITION
  // (naming the node) when another node holds its lease.
  absl::StatusOr<std::vector<internal::Entry>> LoadEntries(
      const std::string& class_id) override;

  // The classes this node owns now.
  std::vector<std::string> OwnedClasses() const;

  // What the node does when a class changes hands; each runs on a thread of
  // the journal's own, never two at once, and may block.
  struct Handoffs {
    // A class that has not ended and that nobody owns (its owner's lease
    // ran out, or it drained): the node may take it (LoadEntries claims it,
    // unless another node was quicker).
    absl::AnyInvocable<void(const internal::ClassRecord& record)> orphan;
    // A class this node owned and no longer does (its lease could not be
    // renewed in time, or a newer owner's takeover is in its log): the
    // node stops running it.
    absl::AnyInvocable<void(const std::string& class_id, absl::Status why)>
        lost;
  };
  // Starts looking for orphans every `every`, and reporting losses. Once.
  void StartHandoffs(Handoffs handoffs, absl::Duration every);
  // Stops them (a node shutting down takes nothing over). Idempotent.
  void StopHandoffs() ABSL_LOCKS_EXCLUDED(mu_);

  // Where a live class is, as of the last look for orphans (by id, or with
  // an empty id by join code): its id and the node that owns it (this one
  // for a class it owns or is taking over), or "" when nobody does right
  // now; nullopt for a class that ended or that the cluster does not know.
  struct Where {
    std::string class_id;
    std::string owner;
  };
  std::optional<Where> Locate(const std::string& class_id,
                              const std::string& join_code) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // An entry of a class's log, as a reader took it: opened (when sealed)
  // and parsed. DATA_LOSS when it does not open or parse.
  absl::StatusOr<internal::Entry> OpenEntry(
      const std::string& class_id, const internal::LogRecord& record) const;

  // Every class of the cluster's directory, ended ones included, as the
  // last look for orphans read it: a class is listed as it was created until
  // it ends (its owner keeps its live state), then with its final info.
  std::vector<v1::ClassInfo> Listed() const ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& node() const { return options_.node; }

  // What the callback of owners' announcements holds (shared, so the last
  // one frees it): the journal, until it closes.
  struct Listening {
    absl::Mutex mu;
    JetStreamJournal* journal ABSL_GUARDED_BY(mu) = nullptr;
  };
  // Another node's (or this node's) announcement that it owns a class.
  void Noticed(const std::string& class_id, const std::string& join_code,
               const std::string& owner) ABSL_LOCKS_EXCLUDED(mu_);
  const std::shared_ptr<const KeyRing>& keys() const { return options_.keys; }

 private:
  // A write as the journal's thread does it: an append goes out without
  // waiting (`append`), anything else runs to its end (`run`); `done` gets
  // the result, in order.
  struct Op {
    std::string append_class;
    internal::Entry append_entry;
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
  // Tells every node that this node owns `record`'s class now (a create or
  // a takeover), so they find it before their next look.
  void AnnounceOwner(const internal::ClassRecord& record);
  // Tells every node that a profile changed (stored, replaced or erased).
  void NoticeProfile(const std::string& profile_id);
  // On the profile thread: reads each noticed profile and hands it on.
  void ReadNoticedProfiles(int recent);
  // A profile with its `recent` newest past classes; nullopt when none is
  // kept under `profile_id`.
  absl::StatusOr<std::optional<StoredProfileHistory>> LoadProfile(
      const std::string& profile_id, int recent);

  void Enqueue(Op op) ABSL_LOCKS_EXCLUDED(mu_);
  void RunWrites();
  void RenewLeases();
  void ScanForOrphans(absl::Duration every);
  // Forgets an owned class (the lease lost, or the log fenced) and reports
  // it, once; from any thread.
  void Disown(const std::string& class_id, const Owned* owned, absl::Status why)
      ABSL_LOCKS_EXCLUDED(mu_);

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
  bool handoffs_stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::shared_ptr<Owned>> owned_
      ABSL_GUARDED_BY(mu_);
  std::thread writer_;
  std::thread renewer_;
  std::thread scanner_;
  // Losses to report, for the scanner's thread (a loss is found on a
  // nats.c thread or the renewer's, which must not block on the node).
  std::vector<std::pair<std::string, absl::Status>> losses_
      ABSL_GUARDED_BY(mu_);
  // The live classes the cluster runs, as the last scan saw them: owner by
  // class id, and class id by join code.
  absl::flat_hash_map<std::string, std::string> owner_of_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> class_of_code_
      ABSL_GUARDED_BY(mu_);
  // Every class of the directory, as the last scan read it.
  std::vector<v1::ClassInfo> listed_ ABSL_GUARDED_BY(mu_);
  // Announcements, by class: a look that began before one keeps it.
  struct Notice {
    std::string join_code;
    std::string owner;
    absl::Time at;
  };
  absl::flat_hash_map<std::string, Notice> notices_ ABSL_GUARDED_BY(mu_);
  // The announcements' subscription, and what its callback holds.
  std::shared_ptr<Listening> listening_ = std::make_shared<Listening>();
  Subscription announcements_;
  // Profiles other nodes changed, to read (WatchProfiles).
  std::vector<std::string> noticed_profiles_ ABSL_GUARDED_BY(mu_);
  ProfileChanged profile_changed_;  // set before profile_reader_ starts
  std::thread profile_reader_;
  Subscription profile_notices_;
  // Owned classes given up, destroyed on the scanner's thread.
  std::vector<std::shared_ptr<Owned>> retired_ ABSL_GUARDED_BY(mu_);
  Handoffs handoffs_;  // set before scanner_ starts
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_JETSTREAM_JOURNAL_H_
