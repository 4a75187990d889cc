#ifndef CIRCUIT_TESTS_TESTING_NATS_CLUSTER_H_
#define CIRCUIT_TESTS_TESTING_NATS_CLUSTER_H_

// A NATS JetStream cluster for the cluster tests: `size` of Debian's
// nats-server (2.9.10) on 127.0.0.1, on free ports, each with its own store
// under a temporary directory that goes with the cluster.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace circuit::testing {

class NatsCluster {
 public:
  // Starts the servers and waits until JetStream answers on each (its
  // metadata leader elected) by `deadline`. FAILED_PRECONDITION when
  // nats-server is not installed (make deps installs it).
  static absl::StatusOr<std::unique_ptr<NatsCluster>> Start(
      int size, absl::Time deadline);
  ~NatsCluster();

  int size() const { return static_cast<int>(servers_.size()); }
  // nats://127.0.0.1:PORT of server `i`.
  std::string url(int i) const;
  // Every server's URL, comma separated: circuitd's --cluster.
  std::string urls() const;

  // kill -9 server `i`; Restart starts it again with its store.
  void Kill(int i);
  absl::Status Restart(int i, absl::Time deadline);
  bool running(int i) const { return servers_[i].process.has_value(); }

  // The directory every server keeps its config, log and store under.
  const std::string& directory() const { return dir_; }
  // A data key file (mode 0600) in directory(), for every circuitd node of
  // the cluster to seal health data with the same key; its path.
  std::string WriteDataKeyFile() const;
  // Every byte every server stored (to look for what must not be there in
  // the clear).
  std::string StoredBytes() const;

  // What server `i` logged (for a failure's message).
  std::string Log(int i) const;

 private:
  // One try of Start: ABORTED when a server found one of its ports taken.
  static absl::StatusOr<std::unique_ptr<NatsCluster>> StartOnce(
      int size, absl::Time deadline);
  struct Server {
    int client_port = 0;
    int route_port = 0;
    std::string config_path;
    std::string log_path;
    std::optional<Subprocess> process;
  };
  NatsCluster() = default;
  absl::Status StartServer(int i);
  // Waits until a JetStream request through server `i` is answered.
  absl::Status WaitForJetStream(int i, absl::Time deadline);

  // The servers' directories (config, log and store of each), removed with
  // the cluster.
  std::string dir_;
  std::vector<Server> servers_;
};

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TESTING_NATS_CLUSTER_H_
