// Accounts and scoped credentials against a live circuitd: each class has an
// owning instructor, a class credential opens one class, a studio's kiosks
// and admins see that studio only, and signing keys rotate without logging
// anyone out.

#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"

namespace circuit {
namespace {

using testing::Context;
using ::testing::HasSubstr;
using testing::InstructorClient;
using testing::kInstructorKey;
using testing::KioskClient;
using testing::LiveServer;

class LiveAccountsTest : public ::testing::Test {
 protected:
  v1::AccountCredential Add(const std::string& name, v1::AccountRole role,
                            const std::string& studio = "",
                            const std::string& as = kInstructorKey) {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(role);
    add.set_studio_id(studio);
    v1::AccountCredential credential;
    const grpc::Status status =
        server_.stub()->AddAccount(Context(as).get(), add, &credential);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return credential;
  }

  grpc::Status CreateClass(const std::string& key, v1::ClassInfo* info) {
    v1::CreateClassRequest request;
    request.set_circuit_id("kickback-trio");
    v1::CreateClassResponse response;
    grpc::Status status =
        server_.stub()->CreateClass(Context(key).get(), request, &response);
    *info = response.class_info();
    return status;
  }

  grpc::Status Summary(const std::string& key, const std::string& class_id) {
    v1::GetClassSummaryRequest request;
    request.set_class_id(class_id);
    v1::ClassSummary summary;
    return server_.stub()->GetClassSummary(Context(key).get(), request,
                                           &summary);
  }

  grpc::Status Erase(const std::string& key, const std::string& class_id) {
    v1::EraseHealthDataRequest request;
    request.set_class_id(class_id);
    request.set_participant_id("p1");
    v1::EraseHealthDataResponse response;
    return server_.stub()->EraseHealthData(Context(key).get(), request,
                                           &response);
  }

  // RunClass as `key`: the first message (the class's state), or the
  // stream's end.
  grpc::Status Run(const std::string& key, const std::string& class_id) {
    InstructorClient client;
    client.context = Context(key);
    client.stream = server_.stub()->RunClass(client.context.get());
    v1::RunClassRequest attach;
    attach.mutable_attach()->set_class_id(class_id);
    client.stream->Write(attach);
    client.in.Start(client.stream.get());
    if (client.in.WaitFor([](const auto& all) { return !all.empty(); })) {
      return grpc::Status::OK;
    }
    return client.in.WaitDone();
  }

  // WatchClass as `key`: OK once the first view arrives.
  grpc::Status Watch(const std::string& key, const std::string& class_id) {
    KioskClient client;
    client.context = Context(key);
    v1::WatchClassRequest request;
    request.set_class_id(class_id);
    client.stream = server_.stub()->WatchClass(client.context.get(), request);
    client.in.Start(client.stream.get());
    if (client.in.WaitFor([](const auto& all) { return !all.empty(); })) {
      client.context->TryCancel();
      return grpc::Status::OK;
    }
    return client.in.WaitDone();
  }

  std::vector<std::string> Listed(const std::string& key) {
    v1::ListClassesRequest request;
    v1::ListClassesResponse response;
    const grpc::Status status =
        server_.stub()->ListClasses(Context(key).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const v1::ClassInfo& info : response.classes()) {
      ids.push_back(info.class_id());
    }
    return ids;
  }

  // A TV of `studio`, paired by `approver`: its credential.
  std::string PairKiosk(const std::string& approver) {
    auto pairing = server_.server()->kiosks()->Start();
    EXPECT_TRUE(pairing.ok()) << pairing.status();
    v1::ApproveKioskPairingRequest approve;
    approve.set_pairing_code(pairing->pairing_code());
    approve.set_name("front TV");
    v1::Kiosk kiosk;
    const grpc::Status status = server_.stub()->ApproveKioskPairing(
        Context(approver).get(), approve, &kiosk);
    EXPECT_TRUE(status.ok()) << status.error_message();
    auto approved = server_.server()->kiosks()->Get(pairing->pairing_code(),
                                                    pairing->pairing_secret());
    EXPECT_TRUE(approved.ok()) << approved.status();
    return approved.ok() ? approved->kiosk_token() : "";
  }

  LiveServer server_;
};

TEST_F(LiveAccountsTest, OnlyTheOwnerOrAnAdminOfItsStudioRunsAClass) {
  const std::string maya =
      Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR, "north").credential();
  const std::string lena =
      Add("Lena", v1::ACCOUNT_ROLE_INSTRUCTOR, "north").credential();
  const std::string north_admin =
      Add("Front desk", v1::ACCOUNT_ROLE_ADMIN, "north").credential();
  const std::string south_admin =
      Add("South desk", v1::ACCOUNT_ROLE_ADMIN, "south").credential();

  v1::ClassInfo info;
  ASSERT_TRUE(CreateClass(maya, &info).ok());
  EXPECT_EQ(info.studio_id(), "north");
  EXPECT_EQ(info.owner_id(), "a1");
  const std::string id = info.class_id();

  EXPECT_TRUE(Run(maya, id).ok());
  EXPECT_TRUE(Run(north_admin, id).ok());
  EXPECT_TRUE(Run(kInstructorKey, id).ok());
  EXPECT_TRUE(Summary(maya, id).ok());
  EXPECT_TRUE(Summary(north_admin, id).ok());

  for (const std::string& other : {lena, south_admin}) {
    const grpc::Status run = Run(other, id);
    EXPECT_EQ(run.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_FALSE(run.error_message().empty());
    EXPECT_EQ(Summary(other, id).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(Erase(other, id).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // The other studio does not even see it listed.
  EXPECT_THAT(Listed(lena), ::testing::Contains(id));
  EXPECT_THAT(Listed(south_admin), ::testing::Not(::testing::Contains(id)));
  EXPECT_EQ(Run("not-a-credential", id).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(LiveAccountsTest, AClassCredentialOpensItsClassAndNothingElse) {
  const std::string maya =
      Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR).credential();
  v1::ClassInfo first;
  v1::ClassInfo second;
  ASSERT_TRUE(CreateClass(maya, &first).ok());
  ASSERT_TRUE(CreateClass(maya, &second).ok());

  v1::IssueClassCredentialRequest request;
  request.set_class_id(first.class_id());
  v1::ClassCredential substitute;
  ASSERT_TRUE(
      server_.stub()
          ->IssueClassCredential(Context(maya).get(), request, &substitute)
          .ok());
  const std::string token = substitute.credential();
  EXPECT_TRUE(Run(token, first.class_id()).ok());
  EXPECT_TRUE(Summary(token, first.class_id()).ok());
  EXPECT_EQ(Run(token, second.class_id()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Summary(token, second.class_id()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ClassInfo third;
  EXPECT_EQ(CreateClass(token, &third).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::AddAccountRequest add;
  add.set_name("Sneaky");
  add.set_role(v1::ACCOUNT_ROLE_ADMIN);
  v1::AccountCredential ignored;
  EXPECT_EQ(server_.stub()
                ->AddAccount(Context(token).get(), add, &ignored)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Another instructor cannot hand out credentials for Maya's class.
  const std::string lena =
      Add("Lena", v1::ACCOUNT_ROLE_INSTRUCTOR).credential();
  EXPECT_EQ(
      server_.stub()
          ->IssueClassCredential(Context(lena).get(), request, &substitute)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // Revoking Maya ends what she issued.
  v1::RevokeAccountRequest revoke;
  revoke.set_account_id("a1");
  v1::Account revoked;
  ASSERT_TRUE(
      server_.stub()
          ->RevokeAccount(Context(kInstructorKey).get(), revoke, &revoked)
          .ok());
  EXPECT_EQ(Summary(token, first.class_id()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Summary(maya, first.class_id()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Her classes stay, for an admin to run.
  EXPECT_TRUE(Summary(kInstructorKey, first.class_id()).ok());
}

TEST_F(LiveAccountsTest, AStudiosTvWatchesThatStudioOnlyUntilRevoked) {
  const std::string north_admin =
      Add("North desk", v1::ACCOUNT_ROLE_ADMIN, "north").credential();
  const std::string south_admin =
      Add("South desk", v1::ACCOUNT_ROLE_ADMIN, "south").credential();
  v1::ClassInfo north;
  v1::ClassInfo south;
  ASSERT_TRUE(CreateClass(north_admin, &north).ok());
  ASSERT_TRUE(CreateClass(south_admin, &south).ok());

  const std::string tv = PairKiosk(north_admin);
  ASSERT_FALSE(tv.empty());
  EXPECT_TRUE(Watch(tv, north.class_id()).ok());
  EXPECT_EQ(Watch(tv, south.class_id()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Run(tv, north.class_id()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Summary(tv, north.class_id()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(Listed(tv), ::testing::ElementsAre(north.class_id()));

  // The other studio's admin neither sees nor revokes it; its own does.
  v1::ListKiosksResponse kiosks;
  ASSERT_TRUE(server_.stub()
                  ->ListKiosks(Context(south_admin).get(),
                               v1::ListKiosksRequest(), &kiosks)
                  .ok());
  EXPECT_EQ(kiosks.kiosks_size(), 0);
  ASSERT_TRUE(server_.stub()
                  ->ListKiosks(Context(north_admin).get(),
                               v1::ListKiosksRequest(), &kiosks)
                  .ok());
  ASSERT_EQ(kiosks.kiosks_size(), 1);
  EXPECT_EQ(kiosks.kiosks(0).studio_id(), "north");
  v1::RevokeKioskRequest revoke;
  revoke.set_kiosk_id(kiosks.kiosks(0).kiosk_id());
  v1::Kiosk revoked;
  EXPECT_EQ(server_.stub()
                ->RevokeKiosk(Context(south_admin).get(), revoke, &revoked)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(server_.stub()
                  ->RevokeKiosk(Context(north_admin).get(), revoke, &revoked)
                  .ok());
  EXPECT_EQ(Watch(tv, north.class_id()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(LiveAccountsTest, AdminsManageTheirStudioAndBootstrapTheSigningKeys) {
  const std::string north_admin =
      Add("North desk", v1::ACCOUNT_ROLE_ADMIN, "north").credential();
  const std::string maya =
      Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR, "", north_admin).credential();
  Add("Sol", v1::ACCOUNT_ROLE_INSTRUCTOR, "south");

  v1::ListAccountsResponse listed;
  ASSERT_TRUE(server_.stub()
                  ->ListAccounts(Context(north_admin).get(),
                                 v1::ListAccountsRequest(), &listed)
                  .ok());
  ASSERT_EQ(listed.accounts_size(), 2);
  for (const v1::Account& account : listed.accounts()) {
    EXPECT_EQ(account.studio_id(), "north") << account.ShortDebugString();
  }

  v1::AddAccountRequest add;
  add.set_name("Elsewhere");
  add.set_role(v1::ACCOUNT_ROLE_ADMIN);
  add.set_studio_id("south");
  v1::AccountCredential ignored;
  EXPECT_EQ(server_.stub()
                ->AddAccount(Context(north_admin).get(), add, &ignored)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  add.set_studio_id("north");
  EXPECT_EQ(server_.stub()
                ->AddAccount(Context(maya).get(), add, &ignored)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  add.set_role(v1::ACCOUNT_ROLE_UNSPECIFIED);
  const grpc::Status bad =
      server_.stub()->AddAccount(Context(north_admin).get(), add, &ignored);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("role"));

  // Rotation: only the bootstrap key; old credentials keep working until
  // their key is retired.
  v1::SigningKeys keys;
  EXPECT_EQ(server_.stub()
                ->RotateSigningKey(Context(north_admin).get(),
                                   v1::RotateSigningKeyRequest(), &keys)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(server_.stub()
                  ->RotateSigningKey(Context(kInstructorKey).get(),
                                     v1::RotateSigningKeyRequest(), &keys)
                  .ok());
  ASSERT_EQ(keys.keys_size(), 2);
  v1::ClassInfo info;
  ASSERT_TRUE(CreateClass(maya, &info).ok());
  v1::RetireSigningKeyRequest retire;
  retire.set_key_id(keys.keys(0).key_id());
  ASSERT_TRUE(
      server_.stub()
          ->RetireSigningKey(Context(kInstructorKey).get(), retire, &keys)
          .ok());
  const grpc::Status retired = CreateClass(maya, &info);
  EXPECT_EQ(retired.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(retired.error_message(), HasSubstr("retired"));
}

TEST_F(LiveAccountsTest, RevokingOrReissuingEndsTheStreamsAlreadyOpen) {
  const std::string maya =
      Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR).credential();
  const std::string lena =
      Add("Lena", v1::ACCOUNT_ROLE_INSTRUCTOR).credential();
  v1::ClassInfo mayas;
  v1::ClassInfo lenas;
  ASSERT_TRUE(CreateClass(maya, &mayas).ok());
  ASSERT_TRUE(CreateClass(lena, &lenas).ok());

  // Each console attached (its first message came), plus the bootstrap's.
  auto open = [&](const std::string& key, const std::string& class_id) {
    auto client = std::make_unique<InstructorClient>();
    client->context = Context(key);
    client->stream = server_.stub()->RunClass(client->context.get());
    v1::RunClassRequest attach;
    attach.mutable_attach()->set_class_id(class_id);
    EXPECT_TRUE(client->stream->Write(attach));
    client->in.Start(client->stream.get());
    EXPECT_TRUE(
        client->in.WaitFor([](const auto& all) { return !all.empty(); }));
    return client;
  };
  auto mayas_console = open(maya, mayas.class_id());
  auto lenas_console = open(lena, lenas.class_id());
  auto front_desk = open(kInstructorKey, mayas.class_id());

  v1::RevokeAccountRequest revoke;
  revoke.set_account_id("a1");
  v1::Account revoked;
  ASSERT_TRUE(
      server_.stub()
          ->RevokeAccount(Context(kInstructorKey).get(), revoke, &revoked)
          .ok());
  const grpc::Status ended = mayas_console->in.WaitDone();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended.error_message(), HasSubstr("revoked"));

  v1::ReissueAccountCredentialRequest reissue;
  reissue.set_account_id("a2");
  v1::AccountCredential reissued;
  ASSERT_TRUE(server_.stub()
                  ->ReissueAccountCredential(Context(kInstructorKey).get(),
                                             reissue, &reissued)
                  .ok());
  EXPECT_EQ(lenas_console->in.WaitDone().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // The bootstrap key's console is still served: a command gets its result.
  v1::InstructorCommand pause;
  pause.mutable_start();
  EXPECT_EQ(front_desk->Send(pause).code(), 0);
}

TEST(LiveAccountsRestartTest, AccountsAndOwnersSurviveARestart) {
  const std::string dir = ::testing::TempDir() + "/live_accounts_restart";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    LiveServer server(LiveServer::SqliteOptions(dir));
    v1::AddAccountRequest add;
    add.set_name("Maya");
    add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
    v1::AccountCredential maya;
    ASSERT_TRUE(server.stub()
                    ->AddAccount(Context(kInstructorKey).get(), add, &maya)
                    .ok());
    add.set_name("Lena");
    v1::AccountCredential lena;
    ASSERT_TRUE(server.stub()
                    ->AddAccount(Context(kInstructorKey).get(), add, &lena)
                    .ok());
    v1::CreateClassRequest create;
    create.set_circuit_id("kickback-trio");
    v1::CreateClassResponse created;
    ASSERT_TRUE(
        server.stub()
            ->CreateClass(Context(maya.credential()).get(), create, &created)
            .ok());

    server.Restart();
    v1::GetClassSummaryRequest request;
    request.set_class_id(created.class_info().class_id());
    v1::ClassSummary summary;
    EXPECT_TRUE(server.stub()
                    ->GetClassSummary(Context(maya.credential()).get(), request,
                                      &summary)
                    .ok());
    EXPECT_EQ(server.stub()
                  ->GetClassSummary(Context(lena.credential()).get(), request,
                                    &summary)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace circuit
