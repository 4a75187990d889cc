// Hostile traffic for `circuit-bench --attack`. Each attack runs on threads
// of its own with blocking I/O (a few threads, or one poll loop over its
// sockets): it is one hostile device, not a fleet to simulate cheaply.
#include "bench/load/attack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "circuit/v1/service.grpc.pb.h"
#include "client/lib/process_sample.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel_posix.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_callback.h"

namespace circuit::bench {

bool ParseBenchAttack(const std::string& name, BenchAttack* attack) {
  static const std::pair<const char*, BenchAttack> kAttacks[] = {
      {"none", BenchAttack::kNone},
      {"joins", BenchAttack::kJoins},
      {"idle_tcp", BenchAttack::kIdleTcp},
      {"slowloris", BenchAttack::kSlowloris},
      {"report_flood", BenchAttack::kReportFlood},
  };
  for (const auto& [attack_name, value] : kAttacks) {
    if (name == attack_name) {
      *attack = value;
      return true;
    }
  }
  return false;
}

const char* BenchAttackName(BenchAttack attack) {
  switch (attack) {
    case BenchAttack::kOff:
      return "off";
    case BenchAttack::kNone:
      return "none";
    case BenchAttack::kJoins:
      return "joins";
    case BenchAttack::kIdleTcp:
      return "idle_tcp";
    case BenchAttack::kSlowloris:
      return "slowloris";
    case BenchAttack::kReportFlood:
      return "report_flood";
  }
  return "?";
}

int DefaultAttackSize(BenchAttack attack) {
  switch (attack) {
    case BenchAttack::kJoins:
      return 10'000;
    case BenchAttack::kIdleTcp:
      return 5'000;
    case BenchAttack::kSlowloris:
    case BenchAttack::kReportFlood:
      return 1'000;
    default:
      return 0;
  }
}

int ConnectFrom(const std::string& from, const std::string& host, int port) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1) {
    errno = EINVAL;
    return -1;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!from.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = 0;
    if (inet_pton(AF_INET, from.c_str(), &local.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      const int saved = errno == 0 ? EINVAL : errno;
      close(fd);
      errno = saved;
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  // As gRPC sets on the sockets it opens: without it, small writes wait for
  // the peer's delayed acks (40 ms).
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::shared_ptr<grpc::Channel> ChannelFrom(const std::string& from,
                                           const std::string& host, int port) {
  const int fd = ConnectFrom(from, host, port);
  if (fd < 0) return nullptr;
  grpc::ChannelArguments args;
  return grpc::CreateCustomInsecureChannelFromFd(absl::StrCat(host, ":", port),
                                                 fd, args);
}

namespace {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void SleepUntil(absl::Time due) {
  const absl::Time now = absl::Now();
  if (due > now) absl::SleepFor(due - now);
}

}  // namespace

std::string AttackTally::Summary(BenchAttack attack, int size) const {
  std::string text;
  switch (attack) {
    case BenchAttack::kJoins:
      text = absl::StrFormat(
          "%d join attempts: %d joined, %d RESOURCE_EXHAUSTED, %d other",
          join_attempts, joins_ok, joins_refused, joins_other);
      if (!first_other.empty()) absl::StrAppend(&text, " (", first_other, ")");
      break;
    case BenchAttack::kIdleTcp:
    case BenchAttack::kSlowloris:
      text = absl::StrFormat(
          "%d %s connections: %d opened, %d closed by the server after "
          "p50 %.1f s (longest %.1f s), at most %d open at once, %d connects "
          "failed",
          size, attack == BenchAttack::kIdleTcp ? "idle TCP" : "slow HTTP",
          opened, closed_by_server, held_p50_s, held_max_s, open_peak,
          connect_failed);
      if (attack == BenchAttack::kSlowloris) {
        absl::StrAppend(
            &text, absl::StrFormat(
                       "; another client's GET /healthz: %d/%d ok, p99 %.1f ms",
                       probes_ok, probes, probe_p99_ms));
      }
      break;
    case BenchAttack::kReportFlood:
      text = absl::StrFormat(
          "flooding at %d reports/s: %d sent, %d acked, %d refused by ack, "
          "%d streams cut by the server, %d resumes",
          size, reports_sent, reports_acked, reports_refused, streams_cut,
          resumes);
      if (!first_cut.empty())
        absl::StrAppend(&text, " (first: ", first_cut, ")");
      if (entries_refused > 0) {
        absl::StrAppend(
            &text,
            absl::StrFormat("; %d joins or resumes refused before an answer",
                            entries_refused),
            " (first: ", first_entry_refused, ")");
      }
      break;
    default:
      return "no attack";
  }
  if (server_rss_peak_mb > 0) {
    absl::StrAppend(&text, absl::StrFormat("; server RSS peak %.1f MB",
                                           server_rss_peak_mb));
  }
  return text;
}

Attack::Attack(AttackOptions options) : options_(std::move(options)) {}

Attack::~Attack() { Stop(); }

void Attack::Start() {
  start_ = absl::Now();
  threads_.emplace_back([this] { RunSampler(); });
  switch (options_.attack) {
    case BenchAttack::kJoins:
      ramp_needed_ = 0;
      threads_.emplace_back([this] { RunJoins(); });
      break;
    case BenchAttack::kIdleTcp:
      threads_.emplace_back([this] { RunConnections(/*http=*/false); });
      break;
    case BenchAttack::kSlowloris:
      threads_.emplace_back([this] { RunConnections(/*http=*/true); });
      threads_.emplace_back([this] { RunProbes(); });
      break;
    case BenchAttack::kReportFlood:
      threads_.emplace_back([this] { RunFlood(); });
      break;
    default:
      ramp_needed_ = 0;
      break;
  }
}

void Attack::RampedUp() {
  absl::MutexLock lock(&mu_);
  ++ramped_;
}

bool Attack::WaitRampedUp(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ramped_ >= ramp_needed_;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

void Attack::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_.store(true, std::memory_order_release);
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

AttackTally Attack::tally() {
  absl::MutexLock lock(&mu_);
  AttackTally tally = tally_;
  tally.held_p50_s = Median(held_s_);
  tally.held_max_s =
      held_s_.empty() ? 0 : *std::max_element(held_s_.begin(), held_s_.end());
  if (!probe_ms_.empty()) {
    std::vector<double> sorted = probe_ms_;
    std::sort(sorted.begin(), sorted.end());
    tally.probe_p99_ms =
        sorted[static_cast<size_t>(0.99 * (sorted.size() - 1))];
  }
  return tally;
}

void Attack::RunSampler() {
  while (!stopping() && options_.server_pid != 0) {
    const client::ProcessSample sample =
        client::SampleProcess(options_.server_pid);
    if (sample.ok) {
      absl::MutexLock lock(&mu_);
      tally_.server_rss_peak_mb = std::max(
          tally_.server_rss_peak_mb, static_cast<double>(sample.rss_kb) / 1024);
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
}

// One join attempt, on gRPC's callback API so that thousands can wait for
// their answers at once (circuitd holds a refusal a second before answering
// it): a stream that sends its join, reads the answer and is cancelled.
class Attack::JoinAttempt final
    : public grpc::ClientBidiReactor<v1::JoinClassRequest,
                                     v1::JoinClassResponse> {
 public:
  JoinAttempt(Attack* attack, v1::CircuitService::Stub* stub, int64_t j)
      : attack_(attack) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    join_.mutable_join()->set_join_code(attack->options_.join_code);
    join_.mutable_join()->mutable_check_in()->set_display_name(
        absl::StrCat("Attacker ", j));
    stub->async()->JoinClass(&context_, this);
    StartWrite(&join_);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    answered_ = ok;
    if (ok) context_.TryCancel();  // joined: leave at once
  }
  void OnDone(const grpc::Status& status) override {
    attack_->JoinAnswered(answered_, status);
    delete this;
  }

 private:
  Attack* const attack_;
  grpc::ClientContext context_;
  v1::JoinClassRequest join_;
  v1::JoinClassResponse response_;
  bool answered_ = false;
};

void Attack::JoinAnswered(bool joined, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  ++tally_.join_attempts;
  --joins_in_flight_;
  if (joined) {
    ++tally_.joins_ok;
  } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    ++tally_.joins_refused;
  } else if (tally_.joins_other++ == 0) {
    tally_.first_other = absl::StrCat(static_cast<int>(status.error_code()),
                                      ": ", status.error_message());
  }
}

// Join attempts numbered j = 0..size-1, attempt j started at start +
// duration * j / size whether or not the earlier ones were answered, spread
// over connections of its own (circuitd allows 100 streams on one).
void Attack::RunJoins() {
  constexpr int kConnections = 32;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::CircuitService::Stub>> stubs;
  for (int i = 0; i < kConnections; ++i) {
    std::shared_ptr<grpc::Channel> channel =
        ChannelFrom(options_.from, options_.host, options_.grpc_port);
    if (channel == nullptr) {
      absl::MutexLock lock(&mu_);
      if (tally_.joins_other++ == 0) {
        tally_.first_other =
            absl::StrCat("cannot connect: ", std::strerror(errno));
      }
      continue;
    }
    stubs.push_back(v1::CircuitService::NewStub(channel));
    channels.push_back(std::move(channel));
  }
  for (int64_t j = 0; j < options_.size && !stubs.empty() && !stopping(); ++j) {
    SleepUntil(start_ + options_.duration * (static_cast<double>(j) /
                                             std::max(1, options_.size)));
    {
      absl::MutexLock lock(&mu_);
      ++joins_in_flight_;
    }
    new JoinAttempt(this, stubs[static_cast<size_t>(j) % stubs.size()].get(),
                    j);
  }
  // Every attempt answers within its 10 s deadline; the stubs outlive them.
  absl::MutexLock lock(&mu_);
  auto answered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return joins_in_flight_ == 0;
  };
  mu_.Await(absl::Condition(&answered));
}

// Idle TCP (gRPC's port, nothing sent) or slow loris (the HTTP port, a
// request started and then one byte a second): `size` connections, each
// reopened as soon as the server closes it, as an attacker would. One epoll
// loop, so the attacker's own CPU (it shares the machine with the class it
// attacks) grows with what happens on its connections, not with how many
// it holds.
void Attack::RunConnections(bool http) {
  struct Conn {
    int fd = -1;
    absl::Time opened;
    bool heard = false;      // the server sent something (gRPC: its settings)
    int64_t generation = 0;  // how many times it was opened
  };
  struct Due {
    absl::Time at;
    Conn* conn;
    int64_t generation;  // the opening the byte is for
  };
  const int port = http ? options_.http_port : options_.grpc_port;
  std::vector<Conn> conns(static_cast<size_t>(std::max(0, options_.size)));
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) return;
  // Slow loris: connections in the order their next byte is due (every
  // connection's period is the same, so a queue keeps that order).
  std::deque<Due> trickle;
  std::vector<Conn*> to_reopen;
  int64_t open = 0, heard = 0;
  static constexpr char kStart[] =
      "POST /v1/classes:join HTTP/1.1\r\nHost: circuit\r\nX-Slow: ";
  auto open_one = [&](Conn* conn) {
    const int fd = ConnectFrom(options_.from, options_.host, port);
    if (fd < 0) {
      absl::MutexLock lock(&mu_);
      ++tally_.connect_failed;
      return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.ptr = conn;
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    conn->fd = fd;
    conn->opened = absl::Now();
    conn->heard = false;
    ++conn->generation;
    ++open;
    if (http) {
      send(fd, kStart, sizeof kStart - 1, MSG_NOSIGNAL);
      trickle.push_back(
          {conn->opened + options_.trickle_every, conn, conn->generation});
    }
    absl::MutexLock lock(&mu_);
    ++tally_.opened;
    tally_.open_peak = std::max(tally_.open_peak, open);
  };
  auto closed = [&](Conn* conn, bool by_server) {
    close(conn->fd);  // also leaves the epoll set
    conn->fd = -1;
    --open;
    if (conn->heard) --heard;
    if (!by_server) return;
    if (options_.reopen) to_reopen.push_back(conn);
    absl::MutexLock lock(&mu_);
    ++tally_.closed_by_server;
    held_s_.push_back(absl::ToDoubleSeconds(absl::Now() - conn->opened));
  };
  for (Conn& conn : conns) {
    if (stopping()) break;
    open_one(&conn);
  }
  // gRPC's server speaks first (its settings) once it has taken a
  // connection in: full strength is when it has taken them all (or 10 s).
  // HTTP's says nothing; there it is when they are open.
  bool ramped = http;
  if (ramped) RampedUp();
  const absl::Time ramp_deadline = absl::Now() + absl::Seconds(10);
  std::vector<epoll_event> events(256);
  char sink[4096];
  while (!stopping()) {
    // Up to 100 ms, or until the next byte is due (rounded up: a wait of
    // 0 ms would spin until then).
    int wait_ms = 100;
    if (!trickle.empty()) {
      const absl::Duration until = trickle.front().at - absl::Now();
      wait_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(until, absl::Milliseconds(1))),
          0, 100));
    }
    const int n = epoll_wait(epoll, events.data(),
                             static_cast<int>(events.size()), wait_ms);
    for (int e = 0; e < n; ++e) {
      Conn* conn = static_cast<Conn*>(events[static_cast<size_t>(e)].data.ptr);
      if (conn->fd < 0) continue;
      // Whatever the server says (its settings, an error answer) is read
      // and dropped; the end of the stream is the server closing.
      for (;;) {
        const ssize_t got = recv(conn->fd, sink, sizeof sink, 0);
        if (got > 0) {
          if (!conn->heard) ++heard;
          conn->heard = true;
          continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        closed(conn, /*by_server=*/true);
        break;
      }
    }
    const absl::Time now = absl::Now();
    if (!ramped && (now >= ramp_deadline || heard >= open)) {
      ramped = true;
      RampedUp();
    }
    // Slow loris: the next byte on each connection whose time has come (an
    // entry for a connection since closed, or reopened, drops out here).
    while (!trickle.empty() && trickle.front().at <= now && !stopping()) {
      const Due due = trickle.front();
      trickle.pop_front();
      Conn* conn = due.conn;
      if (conn->fd < 0 || conn->generation != due.generation) continue;
      if (send(conn->fd, "a", 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
        closed(conn, /*by_server=*/true);
        continue;
      }
      trickle.push_back({now + options_.trickle_every, conn, due.generation});
    }
    // A bounded number a turn, so the loop keeps reading.
    const size_t reopen = std::min<size_t>(to_reopen.size(), 500);
    for (size_t r = 0; r < reopen && !stopping(); ++r) {
      Conn* conn = to_reopen.back();
      to_reopen.pop_back();
      open_one(conn);
    }
  }
  for (Conn& conn : conns) {
    if (conn.fd >= 0) closed(&conn, /*by_server=*/false);
  }
  close(epoll);
}

// A well-behaved HTTP client from the healthy address while the slow loris
// holds its connections: is it still served?
void Attack::RunProbes() {
  static constexpr char kRequest[] =
      "GET /healthz HTTP/1.1\r\nHost: circuit\r\nConnection: close\r\n\r\n";
  while (!stopping()) {
    absl::SleepFor(absl::Milliseconds(100));
    const absl::Time start = absl::Now();
    bool ok = false;
    const int fd = ConnectFrom("", options_.host, options_.http_port);
    if (fd >= 0) {
      timeval timeout{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      std::string answer;
      if (send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) > 0) {
        char buffer[1024];
        ssize_t n;
        while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
          answer.append(buffer, static_cast<size_t>(n));
        }
      }
      ok = answer.rfind("HTTP/1.1 200", 0) == 0;
      close(fd);
    }
    absl::MutexLock lock(&mu_);
    ++tally_.probes;
    if (ok) {
      ++tally_.probes_ok;
      probe_ms_.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    }
  }
}

// One participant reporting `size` times a second on its stream; when the
// server cuts the stream it resumes its seat at once and goes on.
void Attack::RunFlood() {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::CircuitService::Stub> stub;
  std::string token;
  int64_t k = 0;
  bool ramped = false;
  const absl::Duration period = absl::Seconds(1) / std::max(1, options_.size);
  while (!stopping()) {
    if (stub == nullptr) {
      channel = ChannelFrom(options_.from, options_.host, options_.grpc_port);
      if (channel == nullptr) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      stub = v1::CircuitService::NewStub(channel);
    }
    grpc::ClientContext context;
    v1::JoinClassRequest first;
    if (token.empty()) {
      first.mutable_join()->set_join_code(options_.join_code);
      first.mutable_join()->mutable_check_in()->set_display_name("Flood");
    } else {
      context.AddMetadata("authorization", "Bearer " + token);
      first.mutable_resume();
      absl::MutexLock lock(&mu_);
      ++tally_.resumes;
    }
    auto stream = stub->JoinClass(&context);
    std::atomic<bool> read_done{false};
    bool entered = false;  // the join or resume was answered
    std::string new_token;
    std::thread reader([&] {
      v1::JoinClassResponse response;
      while (stream->Read(&response)) {
        if (response.has_joined()) new_token = response.joined().resume_token();
        if (response.has_joined() || response.has_snapshot()) entered = true;
        if (response.has_snapshot() && !ramped) {
          ramped = true;
          RampedUp();
        }
        if (response.has_ack()) {
          absl::MutexLock lock(&mu_);
          if (response.ack().code() == 0) {
            ++tally_.reports_acked;
          } else {
            ++tally_.reports_refused;
          }
        }
      }
      read_done.store(true, std::memory_order_release);
    });
    bool writing = stream->Write(first);
    absl::Time next = absl::Now();
    while (writing && !stopping() &&
           !read_done.load(std::memory_order_acquire)) {
      SleepUntil(next);
      next += period;
      // Behind by more than a second (the write blocked): do not burst.
      if (absl::Now() - next > absl::Seconds(1)) next = absl::Now();
      v1::JoinClassRequest request;
      v1::CompletionReport* c = request.mutable_completion();
      c->set_report_id(absl::StrCat("f", k));
      c->set_block_index(0);
      c->set_set(static_cast<int32_t>(1 + (k / 2) % 2));
      c->set_side(k % 2 == 0 ? v1::SIDE_LEFT : v1::SIDE_RIGHT);
      c->set_reps(9);
      ++k;
      writing = stream->Write(request);
      if (writing) {
        absl::MutexLock lock(&mu_);
        ++tally_.reports_sent;
      }
    }
    if (stopping()) context.TryCancel();
    reader.join();
    const grpc::Status status = stream->Finish();
    if (!new_token.empty()) token = new_token;
    if (stopping()) break;
    absl::MutexLock lock(&mu_);
    const std::string said = absl::StrCat(static_cast<int>(status.error_code()),
                                          ": ", status.error_message());
    if (!entered && tally_.entries_refused++ == 0) {
      tally_.first_entry_refused = said;
    }
    if (entered && tally_.first_cut.empty()) tally_.first_cut = said;
    ++tally_.streams_cut;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) stub.reset();
  }
}

}  // namespace circuit::bench
