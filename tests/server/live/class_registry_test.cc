#include "server/live/class_registry.h"

#include <map>
#include <set>
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "server/library/embedded_circuits.h"
#include "tests/testing/class_commands.h"

namespace circuit {
namespace {

// Completes every write at once.
class NullSink : public StreamSink {
 public:
  void StartWriteBytes(const grpc::ByteBuffer*) override {}
  void FinishStream(const absl::Status&) override {}
  void AbortStream(const absl::Status&) override {}
};

class ClassRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    auto library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));
    RegistryOptions options;
    options.max_classes = 2;
    registry_ = std::make_unique<ClassRegistry>(library_.get(), &journal_,
                                                &clock_, &pool_, options);
  }

  absl::StatusOr<v1::ClassInfo> Create(const std::string& circuit_id,
                                       const std::string& title) {
    absl::Notification done;
    absl::StatusOr<v1::ClassInfo> out;
    registry_->Create(circuit_id, title, "main", "bootstrap",
                      [&](absl::StatusOr<v1::ClassInfo> info) {
                        out = std::move(info);
                        done.Notify();
                      });
    done.WaitForNotification();
    return out;
  }

  // Ends a class and waits until its info says so.
  void End(const std::string& class_id) {
    v1::InstructorCommand end = ::circuit::testing::EndCommand();
    end.set_command_id("end");
    absl::StatusOr<int64_t> ended = absl::UnknownError("no answer");
    registry_->Find(class_id)->Command(
        end, [&](absl::StatusOr<int64_t> seq) { ended = seq; });
    pool_.WaitIdle();
    ASSERT_TRUE(ended.ok()) << ended.status();
    ASSERT_EQ(registry_->Find(class_id)->Info().phase(), v1::CLASS_PHASE_ENDED);
  }

  FakeClock clock_;
  InMemoryJournal journal_;
  ThreadPool pool_{2};
  NullSink sink_;
  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<ClassRegistry> registry_;
};

// Every byte value in every position gives exactly the readable alphabet,
// each symbol from the same number of byte values (no bias); a position's
// symbol depends on its own byte only.
TEST(JoinCodeFromBytesTest, EveryByteInEveryPositionCoversTheAlphabetEvenly) {
  const std::set<char> alphabet = {'2', '3', '4', '5', '6', '7', '8', '9',
                                   'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H',
                                   'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R',
                                   'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z'};
  ASSERT_EQ(alphabet.size(), 32u);
  constexpr size_t kLength = 6;
  for (size_t position = 0; position < kLength; ++position) {
    std::map<char, int> hits;
    for (int byte = 0; byte <= 255; ++byte) {
      // The same byte between zero bytes and between 0xff bytes.
      std::string zeros(kLength, '\x00');
      std::string ones(kLength, '\xff');
      zeros[position] = ones[position] = static_cast<char>(byte);
      const std::string code = JoinCodeFromBytes(zeros);
      const std::string other = JoinCodeFromBytes(ones);
      ASSERT_EQ(code.size(), kLength);
      ASSERT_EQ(other.size(), kLength);
      EXPECT_EQ(code[position], other[position])
          << "byte " << byte << " at " << position;
      ++hits[code[position]];
    }
    std::set<char> produced;
    for (const auto& [symbol, count] : hits) {
      produced.insert(symbol);
      EXPECT_EQ(count, 256 / 32) << "symbol " << symbol << " at " << position;
    }
    EXPECT_EQ(produced, alphabet) << "at " << position;
  }
}

TEST(JoinCodeFromBytesTest, OneCharacterPerByte) {
  EXPECT_EQ(JoinCodeFromBytes(""), "");
  EXPECT_EQ(JoinCodeFromBytes(std::string(9, 'x')).size(), 9u);
}

// A damaged journal (tests/fuzz/journal_replay_fuzzer) held an entry dated
// near the end of int64 milliseconds. Recovery leaves it out, and what the
// class journals next (its restart) carries the server's time, not that one.
TEST_F(ClassRegistryTest, RecoverLeavesOutEntriesWithDamagedTimes) {
  absl::StatusOr<v1::ClassInfo> info = Create("kickback-trio", "");
  ASSERT_TRUE(info.ok()) << info.status();
  const std::string id = info->class_id();
  internal::Entry join;
  join.set_at_unix_ms(clock_.NowUnixMs());
  join.mutable_join()->set_participant_id("p1");
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  internal::Entry drop;
  drop.set_at_unix_ms(9'223'372'036'854'775'000);
  drop.mutable_connection()->set_participant_id("p1");
  drop.mutable_connection()->set_state(v1::CONNECTION_STATE_DROPPED);
  for (internal::Entry* entry : {&join, &drop}) {
    absl::Status appended = absl::UnknownError("not answered");
    journal_.Append(id, *entry, [&](absl::Status s) { appended = s; });
    ASSERT_TRUE(appended.ok()) << appended;
  }
  registry_->Close();
  pool_.WaitIdle();

  clock_.Advance(absl::Minutes(1));
  ClassRegistry recovered(library_.get(), &journal_, &clock_, &pool_, {});
  ASSERT_TRUE(recovered.Recover().ok());
  absl::StatusOr<std::vector<internal::Entry>> entries =
      journal_.LoadEntries(id);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_TRUE(entries->back().has_restart());
  EXPECT_EQ(entries->back().at_unix_ms(), clock_.NowUnixMs());
  ASSERT_NE(recovered.Find(id), nullptr);
  // Ana's join was replayed; the damaged drop was not (the restart dropped
  // her, as it drops every connected seat).
  EXPECT_EQ(recovered.Find(id)->Info().participant_count(), 1);
  recovered.Close();
  pool_.WaitIdle();
}

// A class keeps the rule table it was created with: recovered under a library
// whose table says otherwise, its replay adapts as the class did.
TEST_F(ClassRegistryTest, AClassKeepsItsRuleTableWhenTheLibraryChanges) {
  std::vector<LibrarySource> sources = EmbeddedCircuitSources();
  for (LibrarySource& source : sources) {
    if (source.name == kRulesFileName) {
      source.text = "too_hard_cr10_at_least: 7\n";
    }
  }
  absl::StatusOr<CircuitLibrary> strict = CircuitLibrary::Load(sources);
  ASSERT_TRUE(strict.ok()) << strict.status();
  ClassRegistry created(&*strict, &journal_, &clock_, &pool_, {});
  absl::Notification done;
  absl::StatusOr<v1::ClassInfo> info;
  created.Create("kickback-trio", "", "main", "bootstrap",
                 [&](absl::StatusOr<v1::ClassInfo> got) {
                   info = std::move(got);
                   done.Notify();
                 });
  done.WaitForNotification();
  ASSERT_TRUE(info.ok()) << info.status();
  const std::string id = info->class_id();

  // Ana joins, the class starts, and she rates the first block CR-10 7: too
  // hard under this class's table (7), not under the default (9).
  internal::Entry join;
  join.set_at_unix_ms(clock_.NowUnixMs());
  join.mutable_join()->set_participant_id("p1");
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  internal::Entry start;
  start.set_at_unix_ms(clock_.NowUnixMs());
  *start.mutable_command() = ::circuit::testing::StartCommand();
  start.mutable_command()->set_command_id("start");
  internal::Entry effort;
  effort.set_at_unix_ms(clock_.NowUnixMs() + 1000);
  effort.mutable_report()->set_participant_id("p1");
  effort.mutable_report()->mutable_effort()->set_report_id("r1");
  effort.mutable_report()->mutable_effort()->set_block_index(0);
  effort.mutable_report()->mutable_effort()->set_cr10(7);
  for (internal::Entry* entry : {&join, &start, &effort}) {
    absl::Status appended = absl::UnknownError("not answered");
    journal_.Append(id, *entry, [&](absl::Status s) { appended = s; });
    ASSERT_TRUE(appended.ok()) << appended;
  }
  created.Close();
  pool_.WaitIdle();

  absl::StatusOr<std::vector<StoredClass>> stored = journal_.LoadClasses();
  ASSERT_TRUE(stored.ok()) << stored.status();
  bool found = false;
  for (const StoredClass& c : *stored) {
    if (c.record.info().class_id() != id) continue;
    found = true;
    EXPECT_EQ(c.record.rules().too_hard_cr10_at_least(), 7);
    EXPECT_EQ(c.record.rules().too_easy_cr10_at_most(), 2);
  }
  EXPECT_TRUE(found);

  // Recovered with the default table (library_).
  ClassRegistry recovered(library_.get(), &journal_, &clock_, &pool_, {});
  ASSERT_TRUE(recovered.Recover().ok());
  ASSERT_NE(recovered.Find(id), nullptr);
  absl::Notification summarized;
  v1::ClassSummary summary;
  recovered.Find(id)->Summary([&](v1::ClassSummary got) {
    summary = std::move(got);
    summarized.Notify();
  });
  summarized.WaitForNotification();
  ASSERT_EQ(summary.participants_size(), 1);
  ASSERT_EQ(summary.participants(0).suggestions_size(), 1);
  EXPECT_EQ(summary.participants(0).suggestions(0).kind(),
            v1::SUGGESTION_KIND_REGRESSION);
  recovered.Close();
  pool_.WaitIdle();
}

// A damaged journal held a join with the id "p9223372036854775807"; the
// next id, one more, overflowed. New seats keep getting small ids.
TEST_F(ClassRegistryTest, RecoverIgnoresHugeParticipantIdsForTheNextId) {
  absl::StatusOr<v1::ClassInfo> info = Create("kickback-trio", "");
  ASSERT_TRUE(info.ok()) << info.status();
  const std::string id = info->class_id();
  internal::Entry join;
  join.set_at_unix_ms(clock_.NowUnixMs());
  join.mutable_join()->set_participant_id("p9223372036854775807");
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  absl::Status appended = absl::UnknownError("not answered");
  journal_.Append(id, join, [&](absl::Status s) { appended = s; });
  ASSERT_TRUE(appended.ok()) << appended;
  registry_->Close();
  pool_.WaitIdle();

  ClassRegistry recovered(library_.get(), &journal_, &clock_, &pool_, {});
  ASSERT_TRUE(recovered.Recover().ok());
  ASSERT_NE(recovered.Find(id), nullptr);
  v1::JoinRequest request;
  request.mutable_check_in()->set_display_name("Bo");
  auto stream = std::make_shared<Stream>(16);
  stream->Attach(&sink_);
  absl::Notification joined;
  absl::StatusOr<std::string> participant_id;
  recovered.Find(id)->Join(stream, request,
                           [&](absl::StatusOr<std::string> got) {
                             participant_id = std::move(got);
                             joined.Notify();
                           });
  joined.WaitForNotification();
  ASSERT_TRUE(participant_id.ok()) << participant_id.status();
  EXPECT_EQ(*participant_id, "p1");
  recovered.Close();
  pool_.WaitIdle();
}

TEST_F(ClassRegistryTest, JoinCodesAreSixCharactersAndCaseFree) {
  auto info = Create("kickback-trio", "");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->join_code().size(), 6u);
  EXPECT_EQ(info->title(), "Kickback trio");
  std::string lower = info->join_code();
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  ASSERT_NE(registry_->FindByJoinCode(lower), nullptr);
  EXPECT_EQ(registry_->FindByJoinCode(lower)->class_id(), info->class_id());
}

TEST_F(ClassRegistryTest, FullRegistryMakesRoomByForgettingTheFirstEnded) {
  auto first = Create("kickback-trio", "first");
  auto second = Create("kickback-trio", "second");
  ASSERT_TRUE(first.ok() && second.ok());
  // Nothing has ended: a third class is refused.
  EXPECT_EQ(Create("kickback-trio", "third").status().code(),
            absl::StatusCode::kResourceExhausted);
  End(second->class_id());
  clock_.Advance(absl::Seconds(1));
  End(first->class_id());
  auto third = Create("kickback-trio", "third");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(registry_->Find(second->class_id()), nullptr);
  EXPECT_EQ(registry_->FindByJoinCode(second->join_code()), nullptr);
  EXPECT_NE(registry_->Find(first->class_id()), nullptr);
  // Out of memory, not out of the history.
  EXPECT_EQ(registry_->List(/*include_ended=*/true).size(), 3u);
  ASSERT_TRUE(registry_->FindStored(second->class_id()).has_value());
  EXPECT_EQ(registry_->FindStored(second->class_id())->phase(),
            v1::CLASS_PHASE_ENDED);
}

TEST_F(ClassRegistryTest, UnknownCircuitAndLongTitleAreRefused) {
  EXPECT_EQ(Create("nope", "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Create("kickback-trio", std::string(81, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace circuit
