// Circuit on more than one machine, on one machine: three nats-servers in a
// JetStream cluster and two circuitd nodes, all on 127.0.0.1, started by
// the test. A class under load (class_under_load.h) runs on one node, its
// clients through a proxy; the node is lost, the other takes the class over
// by replaying its log, the proxy moves the clients there, and they resume:
// nothing acknowledged is lost or counted twice, no seq goes backwards, the
// kiosk never gets health data.

#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/lib/connection.h"
#include "client/lib/spawner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/class_under_load.h"
#include "tests/integration/http_harness.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tcp_proxy.h"

namespace circuit {
namespace {

constexpr char kInstructorKey[] = "cluster-test-instructor";
constexpr char kKioskKey[] = "cluster-test-kiosk";
constexpr absl::Duration kWait = absl::Seconds(30);
// Short, so a lost node's classes move within seconds.
constexpr int kShortLease = 3;
// Longer than a JetStream election (4-9 s), as circuitd's default is.
constexpr int kLongLease = 20;

class ClusterFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::NatsCluster>> nats =
        testing::NatsCluster::Start(3, absl::Now() + absl::Seconds(60));
    ASSERT_TRUE(nats.ok()) << nats.status();
    nats_ = *std::move(nats);
    // Every node seals health data with the same key.
    key_file_ = nats_->WriteDataKeyFile();
  }

  // Nodes a and b (and c, for 3), with leases of `lease_seconds`; the proxy
  // to a.
  void StartNodes(int lease_seconds, int count = 2) {
    const std::vector<std::string> names = {"a", "b", "c"};
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<spawn::Circuitd> circuitd =
          StartNode(names[static_cast<size_t>(i)], lease_seconds);
      ASSERT_TRUE(circuitd.ok()) << circuitd.status();
      nodes_.push_back(*std::move(circuitd));
    }
    absl::StatusOr<std::unique_ptr<testing::TcpProxy>> proxy =
        testing::TcpProxy::Start(nodes_[0].port);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }

  absl::StatusOr<spawn::Circuitd> StartNode(const std::string& name,
                                            int lease_seconds) {
    spawn::CircuitdOptions options;
    options.binary = testing::BinaryPath("circuitd");
    options.flags = {"--cluster=" + nats_->urls(),
                     "--node_name=" + name,
                     absl::StrCat("--lease_seconds=", lease_seconds),
                     "--data_key_file=" + key_file_,
                     absl::StrCat("--instructor_key=", kInstructorKey),
                     absl::StrCat("--kiosk_key=", kKioskKey),
                     "--stream_messages_per_second=2000",
                     "--joins_per_minute_per_peer=6000"};
    options.temp_root = testing::MakeTempDir();
    options.prefix = "node-" + name;
    options.log_to_file = true;
    options.deadline = absl::Now() + kWait;
    return spawn::StartCircuitd(options);
  }

  std::string Log(int node) const {
    std::ifstream in(nodes_[node].temp_dir + "/circuitd.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Whether `node` serves the class now (GetClass answers there).
  bool Serves(int node, const std::string& class_id) const {
    client::ConnectOptions connect;
    connect.address = nodes_[node].address;
    return client::Connection(connect).GetClass(class_id).ok();
  }

  // Waits until `node` serves the class (or stops serving it).
  bool WaitUntilServes(int node, const std::string& class_id, bool serves) {
    for (const absl::Time until = absl::Now() + kWait; absl::Now() < until;) {
      if (Serves(node, class_id) == serves) return true;
      // The node takes a class over on its own time (its lease scan).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Waits until `node` answers GetClass(`ref`) with `code` and a message
  // containing `text` (a node learns where classes are on its lease scan).
  bool WaitUntilAnswers(int node, const std::string& ref, absl::StatusCode code,
                        const std::string& text) {
    client::ConnectOptions connect;
    connect.address = nodes_[node].address;
    client::Connection connection(connect);
    absl::Status last;
    for (const absl::Time until = absl::Now() + kWait; absl::Now() < until;) {
      last = connection.GetClass(ref).status();
      if (last.code() == code && absl::StrContains(last.message(), text)) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "GetClass(" << ref << ") on node " << node << ": " << last;
    return false;
  }

  testing::LoadOptions Load() const {
    testing::LoadOptions options;
    options.address = absl::StrCat("127.0.0.1:", proxy_->port());
    options.instructor_key = kInstructorKey;
    options.kiosk_key = kKioskKey;
    options.wait = kWait;
    return options;
  }

  std::unique_ptr<testing::NatsCluster> nats_;
  std::string key_file_;
  std::vector<spawn::Circuitd> nodes_;
  std::unique_ptr<testing::TcpProxy> proxy_;
};

TEST_F(ClusterFailoverTest, AKilledOwnersClassGoesOnOnAnotherNode) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(kShortLease));
  testing::ClassUnderLoad load(Load());
  ASSERT_NO_FATAL_FAILURE(load.Start());
  const std::string class_id = load.info().class_id();
  ASSERT_TRUE(load.acks().WaitForAtLeast(60, kWait));
  // Node b does not run it, and says where it is: UNAVAILABLE (retry),
  // not NOT_FOUND (give up), by id and by join code.
  EXPECT_TRUE(WaitUntilAnswers(1, class_id, absl::StatusCode::kUnavailable,
                               "run by node a"));
  EXPECT_TRUE(WaitUntilAnswers(1, load.info().join_code(),
                               absl::StatusCode::kUnavailable,
                               "run by node a"));
  EXPECT_TRUE(WaitUntilAnswers(1, "c-0123456789abcdef",
                               absl::StatusCode::kNotFound, "no class"));

  // Node a dies; its clients come straight to node b, which answers
  // "retry" until its lease scan finds the class without an owner and it
  // takes it over.
  nodes_[0].process->Signal(SIGKILL);
  ASSERT_TRUE(nodes_[0].process->Wait(absl::Now() + kWait).ok());
  proxy_->SetTarget(nodes_[1].port);
  proxy_->Cut();
  ASSERT_TRUE(WaitUntilServes(1, class_id, true))
      << "node b never took the class over; its log:\n"
      << Log(1);
  const int64_t after_kill = load.acks().count();
  ASSERT_TRUE(load.acks().WaitForAtLeast(after_kill + 60, kWait))
      << "no report acknowledged on node b; its log:\n"
      << Log(1);
  EXPECT_GT(load.StopAndCheck(), 120);
  EXPECT_GT(load.kiosk_reconnects(), 0);
  EXPECT_THAT(Log(1), ::testing::HasSubstr("taken over"));
  // What an operator's Prometheus reads off node b.
  const testing::Reply metrics = testing::Fetch(
      nodes_[1].http_port, boost::beast::http::verb::get, "/metrics");
  EXPECT_THAT(metrics.body,
              ::testing::HasSubstr("\ncircuit_cluster_classes_owned 1\n"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr(
                                "circuit_cluster_lease_renew_failures_total"));
}

TEST_F(ClusterFailoverTest, AClassSpreadOverThreeNodesOutlivesItsOwner) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(kShortLease, 3));
  // The class is created on node a (through the proxy, as the instructor
  // connects); its 60 participants join on all three nodes, and the kiosk
  // watches on node c.
  // Nodes b and c follow the class's log and forward their clients' inputs
  // to node a.
  testing::LoadOptions options = Load();
  options.participants = 60;
  options.in_flight = 3;
  // A third of the phones have nodes a and b's addresses (the client
  // library moves to the next when one fails); the others one node each.
  options.spread = {absl::StrCat(nodes_[0].address, ",", nodes_[1].address),
                    nodes_[1].address, nodes_[2].address};
  testing::ClassUnderLoad load(options);
  ASSERT_NO_FATAL_FAILURE(load.Start()) << "node c's log:\n" << Log(2);
  const std::string class_id = load.info().class_id();
  ASSERT_TRUE(load.acks().WaitForAtLeast(300, kWait)) << "node b's log:\n"
                                                      << Log(1);
  for (int node : {1, 2}) {
    EXPECT_THAT(Log(node), ::testing::HasSubstr("following class"));
    const testing::Reply metrics = testing::Fetch(
        nodes_[node].http_port, boost::beast::http::verb::get, "/metrics");
    EXPECT_THAT(metrics.body,
                ::testing::HasSubstr("\ncircuit_cluster_classes_followed 1\n"));
  }
  // A phone in a browser joins on node c over HTTP and reports there.
  testing::SseReader browser(
      nodes_[2].http_port, boost::beast::http::verb::post, "/v1/classes:join",
      "",
      absl::StrCat(R"({"joinCode":")", load.info().join_code(),
                   R"(","checkIn":{"displayName":"Browser phone"}})"));
  ASSERT_TRUE(browser.WaitFor("resumeToken")) << browser.text();
  const std::string browser_id =
      testing::JsonField(browser.text(), "participantId");
  const std::string browser_token =
      testing::JsonField(browser.text(), "resumeToken");
  // Sent until recorded (the same id: counted once however often).
  auto report_symptom = [&](const std::string& report_id) {
    testing::Reply reply;
    for (const absl::Time until = absl::Now() + kWait; absl::Now() < until;) {
      reply = testing::Fetch(
          nodes_[2].http_port, boost::beast::http::verb::post,
          absl::StrCat("/v1/classes/", class_id, "/participants/", browser_id,
                       ":report"),
          absl::StrCat(R"({"symptom":{"reportId":")", report_id,
                       R"(","blockIndex":0,"symptom":"SYMPTOM_HIP_PINCH"}})"),
          -1, "Bearer " + browser_token);
      if (reply.status != 503) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return reply;
  };
  const testing::Reply first = report_symptom("browser-1");
  EXPECT_EQ(first.status, 200) << first.body;

  // Node a dies mid-class. Its phones move to node b on their own, its
  // console through the proxy; those of nodes b and c keep their streams. Node
  // b or c takes the class over, and the other forwards to it.
  nodes_[0].process->Signal(SIGKILL);
  ASSERT_TRUE(nodes_[0].process->Wait(absl::Now() + kWait).ok());
  proxy_->SetTarget(nodes_[1].port);
  proxy_->Cut();
  const int64_t after_kill = load.acks().count();
  ASSERT_TRUE(load.acks().WaitForAtLeast(after_kill + 300, kWait))
      << "reports stopped being acknowledged; node b's log:\n"
      << Log(1) << "\nnode c's log:\n"
      << Log(2);
  // The browser phone's next report, through node c to the new owner.
  const testing::Reply second = report_symptom("browser-2");
  EXPECT_EQ(second.status, 200) << second.body;
  load.ExpectSeat(browser_id, 0, 2);
  EXPECT_GT(load.StopAndCheck(), 600);
  const std::string taken = Log(1) + Log(2);
  EXPECT_THAT(taken, ::testing::HasSubstr("taken over"));
  int owned = 0;
  for (int node : {1, 2}) {
    const testing::Reply metrics = testing::Fetch(
        nodes_[node].http_port, boost::beast::http::verb::get, "/metrics");
    if (absl::StrContains(metrics.body,
                          "\ncircuit_cluster_classes_owned 1\n")) {
      ++owned;
    }
  }
  EXPECT_EQ(owned, 1) << "one node owns the class";
}

// Accounts, signing keys, sign-in codes, TV pairings, paired TVs and the
// class list are the cluster's, not a node's: what is made on one node
// works on the other, and what is revoked on one ends its streams on the
// other.
TEST_F(ClusterFailoverTest, EveryNodeKnowsTheClustersAccountsTvsAndClasses) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(kLongLease));
  auto connect = [&](int node) {
    client::ConnectOptions options;
    options.address = nodes_[node].address;
    return client::Connection(options);
  };
  const client::Connection a = connect(0);
  const client::Connection b = connect(1);
  // Waits for what another node made to reach this one (the shared state's
  // watcher, or the directory's next scan).
  auto eventually = [](auto done) {
    for (const absl::Time until = absl::Now() + kWait; absl::Now() < until;) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  using Stub = v1::CircuitService::Stub;

  // An admin added on node a creates a class on node b.
  v1::AddAccountRequest add;
  add.set_name("North desk");
  add.set_role(v1::ACCOUNT_ROLE_ADMIN);
  add.set_studio_id("north");
  absl::StatusOr<v1::AccountCredential> admin =
      client::CallUnary<v1::AddAccountRequest, v1::AccountCredential>(
          a, kInstructorKey, &Stub::AddAccount, add);
  ASSERT_TRUE(admin.ok()) << admin.status();
  const std::string& desk = admin->credential();
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  absl::StatusOr<v1::CreateClassResponse> created;
  ASSERT_TRUE(eventually([&] {
    created =
        client::CallUnary<v1::CreateClassRequest, v1::CreateClassResponse>(
            b, desk, &Stub::CreateClass, create);
    return created.ok();
  })) << created.status();
  const std::string class_id = created->class_info().class_id();
  EXPECT_EQ(created->class_info().studio_id(), "north");

  // Node a lists it, though node b runs it.
  EXPECT_TRUE(eventually([&] {
    absl::StatusOr<std::vector<v1::ClassInfo>> listed =
        a.ListClasses(desk, false);
    return listed.ok() && listed->size() == 1 &&
           (*listed)[0].class_id() == class_id;
  })) << "node a never listed class "
      << class_id;

  // A sign-in code issued on node a signs in on node b, once.
  v1::IssueSignInCodeRequest issue;
  issue.set_account_id(admin->account().account_id());
  absl::StatusOr<v1::SignInCode> code_issued =
      client::CallUnary<v1::IssueSignInCodeRequest, v1::SignInCode>(
          a, kInstructorKey, &Stub::IssueSignInCode, issue);
  ASSERT_TRUE(code_issued.ok()) << code_issued.status();
  v1::SignInRequest sign_in;
  sign_in.set_sign_in_code(code_issued->code());
  absl::StatusOr<v1::SignInResponse> signed_in =
      client::CallUnary<v1::SignInRequest, v1::SignInResponse>(
          b, "", &Stub::SignIn, sign_in);
  ASSERT_TRUE(signed_in.ok()) << signed_in.status();
  EXPECT_EQ(signed_in->account().account_id(), admin->account().account_id());
  EXPECT_TRUE(absl::IsUnauthenticated(
      (client::CallUnary<v1::SignInRequest, v1::SignInResponse>(
           a, "", &Stub::SignIn, sign_in))
          .status()));

  // A TV pairs through node a, is approved on node b, collects its
  // credential from node a, and watches the class on node b.
  const testing::Reply started =
      testing::Fetch(nodes_[0].http_port, boost::beast::http::verb::post,
                     "/v1/kioskPairings", "{}");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string code = testing::JsonField(started.body, "pairingCode");
  const std::string secret = testing::JsonField(started.body, "pairingSecret");
  v1::ApproveKioskPairingRequest approve;
  approve.set_pairing_code(code);
  approve.set_name("Front wall");
  absl::StatusOr<v1::Kiosk> kiosk =
      client::CallUnary<v1::ApproveKioskPairingRequest, v1::Kiosk>(
          b, desk, &Stub::ApproveKioskPairing, approve);
  ASSERT_TRUE(kiosk.ok()) << kiosk.status();
  const testing::Reply paired =
      testing::Fetch(nodes_[0].http_port, boost::beast::http::verb::get,
                     "/v1/kioskPairings/" + code, "", -1, "Bearer " + secret);
  const std::string tv = testing::JsonField(paired.body, "kioskToken");
  ASSERT_FALSE(tv.empty()) << paired.body;

  struct Watching {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReader<v1::WatchClassResponse>> stream;
    std::atomic<int> received{0};
    grpc::Status ended;
    std::atomic<bool> done{false};
    std::thread reader;
    ~Watching() {
      if (context != nullptr) context->TryCancel();
      if (reader.joinable()) reader.join();
    }
  };
  // A watch of the class on node b with `key`, read until it ends.
  auto watch = [&](const std::string& key) {
    auto w = std::make_unique<Watching>();
    w->context = b.NewContext(key);
    // Open for the whole test, not the client's call deadline.
    w->context->set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::WatchClassRequest request;
    request.set_class_id(class_id);
    w->stream = b.stub()->WatchClass(w->context.get(), request);
    w->reader = std::thread([w = w.get()] {
      v1::WatchClassResponse response;
      while (w->stream->Read(&response)) ++w->received;
      w->ended = w->stream->Finish();
      w->done = true;
    });
    return w;
  };
  std::unique_ptr<Watching> on_b;
  ASSERT_TRUE(eventually([&] {
    on_b = watch(tv);
    return eventually([&] { return on_b->received > 0 || on_b->done; }) &&
           on_b->received > 0;
  })) << "the TV paired on node a never watched on node b: "
      << on_b->ended.error_message();
  std::unique_ptr<Watching> desk_on_b = watch(desk);
  ASSERT_TRUE(eventually([&] { return desk_on_b->received > 0; }));

  // Revoked on node a, the TV's stream on node b ends.
  v1::RevokeKioskRequest revoke_tv;
  revoke_tv.set_kiosk_id(kiosk->kiosk_id());
  // (Node a learns of the kiosk node b made within moments: until then it
  // answers NOT_FOUND, or ABORTED for a stale list.)
  absl::StatusOr<v1::Kiosk> revoked_tv;
  ASSERT_TRUE(eventually([&] {
    revoked_tv = client::CallUnary<v1::RevokeKioskRequest, v1::Kiosk>(
        a, desk, &Stub::RevokeKiosk, revoke_tv);
    return revoked_tv.ok();
  })) << revoked_tv.status();
  ASSERT_TRUE(eventually([&] { return on_b->done.load(); }))
      << "the revoked TV still watches on node b";
  EXPECT_EQ(on_b->ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(desk_on_b->done);

  // So does the admin's, once node a revokes the account; and its
  // credential opens nothing on node b any more.
  v1::RevokeAccountRequest revoke;
  revoke.set_account_id(admin->account().account_id());
  ASSERT_TRUE((client::CallUnary<v1::RevokeAccountRequest, v1::Account>(
                   a, kInstructorKey, &Stub::RevokeAccount, revoke))
                  .ok());
  ASSERT_TRUE(eventually([&] { return desk_on_b->done.load(); }))
      << "the revoked account still watches on node b";
  EXPECT_EQ(desk_on_b->ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::IsUnauthenticated(b.ListClasses(desk, false).status()));

  // A signing key rotated on node b signs what node a verifies.
  ASSERT_TRUE((client::CallUnary<v1::RotateSigningKeyRequest, v1::SigningKeys>(
                   b, kInstructorKey, &Stub::RotateSigningKey,
                   v1::RotateSigningKeyRequest()))
                  .ok());
  add.set_name("South desk");
  add.set_studio_id("south");
  absl::StatusOr<v1::AccountCredential> south =
      client::CallUnary<v1::AddAccountRequest, v1::AccountCredential>(
          b, kInstructorKey, &Stub::AddAccount, add);
  ASSERT_TRUE(south.ok()) << south.status();
  EXPECT_TRUE(eventually([&] {
    return a.ListClasses(south->credential(), false).ok();
  })) << "node a never verified a credential signed on node b";
}

TEST_F(ClusterFailoverTest, AStoppedOwnerStepsDownWhenItContinues) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(kShortLease));
  testing::ClassUnderLoad load(Load());
  ASSERT_NO_FATAL_FAILURE(load.Start());
  const std::string class_id = load.info().class_id();
  ASSERT_TRUE(load.acks().WaitForAtLeast(60, kWait));

  // Node a stops (a long pause, a partition): it cannot renew its lease,
  // and node b takes the class.
  nodes_[0].process->Signal(SIGSTOP);
  ASSERT_TRUE(WaitUntilServes(1, class_id, true))
      << "node b never took the class over; its log:\n"
      << Log(1);
  proxy_->SetTarget(nodes_[1].port);
  proxy_->Cut();
  ASSERT_TRUE(load.acks().WaitForAtLeast(load.acks().count() + 60, kWait));

  // Node a continues: it finds its lease gone (or node b's takeover in the
  // log) and lets the class go, acking nothing of its old term.
  nodes_[0].process->Signal(SIGCONT);
  ASSERT_TRUE(WaitUntilServes(0, class_id, false))
      << "node a still runs the class; its log:\n"
      << Log(0);
  EXPECT_THAT(Log(0), ::testing::HasSubstr("left this node"));
  ASSERT_TRUE(load.acks().WaitForAtLeast(load.acks().count() + 20, kWait));
  EXPECT_GT(load.StopAndCheck(), 140);
}

TEST_F(ClusterFailoverTest, AClassGoesOnWhenOneNatsServerOfThreeIsKilled) {
  ASSERT_NO_FATAL_FAILURE(StartNodes(kLongLease));
  // Half the phones and the kiosk on node b, which follows the class.
  testing::LoadOptions options = Load();
  options.spread = {options.address, nodes_[1].address};
  testing::ClassUnderLoad load(options);
  ASSERT_NO_FATAL_FAILURE(load.Start());
  ASSERT_TRUE(load.acks().WaitForAtLeast(60, kWait));
  // One server of three: the nodes connected to it move to another, and
  // the streams it led elect a new leader.
  nats_->Kill(0);
  // At most an election's pause (4-9 s), then reports are acked again.
  ASSERT_TRUE(load.acks().WaitForAtLeast(load.acks().count() + 60, kWait))
      << "no report acknowledged with a nats-server down; node a's log:\n"
      << Log(0);
  ASSERT_TRUE(nats_->Restart(0, absl::Now() + absl::Seconds(60)).ok());
  ASSERT_TRUE(load.acks().WaitForAtLeast(load.acks().count() + 20, kWait));
  EXPECT_GT(load.StopAndCheck(), 140);
}

}  // namespace
}  // namespace circuit
