#include "server/auth/access.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/accounts.h"
#include "server/auth/kiosks.h"
#include "server/auth/principal.h"
#include "server/common/clock.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;
using Role = Principal::Role;

// What each kind of caller may do with a class (server/auth/access.h).
class AccessTest : public ::testing::Test {
 protected:
  static Principal Who(Role role, const std::string& subject,
                       const std::string& studio,
                       const std::string& class_id = "") {
    Principal who;
    who.role = role;
    who.subject = subject;
    who.studio = studio;
    who.class_id = class_id;
    return who;
  }
  static v1::ClassInfo Class(const std::string& id, const std::string& studio,
                             const std::string& owner) {
    v1::ClassInfo info;
    info.set_class_id(id);
    info.set_studio_id(studio);
    info.set_owner_id(owner);
    return info;
  }
};

TEST_F(AccessTest, OnlyTheOwnerTheStudiosAdminsOrTheClassCredentialRunAClass) {
  const v1::ClassInfo maya_class = Class("c1", "north", "a1");
  EXPECT_TRUE(
      MayRunClass(Who(Role::kInstructor, "a1", "north"), maya_class).ok());
  EXPECT_TRUE(MayRunClass(Who(Role::kAdmin, "a3", "north"), maya_class).ok());
  EXPECT_TRUE(
      MayRunClass(Who(Role::kBootstrap, "bootstrap", ""), maya_class).ok());
  EXPECT_TRUE(
      MayRunClass(Who(Role::kClass, "a1", "north", "c1"), maya_class).ok());

  const absl::Status other_instructor =
      MayRunClass(Who(Role::kInstructor, "a2", "north"), maya_class);
  EXPECT_EQ(other_instructor.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(other_instructor.message().empty());
  EXPECT_FALSE(MayRunClass(Who(Role::kAdmin, "a4", "south"), maya_class).ok());
  EXPECT_FALSE(
      MayRunClass(Who(Role::kClass, "a1", "north", "c2"), maya_class).ok());
  EXPECT_FALSE(MayRunClass(Who(Role::kKiosk, "k1", "north"), maya_class).ok());
  EXPECT_FALSE(MayRunClass(Who(Role::kNone, "", ""), maya_class).ok());
}

TEST_F(AccessTest, KiosksWatchOnlyTheirStudiosClasses) {
  const v1::ClassInfo north = Class("c1", "north", "a1");
  EXPECT_TRUE(MayWatchClass(Who(Role::kKiosk, "k1", "north"), north).ok());
  EXPECT_TRUE(MayWatchClass(Who(Role::kInstructor, "a2", "north"), north).ok());
  EXPECT_FALSE(MayWatchClass(Who(Role::kKiosk, "k2", "south"), north).ok());
  EXPECT_FALSE(
      MayWatchClass(Who(Role::kClass, "a1", "north", "c9"), north).ok());
  // A class from before accounts belongs to the default studio.
  const v1::ClassInfo old = Class("c0", "", "");
  EXPECT_TRUE(
      MayWatchClass(Who(Role::kKiosk, "studio-kiosk", kDefaultStudio), old)
          .ok());
  EXPECT_FALSE(MayWatchClass(Who(Role::kKiosk, "k2", "south"), old).ok());
  EXPECT_FALSE(MayCreateClass(Who(Role::kKiosk, "k1", "north")).ok());
  EXPECT_FALSE(MayCreateClass(Who(Role::kClass, "a1", "north", "c1")).ok());
  EXPECT_TRUE(MayCreateClass(Who(Role::kInstructor, "a1", "north")).ok());
}

TEST_F(AccessTest, OnlyAdminsManageTheirStudioAndOnlyBootstrapTheKeys) {
  EXPECT_TRUE(
      MayManageAccounts(Who(Role::kAdmin, "a3", "north"), "north").ok());
  EXPECT_FALSE(
      MayManageAccounts(Who(Role::kAdmin, "a3", "north"), "south").ok());
  EXPECT_FALSE(
      MayManageAccounts(Who(Role::kInstructor, "a1", "north"), "north").ok());
  EXPECT_TRUE(
      MayManageAccounts(Who(Role::kBootstrap, "bootstrap", ""), "south").ok());
  EXPECT_FALSE(MayManageSigningKeys(Who(Role::kAdmin, "a3", "north")).ok());
  EXPECT_TRUE(
      MayManageSigningKeys(Who(Role::kBootstrap, "bootstrap", "")).ok());
  EXPECT_FALSE(MayManageKiosks(Who(Role::kKiosk, "k1", "north"), "north").ok());
  EXPECT_FALSE(
      MayManageKiosks(Who(Role::kInstructor, "a1", "north"), "south").ok());
}

TEST_F(AccessTest, AClassCredentialOpensItsOneClassAndNothingElse) {
  const Principal pass = Who(Role::kClass, "a1", "north", "c1");
  const v1::ClassInfo its_class = Class("c1", "north", "a1");
  // The same owner's other class, in the same studio.
  const v1::ClassInfo sibling = Class("c2", "north", "a1");
  EXPECT_TRUE(MayRunClass(pass, its_class).ok());
  EXPECT_TRUE(MayWatchClass(pass, its_class).ok());

  const absl::Status run = MayRunClass(pass, sibling);
  EXPECT_EQ(run.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(run.message(), HasSubstr("opens class c1 only"));
  EXPECT_EQ(MayWatchClass(pass, sibling).code(),
            absl::StatusCode::kPermissionDenied);
  const absl::Status create = MayCreateClass(pass);
  EXPECT_EQ(create.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(create.message(), HasSubstr("needs an account"));
  EXPECT_FALSE(MayManageKiosks(pass, "north").ok());
  EXPECT_FALSE(MayManageAccounts(pass, "north").ok());
  EXPECT_FALSE(MayManageSigningKeys(pass).ok());
}

TEST_F(AccessTest, AnAdminRunsEveryClassOfItsStudioAndNoOtherStudios) {
  const Principal admin = Who(Role::kAdmin, "a3", "north");
  EXPECT_TRUE(MayRunClass(admin, Class("c1", "north", "a1")).ok());
  EXPECT_TRUE(MayRunClass(admin, Class("c2", "north", "a2")).ok());
  EXPECT_TRUE(MayCreateClass(admin).ok());
  EXPECT_TRUE(MayManageKiosks(admin, "north").ok());

  const v1::ClassInfo south = Class("c3", "south", "a9");
  const absl::Status run = MayRunClass(admin, south);
  EXPECT_EQ(run.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(run.message(), HasSubstr("studio south"));
  const absl::Status watch = MayWatchClass(admin, south);
  EXPECT_EQ(watch.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(watch.message(), HasSubstr("another studio"));
  const absl::Status kiosks = MayManageKiosks(admin, "south");
  EXPECT_EQ(kiosks.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(kiosks.message(), HasSubstr("another studio"));
  EXPECT_THAT(MayManageAccounts(admin, "south").message(),
              HasSubstr("cannot manage studio south"));
}

TEST_F(AccessTest, AnInstructorRunsOnlyItsOwnClassesButManagesItsStudiosTvs) {
  const Principal maya = Who(Role::kInstructor, "a1", "north");
  // A class from before accounts is the bootstrap key's: an instructor of
  // the default studio watches it but does not run it; an admin does.
  const v1::ClassInfo old = Class("c0", "", "");
  EXPECT_FALSE(
      MayRunClass(Who(Role::kInstructor, "a1", kDefaultStudio), old).ok());
  EXPECT_TRUE(
      MayWatchClass(Who(Role::kInstructor, "a1", kDefaultStudio), old).ok());
  EXPECT_TRUE(MayRunClass(Who(Role::kAdmin, "a3", kDefaultStudio), old).ok());
  EXPECT_EQ(OwnerOf(old), "bootstrap");
  EXPECT_EQ(StudioOf(old), kDefaultStudio);

  // The owner's id in another studio is someone else.
  EXPECT_FALSE(MayRunClass(maya, Class("c1", "south", "a1")).ok());
  EXPECT_TRUE(MayManageKiosks(maya, "north").ok());
  EXPECT_FALSE(MayManageSigningKeys(maya).ok());
}

TEST_F(AccessTest, AKioskWatchesButNeverRunsOrManages) {
  const Principal tv = Who(Role::kKiosk, "k1", "north");
  const v1::ClassInfo north = Class("c1", "north", "a1");
  EXPECT_TRUE(MayWatchClass(tv, north).ok());
  const absl::Status run = MayRunClass(tv, north);
  EXPECT_EQ(run.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(run.message(), HasSubstr("kiosk credential"));
  EXPECT_THAT(MayCreateClass(tv).message(), HasSubstr("kiosk credential"));
  EXPECT_EQ(MayManageKiosks(tv, "north").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(MayManageAccounts(tv, "north").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(MayManageSigningKeys(tv).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AccessTest, AuthenticateTellsKeysFromCredentialsAndSaysWhyItRefuses) {
  FakeClock clock;
  auto accounts = Accounts::Open({}, &clock);
  ASSERT_TRUE(accounts.ok());
  v1::AddAccountRequest add;
  add.set_name("Maya");
  add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
  add.set_studio_id("north");
  auto maya = (*accounts)->Add(add);
  ASSERT_TRUE(maya.ok());
  AccessKeys keys;
  keys.instructor_key = "boot-key";
  keys.kiosk_key = "kiosk-key";
  keys.accounts = accounts->get();

  Principal who;
  ASSERT_TRUE(Authenticate("boot-key", keys, &who).ok());
  EXPECT_EQ(who.role, Role::kBootstrap);
  ASSERT_TRUE(Authenticate("kiosk-key", keys, &who).ok());
  EXPECT_EQ(who.role, Role::kKiosk);
  EXPECT_EQ(who.studio, kDefaultStudio);
  ASSERT_TRUE(Authenticate(maya->credential(), keys, &who).ok());
  EXPECT_EQ(who.role, Role::kInstructor);
  EXPECT_EQ(who.studio, "north");

  const absl::Status none = Authenticate("", keys, &who);
  EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(none.message().empty());
  const absl::Status wrong = Authenticate("boot-kez", keys, &who);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  clock.Advance(absl::Hours(24 * 91));
  const absl::Status expired = Authenticate(maya->credential(), keys, &who);
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.message(), HasSubstr("expired"));
}

TEST_F(AccessTest, AForgedOrExpiredCredentialOpensNothingAndLeavesNoOneBehind) {
  FakeClock clock;
  auto accounts = Accounts::Open({}, &clock);
  ASSERT_TRUE(accounts.ok());
  AccessKeys keys;
  keys.instructor_key = "boot-key";
  keys.accounts = accounts->get();
  const Principal bootstrap = Who(Role::kBootstrap, "bootstrap", "");
  auto pass = (*accounts)->IssueClassCredential(bootstrap, "c1", "north",
                                                /*ttl_seconds=*/3600);
  ASSERT_TRUE(pass.ok()) << pass.status();

  // A refusal leaves `who` as no one, whoever it held before.
  Principal who = bootstrap;
  const std::vector<std::string> parts =
      absl::StrSplit(pass->credential(), '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string signature = parts[2];
  signature[0] = signature[0] == 'A' ? 'B' : 'A';
  const std::string forged =
      absl::StrCat(parts[0], ".", parts[1], ".", signature);
  EXPECT_EQ(Authenticate(forged, keys, &who).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(who.role, Role::kNone);
  EXPECT_TRUE(who.subject.empty());

  // Signed by another server: its key is not ours.
  auto other = Accounts::Open({}, &clock);
  ASSERT_TRUE(other.ok());
  auto foreign = (*other)->IssueClassCredential(bootstrap, "c1", "north", 3600);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(Authenticate(foreign->credential(), keys, &who).code(),
            absl::StatusCode::kUnauthenticated);
  // A prefix of the bootstrap key is not the key.
  EXPECT_EQ(Authenticate("boot-ke", keys, &who).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(who.role, Role::kNone);

  ASSERT_TRUE(Authenticate(pass->credential(), keys, &who).ok());
  EXPECT_EQ(who.role, Role::kClass);
  EXPECT_EQ(who.class_id, "c1");
  EXPECT_TRUE(MayRunClass(who, Class("c1", "north", "bootstrap")).ok());
  clock.Advance(absl::Hours(1) + absl::Seconds(1));
  const absl::Status expired = Authenticate(pass->credential(), keys, &who);
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.message(), HasSubstr("expired"));
  EXPECT_EQ(who.role, Role::kNone);

  // A server that keeps no accounts opens no account credential.
  keys.accounts = nullptr;
  auto fresh = (*accounts)->IssueClassCredential(bootstrap, "c1", "north", 60);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(Authenticate(fresh->credential(), keys, &who).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AccessTest, APairedTvIsAKioskOfItsStudioUntilItIsRevoked) {
  FakeClock clock;
  auto kiosks = KioskPairings::Open({}, &clock);
  ASSERT_TRUE(kiosks.ok());
  auto pairing = (*kiosks)->Start();
  ASSERT_TRUE(pairing.ok());
  auto kiosk =
      (*kiosks)->Approve(pairing->pairing_code(), "Left wall", "north");
  ASSERT_TRUE(kiosk.ok()) << kiosk.status();
  auto approved =
      (*kiosks)->Get(pairing->pairing_code(), pairing->pairing_secret());
  ASSERT_TRUE(approved.ok());
  const std::string token = approved->kiosk_token();
  AccessKeys keys;
  keys.kiosks = kiosks->get();

  Principal who;
  ASSERT_TRUE(Authenticate(token, keys, &who).ok());
  EXPECT_EQ(who.role, Role::kKiosk);
  EXPECT_EQ(who.subject, kiosk->kiosk_id());
  EXPECT_EQ(who.studio, "north");
  EXPECT_TRUE(MayWatchClass(who, Class("c1", "north", "a1")).ok());
  EXPECT_FALSE(MayWatchClass(who, Class("c2", "south", "a9")).ok());
  // The pairing's secret is not the TV's credential.
  EXPECT_EQ(Authenticate(pairing->pairing_secret(), keys, &who).code(),
            absl::StatusCode::kUnauthenticated);

  ASSERT_TRUE((*kiosks)->Revoke(kiosk->kiosk_id()).ok());
  const absl::Status revoked = Authenticate(token, keys, &who);
  EXPECT_EQ(revoked.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(revoked.message(), HasSubstr("revoked"));
  EXPECT_EQ(who.role, Role::kNone);
}

}  // namespace
}  // namespace circuit
