// Signing in to the browser console: a one-time code from gRPC or HTTP
// answers a console credential over either door; the code works once; a
// revoke or reissue ends the credential and the streams it opened; every
// refusal says why and changes nothing.

#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/integration/live_harness.h"

namespace circuit {
namespace {

namespace http = boost::beast::http;
using testing::Context;
using testing::Fetch;
using ::testing::HasSubstr;
using testing::kInstructorKey;
using testing::LiveServer;
using ::testing::Not;
using testing::Reply;
using testing::SseReader;
using ::testing::StartsWith;

// `json` as `message`; fails the test when it does not parse.
template <class Message>
Message FromJson(const std::string& json) {
  Message message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok())
      << json;
  return message;
}

class LiveHttpSignInTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options = LiveServer::DefaultOptions();
    options.http_listen = "127.0.0.1:0";
    return options;
  }

  int port() { return server_.server()->http_port(); }

  v1::AccountCredential Add(const std::string& name, v1::AccountRole role,
                            const std::string& studio = "") {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(role);
    add.set_studio_id(studio);
    v1::AccountCredential credential;
    const grpc::Status status = server_.stub()->AddAccount(
        Context(kInstructorKey).get(), add, &credential);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return credential;
  }

  grpc::Status IssueCode(const std::string& as, const std::string& account_id,
                         v1::SignInCode* code) {
    v1::IssueSignInCodeRequest request;
    request.set_account_id(account_id);
    return server_.stub()->IssueSignInCode(Context(as).get(), request, code);
  }

  Reply SignInWith(const std::string& code) {
    return Fetch(port(), http::verb::post, "/v1/signIn",
                 "{\"signInCode\":\"" + code + "\"}");
  }

  static std::string Bearer(const std::string& token) {
    return "Bearer " + token;
  }

  LiveServer server_{Options()};
};

TEST_F(LiveHttpSignInTest, ACodeSignsInOnceAndTheCredentialOpensTheConsole) {
  const v1::AccountCredential maya = Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR);
  v1::SignInCode code;
  ASSERT_TRUE(
      IssueCode(kInstructorKey, maya.account().account_id(), &code).ok());
  EXPECT_THAT(code.console_url(),
              StartsWith("http://127.0.0.1:" + std::to_string(port()) +
                         "/console#code="));

  const Reply signed_in = SignInWith(code.code());
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const auto response = FromJson<v1::SignInResponse>(signed_in.body);
  EXPECT_EQ(response.account().name(), "Maya");
  ASSERT_FALSE(response.credential().empty());
  // A console credential of its own, not the account credential.
  EXPECT_NE(response.credential(), maya.credential());

  const Reply me = Fetch(port(), http::verb::get, "/v1/me", "", -1,
                         Bearer(response.credential()));
  EXPECT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(FromJson<v1::SignInResponse>(me.body).account().account_id(),
            maya.account().account_id());
  // It runs her classes over gRPC too, as her account credential does.
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  EXPECT_TRUE(
      server_.stub()
          ->CreateClass(Context(response.credential()).get(), create, &created)
          .ok());
  const Reply listed = Fetch(port(), http::verb::get, "/v1/classes", "", -1,
                             Bearer(response.credential()));
  EXPECT_EQ(listed.status, 200);
  EXPECT_THAT(listed.body, HasSubstr(created.class_info().class_id()));

  const Reply reused = SignInWith(code.code());
  EXPECT_EQ(reused.status, 401);
  EXPECT_THAT(reused.body, HasSubstr("already used"));
  EXPECT_THAT(reused.body, Not(HasSubstr(code.code())));
}

TEST_F(LiveHttpSignInTest, SigningInOverGrpcWithACodeOrACredential) {
  const v1::AccountCredential ada = Add("Ada", v1::ACCOUNT_ROLE_ADMIN);
  v1::SignInCode code;
  ASSERT_TRUE(
      IssueCode(kInstructorKey, ada.account().account_id(), &code).ok());
  v1::SignInRequest with_code;
  with_code.set_sign_in_code(code.code());
  v1::SignInResponse response;
  ASSERT_TRUE(
      server_.stub()->SignIn(Context().get(), with_code, &response).ok());
  EXPECT_EQ(response.account().name(), "Ada");
  EXPECT_EQ(server_.stub()
                ->SignIn(Context().get(), with_code, &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  v1::SignInResponse with_credential;
  ASSERT_TRUE(server_.stub()
                  ->SignIn(Context(ada.credential()).get(), v1::SignInRequest(),
                           &with_credential)
                  .ok());
  EXPECT_EQ(with_credential.account().account_id(), ada.account().account_id());
  // The same over HTTP, with the credential as Bearer and no code.
  const Reply http_credential = Fetch(port(), http::verb::post, "/v1/signIn",
                                      "{}", -1, Bearer(ada.credential()));
  EXPECT_EQ(http_credential.status, 200) << http_credential.body;
  const Reply kiosk = Fetch(port(), http::verb::post, "/v1/signIn", "{}", -1,
                            Bearer(testing::kKioskKey));
  EXPECT_EQ(kiosk.status, 403) << kiosk.body;
}

TEST_F(LiveHttpSignInTest, OnlyAdminsIssueCodesAndRefusalsChangeNothing) {
  const v1::AccountCredential ada = Add("Ada", v1::ACCOUNT_ROLE_ADMIN);
  const v1::AccountCredential maya = Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR);
  const v1::AccountCredential sol = Add("Sol", v1::ACCOUNT_ROLE_ADMIN, "south");
  const std::string path =
      "/v1/accounts/" + maya.account().account_id() + ":issueSignInCode";

  const Reply by_admin =
      Fetch(port(), http::verb::post, path, "{}", -1, Bearer(ada.credential()));
  ASSERT_EQ(by_admin.status, 200) << by_admin.body;
  const auto code = FromJson<v1::SignInCode>(by_admin.body);
  EXPECT_EQ(code.account_id(), maya.account().account_id());

  EXPECT_EQ(
      Fetch(port(), http::verb::post, path, "{}", -1, Bearer(maya.credential()))
          .status,
      403);
  EXPECT_EQ(
      Fetch(port(), http::verb::post, path, "{}", -1, Bearer(sol.credential()))
          .status,
      403);
  EXPECT_EQ(Fetch(port(), http::verb::post, path, "{}").status, 401);
  std::string forged = ada.credential();
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(
      Fetch(port(), http::verb::post, path, "{}", -1, Bearer(forged)).status,
      401);
  EXPECT_EQ(Fetch(port(), http::verb::post, "/v1/accounts/a404:issueSignInCode",
                  "{}", -1, Bearer(kInstructorKey))
                .status,
            404);
  EXPECT_EQ(Fetch(port(), http::verb::post, path, "{\"ttlSeconds\":\"99999\"}",
                  -1, Bearer(ada.credential()))
                .status,
            400);
  EXPECT_EQ(Fetch(port(), http::verb::post, path, "{not json", -1,
                  Bearer(ada.credential()))
                .status,
            400);
  EXPECT_EQ(Fetch(port(), http::verb::post, "/v1/signIn", "{not json").status,
            400);
  EXPECT_EQ(Fetch(port(), http::verb::get, "/v1/signIn").status, 501);

  // None of that used up the admin's code.
  EXPECT_EQ(SignInWith(code.code()).status, 200);
}

TEST_F(LiveHttpSignInTest, RevokeEndsTheConsoleCredentialAndItsOpenStreams) {
  const v1::AccountCredential maya = Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR);
  v1::SignInCode code;
  ASSERT_TRUE(
      IssueCode(kInstructorKey, maya.account().account_id(), &code).ok());
  const Reply signed_in = SignInWith(code.code());
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const std::string console =
      FromJson<v1::SignInResponse>(signed_in.body).credential();

  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  ASSERT_TRUE(server_.stub()
                  ->CreateClass(Context(console).get(), create, &created)
                  .ok());
  SseReader watch(port(),
                  "/v1/classes/" + created.class_info().class_id() + ":watch",
                  console);
  ASSERT_TRUE(watch.WaitFor("\"snapshot\""));

  v1::RevokeAccountRequest revoke;
  revoke.set_account_id(maya.account().account_id());
  v1::Account revoked;
  ASSERT_TRUE(
      server_.stub()
          ->RevokeAccount(Context(kInstructorKey).get(), revoke, &revoked)
          .ok());
  ASSERT_TRUE(watch.WaitFor("event: end"));
  EXPECT_TRUE(watch.WaitFor("UNAUTHENTICATED"));

  const Reply me =
      Fetch(port(), http::verb::get, "/v1/me", "", -1, Bearer(console));
  EXPECT_EQ(me.status, 401);
  EXPECT_THAT(me.body, HasSubstr("revoked"));
  v1::SignInCode again;
  EXPECT_EQ(IssueCode(kInstructorKey, maya.account().account_id(), &again)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(LiveSignInLimitTest, GuessingCodesIsLimitedPerAddress) {
  FakeClock clock;  // frozen: the bucket never refills
  ServerOptions options = LiveServer::DefaultOptions();
  options.http_listen = "127.0.0.1:0";
  options.service.lookup_burst_per_peer = 3;
  LiveServer server(options, &clock);
  const int port = server.server()->http_port();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Fetch(port, http::verb::post, "/v1/signIn",
                    "{\"signInCode\":\"ABCDE-FGHJK\"}")
                  .status,
              401);
  }
  const Reply limited = Fetch(port, http::verb::post, "/v1/signIn",
                              "{\"signInCode\":\"ABCDE-FGHJK\"}");
  EXPECT_EQ(limited.status, 429);
  EXPECT_THAT(limited.body, HasSubstr("sign-in"));
  v1::SignInRequest request;
  request.set_sign_in_code("ABCDE-FGHJK");
  v1::SignInResponse response;
  EXPECT_EQ(server.stub()
                ->SignIn(testing::Context().get(), request, &response)
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace circuit
