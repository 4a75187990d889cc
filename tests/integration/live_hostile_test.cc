// Hostile load against a real in-process circuitd (issue 12, item 6): a join
// flood from one address, connections that never send a byte or never open
// a call, streams that never send their first message, a slow-loris HTTP
// client, a participant flooding reports and resuming. Each test
// checks the attacker is refused or cut and that someone else is still
// served. Time is the injected clock where the limits read it; the
// connection timeouts and the first-message deadline are gRPC's and Beast's
// own timers, shortened, and waited on as conditions with deadlines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel_posix.h"
#include "gtest/gtest.h"
#include "server/common/rate_limit.h"
#include "server/common/stats.h"
#include "server/common/thread_priority.h"
#include "tests/integration/live_harness.h"

namespace circuit::testing {
namespace {

// A TCP connection from `from` (any 127/8 address is this machine) to
// 127.0.0.1:port; -1 on failure.
int ConnectFrom(const std::string& from, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A gRPC stub whose one connection comes from `from`.
std::unique_ptr<v1::CircuitService::Stub> StubFrom(const std::string& from,
                                                   int port) {
  const int fd = ConnectFrom(from, port);
  EXPECT_GE(fd, 0) << "cannot connect from " << from;
  return v1::CircuitService::NewStub(
      grpc::CreateInsecureChannelFromFd(absl::StrCat("127.0.0.1:", port), fd));
}

// Reads (and drops) what the server sends until it closes the connection,
// at most `timeout`; true when it closed.
bool WaitClosedByServer(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char sink[4096];
  while (absl::Now() < deadline) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    const int left = static_cast<int>(std::max<int64_t>(
        1, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (poll(&p, 1, left) <= 0) continue;
    const ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n <= 0) return true;
  }
  return false;
}

bool GotCue(const std::vector<v1::JoinClassResponse>& all,
            const std::string& text) {
  for (const auto& m : all) {
    if (m.has_event() && m.event().has_cue() &&
        m.event().cue().text() == text) {
      return true;
    }
  }
  return false;
}

// Joins from `stub` once; the stream's status when it ended without a
// `joined`, OK when it joined.
grpc::Status TryJoin(v1::CircuitService::Stub* stub,
                     const std::string& join_code) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  auto stream = stub->JoinClass(&context);
  v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(join_code);
  join.mutable_join()->mutable_check_in()->set_display_name("Flood");
  stream->Write(join);
  v1::JoinClassResponse response;
  if (stream->Read(&response)) {
    context.TryCancel();
    stream->Finish();
    return grpc::Status::OK;
  }
  return stream->Finish();
}

TEST(HostileLoadTest, JoinFloodFromOneAddressIsRefusedAndOthersStillJoin) {
  FakeClock clock;  // frozen: the per-address bucket never refills
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.joins_per_second_per_peer = 2;
  options.service.join_burst_per_peer = 40;
  // Each refusal answered at once: 10,000 one after the other would
  // otherwise take as many seconds (that delay has a test of its own).
  options.service.refusal_delay = absl::ZeroDuration();
  LiveServer server(options, &clock);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto attacker = StubFrom("127.0.0.2", server.server()->port());

  int joined = 0, refused = 0;
  std::string other;
  for (int i = 0; i < 10'000; ++i) {
    const grpc::Status status = TryJoin(attacker.get(), info.join_code());
    if (status.ok()) {
      ++joined;
    } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
               absl::StrContains(status.error_message(), "join attempts")) {
      ++refused;
    } else if (other.empty()) {
      other = absl::StrCat(static_cast<int>(status.error_code()), ": ",
                           status.error_message());
    }
  }
  EXPECT_EQ(joined, 40);  // the burst
  EXPECT_EQ(refused, 10'000 - 40);
  EXPECT_EQ(other, "");

  // Another address (a healthy phone) is not affected.
  auto healthy = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(healthy->participant_id.empty());
}

TEST(HostileLoadTest, ConnectionThatNeverSendsAByteIsClosedAfterHandshake) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.handshake_timeout_ms = 200;
  LiveServer server(options);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");

  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(ConnectFrom("127.0.0.2", server.server()->port()));
    ASSERT_GE(idle.back(), 0);
  }
  for (int fd : idle) {
    EXPECT_TRUE(WaitClosedByServer(fd, kWait));
    close(fd);
  }
  // A client that does speak is served.
  auto healthy = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(healthy->participant_id.empty());
}

TEST(HostileLoadTest, ConnectionWithoutCallsIsClosedButQuietStreamsStay) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.max_connection_idle_seconds = 1;
  LiveServer server(options);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto participant_stub = server.NewStub();
  auto participant =
      server.Join(info.join_code(), "Dana", true, participant_stub.get());

  // Twice: a connection that opens no call is closed once idle, and the
  // quiet participant's connection (as old as either) is not.
  for (int round = 0; round < 2; ++round) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto channel = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server.server()->port()),
        grpc::InsecureChannelCredentials(), args);
    ASSERT_TRUE(
        channel->WaitForConnected(absl::ToChronoTime(absl::Now() + kWait)));
    // The server's GOAWAY takes the channel out of READY.
    EXPECT_TRUE(channel->WaitForStateChange(
        GRPC_CHANNEL_READY, absl::ToChronoTime(absl::Now() + kWait)));
  }
  const std::string text = "Still here?";
  v1::CommandResult cue =
      instructor->Send(Cmd([&](auto* c) { c->mutable_cue()->set_text(text); }));
  ASSERT_EQ(cue.code(), 0) << cue.message();
  EXPECT_TRUE(participant->in.WaitFor(
      [&](const std::vector<v1::JoinClassResponse>& all) {
        return GotCue(all, text);
      }));
}

// A started class on a server whose seats may send 60 messages at once and
// 20 a second after that, with two participants: Dana, and Flood, who joins
// from an address of its own (127.0.0.2) to flood it with reports. The clock
// is frozen until the test moves it, so no bucket refills meanwhile.
class ReportFloodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options = LiveServer::DefaultOptions();
    options.service.stream_messages_per_second = 20;
    options.service.stream_message_burst = 60;
    server_ = std::make_unique<LiveServer>(options, &clock_);
    const v1::ClassInfo info = server_->CreateClass("kickback-trio");
    instructor_ = server_->Instruct(info.class_id());
    healthy_ = server_->Join(info.join_code(), "Dana");
    flood_stub_ = StubFrom("127.0.0.2", server_->server()->port());
    flooder_ =
        server_->Join(info.join_code(), "Flood", false, flood_stub_.get());
    v1::CommandResult start =
        instructor_->Send(Cmd([](auto* c) { c->mutable_start(); }));
    ASSERT_EQ(start.code(), 0) << start.message();
  }

  FakeClock clock_;
  std::unique_ptr<LiveServer> server_;
  std::unique_ptr<InstructorClient> instructor_;
  std::unique_ptr<ParticipantClient> healthy_;
  std::unique_ptr<v1::CircuitService::Stub> flood_stub_;
  std::unique_ptr<ParticipantClient> flooder_;
};

TEST_F(ReportFloodTest, ReportFloodIsCutAndTheClassKeepsItsCues) {
  int written = 0;
  for (int i = 0; i < 1'000; ++i) {
    if (!flooder_->stream->Write(
            Completion(absl::StrCat("f", i), 0, 1, v1::SIDE_LEFT, 9))) {
      break;
    }
    ++written;
  }
  const grpc::Status status = flooder_->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "messages per second"))
      << status.error_message();
  int acked = 0;
  for (const auto& m : flooder_->in.messages()) {
    if (m.has_ack()) ++acked;
  }
  // The seat's burst; the join was counted per address instead.
  EXPECT_LE(acked, 60);
  EXPECT_LT(acked, written);

  const std::string text = "Squeeze at the top";
  v1::CommandResult cue = instructor_->Send(
      Cmd([&](auto* c) { c->mutable_cue()->set_text(text); }));
  ASSERT_EQ(cue.code(), 0) << cue.message();
  EXPECT_TRUE(
      healthy_->in.WaitFor([&](const std::vector<v1::JoinClassResponse>& all) {
        return GotCue(all, text);
      }));
}

// Resumes the seat of `token` on a new stream from `stub`.
std::unique_ptr<ParticipantClient> ResumeFrom(v1::CircuitService::Stub* stub,
                                              const std::string& token) {
  auto client = std::make_unique<ParticipantClient>();
  client->context = Context(token);
  client->stream = stub->JoinClass(client->context.get());
  client->resume_token = token;
  v1::JoinClassRequest resume;
  resume.mutable_resume();
  EXPECT_TRUE(client->stream->Write(resume));
  client->in.Start(client->stream.get());
  return client;
}

// The ack of `report_id` among `all`, if any.
const v1::ReportAck* AckOf(const std::vector<v1::JoinClassResponse>& all,
                           const std::string& report_id) {
  for (const auto& m : all) {
    if (m.has_ack() && m.ack().report_id() == report_id) return &m.ack();
  }
  return nullptr;
}

TEST_F(ReportFloodTest, ReportBudgetIsPerSeatAndSurvivesAResume) {
  // One report recorded, then the rest of the seat's burst, and the stream
  // is cut.
  v1::ReportAck first =
      flooder_->Report(Completion("f0", 0, 1, v1::SIDE_LEFT, 9), "f0");
  ASSERT_EQ(first.code(), 0) << first.message();
  for (int i = 1; i < 100; ++i) {
    if (!flooder_->stream->Write(
            Completion(absl::StrCat("f", i), 0, 1, v1::SIDE_LEFT, 9))) {
      break;
    }
  }
  grpc::Status status = flooder_->in.WaitDone();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();

  // Resuming at once does not refill the seat's bucket: the resume is
  // answered, and the first report on the new stream is over the limit and
  // gets no ack.
  auto resumed = ResumeFrom(flood_stub_.get(), flooder_->resume_token);
  EXPECT_TRUE(
      resumed->in.WaitFor([](const std::vector<v1::JoinClassResponse>& all) {
        for (const auto& m : all) {
          if (m.has_snapshot()) return true;
        }
        return false;
      }))
      << "the resume was not answered";
  resumed->stream->Write(Completion("after-resume", 0, 1, v1::SIDE_LEFT, 9));
  status = resumed->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "from one participant"))
      << status.error_message();
  EXPECT_EQ(AckOf(resumed->in.messages(), "after-resume"), nullptr);

  // Another seat has its own budget.
  v1::ReportAck ack =
      healthy_->Report(Completion("d1", 0, 1, v1::SIDE_LEFT, 9), "d1");
  EXPECT_EQ(ack.code(), 0) << ack.message();

  // A second later the seat has 20 messages again, and what was accepted
  // before the cut is still recorded (a retry is a duplicate).
  clock_.Advance(absl::Seconds(1));
  auto later = ResumeFrom(flood_stub_.get(), flooder_->resume_token);
  v1::ReportAck retry = later->Report(
      Completion("after-resume", 0, 1, v1::SIDE_LEFT, 9), "after-resume");
  EXPECT_EQ(retry.code(), 0) << retry.message();
  EXPECT_FALSE(retry.duplicate());
  v1::ReportAck again =
      later->Report(Completion("f0", 0, 1, v1::SIDE_LEFT, 9), "f0");
  EXPECT_EQ(again.code(), 0) << again.message();
  EXPECT_TRUE(again.duplicate());
}

TEST(HostileLoadTest, SeatBudgetsStayBoundedAndAreNeverLiftedEarly) {
  KeyedTokenBuckets buckets(/*per_second=*/20, /*burst=*/60);
  absl::Time now = absl::FromUnixSeconds(1'780'000'000);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(buckets.Get("spent", now)->TryTake(now));
  }
  std::shared_ptr<KeyedTokenBuckets::Bucket> held = buckets.Get("held", now);
  // Seats that come and go (full buckets nobody holds) are forgotten...
  for (int i = 0; i < 10'000; ++i) buckets.Get(absl::StrCat("seat", i), now);
  EXPECT_LE(buckets.size(), 1024u);
  // ...a spent one is not, however many others came, nor one still held.
  EXPECT_FALSE(buckets.Get("spent", now)->TryTake(now));
  EXPECT_EQ(buckets.Get("held", now), held);
  now += absl::Seconds(1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(buckets.Get("spent", now)->TryTake(now)) << i;
  }
  EXPECT_FALSE(buckets.Get("spent", now)->TryTake(now));
}

TEST(HostileLoadTest, ResumesCountWithJoinsPerAddress) {
  FakeClock clock;  // frozen: the per-address bucket never refills
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.joins_per_second_per_peer = 2;
  options.service.join_burst_per_peer = 3;
  LiveServer server(options, &clock);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto stub = StubFrom("127.0.0.2", server.server()->port());
  auto joined = server.Join(info.join_code(), "Flood", false, stub.get());
  ASSERT_FALSE(joined->resume_token.empty());

  // The join took one of three; two resumes take the rest.
  for (int i = 0; i < 2; ++i) {
    auto resumed = ResumeFrom(stub.get(), joined->resume_token);
    EXPECT_TRUE(
        resumed->in.WaitFor([](const std::vector<v1::JoinClassResponse>& all) {
          for (const auto& m : all) {
            if (m.has_snapshot()) return true;
          }
          return false;
        }))
        << "resume " << i
        << " was refused: " << resumed->in.WaitDone().error_message();
  }
  auto refused = ResumeFrom(stub.get(), joined->resume_token);
  const grpc::Status status = refused->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "resume attempts"))
      << status.error_message();
  for (const auto& m : refused->in.messages()) EXPECT_FALSE(m.has_snapshot());

  // Another address resumes the same seat (a phone that moved networks).
  auto elsewhere = server.Resume(joined->resume_token, 0);
  EXPECT_TRUE(
      elsewhere->in.WaitFor([](const std::vector<v1::JoinClassResponse>& all) {
        for (const auto& m : all) {
          if (m.has_snapshot()) return true;
        }
        return false;
      }));
}

// Waits until `count` refused joins or resumes are waiting out their delay.
bool WaitForDelayedRefusals(int64_t count) {
  const absl::Time deadline = absl::Now() + kWait;
  while (ProcessStats().delayed_refusals.load() != count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(HostileLoadTest, RefusedResumesWaitTheirDelayButOnlySoManyAtOnce) {
  FakeClock clock;  // frozen: the per-address bucket never refills
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.join_burst_per_peer = 1;
  // Far longer than the test: no waiting refusal is answered by its alarm.
  options.service.refusal_delay = absl::Hours(1);
  options.service.max_delayed_refusals = 2;
  LiveServer server(options, &clock);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto stub = StubFrom("127.0.0.2", server.server()->port());
  auto joined = server.Join(info.join_code(), "Flood", false, stub.get());
  ASSERT_FALSE(joined->resume_token.empty());  // the address's one entry

  // Two refused resumes wait, unanswered.
  const int64_t before = ProcessStats().delayed_refusals.load();
  auto first = ResumeFrom(stub.get(), joined->resume_token);
  ASSERT_TRUE(WaitForDelayedRefusals(before + 1));
  auto second = ResumeFrom(stub.get(), joined->resume_token);
  ASSERT_TRUE(WaitForDelayedRefusals(before + 2));

  // A third finds no room to wait: refused at once, saying why.
  auto third = ResumeFrom(stub.get(), joined->resume_token);
  grpc::Status status = third->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "resume attempts"))
      << status.error_message();
  EXPECT_EQ(first->in.WaitDone(absl::ZeroDuration()).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED)
      << "a refusal that should wait was answered";
  EXPECT_EQ(second->in.WaitDone(absl::ZeroDuration()).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED)
      << "a refusal that should wait was answered";

  // A client that gives up frees its place for the next refusal.
  first->context->TryCancel();
  EXPECT_EQ(first->in.WaitDone().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(WaitForDelayedRefusals(before + 1));
  auto fourth = ResumeFrom(stub.get(), joined->resume_token);
  ASSERT_TRUE(WaitForDelayedRefusals(before + 2));
  for (const auto& m : fourth->in.messages()) EXPECT_FALSE(m.has_snapshot());

  // Meanwhile another address joins, and nothing waits once the clients
  // are gone.
  auto healthy = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(healthy->participant_id.empty());
  second.reset();
  fourth.reset();
  EXPECT_TRUE(WaitForDelayedRefusals(before));
}

TEST(HostileLoadTest, GrpcTimerThreadsRunBelowTheClassStreams) {
  ServerOptions options = LiveServer::DefaultOptions();
  ASSERT_EQ(options.grpc_timer_nice, 10);  // circuitd's default
  LiveServer server(options);
  // Where gRPC tears down the connections whose handshake timed out.
  const std::vector<int> timers = NiceOfThreadsNamed("grpc_global_tim");
  ASSERT_FALSE(timers.empty()) << "no gRPC timer thread found by its name";
  for (int nice : timers) EXPECT_EQ(nice, 10);
  // The class streams' threads keep their priority.
  const std::vector<int> mine = NiceOfThreadsNamed("live_test");
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(*std::min_element(mine.begin(), mine.end()), 0);
  // And a class is served.
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto healthy = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(healthy->participant_id.empty());
}

TEST(HostileLoadTest, StreamsThatNeverSendAFirstMessageAreEnded) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.first_message_timeout = absl::Milliseconds(300);
  LiveServer server(options);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto healthy = server.Join(info.join_code(), "Dana");

  // A JoinClass and a RunClass stream that open and say nothing.
  auto stub = StubFrom("127.0.0.2", server.server()->port());
  grpc::ClientContext join_context;
  join_context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto silent_join = stub->JoinClass(&join_context);
  auto run_context = Context(kInstructorKey);
  auto silent_run = stub->RunClass(run_context.get());
  v1::JoinClassResponse join_response;
  EXPECT_FALSE(silent_join->Read(&join_response));
  grpc::Status status = silent_join->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no first message"))
      << status.error_message();
  v1::RunClassResponse run_response;
  EXPECT_FALSE(silent_run->Read(&run_response));
  status = silent_run->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no first message"))
      << status.error_message();

  // Streams that did speak are older than the timeout and still served.
  const std::string text = "Breathe out on the way up";
  v1::CommandResult cue =
      instructor->Send(Cmd([&](auto* c) { c->mutable_cue()->set_text(text); }));
  ASSERT_EQ(cue.code(), 0) << cue.message();
  EXPECT_TRUE(
      healthy->in.WaitFor([&](const std::vector<v1::JoinClassResponse>& all) {
        return GotCue(all, text);
      }));
}

// Raw HTTP: connects from `from`, sends `bytes`.
int OpenHttp(const std::string& from, int port, const std::string& bytes) {
  const int fd = ConnectFrom(from, port);
  if (fd >= 0 && !bytes.empty()) {
    send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  return fd;
}

// GET /healthz on a connection of its own from 127.0.0.1; the status line.
std::string Healthz(int port) {
  const int fd =
      OpenHttp("127.0.0.1", port,
               "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  if (fd < 0) return "cannot connect";
  timeval timeout{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  char buffer[1024];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
    answer.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

TEST(HostileLoadTest, SlowLorisHttpClientIsCutWhileAnotherIsServed) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.http_listen = "127.0.0.1:0";
  options.http_read_timeout = absl::Milliseconds(300);
  LiveServer server(options);
  const int port = server.server()->http_port();

  const int slow = OpenHttp("127.0.0.2", port,
                            "POST /v1/classes:join HTTP/1.1\r\nHost: t\r\n");
  ASSERT_GE(slow, 0);
  // A byte at a time, until the server has had enough.
  bool cut = false;
  const absl::Time deadline = absl::Now() + kWait;
  while (!cut && absl::Now() < deadline) {
    if (send(slow, "a", 1, MSG_NOSIGNAL) < 0) {
      cut = true;
      break;
    }
    cut = WaitClosedByServer(slow, absl::Milliseconds(50));
  }
  close(slow);
  EXPECT_TRUE(cut);
  EXPECT_EQ(Healthz(port), "HTTP/1.1 200 OK");
}

TEST(HostileLoadTest, HttpConnectionsOverThePerAddressLimitAreClosed) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.http_listen = "127.0.0.1:0";
  options.http_read_timeout = absl::Seconds(120);
  options.http_max_connections_per_address = 3;
  LiveServer server(options);
  const int port = server.server()->http_port();
  const uint64_t refused_before =
      ProcessStats().refused_http_connections.load();

  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(OpenHttp("127.0.0.2", port, "GET /healthz HTTP/1.1\r\n"));
    ASSERT_GE(held.back(), 0);
  }
  const int over = OpenHttp("127.0.0.2", port, "");
  ASSERT_GE(over, 0);
  EXPECT_TRUE(WaitClosedByServer(over, kWait));
  close(over);
  EXPECT_EQ(ProcessStats().refused_http_connections.load(), refused_before + 1);
  // Another address is served meanwhile; the three are still open.
  EXPECT_EQ(Healthz(port), "HTTP/1.1 200 OK");
  for (int fd : held) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0) << "a connection within the limit was closed";
    close(fd);
  }
}

}  // namespace
}  // namespace circuit::testing
