#include "server/live/class_registry.h"

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
    ASSERT_EQ(registry_->Find(class_id)->Info().phase(),
              v1::CLASS_PHASE_ENDED);
  }

  FakeClock clock_;
  InMemoryJournal journal_;
  ThreadPool pool_{2};
  NullSink sink_;
  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<ClassRegistry> registry_;
};

TEST_F(ClassRegistryTest, JoinCodesAreSixReadableCharactersAndCaseFree) {
  auto info = Create("kickback-trio", "");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->join_code().size(), 6u);
  EXPECT_EQ(info->join_code().find_first_of("0O1I"), std::string::npos);
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
  EXPECT_EQ(Create("nope", "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      Create("kickback-trio", std::string(81, 'x')).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace circuit
