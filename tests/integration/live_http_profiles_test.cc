// Kept profiles over HTTP: her own calls with her profile credential, her
// studio's view of her progress, an admin's revoke, her erase; every
// refusal says why and changes nothing.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/integration/live_harness.h"

namespace circuit {
namespace {

namespace http = boost::beast::http;
using testing::Cmd;
using testing::Completion;
using testing::Context;
using testing::Fetch;
using ::testing::HasSubstr;
using testing::kInstructorKey;
using testing::kKioskKey;
using testing::LiveServer;
using ::testing::Not;
using testing::ParticipantClient;
using testing::Reply;

std::string Bearer(const std::string& credential) {
  return absl::StrCat("Bearer ", credential);
}

class LiveHttpProfilesTest : public ::testing::Test {
 protected:
  int port() { return server_.server()->http_port(); }

  // One ended class with Dana (kept profile, 18 reps) and Lee (kept).
  void RunAClass() {
    v1::ClassInfo info = server_.CreateClass("kickback-trio");
    auto instructor = server_.Instruct(info.class_id());
    ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
              0);
    dana_ = Keep(info.join_code(), "Dana");
    lee_ = Keep(info.join_code(), "Lee");
    ASSERT_EQ(
        dana_->Report(Completion("a", 0, 1, v1::SIDE_LEFT, 8), "a").code(), 0);
    ASSERT_EQ(
        dana_->Report(Completion("b", 0, 1, v1::SIDE_RIGHT, 10), "b").code(),
        0);
    ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_end(); })).code(),
              0);
  }

  std::unique_ptr<ParticipantClient> Keep(const std::string& code,
                                          const std::string& name) {
    v1::JoinRequest join;
    join.set_join_code(code);
    join.mutable_check_in()->set_display_name(name);
    join.mutable_check_in()->set_weeks_postpartum(12);
    join.set_keep_profile(true);
    auto client = server_.JoinWith(join);
    EXPECT_FALSE(client->joined.profile_credential().empty());
    return client;
  }

  v1::AccountCredential Add(const std::string& name, v1::AccountRole role,
                            const std::string& studio) {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(role);
    add.set_studio_id(studio);
    v1::AccountCredential credential;
    EXPECT_TRUE(
        server_.stub()
            ->AddAccount(Context(kInstructorKey).get(), add, &credential)
            .ok());
    return credential;
  }

  Reply Get(const std::string& target, const std::string& credential) {
    return Fetch(port(), http::verb::get, target, "", -1,
                 credential.empty() ? "" : Bearer(credential));
  }
  Reply Post(const std::string& target, const std::string& credential,
             const std::string& body = "{}") {
    return Fetch(port(), http::verb::post, target, body, -1,
                 credential.empty() ? "" : Bearer(credential));
  }

  LiveServer server_{LiveServer::HttpOptions()};
  std::unique_ptr<ParticipantClient> dana_, lee_;
};

TEST_F(LiveHttpProfilesTest, HerOwnCallsAnswerHerAndRefuseEveryoneElse) {
  ASSERT_NO_FATAL_FAILURE(RunAClass());
  const std::string dana = dana_->joined.profile_credential();
  const std::string dana_id = dana_->joined.profile_id();

  Reply profile = Get("/v1/profile", dana);
  EXPECT_EQ(profile.status, 200) << profile.body;
  EXPECT_THAT(profile.body, HasSubstr(dana_id));
  EXPECT_THAT(profile.body, HasSubstr("\"weeksPostpartum\":12"));
  EXPECT_EQ(Get("/v1/profile", "").status, 401);
  EXPECT_EQ(Get("/v1/profile", "cp_forged").status, 401);
  EXPECT_EQ(Get("/v1/profile", kInstructorKey).status, 403)
      << "an instructor has no profile of her own";

  Reply progress = Get("/v1/profile/progress", dana);
  EXPECT_EQ(progress.status, 200) << progress.body;
  EXPECT_THAT(progress.body, HasSubstr("\"totalReps\":18"));
  Reply data = Get("/v1/profile/data", dana);
  EXPECT_EQ(data.status, 200) << data.body;
  EXPECT_THAT(data.body, HasSubstr("\"classes\""));

  // A bad update is refused, naming the field, and changes nothing.
  Reply bad =
      Post("/v1/profile", dana, R"({"profile": {"birthDate": "yesterday"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("birth_date"));
  EXPECT_THAT(Get("/v1/profile", dana).body,
              HasSubstr("\"weeksPostpartum\":12"));
  Reply good =
      Post("/v1/profile", dana,
           R"({"profile": {"weeksGiven": 14, "equipment": "heavy band"}})");
  EXPECT_EQ(good.status, 200) << good.body;
  EXPECT_THAT(good.body, HasSubstr("heavy band"));

  // Her studio sees her progress; a kiosk, another studio and another
  // participant do not.
  const std::string hers = absl::StrCat("/v1/profiles/", dana_id, "/progress");
  EXPECT_EQ(Get(hers, kInstructorKey).status, 200);
  v1::AccountCredential ana = Add("Ana", v1::ACCOUNT_ROLE_INSTRUCTOR, "main");
  EXPECT_EQ(Get(hers, ana.credential()).status, 200);
  EXPECT_EQ(Get(hers, kKioskKey).status, 403);
  v1::AccountCredential sam = Add("Sam", v1::ACCOUNT_ROLE_ADMIN, "riverside");
  Reply other_studio = Get(hers, sam.credential());
  EXPECT_EQ(other_studio.status, 404);
  EXPECT_THAT(other_studio.body, Not(HasSubstr("Dana")));
  EXPECT_EQ(Get(hers, lee_->joined.profile_credential()).status, 403);

  // Paths and methods that are not served.
  EXPECT_EQ(Get("/v1/profile:erase", dana).status, 501);
  EXPECT_EQ(Get(absl::StrCat("/v1/profiles/", dana_id, "/other"), dana).status,
            404);
}

TEST_F(LiveHttpProfilesTest, AnAdminRevokesAndErasesOnHerRequestAndSheErases) {
  ASSERT_NO_FATAL_FAILURE(RunAClass());
  const std::string dana = dana_->joined.profile_credential();
  const std::string dana_id = dana_->joined.profile_id();
  const std::string lee = lee_->joined.profile_credential();
  const std::string revoke = absl::StrCat("/v1/profiles/", dana_id, ":revoke");

  v1::AccountCredential ana = Add("Ana", v1::ACCOUNT_ROLE_INSTRUCTOR, "main");
  EXPECT_EQ(Post(revoke, ana.credential()).status, 403)
      << "an instructor is not an admin";
  v1::AccountCredential sam = Add("Sam", v1::ACCOUNT_ROLE_ADMIN, "riverside");
  EXPECT_EQ(Post(revoke, sam.credential()).status, 404)
      << "another studio's admin: not one of theirs";
  EXPECT_EQ(Get("/v1/profile", dana).status, 200) << "nothing changed";
  v1::AccountCredential admin = Add("Mo", v1::ACCOUNT_ROLE_ADMIN, "main");
  Reply revoked = Post(revoke, admin.credential());
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(Get("/v1/profile", dana).status, 401);
  // Her data stays after a revoke.
  EXPECT_EQ(
      Get(absl::StrCat("/v1/profiles/", dana_id, "/progress"), kInstructorKey)
          .status,
      200);

  // Revoked, Dana cannot erase her data herself any more: her studio's
  // admin does it on her request, and nobody else may.
  const std::string erase = absl::StrCat("/v1/profiles/", dana_id, ":erase");
  EXPECT_EQ(Post("/v1/profile:erase", dana).status, 401);
  EXPECT_EQ(Post(erase, ana.credential()).status, 403)
      << "an instructor is not an admin";
  EXPECT_EQ(Post(erase, sam.credential()).status, 404)
      << "another studio's admin: not one of theirs";
  EXPECT_EQ(Post(erase, lee).status, 403) << "another participant";
  EXPECT_EQ(Post(erase, kKioskKey).status, 403) << "a kiosk";
  EXPECT_EQ(
      Get(absl::StrCat("/v1/profiles/", dana_id, "/progress"), kInstructorKey)
          .status,
      200)
      << "nothing changed";
  Reply erased_by_admin = Post(erase, admin.credential());
  EXPECT_EQ(erased_by_admin.status, 200) << erased_by_admin.body;
  EXPECT_THAT(erased_by_admin.body, HasSubstr("\"erasedClassCount\":1"));
  EXPECT_EQ(
      Get(absl::StrCat("/v1/profiles/", dana_id, "/progress"), kInstructorKey)
          .status,
      404);
  EXPECT_EQ(Post(erase, admin.credential()).status, 404) << "already erased";

  // Lee erases hers: her profile and her progress are gone.
  Reply erased = Post("/v1/profile:erase", lee);
  EXPECT_EQ(erased.status, 200) << erased.body;
  EXPECT_THAT(erased.body, HasSubstr("\"erasedClassCount\":1"));
  EXPECT_EQ(Get("/v1/profile", lee).status, 401);
  EXPECT_EQ(
      Get(absl::StrCat("/v1/profiles/", lee_->joined.profile_id(), "/progress"),
          kInstructorKey)
          .status,
      404);
}

}  // namespace
}  // namespace circuit
