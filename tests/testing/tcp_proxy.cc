#include "tests/testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace circuit::testing {

// One proxied connection: a thread copying bytes both ways until either side
// closes or the proxy cuts it.
struct TcpProxy::Pipe {
  int client_fd = -1;
  int server_fd = -1;
  std::thread thread;

  void Run() {
    char buffer[16384];
    pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
    while (true) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n <= 0) return;
        const int to = fds[1 - i].fd;
        for (ssize_t sent = 0; sent < n;) {
          ssize_t w = send(to, buffer + sent, static_cast<size_t>(n - sent),
                           MSG_NOSIGNAL);
          if (w <= 0) return;
          sent += w;
        }
      }
    }
  }

  void Shutdown() {
    shutdown(client_fd, SHUT_RDWR);
    shutdown(server_fd, SHUT_RDWR);
  }

  ~Pipe() {
    Shutdown();
    if (thread.joinable()) thread.join();
    close(client_fd);
    close(server_fd);
  }
};

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address;
  std::memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int target_port) {
  std::unique_ptr<TcpProxy> proxy(new TcpProxy());
  proxy->SetTarget(target_port);
  proxy->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (proxy->listen_fd_ < 0 ||
      bind(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&address),
           sizeof(address)) != 0 ||
      listen(proxy->listen_fd_, 64) != 0 ||
      getsockname(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&address),
                  &length) != 0 ||
      pipe2(proxy->wake_fds_, O_CLOEXEC) != 0) {
    return absl::InternalError(
        absl::StrCat("tcp proxy: cannot listen: ", std::strerror(errno)));
  }
  proxy->port_ = ntohs(address.sin_port);
  TcpProxy* raw = proxy.get();
  proxy->acceptor_ = std::thread([raw] { raw->AcceptLoop(); });
  return proxy;
}

void TcpProxy::SetTarget(int target_port) {
  absl::MutexLock lock(&mu_);
  target_port_ = target_port;
}

TcpProxy::~TcpProxy() {
  if (wake_fds_[1] >= 0) {
    char byte = 0;
    (void)!write(wake_fds_[1], &byte, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  Cut();
  for (int fd : {listen_fd_, wake_fds_[0], wake_fds_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void TcpProxy::AcceptLoop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    absl::MutexLock lock(&mu_);
    ++accepted_;
    if (refusing_) {
      close(client);
      continue;
    }
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&target),
                              sizeof(target)) != 0) {
      close(client);
      if (server >= 0) close(server);
      continue;
    }
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto pipe = std::make_shared<Pipe>();
    pipe->client_fd = client;
    pipe->server_fd = server;
    Pipe* raw = pipe.get();
    pipe->thread = std::thread([raw] { raw->Run(); });
    pipes_.push_back(std::move(pipe));
  }
}

void TcpProxy::Cut() {
  std::vector<std::shared_ptr<Pipe>> pipes;
  {
    absl::MutexLock lock(&mu_);
    pipes.swap(pipes_);
  }
  pipes.clear();  // each shuts down, joins and closes
}

void TcpProxy::SetRefusing(bool refusing) {
  absl::MutexLock lock(&mu_);
  refusing_ = refusing;
}

int TcpProxy::accepted() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

}  // namespace circuit::testing
