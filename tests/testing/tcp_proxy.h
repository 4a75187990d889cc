#ifndef CIRCUIT_TESTS_TESTING_TCP_PROXY_H_
#define CIRCUIT_TESTS_TESTING_TCP_PROXY_H_

// A TCP proxy on loopback for cutting a client's network in tests: clients
// connect to port(), the proxy forwards to the target. Cut() severs every
// open connection as a network drop would; SetRefusing(true) closes new ones
// at once, as a phone out of coverage sees.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace circuit::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 on a free port and forwards to 127.0.0.1:target.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int target_port);
  ~TcpProxy();

  int port() const { return port_; }
  // Closes every open connection, both sides.
  void Cut();
  // While refusing, connections are accepted and closed at once.
  void SetRefusing(bool refusing);
  // Connections accepted so far (refused ones included).
  int accepted() const;
  // New connections go to 127.0.0.1:target from now on (a restarted server
  // on another port).
  void SetTarget(int target_port);

 private:
  struct Pipe;
  TcpProxy() = default;
  void AcceptLoop();

  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  int target_port_ ABSL_GUARDED_BY(mu_) = 0;
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Pipe>> pipes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TESTING_TCP_PROXY_H_
