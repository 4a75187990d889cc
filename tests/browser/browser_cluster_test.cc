// The pages on a cluster: a phone page and a studio TV page loaded from
// node a of two circuitd nodes (on a three-server nats-server cluster, all
// on 127.0.0.1) go on on node b when node a is killed. Each node's HTTP door
// is reached through a TCP proxy whose address is known before the nodes
// start, as an operator's addresses are, so each node's --cluster_http_urls
// can name both. The C++ instructor (client/lib, given both nodes' gRPC
// addresses) runs the class; tests/browser/cluster_test.mjs drives the
// pages (its line protocol is described at its top).
//
// Checked: both pages learn the two addresses; a set logged before the kill
// is acknowledged by node a, and after it the pages' streams and the next
// set's ack come from node b, which took the class over; the roster counts
// each set once; no page error, CSP violation or blocked cross-origin call;
// no health data on the TV's network.

#include <signal.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/lib/connection.h"
#include "client/lib/kiosks.h"
#include "client/lib/live_session.h"
#include "client/lib/spawner.h"
#include "gtest/gtest.h"
#include "tests/browser/browser_script.h"
#include "tests/testing/class_commands.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tcp_proxy.h"

namespace circuit {
namespace {

using client::ClassMirror;
using client::Connection;
using client::ConnectOptions;
using client::InstructorSession;
using client::SessionOptions;
using testing::BrowserScript;
using testing::TcpProxy;
using testing::Words;

constexpr char kInstructorKey[] = "browser-cluster-instructor";
constexpr char kKioskKey[] = "browser-cluster-kiosk";
constexpr char kCircuit[] = "kickback-trio";
constexpr absl::Duration kStep = absl::Seconds(20);
// From the kill to node b serving the class: the lease (3 s) runs out, b's
// lease scan finds it, and b replays its log.
constexpr absl::Duration kFailover = absl::Seconds(45);

class BrowserClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::NatsCluster>> nats =
        testing::NatsCluster::Start(3, absl::Now() + absl::Seconds(60));
    ASSERT_TRUE(nats.ok()) << nats.status();
    nats_ = *std::move(nats);
    // Every node seals health data with the same key.
    key_file_ = nats_->WriteDataKeyFile();
    // The HTTP addresses first (each proxy goes to its node once it runs).
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::unique_ptr<TcpProxy>> proxy = TcpProxy::Start(0);
      ASSERT_TRUE(proxy.ok()) << proxy.status();
      http_.push_back(*std::move(proxy));
    }
    for (const char* name : {"a", "b"}) {
      absl::StatusOr<spawn::Circuitd> node = StartNode(name);
      ASSERT_TRUE(node.ok()) << node.status();
      nodes_.push_back(*std::move(node));
    }
    for (size_t i = 0; i < 2; ++i) http_[i]->SetTarget(nodes_[i].http_port);
  }

  void TearDown() override {
    if (instructor_ != nullptr) instructor_->Stop();
    if (HasFailure()) {
      ADD_FAILURE() << "cluster_test.mjs, " << script_.Dump()
                    << "\n--- node a's log ---\n"
                    << Log(0) << "\n--- node b's log ---\n"
                    << Log(1);
    }
  }

  std::string HttpUrl(size_t node) const {
    return absl::StrCat("http://127.0.0.1:", http_[node]->port());
  }

  absl::StatusOr<spawn::Circuitd> StartNode(const std::string& name) {
    spawn::CircuitdOptions options;
    options.binary = testing::BinaryPath("circuitd");
    options.flags = {
        "--cluster=" + nats_->urls(),
        "--node_name=" + name,
        "--lease_seconds=3",
        "--data_key_file=" + key_file_,
        absl::StrCat("--instructor_key=", kInstructorKey),
        absl::StrCat("--kiosk_key=", kKioskKey),
        absl::StrCat("--cluster_http_urls=", HttpUrl(0), ",", HttpUrl(1))};
    if (const char* dir = getenv("CIRCUIT_HTTP_STATIC_DIR"); dir != nullptr) {
      options.flags.push_back(absl::StrCat("--http_static_dir=", dir));
    }
    options.temp_root = testing::MakeTempDir();
    options.prefix = "node-" + name;
    options.log_to_file = true;
    options.deadline = absl::Now() + kStep;
    return spawn::StartCircuitd(options);
  }

  std::string Log(size_t node) const {
    if (node >= nodes_.size()) return "";
    std::ifstream in(nodes_[node].temp_dir + "/circuitd.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Whether node b serves the class now (GetClass answers there).
  bool WaitUntilBServes(const std::string& class_id) {
    ConnectOptions connect;
    connect.address = nodes_[1].address;
    Connection b(connect);
    for (const absl::Time until = absl::Now() + kFailover;
         absl::Now() < until;) {
      if (b.GetClass(class_id).ok()) return true;
      // Node b takes the class over on its own time (its lease scan).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Sends `command` with id `id` until the class answers it (the same id
  // again is the same command, so a resend during the failover is safe).
  void Command(v1::InstructorCommand command, const std::string& id) {
    command.set_command_id(id);
    absl::Status last;
    for (const absl::Time until = absl::Now() + kFailover;
         absl::Now() < until;) {
      absl::StatusOr<v1::CommandResult> result =
          instructor_->SendAndWait(command, kStep);
      if (result.ok()) return;
      last = result.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    FAIL() << "command " << id << ": " << last;
  }

  bool WaitForPhase(v1::ClassPhase phase) {
    return instructor_->WaitFor(
        [&](const ClassMirror& m) { return m.state().phase() == phase; },
        kFailover);
  }

  std::unique_ptr<testing::NatsCluster> nats_;
  std::string key_file_;
  std::vector<std::unique_ptr<TcpProxy>> http_;
  std::vector<spawn::Circuitd> nodes_;
  std::unique_ptr<InstructorSession> instructor_;
  BrowserScript script_;
};

TEST_F(BrowserClusterTest, PagesOfAKilledNodeGoOnOnTheOther) {
  ASSERT_NO_FATAL_FAILURE(testing::CheckBrowserInstalled(CIRCUIT_BROWSER_DIR));
  // The class is made on node a, which owns it.
  ConnectOptions to_a;
  to_a.address = nodes_[0].address;
  absl::StatusOr<v1::ClassInfo> info =
      Connection(to_a).CreateClass(kInstructorKey, kCircuit, "");
  ASSERT_TRUE(info.ok()) << info.status();

  ASSERT_NO_FATAL_FAILURE(
      script_.Start(absl::StrCat(CIRCUIT_BROWSER_DIR, "/cluster_test.mjs"),
                    {"--base-a", HttpUrl(0), "--base-b", HttpUrl(1), "--code",
                     info->join_code()}));
  absl::StatusOr<std::string> pairing = script_.Await("pairing ", kStep);
  ASSERT_TRUE(pairing.ok()) << pairing.status();
  {
    absl::StatusOr<v1::Kiosk> kiosk = client::ApproveKioskPairing(
        Connection(to_a), kInstructorKey, *pairing, "front wall");
    ASSERT_TRUE(kiosk.ok()) << kiosk.status();
  }
  ASSERT_TRUE(script_.Await("kiosk watching", kStep).ok());
  const std::string participant_id = script_.Ask("join", "joined ", kStep);
  ASSERT_FALSE(participant_id.empty());
  EXPECT_EQ(script_.Ask("servers", "servers ", kStep), "2 2");

  // The instructor knows both nodes.
  ConnectOptions both;
  both.address = absl::StrCat(nodes_[0].address, ",", nodes_[1].address);
  auto connection = std::make_shared<Connection>(both);
  SessionOptions session;
  session.backoff_initial = absl::Milliseconds(50);
  session.backoff_max = absl::Milliseconds(500);
  session.clock_samples = 1;
  instructor_ = std::make_unique<InstructorSession>(connection, kInstructorKey,
                                                    info->class_id(), session);
  instructor_->Start();
  ASSERT_TRUE(instructor_->WaitFor(
      [](const ClassMirror& m) { return m.has_snapshot(); }, kStep));
  ASSERT_NO_FATAL_FAILURE(Command(testing::StartCommand(), "start"));
  EXPECT_EQ(script_.Ask("shows 0", "shows 0 ", kStep), "a a");
  EXPECT_EQ(script_.Ask("log 0 9", "logged 0 9 ", kStep), "a");

  // Node a dies; its address stops answering.
  nodes_[0].process->Signal(SIGKILL);
  ASSERT_TRUE(nodes_[0].process->Wait(absl::Now() + kStep).ok());
  http_[0]->SetRefusing(true);
  http_[0]->Cut();
  ASSERT_TRUE(WaitUntilBServes(info->class_id()))
      << "node b never took the class over";
  // A class taken over comes back paused; the instructor goes on.
  ASSERT_TRUE(WaitForPhase(v1::CLASS_PHASE_PAUSED))
      << "the instructor never saw the class paused on node b";
  // Past the rest between sides (interval 1) to the other side's set.
  ASSERT_NO_FATAL_FAILURE(Command(testing::ResumeCommand(), "resume"));
  ASSERT_NO_FATAL_FAILURE(Command(testing::NextCommand(), "to-rest"));
  ASSERT_NO_FATAL_FAILURE(Command(testing::NextCommand(), "to-work"));

  EXPECT_EQ(script_.Ask("shows 2", "shows 2 ", kFailover), "b b");
  EXPECT_EQ(script_.Ask("log 2 8", "logged 2 8 ", kFailover), "b");
  EXPECT_EQ(script_.Ask("effort", "effort ", kStep), "b");
  // Each set counted once, by the new owner.
  EXPECT_TRUE(instructor_->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e =
            testing::FindRosterEntry(m.roster(), participant_id);
        return e != nullptr && e->progress().total_reps() == 17;
      },
      kStep))
      << "the roster never counted 9 + 8 reps";

  script_.Send("finish");
  absl::StatusOr<std::vector<std::string>> findings =
      script_.Until("finished", kStep);
  ASSERT_TRUE(findings.ok()) << findings.status();
  for (const std::string& line : *findings) {
    ADD_FAILURE() << "the pages: " << line;
  }
  script_.Ask("quit", "bye", kStep);
}

}  // namespace
}  // namespace circuit
