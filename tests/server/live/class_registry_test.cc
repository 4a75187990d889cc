#include "server/live/class_registry.h"

#include "gtest/gtest.h"
#include "server/common/log.h"

namespace circuit {
namespace {

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
                                                &clock_, options);
  }

  void End(const std::string& class_id) {
    v1::InstructorCommand end;
    end.set_command_id("end");
    end.mutable_end();
    ASSERT_EQ(registry_->Find(class_id)->Command(end).code(), 0);
  }

  FakeClock clock_;
  InMemoryJournal journal_;
  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<ClassRegistry> registry_;
};

TEST_F(ClassRegistryTest, JoinCodesAreSixReadableCharactersAndCaseFree) {
  auto info = registry_->Create("kickback-trio", "");
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
  auto first = registry_->Create("kickback-trio", "first");
  auto second = registry_->Create("kickback-trio", "second");
  ASSERT_TRUE(first.ok() && second.ok());
  // Nothing has ended: a third class is refused.
  EXPECT_EQ(registry_->Create("kickback-trio", "third").status().code(),
            absl::StatusCode::kResourceExhausted);
  End(second->class_id());
  clock_.Advance(absl::Seconds(1));
  End(first->class_id());
  auto third = registry_->Create("kickback-trio", "third");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(registry_->Find(second->class_id()), nullptr);
  EXPECT_EQ(registry_->FindByJoinCode(second->join_code()), nullptr);
  EXPECT_NE(registry_->Find(first->class_id()), nullptr);
}

TEST_F(ClassRegistryTest, UnknownCircuitAndLongTitleAreRefused) {
  EXPECT_EQ(registry_->Create("nope", "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      registry_->Create("kickback-trio", std::string(81, 'x')).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace circuit
