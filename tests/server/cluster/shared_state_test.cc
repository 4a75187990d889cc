// What the nodes of a cluster share besides the classes (accounts, signing
// keys, paired TVs), as documents in a JetStream bucket: kept sealed, read
// by every node, changes told to the others, racing saves refused.
#include "server/cluster/shared_state.h"

#include <atomic>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/accounts.h"
#include "server/cluster/nats.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "tests/server/journal/journal_test_support.h"
#include "tests/testing/nats_cluster.h"

namespace circuit::cluster {
namespace {

using journal_testing::kDeadline;
using ::testing::HasSubstr;

class SharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    absl::StatusOr<std::unique_ptr<testing::NatsCluster>> servers =
        testing::NatsCluster::Start(1, absl::Now() + kDeadline);
    ASSERT_TRUE(servers.ok()) << servers.status();
    servers_ = *std::move(servers);
  }

  // A node's view: its own connection and SharedState.
  struct Node {
    std::unique_ptr<Nats> nats;
    std::unique_ptr<SharedState> state;
  };
  Node Open(const std::string& name) {
    Node node;
    NatsOptions options;
    options.servers = *ParseServers(servers_->urls());
    options.name = name;
    absl::StatusOr<std::unique_ptr<Nats>> nats = Nats::Connect(options);
    EXPECT_TRUE(nats.ok()) << nats.status();
    if (!nats.ok()) return node;
    node.nats = *std::move(nats);
    absl::StatusOr<std::unique_ptr<SharedState>> state = SharedState::Open(
        *node.nats, 1, journal_testing::TestKeys({1}), absl::Milliseconds(500));
    EXPECT_TRUE(state.ok()) << state.status();
    if (state.ok()) node.state = *std::move(state);
    return node;
  }

  // Waits for `done` (another node's change arrives on the watcher's time).
  template <typename F>
  static bool Eventually(F done) {
    for (const absl::Time until = absl::Now() + kDeadline;
         absl::Now() < until;) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  std::unique_ptr<testing::NatsCluster> servers_;
};

TEST_F(SharedStateTest, ADocumentIsSharedSealedAndARacingSaveIsRefused) {
  Node one = Open("node-1");
  Node two = Open("node-2");
  ASSERT_TRUE(one.state != nullptr && two.state != nullptr);
  std::shared_ptr<Document> on_one = one.state->Get("kiosks");
  std::shared_ptr<Document> on_two = two.state->Get("kiosks");
  ASSERT_TRUE(on_one != nullptr && on_two != nullptr);
  EXPECT_EQ(one.state->Get("kiosks"), nullptr) << "a name is given once";
  EXPECT_EQ(one.state->Get("no/slashes"), nullptr);
  std::atomic<int> told{0};
  on_two->Watch([&](const std::string& name) {
    EXPECT_EQ(name, "kiosks");
    ++told;
  });
  ASSERT_TRUE(one.state->Start().ok());
  ASSERT_TRUE(two.state->Start().ok());

  absl::StatusOr<std::optional<std::string>> nothing = on_two->Load();
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_FALSE(nothing->has_value());
  ASSERT_TRUE(on_one->Load().ok());
  ASSERT_EQ(on_one->Save("front-wall-tv"), absl::OkStatus());
  EXPECT_THAT(servers_->StoredBytes(),
              ::testing::Not(HasSubstr("front-wall-tv")));

  // Node 2 is told, reads it, and changes it; node 1, which has not read
  // that change, is refused and keeps nothing of its own.
  ASSERT_TRUE(Eventually([&] { return told.load() > 0; }));
  absl::StatusOr<std::optional<std::string>> read = on_two->Load();
  ASSERT_TRUE(read.ok() && read->has_value()) << read.status();
  EXPECT_EQ(**read, "front-wall-tv");
  ASSERT_EQ(on_two->Save("front-wall-tv,studio-b-tv"), absl::OkStatus());
  absl::Status stale = on_one->Save("front-wall-tv,lost-tv");
  EXPECT_TRUE(absl::IsAborted(stale)) << stale;
  EXPECT_THAT(std::string(stale.message()), HasSubstr("another node"));
  read = on_one->Load();
  ASSERT_TRUE(read.ok() && read->has_value()) << read.status();
  EXPECT_EQ(**read, "front-wall-tv,studio-b-tv");
  // Having read it, node 1 may change it; node 2 is not told of its own
  // saves, only of node 1's.
  const int before = told.load();
  ASSERT_EQ(on_one->Save("studio-b-tv"), absl::OkStatus());
  ASSERT_TRUE(Eventually([&] { return told.load() > before; }));
  read = on_two->Load();
  ASSERT_TRUE(read.ok() && read->has_value()) << read.status();
  EXPECT_EQ(**read, "studio-b-tv");
}

TEST_F(SharedStateTest,
       ACredentialIssuedOnOneNodeVerifiesOnAnotherUntilRevoked) {
  Node one = Open("node-1");
  Node two = Open("node-2");
  ASSERT_TRUE(one.state != nullptr && two.state != nullptr);
  FakeClock clock;
  auto open = [&](SharedState& state) {
    Accounts::Options options;
    options.accounts_document = state.Get("accounts");
    options.keys_document = state.Get("signing-keys");
    absl::StatusOr<std::unique_ptr<Accounts>> accounts =
        Accounts::Open(options, &clock);
    EXPECT_TRUE(accounts.ok()) << accounts.status();
    return accounts.ok() ? *std::move(accounts) : nullptr;
  };
  std::unique_ptr<Accounts> on_one = open(*one.state);
  std::unique_ptr<Accounts> on_two = open(*two.state);
  ASSERT_TRUE(on_one != nullptr && on_two != nullptr);
  // The first node made the signing key; the second found it.
  ASSERT_EQ(on_one->SigningKeys().keys_size(), 1);
  EXPECT_EQ(on_two->SigningKeys().keys(0).key_id(),
            on_one->SigningKeys().keys(0).key_id());
  std::atomic<int> changes{0};
  on_two->Watch([&] { ++changes; });
  ASSERT_TRUE(one.state->Start().ok());
  ASSERT_TRUE(two.state->Start().ok());

  v1::AddAccountRequest add;
  add.set_name("Maya");
  add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
  absl::StatusOr<v1::AccountCredential> maya = on_one->Add(add);
  ASSERT_TRUE(maya.ok()) << maya.status();
  ASSERT_TRUE(
      Eventually([&] { return on_two->Verify(maya->credential()).ok(); }));
  // The watcher reloads, then tells: `changed` runs just after.
  EXPECT_TRUE(Eventually([&] { return changes.load() > 0; }));

  // Node 2 revokes her; node 1 stops verifying her credential.
  ASSERT_TRUE(on_two->Revoke(maya->account().account_id()).ok());
  on_one->Watch(nullptr);
  ASSERT_TRUE(Eventually([&] {
    return absl::IsUnauthenticated(on_one->Verify(maya->credential()).status());
  }));
  // A change node 1 makes without having seen one of node 2's is refused,
  // and node 1 then has node 2's.
  add.set_name("Lena");
  ASSERT_TRUE(on_two->Add(add).ok());
  absl::StatusOr<v1::AccountCredential> raced = on_one->Add(add);
  if (!raced.ok()) {
    EXPECT_TRUE(absl::IsAborted(raced.status())) << raced.status();
    EXPECT_EQ(on_one->List("").size(), 2u);
  } else {
    // Node 1's watcher had already brought Lena: this is a second account.
    EXPECT_EQ(on_one->List("").size(), 3u);
  }
}

}  // namespace
}  // namespace circuit::cluster
