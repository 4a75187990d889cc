#include "tests/testing/nats_cluster.h"

#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace circuit::testing {
namespace {

// Debian installs it in /usr/sbin.
constexpr char kNatsServer[] = "/usr/sbin/nats-server";

// A port nobody listens on now, on 127.0.0.1 (the kernel's pick for port 0).
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port == 0) return absl::InternalError("no free port");
  return port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NatsCluster>> NatsCluster::Start(
    int size, absl::Time deadline) {
  if (access(kNatsServer, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "nats-server is not installed (make deps installs it)");
  }
  // A port found free may be taken before its server binds it (an outgoing
  // connection's ephemeral port): then all start again on other ports.
  absl::StatusOr<std::unique_ptr<NatsCluster>> cluster;
  for (int attempt = 0; attempt < 3; ++attempt) {
    cluster = StartOnce(size, deadline);
    if (cluster.ok() || !absl::IsAborted(cluster.status())) break;
  }
  return cluster;
}

absl::StatusOr<std::unique_ptr<NatsCluster>> NatsCluster::StartOnce(
    int size, absl::Time deadline) {
  std::unique_ptr<NatsCluster> cluster(new NatsCluster());
  cluster->dir_ = MakeTempDir();
  cluster->servers_.resize(size);
  for (Server& server : cluster->servers_) {
    absl::StatusOr<int> client = FreePort();
    absl::StatusOr<int> route = FreePort();
    if (!client.ok()) return client.status();
    if (!route.ok()) return route.status();
    server.client_port = *client;
    server.route_port = *route;
  }
  for (int i = 0; i < size; ++i) {
    Server& server = cluster->servers_[i];
    const std::string dir = absl::StrCat(cluster->dir_, "/n", i + 1);
    std::filesystem::create_directories(dir);
    server.config_path = dir + "/nats.conf";
    server.log_path = dir + "/nats.log";
    std::vector<std::string> routes;
    for (int j = 0; j < size; ++j) {
      if (j == i) continue;
      routes.push_back(absl::StrCat("nats-route://127.0.0.1:",
                                    cluster->servers_[j].route_port));
    }
    std::ofstream config(server.config_path);
    config << "server_name: n" << i + 1 << "\n"
           << "listen: 127.0.0.1:" << server.client_port << "\n"
           << "jetstream {\n  store_dir: \"" << dir << "/js\"\n"
           << "  max_memory_store: 64MB\n  max_file_store: 1GB\n}\n";
    if (size > 1) {
      config << "cluster {\n  name: circuit-test\n"
             << "  listen: 127.0.0.1:" << server.route_port << "\n"
             << "  routes: [" << absl::StrJoin(routes, ", ") << "]\n}\n";
    }
  }
  for (int i = 0; i < size; ++i) {
    if (absl::Status s = cluster->StartServer(i); !s.ok()) return s;
  }
  for (int i = 0; i < size; ++i) {
    if (absl::Status s = cluster->WaitForJetStream(i, deadline); !s.ok()) {
      return s;
    }
  }
  return cluster;
}

NatsCluster::~NatsCluster() {
  for (Server& server : servers_) server.process.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string NatsCluster::url(int i) const {
  return absl::StrCat("nats://127.0.0.1:", servers_[i].client_port);
}

std::string NatsCluster::urls() const {
  std::vector<std::string> all;
  for (int i = 0; i < size(); ++i) all.push_back(url(i));
  return absl::StrJoin(all, ",");
}

absl::Status NatsCluster::StartServer(int i) {
  Server& server = servers_[i];
  spawn::ChildOptions options;
  options.argv = {kNatsServer, "-c", server.config_path};
  options.stderr_path = server.log_path + ".stderr";
  options.stdin_from_dev_null = true;
  absl::StatusOr<Subprocess> child = Subprocess::Start(options);
  if (!child.ok()) return child.status();
  server.process.emplace(*std::move(child));
  return absl::OkStatus();
}

void NatsCluster::Kill(int i) {
  Server& server = servers_[i];
  if (!server.process.has_value()) return;
  server.process->Signal(SIGKILL);
  server.process->Wait(absl::Now() + absl::Seconds(10)).IgnoreError();
  server.process.reset();
}

absl::Status NatsCluster::Restart(int i, absl::Time deadline) {
  if (absl::Status s = StartServer(i); !s.ok()) return s;
  return WaitForJetStream(i, deadline);
}

std::string NatsCluster::Log(int i) const {
  std::ifstream in(servers_[i].log_path + ".stderr");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status NatsCluster::WaitForJetStream(int i, absl::Time deadline) {
  const std::string address = url(i);
  natsStatus last = NATS_OK;
  jsErrCode last_code = static_cast<jsErrCode>(0);
  while (absl::Now() < deadline) {
    if (!servers_[i].process.has_value()) break;
    if (absl::StrContains(Log(i), "address already in use")) {
      return absl::AbortedError(absl::StrCat(
          "nats-server ", i + 1, " found a port taken; its log:\n", Log(i)));
    }
    natsConnection* nc = nullptr;
    last = natsConnection_ConnectTo(&nc, address.c_str());
    if (last == NATS_OK) {
      jsCtx* js = nullptr;
      jsAccountInfo* info = nullptr;
      last = natsConnection_JetStream(&js, nc, nullptr);
      if (last == NATS_OK) {
        last = js_GetAccountInfo(&info, js, nullptr, &last_code);
      }
      if (info != nullptr) jsAccountInfo_Destroy(info);
      if (js != nullptr) jsCtx_Destroy(js);
      natsConnection_Destroy(nc);
      if (last == NATS_OK) return absl::OkStatus();
    }
    // Polling a server that is starting: nothing to wait on but time.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "nats-server ", i + 1, " at ", address,
      " had no JetStream by the "
      "deadline (last: ",
      natsStatus_GetText(last), " ", last_code, "); its log:\n", Log(i)));
}

std::string NatsCluster::StoredBytes() const {
  std::string all;
  for (const auto& file : std::filesystem::recursive_directory_iterator(dir_)) {
    if (!file.is_regular_file()) continue;
    std::ifstream in(file.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    all += bytes.str();
  }
  return all;
}

std::string NatsCluster::WriteDataKeyFile() const {
  const std::string path = dir_ + "/data.key";
  {
    std::ofstream key(path);
    key << "1:" << std::string(64, 'a') << "\n";
  }
  chmod(path.c_str(), 0600);
  return path;
}

}  // namespace circuit::testing
