#include "server/auth/kiosk_admin.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/common/clock.h"

namespace circuit {
namespace {

Principal Of(Principal::Role role, const std::string& studio) {
  Principal who;
  who.role = role;
  who.subject = "a1";
  who.studio = studio;
  return who;
}

class KioskAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kiosks = KioskPairings::Open(KioskPairings::Options(), &clock_);
    ASSERT_TRUE(kiosks.ok()) << kiosks.status();
    kiosks_ = std::move(*kiosks);
  }

  absl::StatusOr<v1::Kiosk> Pair(const Principal& who) {
    auto pairing = kiosks_->Start();
    EXPECT_TRUE(pairing.ok()) << pairing.status();
    v1::ApproveKioskPairingRequest approve;
    approve.set_pairing_code(pairing->pairing_code());
    approve.set_name("Front wall");
    return ApproveKioskAs(kiosks_.get(), who, approve);
  }

  FakeClock clock_;
  std::unique_ptr<KioskPairings> kiosks_;
};

TEST_F(KioskAdminTest, EachStudioManagesItsOwnTvs) {
  const Principal north = Of(Principal::Role::kInstructor, "north");
  const Principal south = Of(Principal::Role::kAdmin, "south");
  auto tv = Pair(north);
  ASSERT_TRUE(tv.ok()) << tv.status();
  EXPECT_EQ(tv->studio_id(), "north");

  auto north_list = ListKiosksAs(kiosks_.get(), north);
  ASSERT_TRUE(north_list.ok());
  EXPECT_EQ(north_list->kiosks_size(), 1);
  auto south_list = ListKiosksAs(kiosks_.get(), south);
  ASSERT_TRUE(south_list.ok());
  EXPECT_EQ(south_list->kiosks_size(), 0);

  // Another studio's admin cannot revoke it; nothing changes.
  EXPECT_EQ(RevokeKioskAs(kiosks_.get(), south, tv->kiosk_id()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(kiosks_->List()[0].revoked_unix_ms(), 0);
  auto revoked = RevokeKioskAs(kiosks_.get(), north, tv->kiosk_id());
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_NE(revoked->revoked_unix_ms(), 0);
  EXPECT_EQ(RevokeKioskAs(kiosks_.get(), north, "k-nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KioskAdminTest, KiosksAndClassCredentialsManageNoTvs) {
  const Principal tv = Of(Principal::Role::kKiosk, "main");
  const Principal one_class = Of(Principal::Role::kClass, "main");
  for (const Principal& who : {tv, one_class}) {
    EXPECT_EQ(Pair(who).status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(ListKiosksAs(kiosks_.get(), who).status().code(),
              absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(RevokeKioskAs(kiosks_.get(), who, "k1").status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  EXPECT_TRUE(kiosks_->List().empty());
}

TEST_F(KioskAdminTest, WithoutPairingNothingIsApprovedOrFound) {
  Principal bootstrap;
  bootstrap.role = Principal::Role::kBootstrap;
  v1::ApproveKioskPairingRequest approve;
  approve.set_pairing_code("ABCDEF");
  EXPECT_EQ(ApproveKioskAs(nullptr, bootstrap, approve).status().code(),
            absl::StatusCode::kUnavailable);
  auto none = ListKiosksAs(nullptr, bootstrap);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->kiosks_size(), 0);
  EXPECT_EQ(RevokeKioskAs(nullptr, bootstrap, "k1").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace circuit
