#include "server/live/class_registry.h"

#include <map>
#include <set>
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/common/log.h"

namespace circuit {
namespace {

// Completes every write at once.
class NullSink : public StreamSink {
 public:
  void StartWriteBytes(const grpc::ByteBuffer*) override {}
  void FinishStream(const grpc::Status&) override {}
  void AbortStream(const grpc::Status&) override {}
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
    registry_->Create(circuit_id, title,
                      [&](absl::StatusOr<v1::ClassInfo> info) {
                        out = std::move(info);
                        done.Notify();
                      });
    done.WaitForNotification();
    return out;
  }

  // Ends a class and waits until its info says so.
  void End(const std::string& class_id) {
    v1::InstructorCommand end;
    end.set_command_id("end");
    end.mutable_end();
    auto reply = std::make_shared<Stream>(16);
    reply->Attach(&sink_);
    registry_->Find(class_id)->Command(end, reply);
    pool_.WaitIdle();
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
