// Failover time of a cluster: three nats-servers (JetStream) and three
// circuitd nodes on 127.0.0.1; in each trial a class is created on one node,
// the node is killed (SIGKILL), and the time until another node serves the
// class (GetClass answered from its replayed actor) is measured. The killed
// node is started again for the next trial. Prints each trial and the p50
// and max.
//
//   build/bench/cluster_failover_bench --trials=20 --lease_seconds=10

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/lib/connection.h"
#include "client/lib/spawner.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(int, trials, 20, "kills to measure");
ABSL_FLAG(int, lease_seconds, 10, "the nodes' --lease_seconds");

namespace circuit {
namespace {

constexpr char kInstructorKey[] = "failover-bench-instructor";

absl::StatusOr<spawn::Circuitd> StartNode(const testing::NatsCluster& nats,
                                          const std::string& key_file,
                                          int index) {
  spawn::CircuitdOptions options;
  options.binary = testing::BinaryPath("circuitd");
  options.flags = {
      "--cluster=" + nats.urls(), absl::StrCat("--node_name=node-", index),
      absl::StrCat("--lease_seconds=", absl::GetFlag(FLAGS_lease_seconds)),
      "--data_key_file=" + key_file,
      absl::StrCat("--instructor_key=", kInstructorKey)};
  options.temp_root = testing::MakeTempDir();
  options.prefix = absl::StrCat("bench-node-", index);
  options.log_to_file = true;
  options.deadline = absl::Now() + absl::Seconds(60);
  return spawn::StartCircuitd(options);
}

bool Serves(const spawn::Circuitd& node, const std::string& class_id) {
  client::ConnectOptions connect;
  connect.address = node.address;
  return client::Connection(connect).GetClass(class_id).ok();
}

int Run() {
  absl::StatusOr<std::unique_ptr<testing::NatsCluster>> nats =
      testing::NatsCluster::Start(3, absl::Now() + absl::Seconds(60));
  if (!nats.ok()) {
    std::fprintf(stderr, "%s\n", nats.status().ToString().c_str());
    return 1;
  }
  const std::string key_file = (*nats)->directory() + "/data.key";
  {
    std::ofstream key(key_file);
    key << "1:" << std::string(64, 'b') << "\n";
  }
  chmod(key_file.c_str(), 0600);
  std::vector<spawn::Circuitd> nodes;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<spawn::Circuitd> node = StartNode(**nats, key_file, i + 1);
    if (!node.ok()) {
      std::fprintf(stderr, "%s\n", node.status().ToString().c_str());
      return 1;
    }
    nodes.push_back(*std::move(node));
  }
  std::printf(
      "failover: 3 nats-servers, 3 circuitd nodes, --lease_seconds=%d\n",
      absl::GetFlag(FLAGS_lease_seconds));
  std::vector<double> seconds;
  for (int trial = 0; trial < absl::GetFlag(FLAGS_trials); ++trial) {
    const size_t victim = static_cast<size_t>(trial) % nodes.size();
    client::ConnectOptions connect;
    connect.address = nodes[victim].address;
    absl::StatusOr<v1::ClassInfo> info =
        client::Connection(connect).CreateClass(kInstructorKey, "kickback-trio",
                                                "Failover");
    if (!info.ok()) {
      std::fprintf(stderr, "trial %d: %s\n", trial,
                   info.status().ToString().c_str());
      return 1;
    }
    const absl::Time killed = absl::Now();
    nodes[victim].process->Signal(SIGKILL);
    nodes[victim].process->Wait(absl::Now() + absl::Seconds(10)).IgnoreError();
    absl::Time served = absl::InfiniteFuture();
    while (absl::Now() - killed < absl::Seconds(120)) {
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (i != victim && Serves(nodes[i], info->class_id())) {
          served = absl::Now();
        }
      }
      if (served != absl::InfiniteFuture()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (served == absl::InfiniteFuture()) {
      std::fprintf(stderr, "trial %d: nobody took class %s over in 120 s\n",
                   trial, info->class_id().c_str());
      return 1;
    }
    seconds.push_back(absl::ToDoubleSeconds(served - killed));
    std::printf("trial %2d: %.2f s\n", trial + 1, seconds.back());
    std::fflush(stdout);
    absl::StatusOr<spawn::Circuitd> again =
        StartNode(**nats, key_file, static_cast<int>(victim) + 1);
    if (!again.ok()) {
      std::fprintf(stderr, "%s\n", again.status().ToString().c_str());
      return 1;
    }
    nodes[victim] = *std::move(again);
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf(
      "failover (kill -9 to the new owner serving): p50 %.2f s, max %.2f s, "
      "%zu trials\n",
      seconds[seconds.size() / 2], seconds.back(), seconds.size());
  return 0;
}

}  // namespace
}  // namespace circuit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return circuit::Run();
}
