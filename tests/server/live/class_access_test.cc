#include "server/live/class_access.h"

#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/auth/access.h"
#include "server/common/log.h"
#include "server/journal/journal.h"

namespace circuit {
namespace {

Principal Account(Principal::Role role, const std::string& subject,
                  const std::string& studio) {
  Principal who;
  who.role = role;
  who.subject = subject;
  who.studio = studio;
  return who;
}

class ClassAccessTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogQuiet(true); }

  absl::StatusOr<v1::CreateClassResponse> Create(const Principal& who,
                                                 const std::string& circuit) {
    v1::CreateClassRequest request;
    request.set_circuit_id(circuit);
    absl::Notification done;
    absl::StatusOr<v1::CreateClassResponse> out;
    CreateClassAs(registry_.get(), who, request,
                  [&](absl::StatusOr<v1::CreateClassResponse> created) {
                    out = std::move(created);
                    done.Notify();
                  });
    done.WaitForNotification();
    return out;
  }

  // The built-in library (a test of its own checks that it loads).
  const std::unique_ptr<CircuitLibrary> library_ =
      std::make_unique<CircuitLibrary>(CircuitLibrary::LoadEmbedded().value());
  FakeClock clock_;
  InMemoryJournal journal_;
  ThreadPool pool_{2};
  const std::unique_ptr<ClassRegistry> registry_ =
      std::make_unique<ClassRegistry>(library_.get(), &journal_, &clock_,
                                      &pool_, RegistryOptions());
};

TEST_F(ClassAccessTest, AClassBelongsToItsCreatorAndTheirStudio) {
  const Principal ann = Account(Principal::Role::kInstructor, "a1", "north");
  auto created = Create(ann, "kickback-trio");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->class_info().owner_id(), "a1");
  EXPECT_EQ(created->class_info().studio_id(), "north");
  const std::string id = created->class_info().class_id();

  auto mine = AccessClass(*registry_, ann, id, &MayRunClass);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->class_id(), id);
  const Principal other_studio =
      Account(Principal::Role::kAdmin, "a2", "south");
  EXPECT_EQ(
      AccessClass(*registry_, other_studio, id, &MayRunClass).status().code(),
      absl::StatusCode::kPermissionDenied);
  const Principal admin = Account(Principal::Role::kAdmin, "a3", "north");
  EXPECT_TRUE(AccessClass(*registry_, admin, id, &MayRunClass).ok());
  // A kiosk of the studio may watch it, not run it.
  const Principal tv = Account(Principal::Role::kKiosk, "k1", "north");
  EXPECT_TRUE(AccessClass(*registry_, tv, id, &MayWatchClass).ok());
  EXPECT_EQ(AccessClass(*registry_, tv, id, &MayRunClass).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ClassAccessTest, AnUnknownClassIsNotFoundWhoeverAsks) {
  Principal bootstrap;
  bootstrap.role = Principal::Role::kBootstrap;
  const absl::Status unknown =
      AccessClass(*registry_, bootstrap, "c-nope", &MayRunClass).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("c-nope"), absl::string_view::npos);
}

TEST_F(ClassAccessTest, KiosksAndClassCredentialsCreateNothing) {
  const Principal tv = Account(Principal::Role::kKiosk, "k1", "main");
  EXPECT_EQ(Create(tv, "kickback-trio").status().code(),
            absl::StatusCode::kPermissionDenied);
  Principal one_class = Account(Principal::Role::kClass, "a1", "main");
  one_class.class_id = "c-1";
  EXPECT_EQ(Create(one_class, "kickback-trio").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(registry_->List(/*include_ended=*/true).empty());
  // The registry's own refusals come through.
  Principal bootstrap;
  bootstrap.role = Principal::Role::kBootstrap;
  EXPECT_EQ(Create(bootstrap, "nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CheckCommandIdTest, OneToSixtyFourCharacters) {
  v1::InstructorCommand command;
  EXPECT_EQ(CheckCommandId(command).code(), absl::StatusCode::kInvalidArgument);
  command.set_command_id("c");
  EXPECT_TRUE(CheckCommandId(command).ok());
  command.set_command_id(std::string(kMaxCommandIdLength, 'x'));
  EXPECT_TRUE(CheckCommandId(command).ok());
  command.set_command_id(std::string(kMaxCommandIdLength + 1, 'x'));
  EXPECT_EQ(CheckCommandId(command).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClassAccessTest, ErasingNeedsAParticipant) {
  v1::EraseHealthDataRequest erase;
  erase.set_class_id("c-1");
  absl::Status erased = absl::UnknownError("no answer");
  EraseHealthDataOf(registry_.get(), erase,
                    [&](absl::Status status) { erased = status; });
  EXPECT_EQ(erased.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClassAccessTest, CircuitsAreListedAndFoundById) {
  const v1::ListCircuitsResponse all = ListCircuits(*library_);
  ASSERT_GT(all.circuits_size(), 0);
  EXPECT_EQ(all.exercises_size(),
            static_cast<int>(library_->exercises().size()));
  ASSERT_EQ(all.programmes_size(),
            static_cast<int>(library_->programmes().size()));
  ASSERT_GT(all.programmes_size(), 0);
  EXPECT_EQ(all.programmes(0).id(), library_->programmes().front().id());
  auto one = GetCircuit(*library_, all.circuits(0).id());
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->circuit().id(), all.circuits(0).id());
  EXPECT_GT(one->exercises_size(), 0);
  EXPECT_EQ(GetCircuit(*library_, "nope").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace circuit
