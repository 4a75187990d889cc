#ifndef CIRCUIT_CLIENT_SPAWNED_SERVER_H_
#define CIRCUIT_CLIENT_SPAWNED_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace circuit::client {

struct SpawnOptions {
  // The temporary data directory is /tmp/<prefix>-XXXXXX.
  std::string prefix = "circuit";
  // Flags for circuitd besides --listen and --data_dir.
  std::vector<std::string> extra_args;
  // How long circuitd may take to print where it listens.
  absl::Duration start_timeout = absl::Seconds(15);
  // Remove the data directory when the server has stopped cleanly.
  bool remove_data_dir = false;
};

// A circuitd of our own: `circuitd` next to this binary, on 127.0.0.1 with a
// free port, a fresh temporary --data_dir and fresh random instructor and
// kiosk keys (passed in the environment, not on the command line). Its stdout
// and stderr go to circuitd.out and circuitd.log in the data directory. Not
// thread-safe. The destructor stops it.
class SpawnedServer {
 public:
  explicit SpawnedServer(SpawnOptions options = SpawnOptions());
  SpawnedServer(const SpawnedServer&) = delete;
  SpawnedServer& operator=(const SpawnedServer&) = delete;
  ~SpawnedServer();

  // Starts circuitd and waits until it listens. Call once.
  absl::Status Start();

  // Drains it with SIGTERM, waits up to `grace` for it to exit, then kills
  // it (SIGKILL). Always returns within about `grace`. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(20));

  // "127.0.0.1:PORT", once started.
  const std::string& address() const { return address_; }
  const std::string& instructor_key() const { return instructor_key_; }
  const std::string& kiosk_key() const { return kiosk_key_; }
  const std::string& data_dir() const { return data_dir_; }
  // The process id while it runs; 0 otherwise.
  pid_t pid() const { return pid_; }

 private:
  const SpawnOptions options_;
  pid_t pid_ = 0;
  std::string data_dir_;
  std::string address_;
  std::string instructor_key_;
  std::string kiosk_key_;
};

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_SPAWNED_SERVER_H_
