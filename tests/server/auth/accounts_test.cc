#include "server/auth/accounts.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/principal.h"
#include "server/common/clock.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Accounts> Open(bool on_disk = true) {
    Accounts::Options options;
    if (on_disk) {
      options.store_path = dir_ + "/accounts.binpb";
      options.keys_dir = dir_ + "/signing-keys";
    }
    auto accounts = Accounts::Open(options, &clock_);
    EXPECT_TRUE(accounts.ok()) << accounts.status();
    return accounts.ok() ? std::move(*accounts) : nullptr;
  }

  static v1::AccountCredential Add(Accounts& accounts, const std::string& name,
                                   v1::AccountRole role,
                                   const std::string& studio = "") {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(role);
    add.set_studio_id(studio);
    auto credential = accounts.Add(add);
    EXPECT_TRUE(credential.ok()) << credential.status();
    return credential.ok() ? *credential : v1::AccountCredential();
  }

  FakeClock clock_;
  const std::string dir_ =
      ::testing::TempDir() + "/accounts_test_" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
};

TEST_F(AccountsTest, ACredentialSaysWhoAndWhereAndSurvivesARestart) {
  std::string token;
  {
    auto accounts = Open();
    const v1::AccountCredential maya =
        Add(*accounts, "Maya", v1::ACCOUNT_ROLE_INSTRUCTOR, "north");
    EXPECT_EQ(maya.account().account_id(), "a1");
    EXPECT_EQ(maya.account().studio_id(), "north");
    token = maya.credential();
  }
  auto accounts = Open();
  auto who = accounts->Verify(token);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->role, Principal::Role::kInstructor);
  EXPECT_EQ(who->subject, "a1");
  EXPECT_EQ(who->studio, "north");
  // Only hashes are kept: the credential is nowhere in the stored file.
  std::FILE* file = std::fopen((dir_ + "/accounts.binpb").c_str(), "rb");
  ASSERT_NE(file, nullptr);
  std::string bytes(1 << 16, '\0');
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), file));
  std::fclose(file);
  EXPECT_EQ(bytes.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/signing-keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
}

TEST_F(AccountsTest, AddRefusesWhatIsNotAnAccountAndAddsNothing) {
  auto accounts = Open();
  v1::AddAccountRequest add;
  add.set_name("Maya");
  EXPECT_THAT(accounts->Add(add).status().message(), HasSubstr("role"));
  add.set_role(v1::ACCOUNT_ROLE_ADMIN);
  add.set_studio_id("no spaces");
  EXPECT_THAT(accounts->Add(add).status().message(), HasSubstr("studio_id"));
  add.set_studio_id("");
  add.set_name("\x1b[2J");
  EXPECT_THAT(accounts->Add(add).status().message(), HasSubstr("name"));
  add.set_name("Maya");
  add.set_credential_ttl_seconds(-5);
  EXPECT_EQ(accounts->Add(add).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(accounts->List("").empty());
}

TEST_F(AccountsTest, AnExpiredCredentialIsRefusedSayingSo) {
  auto accounts = Open(false);
  v1::AddAccountRequest add;
  add.set_name("Maya");
  add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
  add.set_credential_ttl_seconds(3600);
  auto maya = accounts->Add(add);
  ASSERT_TRUE(maya.ok());
  clock_.Advance(absl::Minutes(59));
  EXPECT_TRUE(accounts->Verify(maya->credential()).ok());
  clock_.Advance(absl::Minutes(1));
  const absl::Status expired = accounts->Verify(maya->credential()).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.message(), HasSubstr("expired"));
}

TEST_F(AccountsTest, ATamperedOrUnsignedOrForeignCredentialOpensNothing) {
  auto accounts = Open(false);
  const std::string token =
      Add(*accounts, "Maya", v1::ACCOUNT_ROLE_INSTRUCTOR).credential();
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);

  // The claims rewritten to an admin's, the signature left as it was.
  std::string claims;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &claims));
  const size_t role = claims.find("instructor");
  ASSERT_NE(role, std::string::npos);
  claims.replace(role, 10, "admin");
  const std::string promoted = absl::StrCat(
      parts[0], ".", absl::WebSafeBase64Escape(claims), ".", parts[2]);
  EXPECT_THAT(accounts->Verify(promoted).status().message(),
              HasSubstr("signature"));

  // "alg": "none" with no signature.
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  const size_t alg = header.find("HS256");
  ASSERT_NE(alg, std::string::npos);
  header.replace(alg, 5, "none");
  const std::string unsigned_token =
      absl::StrCat(absl::WebSafeBase64Escape(header), ".", parts[1], ".");
  EXPECT_EQ(accounts->Verify(unsigned_token).status().code(),
            absl::StatusCode::kUnauthenticated);

  // Signed by another server's key.
  auto other = Open(false);
  const std::string foreign =
      Add(*other, "Maya", v1::ACCOUNT_ROLE_ADMIN).credential();
  EXPECT_EQ(accounts->Verify(foreign).status().code(),
            absl::StatusCode::kUnauthenticated);

  for (const std::string& junk :
       {std::string(), std::string("a.b.c"), std::string(5000, '.'),
        token.substr(0, token.size() - 1)}) {
    EXPECT_EQ(accounts->Verify(junk).status().code(),
              absl::StatusCode::kUnauthenticated)
        << junk.substr(0, 40);
  }
  EXPECT_TRUE(accounts->Verify(token).ok());
}

TEST_F(AccountsTest, ReissueEndsTheOldCredentialAndRevokeEndsEverything) {
  auto accounts = Open();
  const v1::AccountCredential maya =
      Add(*accounts, "Maya", v1::ACCOUNT_ROLE_INSTRUCTOR);
  auto who = accounts->Verify(maya.credential());
  ASSERT_TRUE(who.ok());
  auto for_class = accounts->IssueClassCredential(*who, "c7", "main", 0);
  ASSERT_TRUE(for_class.ok()) << for_class.status();

  clock_.Advance(absl::Seconds(1));  // a different iat, so a different token
  auto reissued = accounts->Reissue("a1", 0);
  ASSERT_TRUE(reissued.ok()) << reissued.status();
  EXPECT_THAT(accounts->Verify(maya.credential()).status().message(),
              HasSubstr("newer credential"));
  EXPECT_TRUE(accounts->Verify(reissued->credential()).ok());
  auto substitute = accounts->Verify(for_class->credential());
  ASSERT_TRUE(substitute.ok()) << substitute.status();
  EXPECT_EQ(substitute->role, Principal::Role::kClass);
  EXPECT_EQ(substitute->class_id, "c7");

  auto revoked = accounts->Revoke("a1");
  ASSERT_TRUE(revoked.ok());
  EXPECT_NE(revoked->revoked_unix_ms(), 0);
  EXPECT_THAT(accounts->Verify(reissued->credential()).status().message(),
              HasSubstr("revoked"));
  EXPECT_THAT(accounts->Verify(for_class->credential()).status().message(),
              HasSubstr("revoked"));
  EXPECT_EQ(accounts->Reissue("a1", 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(accounts->Revoke("a9").status().code(),
            absl::StatusCode::kNotFound);

  // Revocation is kept across a restart.
  accounts.reset();
  accounts = Open();
  EXPECT_EQ(accounts->Verify(reissued->credential()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_NE(accounts->Find("a1")->revoked_unix_ms(), 0);
}

TEST_F(AccountsTest, RotationKeepsOldCredentialsUntilTheirKeyIsRetired) {
  auto accounts = Open();
  const v1::AccountCredential maya =
      Add(*accounts, "Maya", v1::ACCOUNT_ROLE_INSTRUCTOR);
  const std::string old_key = accounts->SigningKeys().keys(0).key_id();
  auto rotated = accounts->RotateSigningKey();
  ASSERT_TRUE(rotated.ok());
  ASSERT_EQ(rotated->keys_size(), 2);
  EXPECT_FALSE(rotated->keys(0).signing());
  EXPECT_TRUE(rotated->keys(1).signing());
  const std::string new_key = rotated->keys(1).key_id();

  EXPECT_TRUE(accounts->Verify(maya.credential()).ok());
  const v1::AccountCredential ana =
      Add(*accounts, "Ana", v1::ACCOUNT_ROLE_ADMIN);
  EXPECT_TRUE(accounts->Verify(ana.credential()).ok());

  EXPECT_EQ(accounts->RetireSigningKey(new_key).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(accounts->RetireSigningKey("k-none").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(accounts->RetireSigningKey(old_key).ok());
  EXPECT_THAT(accounts->Verify(maya.credential()).status().message(),
              HasSubstr("retired"));
  EXPECT_TRUE(accounts->Verify(ana.credential()).ok());
  // Reissuing brings the account back under the new key.
  auto back = accounts->Reissue("a1", 0);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(accounts->Verify(back->credential()).ok());

  accounts.reset();
  accounts = Open();
  ASSERT_EQ(accounts->SigningKeys().keys_size(), 1);
  EXPECT_EQ(accounts->SigningKeys().keys(0).key_id(), new_key);
  EXPECT_TRUE(accounts->Verify(ana.credential()).ok());
}

TEST_F(AccountsTest, AClassCredentialLastsAtMostADay) {
  auto accounts = Open(false);
  Principal bootstrap;
  bootstrap.role = Principal::Role::kBootstrap;
  bootstrap.subject = "bootstrap";
  EXPECT_EQ(accounts->IssueClassCredential(bootstrap, "c1", "main", 86401)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto day = accounts->IssueClassCredential(bootstrap, "c1", "main", 86400);
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(day->expires_unix_ms(), clock_.NowUnixMs() + 86'400'000);
  auto who = accounts->Verify(day->credential());
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->class_id, "c1");
  clock_.Advance(absl::Hours(24));
  EXPECT_FALSE(accounts->Verify(day->credential()).ok());
}

}  // namespace
}  // namespace circuit
