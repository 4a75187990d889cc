#include "server/auth/sign_ins.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/access.h"
#include "server/auth/principal.h"
#include "server/common/clock.h"
#include "tests/testing/shared_document.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kBootstrapKey[] = "bootstrap-key-for-sign-in-tests";
constexpr char kKioskKey[] = "kiosk-key-for-sign-in-tests";

class SignInsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto accounts = Accounts::Open(Accounts::Options(), &clock_);
    ASSERT_TRUE(accounts.ok()) << accounts.status();
    accounts_ = std::move(*accounts);
    keys_.instructor_key = kBootstrapKey;
    keys_.kiosk_key = kKioskKey;
    keys_.accounts = accounts_.get();
    SignIns::Options options;
    options.console_base_url = "https://studio.example:8443";
    options.max_pending = 4;
    sign_ins_ = std::make_unique<SignIns>(accounts_.get(), &clock_, options);
    admin_ = Add("Ada", v1::ACCOUNT_ROLE_ADMIN, "north");
    maya_ = Add("Maya", v1::ACCOUNT_ROLE_INSTRUCTOR, "north");
    south_admin_ = Add("Sol", v1::ACCOUNT_ROLE_ADMIN, "south");
  }

  v1::AccountCredential Add(const std::string& name, v1::AccountRole role,
                            const std::string& studio) {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(role);
    add.set_studio_id(studio);
    auto credential = accounts_->Add(add);
    EXPECT_TRUE(credential.ok()) << credential.status();
    return credential.ok() ? *credential : v1::AccountCredential();
  }

  Principal Who(const std::string& token) {
    Principal who;
    EXPECT_TRUE(Authenticate(token, keys_, &who).ok());
    return who;
  }

  absl::StatusOr<v1::SignInCode> IssueFor(const std::string& account_id,
                                          int64_t ttl_seconds = 0) {
    v1::IssueSignInCodeRequest request;
    request.set_account_id(account_id);
    request.set_ttl_seconds(ttl_seconds);
    return sign_ins_->Issue(Who(admin_.credential()), request);
  }

  absl::StatusOr<v1::SignInResponse> Redeem(const std::string& code) {
    v1::SignInRequest request;
    request.set_sign_in_code(code);
    return sign_ins_->SignIn(request, "", keys_);
  }

  FakeClock clock_;
  std::unique_ptr<Accounts> accounts_;
  AccessKeys keys_;
  std::unique_ptr<SignIns> sign_ins_;
  v1::AccountCredential admin_;
  v1::AccountCredential maya_;
  v1::AccountCredential south_admin_;
};

TEST_F(SignInsTest,
       ACodeSignsTheAccountInOnceWithACredentialThatOpensWhatItsOwn) {
  auto code = IssueFor(maya_.account().account_id());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_THAT(code->code(),
              MatchesRegex("[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}"));
  EXPECT_EQ(code->console_url(), "https://studio.example:8443/console#code=" +
                                     SignIns::NormalizeCode(code->code()));
  EXPECT_EQ(code->expires_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + absl::Minutes(10)));

  // Typed in lower case, with spaces instead of the dash: the same code.
  std::string typed = code->code();
  for (char& c : typed)
    c = c == '-' ? ' ' : absl::ascii_tolower(static_cast<unsigned char>(c));
  auto signed_in = Redeem(typed);
  ASSERT_TRUE(signed_in.ok()) << signed_in.status();
  EXPECT_EQ(signed_in->account().account_id(), maya_.account().account_id());
  EXPECT_EQ(signed_in->expires_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + absl::Hours(12)));
  Principal who = Who(signed_in->credential());
  EXPECT_EQ(who.role, Principal::Role::kInstructor);
  EXPECT_EQ(who.subject, maya_.account().account_id());
  EXPECT_EQ(who.studio, "north");

  auto again = Redeem(code->code());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(again.status().message(), HasSubstr("already used"));
}

TEST_F(SignInsTest, AnExpiredOrUnknownCodeIsRefusedAndUsedUp) {
  auto code = IssueFor(maya_.account().account_id(), 60);
  ASSERT_TRUE(code.ok()) << code.status();
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(Redeem(code->code()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Redeem("ABCDE-FGHJK").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Redeem("short").status().code(),
            absl::StatusCode::kUnauthenticated);
  // A wrong guess does not use up anyone else's code.
  auto other = IssueFor(maya_.account().account_id());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(Redeem("ZZZZZ-ZZZZZ").ok());
  EXPECT_TRUE(Redeem(other->code()).ok());
}

TEST_F(SignInsTest, OnlyTheAccountsAdminsIssueCodesForLiveAccounts) {
  v1::IssueSignInCodeRequest request;
  request.set_account_id(maya_.account().account_id());
  // An instructor, even for herself.
  EXPECT_EQ(sign_ins_->Issue(Who(maya_.credential()), request).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Another studio's admin.
  EXPECT_EQ(
      sign_ins_->Issue(Who(south_admin_.credential()), request).status().code(),
      absl::StatusCode::kPermissionDenied);
  // The bootstrap key may.
  EXPECT_TRUE(sign_ins_->Issue(Who(kBootstrapKey), request).ok());
  // Unknown and revoked accounts; ttl out of bounds.
  EXPECT_EQ(IssueFor("a999").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(IssueFor(maya_.account().account_id(), 3601).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueFor(maya_.account().account_id(), -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(accounts_->Revoke(maya_.account().account_id()).ok());
  EXPECT_EQ(IssueFor(maya_.account().account_id()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SignInsTest, ARevokeBetweenIssueAndUseRefusesTheCode) {
  auto code = IssueFor(maya_.account().account_id());
  ASSERT_TRUE(code.ok());
  ASSERT_TRUE(accounts_->Revoke(maya_.account().account_id()).ok());
  EXPECT_EQ(Redeem(code->code()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SignInsTest, RevokeOrReissueEndsTheConsoleCredential) {
  auto code = IssueFor(maya_.account().account_id());
  ASSERT_TRUE(code.ok());
  auto signed_in = Redeem(code->code());
  ASSERT_TRUE(signed_in.ok());
  EXPECT_TRUE(accounts_->Verify(signed_in->credential()).ok());

  ASSERT_TRUE(accounts_->Reissue(maya_.account().account_id(), 0).ok());
  auto after_reissue = accounts_->Verify(signed_in->credential());
  EXPECT_EQ(after_reissue.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(after_reissue.status().message(), HasSubstr("signed out"));

  auto code2 = IssueFor(maya_.account().account_id());
  ASSERT_TRUE(code2.ok());
  auto signed_in2 = Redeem(code2->code());
  ASSERT_TRUE(signed_in2.ok());
  EXPECT_TRUE(accounts_->Verify(signed_in2->credential()).ok());
  ASSERT_TRUE(accounts_->Revoke(maya_.account().account_id()).ok());
  EXPECT_EQ(accounts_->Verify(signed_in2->credential()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SignInsTest, AConsoleCredentialExpires) {
  auto code = IssueFor(maya_.account().account_id());
  ASSERT_TRUE(code.ok());
  auto signed_in = Redeem(code->code());
  ASSERT_TRUE(signed_in.ok());
  clock_.Advance(absl::Hours(12));
  EXPECT_EQ(accounts_->Verify(signed_in->credential()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SignInsTest, SigningInWithACredentialAnswersWhatItMayUse) {
  v1::SignInRequest with_credential;
  auto account = sign_ins_->SignIn(with_credential, admin_.credential(), keys_);
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_NE(account->credential(), admin_.credential());
  EXPECT_EQ(Who(account->credential()).role, Principal::Role::kAdmin);

  auto bootstrap = sign_ins_->SignIn(with_credential, kBootstrapKey, keys_);
  ASSERT_TRUE(bootstrap.ok());
  EXPECT_EQ(bootstrap->credential(), kBootstrapKey);
  EXPECT_FALSE(bootstrap->has_account());

  EXPECT_EQ(
      sign_ins_->SignIn(with_credential, kKioskKey, keys_).status().code(),
      absl::StatusCode::kPermissionDenied);
  auto for_class = accounts_->IssueClassCredential(Who(admin_.credential()),
                                                   "c1", "north", 0);
  ASSERT_TRUE(for_class.ok());
  EXPECT_EQ(sign_ins_->SignIn(with_credential, for_class->credential(), keys_)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(sign_ins_->SignIn(with_credential, "", keys_).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A forged one: the admin's credential with its signature's last character
  // changed.
  std::string forged = admin_.credential();
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(sign_ins_->SignIn(with_credential, forged, keys_).status().code(),
            absl::StatusCode::kUnauthenticated);

  auto who = sign_ins_->WhoIs(account->credential(), keys_);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->account().name(), "Ada");
  EXPECT_TRUE(who->credential().empty());
}

TEST_F(SignInsTest, PendingCodesAreBounded) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(IssueFor(maya_.account().account_id(), 60).ok());
  }
  EXPECT_EQ(IssueFor(maya_.account().account_id()).status().code(),
            absl::StatusCode::kResourceExhausted);
  clock_.Advance(absl::Seconds(60));  // they expire and make room
  EXPECT_TRUE(IssueFor(maya_.account().account_id()).ok());
}

// On a cluster the codes waiting are a document the nodes share: a code
// issued on one node signs in on another, once, even when another node's
// change lands just before (the change is made again on it).
TEST_F(SignInsTest, OnAClusterACodeIssuedOnOneNodeWorksOnAnotherOnce) {
  testing::SharedDocumentStore store;
  auto node = [&] {
    SignIns::Options options;
    options.document = store.Open();
    return std::make_unique<SignIns>(accounts_.get(), &clock_, options);
  };
  std::unique_ptr<SignIns> one = node();
  std::unique_ptr<SignIns> two = node();
  v1::IssueSignInCodeRequest request;
  request.set_account_id(maya_.account().account_id());
  absl::StatusOr<v1::SignInCode> first =
      one->Issue(Who(admin_.credential()), request);
  ASSERT_TRUE(first.ok()) << first.status();
  store.InterveneBeforeNextSave();
  absl::StatusOr<v1::SignInCode> second =
      one->Issue(Who(admin_.credential()), request);
  ASSERT_TRUE(second.ok()) << second.status();

  v1::SignInRequest sign_in;
  for (const v1::SignInCode* code : {&*first, &*second}) {
    sign_in.set_sign_in_code(code->code());
    absl::StatusOr<v1::SignInResponse> on_two = two->SignIn(sign_in, "", keys_);
    ASSERT_TRUE(on_two.ok()) << on_two.status();
    EXPECT_EQ(on_two->account().account_id(), maya_.account().account_id());
    EXPECT_TRUE(
        absl::IsUnauthenticated(one->SignIn(sign_in, "", keys_).status()));
  }
}

}  // namespace
}  // namespace circuit
