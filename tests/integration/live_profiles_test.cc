// Kept profiles end to end over gRPC: opting in, joining later classes with
// the profile, progress, her data, revoke and erase, and who may see what.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"
#include "tests/testing/subprocess.h"

namespace circuit::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::string bytes;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return bytes;
  char buffer[65536];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) {
    bytes.append(buffer, n);
  }
  std::fclose(f);
  return bytes;
}

class LiveProfilesTest : public ::testing::Test {
 protected:
  explicit LiveProfilesTest(
      ServerOptions options = LiveServer::DefaultOptions())
      : server_(std::move(options)) {}

  // A class of kickback-trio, started, with its instructor attached.
  v1::ClassInfo StartedClass() {
    v1::ClassInfo info = server_.CreateClass("kickback-trio");
    instructor_ = server_.Instruct(info.class_id());
    EXPECT_EQ(
        instructor_->Send(Cmd([](auto* c) { c->mutable_start(); })).code(), 0);
    return info;
  }

  void End() {
    ASSERT_EQ(instructor_->Send(Cmd([](auto* c) { c->mutable_end(); })).code(),
              0);
  }

  std::unique_ptr<ParticipantClient> JoinKeeping(const std::string& code,
                                                 const std::string& name) {
    v1::JoinRequest join;
    join.set_join_code(code);
    join.mutable_check_in()->set_display_name(name);
    join.mutable_check_in()->set_track(v1::RECOVERY_TRACK_CESAREAN);
    join.mutable_check_in()->set_weeks_postpartum(10);
    join.mutable_check_in()->set_equipment("medium band");
    join.set_keep_profile(true);
    return server_.JoinWith(join);
  }

  std::unique_ptr<ParticipantClient> JoinWithProfile(
      const std::string& code, const std::string& credential) {
    v1::JoinRequest join;
    join.set_join_code(code);
    join.set_profile_credential(credential);
    return server_.JoinWith(join);
  }

  grpc::Status Progress(const std::string& bearer,
                        const v1::GetProgressRequest& request,
                        v1::Progress* progress) {
    return server_.stub()->GetProgress(Context(bearer).get(), request,
                                       progress);
  }

  grpc::Status MyData(const std::string& credential, v1::MyData* data) {
    return server_.stub()->GetMyData(Context(credential).get(), {}, data);
  }

  v1::AccountCredential AddAccount(const std::string& name,
                                   const std::string& studio) {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
    add.set_studio_id(studio);
    v1::AccountCredential credential;
    EXPECT_TRUE(
        server_.stub()
            ->AddAccount(Context(kInstructorKey).get(), add, &credential)
            .ok());
    return credential;
  }

  LiveServer server_;
  std::unique_ptr<InstructorClient> instructor_;
};

TEST_F(LiveProfilesTest, AProfileCarriesHerFromOneClassToTheNext) {
  v1::ClassInfo first = StartedClass();
  auto dana = JoinKeeping(first.join_code(), "Dana");
  ASSERT_FALSE(dana->participant_id.empty()) << dana->refused.error_message();
  const std::string credential = dana->joined.profile_credential();
  const std::string profile_id = dana->joined.profile_id();
  EXPECT_THAT(credential, StartsWith("cp_"));
  EXPECT_THAT(profile_id, StartsWith("pf-"));
  ASSERT_EQ(dana->Report(Completion("a", 0, 1, v1::SIDE_LEFT, 8), "a").code(),
            0);
  ASSERT_EQ(dana->Report(Completion("b", 0, 1, v1::SIDE_RIGHT, 10), "b").code(),
            0);
  // Joining without a profile works as ever, and links nothing.
  auto lee = server_.Join(first.join_code(), "Lee");
  EXPECT_TRUE(lee->joined.profile_id().empty());
  EXPECT_TRUE(lee->joined.profile_credential().empty());
  End();

  v1::Profile profile;
  ASSERT_TRUE(server_.stub()
                  ->GetMyProfile(Context(credential).get(), {}, &profile)
                  .ok());
  EXPECT_EQ(profile.display_name(), "Dana");
  EXPECT_EQ(profile.track(), v1::RECOVERY_TRACK_CESAREAN);
  EXPECT_EQ(profile.weeks_postpartum(), 10);
  EXPECT_EQ(profile.class_count(), 1);

  // Her own progress: the first class, per side.
  v1::Progress progress;
  ASSERT_TRUE(Progress(credential, {}, &progress).ok());
  ASSERT_EQ(progress.classes_size(), 1);
  EXPECT_EQ(progress.classes(0).class_id(), first.class_id());
  EXPECT_EQ(progress.classes(0).total_reps(), 18);
  ASSERT_GE(progress.classes(0).exercises_size(), 1);
  EXPECT_EQ(progress.classes(0).exercises(0).left_reps(), 8);
  EXPECT_EQ(progress.classes(0).exercises(0).right_reps(), 10);

  // The next class: the profile fills her check-in and links the seat.
  v1::ClassInfo second = StartedClass();
  auto again = JoinWithProfile(second.join_code(), credential);
  ASSERT_FALSE(again->participant_id.empty()) << again->refused.error_message();
  EXPECT_EQ(again->joined.profile_id(), profile_id);
  EXPECT_TRUE(again->joined.profile_credential().empty())
      << "the credential is shown once, when it is made";
  v1::InstructorSnapshot snapshot = FreshSnapshot(server_, second.class_id());
  ASSERT_EQ(snapshot.roster_size(), 1);
  EXPECT_EQ(snapshot.roster(0).profile_id(), profile_id);
  EXPECT_EQ(snapshot.roster(0).check_in().display_name(), "Dana");
  EXPECT_EQ(snapshot.roster(0).check_in().track(), v1::RECOVERY_TRACK_CESAREAN);
  End();

  // Her instructor sees her progress by profile or by seat.
  v1::GetProgressRequest by_seat;
  by_seat.set_class_id(second.class_id());
  by_seat.set_participant_id(again->participant_id);
  ASSERT_TRUE(Progress(kInstructorKey, by_seat, &progress).ok());
  EXPECT_EQ(progress.classes_size(), 2);
  EXPECT_EQ(progress.profile().profile_id(), profile_id);

  // Her data: the profile and both classes.
  v1::MyData data;
  ASSERT_TRUE(MyData(credential, &data).ok());
  EXPECT_EQ(data.profile().profile_id(), profile_id);
  ASSERT_EQ(data.classes_size(), 2);
  EXPECT_EQ(data.classes(0).participant().total_reps(), 18);
}

TEST_F(LiveProfilesTest, NobodyElseSeesHerProfile) {
  v1::ClassInfo info = StartedClass();
  auto dana = JoinKeeping(info.join_code(), "Dana");
  auto lee = JoinKeeping(info.join_code(), "Lee");
  ASSERT_FALSE(dana->participant_id.empty());
  ASSERT_FALSE(lee->participant_id.empty());
  End();
  const std::string dana_id = dana->joined.profile_id();
  v1::GetProgressRequest hers;
  hers.set_profile_id(dana_id);
  v1::Progress progress;
  // Another participant: her own only.
  EXPECT_EQ(
      Progress(lee->joined.profile_credential(), hers, &progress).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // A kiosk: never.
  EXPECT_EQ(Progress(kKioskKey, hers, &progress).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Another studio's instructor: as if there were no such profile.
  v1::AccountCredential other = AddAccount("Sam", "riverside");
  EXPECT_EQ(Progress(other.credential(), hers, &progress).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Her studio's instructor: yes.
  v1::AccountCredential same = AddAccount("Ana", "main");
  EXPECT_TRUE(Progress(same.credential(), hers, &progress).ok());
  // Nobody else downloads her data or revokes her credential.
  v1::MyData data;
  EXPECT_EQ(MyData(kInstructorKey, &data).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RevokeProfileCredentialRequest revoke;
  revoke.set_profile_id(dana_id);
  v1::Profile revoked;
  EXPECT_EQ(
      server_.stub()
          ->RevokeProfileCredential(
              Context(lee->joined.profile_credential()).get(), revoke, &revoked)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(server_.stub()
                ->RevokeProfileCredential(Context(same.credential()).get(),
                                          revoke, &revoked)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED)
      << "an instructor is not an admin";
  // The kiosk's stream never carried her profile id.
  auto kiosk = server_.Watch(info.class_id());
  ASSERT_TRUE(kiosk->in.WaitFor([](const auto& all) { return !all.empty(); }));
  for (const auto& m : kiosk->in.messages()) {
    EXPECT_THAT(m.SerializeAsString(), Not(HasSubstr(dana_id)));
  }
}

TEST_F(LiveProfilesTest, ARevokedCredentialIsRefusedAndTheDataStays) {
  v1::ClassInfo info = StartedClass();
  auto dana = JoinKeeping(info.join_code(), "Dana");
  ASSERT_FALSE(dana->participant_id.empty());
  End();
  const std::string credential = dana->joined.profile_credential();
  v1::Profile revoked;
  ASSERT_TRUE(
      server_.stub()
          ->RevokeProfileCredential(Context(credential).get(), {}, &revoked)
          .ok());
  EXPECT_TRUE(revoked.revoked());
  v1::Profile profile;
  EXPECT_EQ(server_.stub()
                ->GetMyProfile(Context(credential).get(), {}, &profile)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ClassInfo next = StartedClass();
  auto refused = JoinWithProfile(next.join_code(), credential);
  EXPECT_TRUE(refused->participant_id.empty());
  EXPECT_EQ(refused->refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Revoking keeps the data: her studio still sees her history.
  v1::GetProgressRequest hers;
  hers.set_profile_id(dana->joined.profile_id());
  v1::Progress progress;
  ASSERT_TRUE(Progress(kInstructorKey, hers, &progress).ok());
  EXPECT_EQ(progress.classes_size(), 1);
}

// Her first Joined, the only copy of her new credential, can be lost with
// the connection; the app retries the same join (same client_join_id) and
// must not end up with a profile nobody can open.
TEST_F(LiveProfilesTest, ARetriedJoinGetsANewCredentialForTheProfileItMade) {
  v1::ClassInfo info = StartedClass();
  v1::JoinRequest join;
  join.set_join_code(info.join_code());
  join.mutable_check_in()->set_display_name("Dana");
  join.set_keep_profile(true);
  join.set_client_join_id("0123456789abcdef0123456789abcdef");
  auto first = server_.JoinWith(join);
  ASSERT_FALSE(first->participant_id.empty());
  const std::string lost = first->joined.profile_credential();
  ASSERT_THAT(lost, StartsWith("cp_"));

  auto retried = server_.JoinWith(join);
  ASSERT_EQ(retried->participant_id, first->participant_id);  // her seat
  EXPECT_EQ(retried->joined.profile_id(), first->joined.profile_id());
  const std::string fresh = retried->joined.profile_credential();
  ASSERT_THAT(fresh, StartsWith("cp_"));
  EXPECT_NE(fresh, lost);
  v1::Profile profile;
  ASSERT_TRUE(
      server_.stub()->GetMyProfile(Context(fresh).get(), {}, &profile).ok());
  EXPECT_EQ(profile.profile_id(), first->joined.profile_id());
  // The lost one opens nothing, should it turn up.
  EXPECT_EQ(server_.stub()
                ->GetMyProfile(Context(lost).get(), {}, &profile)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A retried join that came with her credential keeps it: nothing to
  // replace.
  v1::JoinRequest with_credential;
  with_credential.set_join_code(info.join_code());
  with_credential.set_profile_credential(fresh);
  with_credential.set_client_join_id("fedcba9876543210fedcba9876543210");
  auto second_phone = server_.JoinWith(with_credential);
  ASSERT_FALSE(second_phone->participant_id.empty());
  auto second_retried = server_.JoinWith(with_credential);
  EXPECT_EQ(second_retried->participant_id, second_phone->participant_id);
  EXPECT_EQ(second_retried->joined.profile_id(), first->joined.profile_id());
  EXPECT_TRUE(second_retried->joined.profile_credential().empty());
  EXPECT_TRUE(
      server_.stub()->GetMyProfile(Context(fresh).get(), {}, &profile).ok());

  // A revoke stands: a retry after it gets her seat, not a new credential.
  v1::Profile revoked;
  ASSERT_TRUE(server_.stub()
                  ->RevokeProfileCredential(Context(fresh).get(), {}, &revoked)
                  .ok());
  auto after_revoke = server_.JoinWith(join);
  EXPECT_EQ(after_revoke->participant_id, first->participant_id);
  EXPECT_TRUE(after_revoke->joined.profile_credential().empty());
}

TEST_F(LiveProfilesTest, BadProfileInputChangesNothing) {
  v1::ClassInfo info = StartedClass();
  auto forged = JoinWithProfile(info.join_code(), "cp_0123456789abcdef");
  EXPECT_EQ(forged->refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto dana = JoinKeeping(info.join_code(), "Dana");
  ASSERT_FALSE(dana->participant_id.empty());
  const std::string credential = dana->joined.profile_credential();
  v1::UpdateMyProfileRequest update;
  update.mutable_profile()->set_birth_date("2026-13-45");
  v1::Profile profile;
  grpc::Status bad = server_.stub()->UpdateMyProfile(Context(credential).get(),
                                                     update, &profile);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("birth_date"));
  update.mutable_profile()->set_birth_date("");
  update.mutable_profile()->set_weeks_given(9000);
  EXPECT_EQ(server_.stub()
                ->UpdateMyProfile(Context(credential).get(), update, &profile)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(server_.stub()
                  ->GetMyProfile(Context(credential).get(), {}, &profile)
                  .ok());
  EXPECT_EQ(profile.weeks_postpartum(), 10) << "nothing changed";
  // A good update: weeks from a birth date advance by themselves.
  update.mutable_profile()->clear_weeks_given();
  update.mutable_profile()->set_birth_date("2026-09-01");
  update.mutable_profile()->set_track(v1::RECOVERY_TRACK_VAGINAL);
  ASSERT_TRUE(server_.stub()
                  ->UpdateMyProfile(Context(credential).get(), update, &profile)
                  .ok());
  EXPECT_EQ(profile.track(), v1::RECOVERY_TRACK_VAGINAL);
  EXPECT_EQ(profile.display_name(), "Dana") << "an empty name stays";
  EXPECT_TRUE(profile.has_weeks_postpartum());
  // Erasing while her class runs is refused, and nothing is lost.
  v1::EraseMyDataResponse erased;
  EXPECT_EQ(server_.stub()
                ->EraseMyData(Context(credential).get(), {}, &erased)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Erasing by name: her own id with her credential is hers (refused while
  // live, as above); an account must name one, and may only if an admin of
  // her studio; an unknown one is NOT_FOUND.
  v1::EraseMyDataRequest by_name;
  by_name.set_profile_id(profile.profile_id());
  EXPECT_EQ(server_.stub()
                ->EraseMyData(Context(credential).get(), by_name, &erased)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::EraseMyDataRequest nameless;
  grpc::Status status = server_.stub()->EraseMyData(
      Context(kInstructorKey).get(), nameless, &erased);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("profile_id"));
  v1::AccountCredential ana = AddAccount("Ana", "main");
  status = server_.stub()->EraseMyData(Context(ana.credential()).get(), by_name,
                                       &erased);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("admin"));
  v1::EraseMyDataRequest unknown;
  unknown.set_profile_id("pf-0000000000000000");
  EXPECT_EQ(server_.stub()
                ->EraseMyData(Context(kInstructorKey).get(), unknown, &erased)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(server_.stub()
                  ->GetMyProfile(Context(credential).get(), {}, &profile)
                  .ok());
}

class LiveProfilesOnDiskTest : public LiveProfilesTest {
 protected:
  LiveProfilesOnDiskTest() : LiveProfilesTest(Options()) {}
  static ServerOptions Options() {
    data_dir_ = MakeTempDir();
    return LiveServer::SqliteOptions(data_dir_);
  }
  static std::string data_dir_;
};
std::string LiveProfilesOnDiskTest::data_dir_;

TEST_F(LiveProfilesOnDiskTest, EraseRemovesEveryByteOfHerAndKeepsTheRest) {
  v1::ClassInfo info = StartedClass();
  auto dana = JoinKeeping(info.join_code(), "Dana");
  auto lee = server_.Join(info.join_code(), "Lee");
  ASSERT_FALSE(dana->participant_id.empty());
  ASSERT_EQ(dana->Report(Completion("a", 0, 1, v1::SIDE_LEFT, 8), "a").code(),
            0);
  ASSERT_EQ(lee->Report(Completion("b", 0, 1, v1::SIDE_LEFT, 9), "b").code(),
            0);
  End();
  const std::string credential = dana->joined.profile_credential();
  const std::string profile_id = dana->joined.profile_id();
  // The profile survives a restart.
  instructor_.reset();
  dana.reset();
  lee.reset();
  server_.Restart();
  v1::Profile profile;
  ASSERT_TRUE(server_.stub()
                  ->GetMyProfile(Context(credential).get(), {}, &profile)
                  .ok());
  EXPECT_EQ(profile.class_count(), 1);
  EXPECT_THAT(ReadFile(data_dir_ + "/circuit.db") +
                  ReadFile(data_dir_ + "/circuit.db-wal"),
              HasSubstr(profile_id));

  v1::EraseMyDataResponse erased;
  ASSERT_TRUE(
      server_.stub()->EraseMyData(Context(credential).get(), {}, &erased).ok());
  EXPECT_EQ(erased.erased_class_count(), 1);
  EXPECT_EQ(server_.stub()
                ->GetMyProfile(Context(credential).get(), {}, &profile)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  for (const char* file : {"/circuit.db", "/circuit.db-wal"}) {
    EXPECT_THAT(ReadFile(data_dir_ + file), Not(HasSubstr(profile_id))) << file;
  }
  // The class's summary shows her seat erased and keeps Lee's.
  v1::GetClassSummaryRequest request;
  request.set_class_id(info.class_id());
  v1::ClassSummary summary;
  ASSERT_TRUE(
      server_.stub()
          ->GetClassSummary(Context(kInstructorKey).get(), request, &summary)
          .ok());
  ASSERT_EQ(summary.participants_size(), 2);
  EXPECT_TRUE(summary.participants(0).erased());
  EXPECT_EQ(summary.participants(0).check_in().display_name(), "");
  EXPECT_EQ(summary.participants(0).sets_size(), 0);
  EXPECT_EQ(summary.participants(1).check_in().display_name(), "Lee");
  EXPECT_EQ(summary.total_reps(), 9);
  // After a restart too.
  server_.Restart();
  ASSERT_TRUE(
      server_.stub()
          ->GetClassSummary(Context(kInstructorKey).get(), request, &summary)
          .ok());
  EXPECT_TRUE(summary.participants(0).erased());
}

TEST_F(LiveProfilesTest, HerPlanForTodayComesFromHerLastClasses) {
  std::string credential;
  // Two classes: every rep at the top of the range, and "too easy".
  for (int week = 1; week <= 2; ++week) {
    v1::ClassInfo info = StartedClass();
    auto dana = week == 1 ? JoinKeeping(info.join_code(), "Dana")
                          : JoinWithProfile(info.join_code(), credential);
    ASSERT_FALSE(dana->participant_id.empty()) << dana->refused.error_message();
    if (week == 1) credential = dana->joined.profile_credential();
    // Before enough history there is no plan.
    for (const auto& m : dana->in.messages()) {
      if (m.has_snapshot()) {
        for (const v1::Suggestion& s : m.snapshot().suggestions()) {
          EXPECT_FALSE(s.from_history()) << s.ShortDebugString();
        }
      }
    }
    ASSERT_EQ(
        dana->Report(Completion("l", 0, 1, v1::SIDE_LEFT, 10), "l").code(), 0);
    ASSERT_EQ(
        dana->Report(Completion("r", 0, 1, v1::SIDE_RIGHT, 10), "r").code(), 0);
    v1::JoinClassRequest easy;
    easy.mutable_effort()->set_report_id("e");
    easy.mutable_effort()->set_block_index(0);
    easy.mutable_effort()->set_feel(v1::EFFORT_FEEL_TOO_EASY);
    ASSERT_EQ(dana->Report(easy, "e").code(), 0);
    End();
  }
  v1::ClassInfo third = StartedClass();
  auto dana = JoinWithProfile(third.join_code(), credential);
  ASSERT_FALSE(dana->participant_id.empty());
  auto lee = server_.Join(third.join_code(), "Lee");
  auto kiosk = server_.Watch(third.class_id());
  // Her snapshot carries her plan: a progression for the first exercise,
  // saying why.
  const v1::Suggestion* progression = nullptr;
  v1::ParticipantSnapshot snapshot;
  ASSERT_TRUE(dana->in.WaitFor([&](const auto& all) {
    for (const auto& m : all) {
      if (m.has_snapshot()) snapshot = m.snapshot();
    }
    return snapshot.suggestions_size() > 0;
  }));
  for (const v1::Suggestion& s : snapshot.suggestions()) {
    EXPECT_TRUE(s.from_history());
    if (s.kind() == v1::SUGGESTION_KIND_PROGRESSION) progression = &s;
  }
  ASSERT_NE(progression, nullptr);
  EXPECT_THAT(progression->reason(), HasSubstr("too easy"));
  // The coach sees it in the roster's suggestions before the start.
  v1::InstructorSnapshot console = FreshSnapshot(server_, third.class_id());
  bool seen = false;
  for (const v1::Suggestion& s : console.suggestions()) {
    seen = seen ||
           (s.from_history() && s.participant_id() == dana->participant_id);
  }
  EXPECT_TRUE(seen);
  // Nobody else: Lee's stream and the kiosk carry none of it.
  ASSERT_TRUE(kiosk->in.WaitFor([](const auto& all) { return !all.empty(); }));
  for (const auto& m : kiosk->in.messages()) {
    EXPECT_THAT(m.SerializeAsString(), Not(HasSubstr(progression->reason())));
  }
  for (const auto& m : lee->in.messages()) {
    EXPECT_THAT(m.SerializeAsString(), Not(HasSubstr(progression->reason())));
  }
}

}  // namespace
}  // namespace circuit::testing
