// The Journal contract, as every journal keeps it: the in-memory one, the
// SQLite one with and without sealing, and the cluster's on NATS JetStream
// (sealing, on a nats-server the test starts on 127.0.0.1).

#include "server/journal/journal.h"

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cluster/jetstream_journal.h"
#include "server/cluster/nats.h"
#include "server/journal/sqlite_journal.h"
#include "tests/server/journal/journal_test_support.h"
#include "tests/testing/nats_cluster.h"

namespace circuit::journal_testing {
namespace {

using ::testing::ElementsAre;

struct InMemoryKind {
  static std::unique_ptr<Journal> Make(const std::string&,
                                       std::shared_ptr<void>*) {
    return std::make_unique<InMemoryJournal>();
  }
};

struct SqliteKind {
  static std::unique_ptr<Journal> Make(const std::string& dir,
                                       std::shared_ptr<void>*) {
    SqliteJournalOptions options;
    options.path = dir + "/circuit.db";
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(options);
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return nullptr;
    return *std::move(journal);
  }
};

// The SQLite journal sealing health data, as circuitd runs it.
struct SealedSqliteKind {
  static std::unique_ptr<Journal> Make(const std::string& dir,
                                       std::shared_ptr<void>*) {
    SqliteJournalOptions options;
    options.path = dir + "/circuit.db";
    options.keys = TestKeys({1});
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(options);
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return nullptr;
    return *std::move(journal);
  }
};

// The cluster's journal, sealing, on one nats-server with JetStream (one
// copy of each stream); `keep` holds the server and the connection, which
// outlive the journal.
struct JetStreamKind {
  struct Cluster {
    std::unique_ptr<testing::NatsCluster> servers;
    std::unique_ptr<cluster::Nats> nats;
  };
  static std::unique_ptr<Journal> Make(const std::string&,
                                       std::shared_ptr<void>* keep) {
    auto c = std::make_shared<Cluster>();
    absl::StatusOr<std::unique_ptr<testing::NatsCluster>> servers =
        testing::NatsCluster::Start(1, absl::Now() + kDeadline);
    EXPECT_TRUE(servers.ok()) << servers.status();
    if (!servers.ok()) return nullptr;
    c->servers = *std::move(servers);
    cluster::NatsOptions nats_options;
    nats_options.servers = {c->servers->url(0)};
    nats_options.name = "journal-test";
    absl::StatusOr<std::unique_ptr<cluster::Nats>> nats =
        cluster::Nats::Connect(nats_options);
    EXPECT_TRUE(nats.ok()) << nats.status();
    if (!nats.ok()) return nullptr;
    c->nats = *std::move(nats);
    cluster::JetStreamJournalOptions options;
    options.node = "node-1";
    options.replicas = 1;
    options.keys = TestKeys({1});
    absl::StatusOr<std::unique_ptr<cluster::JetStreamJournal>> journal =
        cluster::JetStreamJournal::Open(*c->nats, options);
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return nullptr;
    *keep = c;
    return *std::move(journal);
  }
};

class KindNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, InMemoryKind>) return "InMemory";
    if (std::is_same_v<T, JetStreamKind>) return "JetStream";
    return std::is_same_v<T, SqliteKind> ? "Sqlite" : "SealedSqlite";
  }
};

template <typename Kind>
class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    ASSERT_FALSE(dir_.path().empty());
    journal_ = Kind::Make(dir_.path(), &keep_);
    ASSERT_NE(journal_, nullptr);
  }

  Journal& journal() { return *journal_; }

  TempDir dir_;
  // What the journal needs and outlives it (the JetStream kind's server).
  std::shared_ptr<void> keep_;
  Answers answers_;  // outlives the journal, which answers before it goes
  std::unique_ptr<Journal> journal_;
};

using JournalKinds =
    ::testing::Types<InMemoryKind, SqliteKind, SealedSqliteKind, JetStreamKind>;
TYPED_TEST_SUITE(JournalTest, JournalKinds, KindNames);

TYPED_TEST(JournalTest, LoadClassesReturnsClassesOldestFirst) {
  for (const char* id : {"c-b", "c-c", "c-a"}) {
    ASSERT_EQ(Create(this->journal(), id), absl::OkStatus());
  }
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_THAT(ClassIds(classes), ElementsAre("c-b", "c-c", "c-a"));
  EXPECT_THAT((*classes)[0].record, EqualsProto(Record("c-b")));
  EXPECT_FALSE((*classes)[0].health_purged);
}

TYPED_TEST(JournalTest, CreatingAClassTwiceIsAlreadyExistsAndKeepsTheFirst) {
  ASSERT_EQ(Create(this->journal(), "c"), absl::OkStatus());
  internal::ClassRecord other = Record("c");
  other.mutable_info()->set_title("another");
  Answer<absl::Status> again;
  this->journal().CreateClass(other, again.Callback());
  EXPECT_EQ(again.Get().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  ASSERT_EQ(classes->size(), 1u);
  EXPECT_THAT((*classes)[0].record, EqualsProto(Record("c")));
}

TYPED_TEST(JournalTest, AppendsKeepTheirOrderAndAnswerInTheOrderMade) {
  ASSERT_EQ(Create(this->journal(), "a"), absl::OkStatus());
  ASSERT_EQ(Create(this->journal(), "b"), absl::OkStatus());
  // Made without waiting, alternating between the classes.
  std::vector<std::string> made;
  for (int i = 0; i < 40; ++i) {
    const std::string class_id = i % 2 == 0 ? "a" : "b";
    made.push_back(absl::StrCat(class_id, i));
    this->journal().Append(class_id, Completion("ann", made.back(), i),
                           this->answers_.Add(made.back()));
  }
  ASSERT_TRUE(this->answers_.WaitFor(made.size()));
  EXPECT_EQ(this->answers_.labels(), made);
  for (const absl::Status& status : this->answers_.statuses()) {
    EXPECT_EQ(status, absl::OkStatus());
  }
  std::vector<int64_t> even, odd;
  for (int i = 0; i < 40; ++i) (i % 2 == 0 ? even : odd).push_back(i);
  EXPECT_EQ(Times(this->journal().LoadEntries("a")), even);
  EXPECT_EQ(Times(this->journal().LoadEntries("b")), odd);
}

TYPED_TEST(JournalTest, AppendToAClassNeverCreatedFailsOnlyItself) {
  ASSERT_EQ(Create(this->journal(), "a"), absl::OkStatus());
  this->journal().Append("a", Completion("ann", "r1", 1),
                         this->answers_.Add("1"));
  this->journal().Append("nope", Completion("ann", "r2", 2),
                         this->answers_.Add("2"));
  this->journal().Append("a", Completion("ann", "r3", 3),
                         this->answers_.Add("3"));
  ASSERT_TRUE(this->answers_.WaitFor(3));
  EXPECT_THAT(this->answers_.labels(), ElementsAre("1", "2", "3"));
  const std::vector<absl::Status> statuses = this->answers_.statuses();
  EXPECT_EQ(statuses[0], absl::OkStatus());
  EXPECT_EQ(statuses[1].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(statuses[2], absl::OkStatus());
  EXPECT_THAT(Times(this->journal().LoadEntries("a")), ElementsAre(1, 3));
  EXPECT_EQ(this->journal().LoadEntries("nope").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(JournalTest, EndClassStoresTheFinalInfoAndTheSummary) {
  ASSERT_EQ(Create(this->journal(), "c"), absl::OkStatus());
  EXPECT_EQ(Read(this->journal(), "c").status().code(),
            absl::StatusCode::kNotFound);
  const v1::ClassSummary summary = Summary("c", /*with_health=*/true);
  ASSERT_EQ(End(this->journal(), summary), absl::OkStatus());

  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  ASSERT_EQ(classes->size(), 1u);
  EXPECT_THAT((*classes)[0].record.info(), EqualsProto(summary.class_info()));
  // An ended class is listed, never replayed: its circuit is not loaded.
  EXPECT_FALSE((*classes)[0].record.has_circuit());
  EXPECT_EQ((*classes)[0].record.exercises_size(), 0);
  absl::StatusOr<v1::ClassSummary> stored = Read(this->journal(), "c");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, EqualsProto(summary));

  EXPECT_EQ(End(this->journal(), Summary("nope", true)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Read(this->journal(), "nope").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(JournalTest, ErasingOneParticipantKeepsTheOthersAndTheReps) {
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(this->journal()));
  const v1::ClassSummary scrubbed = Summary("c", /*with_health=*/false);
  ASSERT_EQ(Erase(this->journal(), scrubbed, "ann"), absl::OkStatus());
  EXPECT_THAT(Times(this->journal().LoadEntries("c")),
              ElementsAre(1, 2, 3, 6, 7, 8));
  absl::StatusOr<v1::ClassSummary> stored = Read(this->journal(), "c");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, EqualsProto(scrubbed));
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_FALSE((*classes)[0].health_purged);
}

TYPED_TEST(JournalTest, ErasingEveryoneMarksTheClassPurged) {
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(this->journal()));
  ASSERT_EQ(Erase(this->journal(), Summary("c", false), ""), absl::OkStatus());
  EXPECT_THAT(Times(this->journal().LoadEntries("c")), ElementsAre(1, 2, 3, 8));
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_TRUE((*classes)[0].health_purged);
}

TYPED_TEST(JournalTest, ErasingNeedsAClassThatEnded) {
  EXPECT_EQ(Erase(this->journal(), Summary("nope", false), "").code(),
            absl::StatusCode::kNotFound);
  ASSERT_EQ(Create(this->journal(), "c"), absl::OkStatus());
  ASSERT_EQ(AppendNow(this->journal(), "c", Effort("ann", "e", 1)),
            absl::OkStatus());
  EXPECT_EQ(Erase(this->journal(), Summary("c", false), "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Times(this->journal().LoadEntries("c")), ElementsAre(1));
}

internal::ProfileUpdate Update(const std::string& profile_id,
                               const std::string& class_id,
                               const std::string& participant_id,
                               const std::string& stage_id) {
  internal::ProfileUpdate update;
  update.mutable_profile()->mutable_profile()->set_profile_id(profile_id);
  update.mutable_profile()->mutable_profile()->set_stage_id(stage_id);
  update.mutable_profile()->set_credential_sha256("hash-of-" + profile_id);
  update.mutable_past()->set_class_id(class_id);
  update.mutable_past()->mutable_participant()->set_participant_id(
      participant_id);
  update.mutable_past()->set_stage_id(stage_id);
  return update;
}

TYPED_TEST(JournalTest, AClassEndStoresEachProfilesPastClassWithTheSummary) {
  Journal& journal = this->journal();
  internal::StoredProfile dana;
  dana.mutable_profile()->set_profile_id("pf-dana");
  Answer<absl::Status> put;
  journal.PutProfile(dana, put.Callback());
  ASSERT_EQ(put.Get(), absl::OkStatus());
  for (int week = 1; week <= 3; ++week) {
    const std::string class_id = absl::StrCat("c", week);
    ASSERT_EQ(Create(journal, class_id), absl::OkStatus());
    Answer<absl::Status> ended;
    std::vector<internal::ProfileUpdate> updates;
    updates.push_back(Update("pf-dana", class_id, "p1",
                             week < 3 ? "reconnect" : "foundations"));
    journal.EndClass(Summary(class_id, true), std::move(updates),
                     ended.Callback());
    ASSERT_EQ(ended.Get(), absl::OkStatus());
  }
  absl::StatusOr<std::vector<StoredProfileHistory>> loaded =
      journal.LoadProfiles(2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].class_count, 3);
  EXPECT_EQ((*loaded)[0].profile.profile().stage_id(), "foundations");
  ASSERT_EQ((*loaded)[0].recent.size(), 2u) << "the newest two, oldest first";
  EXPECT_EQ((*loaded)[0].recent[0].class_id(), "c2");
  EXPECT_EQ((*loaded)[0].recent[1].class_id(), "c3");
  Answer<absl::StatusOr<std::vector<internal::PastClass>>> history;
  journal.ReadHistory("pf-dana", history.Callback());
  absl::StatusOr<std::vector<internal::PastClass>> all = history.Get();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].class_id(), "c1");
}

TYPED_TEST(JournalTest, ErasingAProfileRemovesItsSeatsAndKeepsTheRest) {
  Journal& journal = this->journal();
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(journal));
  // The same class's end, with "ann" linked to a profile.
  Answer<absl::Status> ended;
  std::vector<internal::ProfileUpdate> updates;
  updates.push_back(Update("pf-ann", "c", "ann", ""));
  journal.EndClass(Summary("c", true), std::move(updates), ended.Callback());
  ASSERT_EQ(ended.Get(), absl::OkStatus());
  // A class not ended refuses the erase, and nothing goes.
  ASSERT_EQ(Create(journal, "open"), absl::OkStatus());
  std::vector<ErasedSeat> too_early;
  too_early.push_back(ErasedSeat{"open", "ann", Summary("open", false)});
  too_early.push_back(ErasedSeat{"c", "ann", Summary("c", false)});
  Answer<absl::Status> refused;
  journal.EraseProfile("pf-ann", std::move(too_early), refused.Callback());
  EXPECT_EQ(refused.Get().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(journal.LoadProfiles(8)->size(), 1u);

  std::vector<ErasedSeat> seats;
  seats.push_back(ErasedSeat{"c", "ann", Summary("c", false)});
  Answer<absl::Status> erased;
  journal.EraseProfile("pf-ann", std::move(seats), erased.Callback());
  ASSERT_EQ(erased.Get(), absl::OkStatus());
  EXPECT_TRUE(journal.LoadProfiles(8)->empty());
  absl::StatusOr<std::vector<internal::Entry>> entries =
      journal.LoadEntries("c");
  ASSERT_TRUE(entries.ok());
  ASSERT_FALSE(entries->empty()) << "the others' entries stay";
  for (const internal::Entry& entry : *entries) {
    EXPECT_NE(ParticipantOf(entry), "ann") << entry.ShortDebugString();
  }
  absl::StatusOr<v1::ClassSummary> stored = Read(journal, "c");
  ASSERT_TRUE(stored.ok());
  EXPECT_THAT(*stored, EqualsProto(Summary("c", false)));
}

}  // namespace
}  // namespace circuit::journal_testing
