#include "server/auth/kiosks.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "server/auth/principal.h"
#include "server/common/clock.h"
#include "tests/testing/shared_document.h"

namespace circuit {
namespace {

class KioskPairingsTest : public ::testing::Test {
 protected:
  std::unique_ptr<KioskPairings> Open() {
    KioskPairings::Options options;
    options.store_path = path_;
    options.max_pending = 3;
    auto kiosks = KioskPairings::Open(options, &clock_);
    EXPECT_TRUE(kiosks.ok()) << kiosks.status();
    return kiosks.ok() ? std::move(*kiosks) : nullptr;
  }

  void TearDown() override { std::remove(path_.c_str()); }

  FakeClock clock_;
  const std::string path_ =
      ::testing::TempDir() + "/kiosks_test_" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name() +
      ".binpb";
};

TEST_F(KioskPairingsTest, AnApprovedTvGetsACredentialKeptAcrossRestarts) {
  auto kiosks = Open();
  auto pairing = kiosks->Start();
  ASSERT_TRUE(pairing.ok());
  EXPECT_EQ(pairing->state(), v1::KIOSK_PAIRING_STATE_PENDING);
  EXPECT_EQ(pairing->pairing_code().size(), 6u);

  auto kiosk =
      kiosks->Approve(pairing->pairing_code(), "Left wall", kDefaultStudio);
  ASSERT_TRUE(kiosk.ok()) << kiosk.status();
  auto seen = kiosks->Get(pairing->pairing_code(), pairing->pairing_secret());
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->state(), v1::KIOSK_PAIRING_STATE_APPROVED);
  EXPECT_EQ(seen->kiosk_id(), kiosk->kiosk_id());
  const std::string token = seen->kiosk_token();
  EXPECT_TRUE(kiosks->IsKiosk(token));
  EXPECT_FALSE(kiosks->IsKiosk(pairing->pairing_secret()));
  EXPECT_FALSE(kiosks->IsKiosk(""));

  // The file holds the credential's hash, never the credential.
  {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream read;
    read << in.rdbuf();
    const std::string bytes = read.str();
    EXPECT_EQ(bytes.find(token), std::string::npos);
    EXPECT_NE(bytes.find("Left wall"), std::string::npos);
  }
  kiosks = Open();
  EXPECT_TRUE(kiosks->IsKiosk(token));
  ASSERT_TRUE(kiosks->Revoke(kiosk->kiosk_id()).ok());
  EXPECT_FALSE(kiosks->IsKiosk(token));
  kiosks = Open();
  EXPECT_FALSE(kiosks->IsKiosk(token));
  ASSERT_EQ(kiosks->List().size(), 1u);
  EXPECT_NE(kiosks->List()[0].revoked_unix_ms(), 0);
  EXPECT_EQ(kiosks->Revoke("k9").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KioskPairingsTest, CodesExpireAndSecretsAreChecked) {
  auto kiosks = Open();
  auto pairing = kiosks->Start();
  ASSERT_TRUE(pairing.ok());
  EXPECT_EQ(kiosks->Get(pairing->pairing_code(), "guess").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(kiosks->Get("ZZZZZZ", "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(kiosks
                ->Approve(pairing->pairing_code(), std::string(65, 'n'),
                          kDefaultStudio)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  clock_.Advance(absl::Minutes(11));
  auto expired =
      kiosks->Get(pairing->pairing_code(), pairing->pairing_secret());
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->state(), v1::KIOSK_PAIRING_STATE_EXPIRED);
  EXPECT_EQ(kiosks->Approve(pairing->pairing_code(), "", kDefaultStudio)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  // Long after, it is forgotten.
  clock_.Advance(absl::Minutes(20));
  EXPECT_EQ(kiosks->Get(pairing->pairing_code(), pairing->pairing_secret())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KioskPairingsTest, PendingPairingsAreBounded) {
  auto kiosks = Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(kiosks->Start().ok());
  EXPECT_EQ(kiosks->Start().status().code(),
            absl::StatusCode::kResourceExhausted);
  clock_.Advance(absl::Minutes(25));  // expired and forgotten
  EXPECT_TRUE(kiosks->Start().ok());
}

TEST_F(KioskPairingsTest, AnUnreadableStoreIsDataLoss) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "\xff\xff\xff not a kiosk list";
  }
  KioskPairings::Options options;
  options.store_path = path_;
  EXPECT_EQ(KioskPairings::Open(options, &clock_).status().code(),
            absl::StatusCode::kDataLoss);
}

// On a cluster the kiosks and the pairings waiting are documents the nodes
// share: a TV pairs through one node, is approved on another, and collects
// its credential from the first; another node's change landing just before
// the approval's write does not make a second kiosk.
TEST_F(KioskPairingsTest, OnAClusterATvPairsThroughOneNodeApprovedOnAnother) {
  testing::SharedDocumentStore kiosks_store;
  testing::SharedDocumentStore pairings_store;
  auto node = [&] {
    KioskPairings::Options options;
    options.document = kiosks_store.Open();
    options.pairings_document = pairings_store.Open();
    auto kiosks = KioskPairings::Open(options, &clock_);
    EXPECT_TRUE(kiosks.ok()) << kiosks.status();
    return kiosks.ok() ? std::move(*kiosks) : nullptr;
  };
  auto one = node();
  auto two = node();
  ASSERT_TRUE(one != nullptr && two != nullptr);
  auto pairing = one->Start();
  ASSERT_TRUE(pairing.ok()) << pairing.status();
  pairings_store.InterveneBeforeNextSave();
  auto kiosk =
      two->Approve(pairing->pairing_code(), "Left wall", kDefaultStudio);
  ASSERT_TRUE(kiosk.ok()) << kiosk.status();
  EXPECT_EQ(kiosks_store.saves(), 1) << "one kiosk, made once";
  auto seen = one->Get(pairing->pairing_code(), pairing->pairing_secret());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->state(), v1::KIOSK_PAIRING_STATE_APPROVED);
  EXPECT_EQ(seen->kiosk_id(), kiosk->kiosk_id());
  EXPECT_TRUE(two->IsKiosk(seen->kiosk_token()));
  EXPECT_EQ(
      two->Approve(pairing->pairing_code(), "", kDefaultStudio).status().code(),
      absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace circuit
