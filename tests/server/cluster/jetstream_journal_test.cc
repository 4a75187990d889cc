// The cluster's journal beyond the Journal contract (journal_test runs that
// on it too): health data sealed on the servers' disks, and which node may
// append to a class.
#include "server/cluster/jetstream_journal.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cluster/nats.h"
#include "tests/server/journal/journal_test_support.h"
#include "tests/testing/nats_cluster.h"

namespace circuit::cluster {
namespace {

using journal_testing::AppendNow;
using journal_testing::Completion;
using journal_testing::Create;
using journal_testing::kDeadline;
using ::testing::HasSubstr;

class JetStreamJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    absl::StatusOr<std::unique_ptr<testing::NatsCluster>> servers =
        testing::NatsCluster::Start(3, absl::Now() + kDeadline);
    ASSERT_TRUE(servers.ok()) << servers.status();
    servers_ = *std::move(servers);
  }

  std::unique_ptr<Nats> Connect(const std::string& node) {
    NatsOptions options;
    options.servers = *ParseServers(servers_->urls());
    options.name = node;
    absl::StatusOr<std::unique_ptr<Nats>> nats = Nats::Connect(options);
    EXPECT_TRUE(nats.ok()) << nats.status();
    return nats.ok() ? *std::move(nats) : nullptr;
  }

  std::unique_ptr<JetStreamJournal> OpenJournal(Nats& nats,
                                                const std::string& node) {
    JetStreamJournalOptions options;
    options.node = node;
    options.replicas = 3;
    options.keys = journal_testing::TestKeys({1});
    absl::StatusOr<std::unique_ptr<JetStreamJournal>> journal =
        JetStreamJournal::Open(nats, options);
    EXPECT_TRUE(journal.ok()) << journal.status();
    return journal.ok() ? *std::move(journal) : nullptr;
  }

  std::unique_ptr<testing::NatsCluster> servers_;
};

TEST_F(JetStreamJournalTest, HealthDataIsSealedOnEveryServersDiskAndErased) {
  std::unique_ptr<Nats> nats = Connect("node-1");
  ASSERT_NE(nats, nullptr);
  std::unique_ptr<JetStreamJournal> journal = OpenJournal(*nats, "node-1");
  ASSERT_NE(journal, nullptr);
  ASSERT_NO_FATAL_FAILURE(
      journal_testing::RecordAClassWithHealthData(*journal));
  std::string stored = servers_->StoredBytes();
  // The reps are not health data and stay readable; the effort and the
  // symptom never reach a disk in the clear.
  EXPECT_THAT(stored, HasSubstr(journal_testing::kRepsId));
  EXPECT_THAT(stored, ::testing::Not(HasSubstr(journal_testing::kSymptomText)));
  EXPECT_THAT(stored, ::testing::Not(HasSubstr(journal_testing::kEffortId)));

  // Erased, the sealed records are overwritten, not only unlinked: the
  // class's log keeps ann's reps and loses her effort and symptom.
  absl::StatusOr<std::vector<internal::Entry>> before =
      journal->LoadEntries("c");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(journal_testing::Erase(*journal,
                                   journal_testing::Summary("c", false), "ann"),
            absl::OkStatus());
  absl::StatusOr<std::vector<internal::Entry>> after =
      journal->LoadEntries("c");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size(), before->size() - 2);
}

TEST_F(JetStreamJournalTest, OnlyTheNodeHoldingAClassesLeaseAppendsToIt) {
  std::unique_ptr<Nats> nats_1 = Connect("node-1");
  std::unique_ptr<Nats> nats_2 = Connect("node-2");
  ASSERT_TRUE(nats_1 != nullptr && nats_2 != nullptr);
  std::unique_ptr<JetStreamJournal> node_1 = OpenJournal(*nats_1, "node-1");
  std::unique_ptr<JetStreamJournal> node_2 = OpenJournal(*nats_2, "node-2");
  ASSERT_TRUE(node_1 != nullptr && node_2 != nullptr);

  ASSERT_EQ(Create(*node_1, "c"), absl::OkStatus());
  EXPECT_THAT(node_1->OwnedClasses(), ::testing::ElementsAre("c"));
  ASSERT_EQ(AppendNow(*node_1, "c", Completion("ann", "r1", 1)),
            absl::OkStatus());
  // Node 2 knows the class (the directory is the cluster's) but may not
  // append to it, nor claim it while node 1 holds the lease.
  absl::Status refused = AppendNow(*node_2, "c", Completion("ann", "r2", 2));
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("not owned"));
  absl::StatusOr<std::vector<internal::Entry>> claim = node_2->LoadEntries("c");
  EXPECT_TRUE(absl::IsFailedPrecondition(claim.status())) << claim.status();
  EXPECT_THAT(std::string(claim.status().message()), HasSubstr("node-1"));
  absl::StatusOr<std::vector<StoredClass>> listed = node_2->LoadClasses();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);

  // Node 1 goes (releasing its lease): node 2 claims the class, replays
  // what node 1 recorded, and appends after it.
  node_1.reset();
  claim = node_2->LoadEntries("c");
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_EQ(claim->size(), 1u);
  EXPECT_EQ((*claim)[0].report().completion().report_id(), "r1");
  ASSERT_EQ(AppendNow(*node_2, "c", Completion("ann", "r2", 2)),
            absl::OkStatus());
  absl::StatusOr<std::vector<internal::Entry>> all = node_2->LoadEntries("c");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u);
}

// Every node lists every class, from the cluster's directory: a class
// another node created, then with its final info once it ended.
TEST_F(JetStreamJournalTest, EveryNodeListsTheClassesOfTheWholeCluster) {
  std::unique_ptr<Nats> nats_1 = Connect("node-1");
  std::unique_ptr<Nats> nats_2 = Connect("node-2");
  ASSERT_TRUE(nats_1 != nullptr && nats_2 != nullptr);
  std::unique_ptr<JetStreamJournal> node_1 = OpenJournal(*nats_1, "node-1");
  std::unique_ptr<JetStreamJournal> node_2 = OpenJournal(*nats_2, "node-2");
  ASSERT_TRUE(node_1 != nullptr && node_2 != nullptr);
  node_2->StartHandoffs({}, absl::Milliseconds(20));
  EXPECT_THAT(node_2->Listed(), ::testing::IsEmpty());

  ASSERT_EQ(Create(*node_1, "c"), absl::OkStatus());
  auto listed_as = [&](v1::ClassPhase phase) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (absl::Now() < deadline) {
      std::vector<v1::ClassInfo> listed = node_2->Listed();
      if (listed.size() == 1 && listed[0].phase() == phase) return listed[0];
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "node-2 never listed class c as " << phase;
    return v1::ClassInfo();
  };
  const v1::ClassInfo created = listed_as(v1::CLASS_PHASE_LOBBY);
  EXPECT_EQ(created.class_id(), "c");
  EXPECT_EQ(created.title(), "Class c");

  ASSERT_EQ(journal_testing::End(*node_1, journal_testing::Summary("c", true)),
            absl::OkStatus());
  const v1::ClassInfo ended = listed_as(v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(ended.ended_unix_ms(), 9000);
}

// A profile kept, changed by a class's end, or erased on one node reaches
// the others (the notice, then the read back): a profile's next class may be
// run by any node.
TEST_F(JetStreamJournalTest, AProfileOneNodeChangesReachesTheOthers) {
  std::unique_ptr<Nats> nats_1 = Connect("node-1");
  std::unique_ptr<Nats> nats_2 = Connect("node-2");
  ASSERT_TRUE(nats_1 != nullptr && nats_2 != nullptr);
  std::unique_ptr<JetStreamJournal> node_1 = OpenJournal(*nats_1, "node-1");
  std::unique_ptr<JetStreamJournal> node_2 = OpenJournal(*nats_2, "node-2");
  ASSERT_TRUE(node_1 != nullptr && node_2 != nullptr);
  absl::Mutex mu;
  // What node 2 was last told of pf-dana: unset before anything.
  std::optional<std::optional<StoredProfileHistory>> told;
  node_2->WatchProfiles(
      2, [&](const std::string& id,
             absl::StatusOr<std::optional<StoredProfileHistory>> stored) {
        ASSERT_TRUE(stored.ok()) << stored.status();
        EXPECT_EQ(id, "pf-dana");
        absl::MutexLock lock(&mu);
        told = *std::move(stored);
      });
  auto until = [&](auto seen) {
    absl::MutexLock lock(&mu);
    return mu.AwaitWithTimeout(absl::Condition(&seen), kDeadline);
  };

  internal::StoredProfile dana;
  dana.mutable_profile()->set_profile_id("pf-dana");
  dana.mutable_profile()->set_stage_id("reconnect");
  dana.set_credential_sha256("hash-of-dana");
  journal_testing::Answer<absl::Status> put;
  node_1->PutProfile(dana, put.Callback());
  ASSERT_EQ(put.Get(), absl::OkStatus());
  ASSERT_TRUE(until([&] {
    return told.has_value() && told->has_value() &&
           (*told)->profile.credential_sha256() == "hash-of-dana";
  }));

  ASSERT_EQ(Create(*node_1, "c1"), absl::OkStatus());
  internal::ProfileUpdate update;
  *update.mutable_profile() = dana;
  update.mutable_profile()->mutable_profile()->set_stage_id("foundations");
  update.mutable_past()->set_class_id("c1");
  update.mutable_past()->mutable_participant()->set_participant_id("p1");
  std::vector<internal::ProfileUpdate> updates = {update};
  journal_testing::Answer<absl::Status> ended;
  node_1->EndClass(journal_testing::Summary("c1", true), std::move(updates),
                   ended.Callback());
  ASSERT_EQ(ended.Get(), absl::OkStatus());
  ASSERT_TRUE(until([&] {
    return told.has_value() && told->has_value() &&
           (*told)->profile.profile().stage_id() == "foundations" &&
           (*told)->class_count == 1 && (*told)->recent.size() == 1;
  }));

  std::vector<ErasedSeat> seats;
  seats.push_back(
      ErasedSeat{"c1", "p1", journal_testing::Summary("c1", false)});
  journal_testing::Answer<absl::Status> erased;
  node_1->EraseProfile("pf-dana", std::move(seats), erased.Callback());
  ASSERT_EQ(erased.Get(), absl::OkStatus());
  EXPECT_TRUE(until([&] { return told.has_value() && !told->has_value(); }));
}

}  // namespace
}  // namespace circuit::cluster
