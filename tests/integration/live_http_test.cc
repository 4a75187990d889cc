// The HTTP listener: the JSON API over the same actors as the gRPC service,
// errors in grpc-gateway's shape, refused oversized bodies, and /metrics in a
// format promtool accepts.

#include <chrono>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/integration/live_harness.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

namespace http = boost::beast::http;
using testing::Cmd;
using testing::Fetch;
using ::testing::HasSubstr;
using testing::LiveServer;
using ::testing::Not;
using testing::Reply;
using testing::SendRaw;
using testing::SseReader;
using ::testing::StartsWith;

class LiveHttpTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options = LiveServer::DefaultOptions();
    options.http_listen = "127.0.0.1:0";
    return options;
  }

  int port() { return server_.server()->http_port(); }

  LiveServer server_{Options()};
};

TEST_F(LiveHttpTest, ListensOnItsOwnPort) {
  ASSERT_GT(port(), 0);
  EXPECT_NE(port(), server_.server()->port());
  const Reply health = Fetch(port(), http::verb::get, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

TEST_F(LiveHttpTest, GetClassIsTheGrpcAnswerAsJson) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  const Reply by_id =
      Fetch(port(), http::verb::get, "/v1/classes/" + info.class_id());
  EXPECT_EQ(by_id.status, 200) << by_id.body;
  EXPECT_EQ(by_id.content_type, "application/json");
  EXPECT_THAT(by_id.body, HasSubstr("\"classId\":\"" + info.class_id() + "\""));
  EXPECT_THAT(by_id.body, HasSubstr("CLASS_PHASE_LOBBY"));

  const Reply by_code = Fetch(port(), http::verb::get,
                              "/v1/classes:byJoinCode/" + info.join_code());
  EXPECT_EQ(by_code.status, 200) << by_code.body;
  EXPECT_THAT(by_code.body,
              HasSubstr("\"classId\":\"" + info.class_id() + "\""));
}

TEST_F(LiveHttpTest, ErrorsCarryTheGrpcCodeAndGatewayStatus) {
  const Reply unknown = Fetch(port(), http::verb::get, "/v1/classes/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.content_type, "application/json");
  EXPECT_EQ(unknown.body,
            "{\"code\":\"NOT_FOUND\",\"message\":\"no class with id "
            "\\\"nope\\\"\"}");

  const Reply no_path = Fetch(port(), http::verb::get, "/v2/anything");
  EXPECT_EQ(no_path.status, 404);
  EXPECT_THAT(no_path.body, HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(no_path.body, HasSubstr("/v2/anything"));

  const Reply wrong_method = Fetch(port(), http::verb::delete_, "/metrics");
  EXPECT_EQ(wrong_method.status, 501);
  EXPECT_THAT(wrong_method.body, HasSubstr("\"code\":\"UNIMPLEMENTED\""));
}

TEST_F(LiveHttpTest, MarkupInWhatWasAskedForNeverComesBackAsMarkup) {
  const Reply reply =
      Fetch(port(), http::verb::get, "/v1/classes/<img\"onerror=alert(1)>");
  EXPECT_EQ(reply.status, 404);
  EXPECT_THAT(reply.body, Not(HasSubstr("<img")));
  EXPECT_THAT(reply.body, HasSubstr("\\u003cimg"));
}

TEST_F(LiveHttpTest, BodiesOver64KiBAreRefusedAndServingGoesOn) {
  const Reply declared = Fetch(port(), http::verb::post, "/v1/classes/x", "",
                               /*content_length=*/70 * 1024);
  EXPECT_EQ(declared.status, 429);
  EXPECT_THAT(declared.body, HasSubstr("\"code\":\"RESOURCE_EXHAUSTED\""));
  EXPECT_THAT(declared.body, HasSubstr("over 65536 bytes"));

  // Sent in full: the answer still arrives before the connection closes.
  const Reply sent = Fetch(port(), http::verb::post, "/v1/classes/x",
                           std::string(70 * 1024, 'a'));
  EXPECT_EQ(sent.status, 429);

  EXPECT_EQ(Fetch(port(), http::verb::get, "/healthz").status, 200);
}

TEST_F(LiveHttpTest, WhatIsNotHttpGetsAClearError) {
  const std::string answer = SendRaw(port(), "hello there\r\n\r\n");
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(answer, HasSubstr("\"code\":\"INVALID_ARGUMENT\""));
  EXPECT_EQ(Fetch(port(), http::verb::get, "/healthz").status, 200);
}

TEST_F(LiveHttpTest, WatchNeedsAKioskOrInstructorKey) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  const std::string target = "/v1/classes/" + info.class_id() + ":watch";
  const Reply none = Fetch(port(), http::verb::get, target);
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.body, HasSubstr("\"code\":\"UNAUTHENTICATED\""));
  SseReader wrong(port(), target, "not-a-key");
  EXPECT_TRUE(wrong.WaitFor("not one this server issued"));
  EXPECT_THAT(wrong.text(), HasSubstr("HTTP/1.1 401"));
  SseReader unknown(port(), "/v1/classes/nope:watch", testing::kKioskKey);
  EXPECT_TRUE(unknown.WaitFor("no class with id"));
  EXPECT_THAT(unknown.text(), HasSubstr("HTTP/1.1 404"));
}

// The kiosk's view over server-sent events: the same snapshot, cues and
// progress as the gRPC kiosk stream, ids that are seqs, and never anyone's
// effort or symptoms.
TEST_F(LiveHttpTest, WatchStreamsTheKioskViewAndNothingPrivate) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  auto instructor = server_.Instruct(info.class_id());
  auto avery = server_.Join(info.join_code(), "Avery");
  SseReader kiosk(port(), "/v1/classes/" + info.class_id() + ":watch",
                  testing::kKioskKey);
  ASSERT_TRUE(kiosk.WaitFor("\"snapshot\"")) << kiosk.text();
  EXPECT_THAT(kiosk.text(), HasSubstr("Content-Type: text/event-stream"));
  const Reply metrics = Fetch(port(), http::verb::get, "/metrics");
  EXPECT_THAT(metrics.body,
              HasSubstr("circuit_open_streams{role=\"kiosk\"} 1"));

  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  v1::JoinClassRequest effort;
  effort.mutable_effort()->set_report_id("e-1");
  effort.mutable_effort()->set_block_index(0);
  effort.mutable_effort()->set_cr10(9);
  effort.mutable_effort()->set_feel(v1::EFFORT_FEEL_TOO_HARD);
  ASSERT_EQ(avery->Report(effort, "e-1").code(), 0);
  v1::JoinClassRequest symptom;
  symptom.mutable_symptom()->set_report_id("leak");
  symptom.mutable_symptom()->set_symptom(v1::SYMPTOM_LEAKING);
  symptom.mutable_symptom()->set_block_index(0);
  ASSERT_EQ(avery->Report(symptom, "leak").code(), 0);
  const v1::CommandResult cue = instructor->Send(
      Cmd([](auto* c) { c->mutable_cue()->set_text("Squeeze at the top"); }));
  ASSERT_EQ(cue.code(), 0);

  ASSERT_TRUE(kiosk.WaitFor("Squeeze at the top")) << kiosk.text();
  EXPECT_THAT(kiosk.text(), HasSubstr(absl::StrCat("id: ", cue.seq(), "\n")));
  for (const char* secret : {"SYMPTOM_", "LEAKING", "EFFORT_FEEL", "TOO_HARD",
                             "cr10", "alert", "suggestion"}) {
    EXPECT_THAT(kiosk.text(), Not(HasSubstr(secret))) << secret;
  }

  // A reconnect from the last seq it saw gets what came after, not a
  // snapshot.
  const v1::CommandResult later = instructor->Send(
      Cmd([](auto* c) { c->mutable_cue()->set_text("Breathe out"); }));
  ASSERT_EQ(later.code(), 0);
  SseReader resumed(port(), "/v1/classes/" + info.class_id() + ":watch",
                    testing::kKioskKey, absl::StrCat(cue.seq()));
  ASSERT_TRUE(resumed.WaitFor("Breathe out")) << resumed.text();
  EXPECT_THAT(resumed.text(), Not(HasSubstr("\"snapshot\"")));
  EXPECT_THAT(resumed.text(), Not(HasSubstr("Squeeze at the top")));
}

// A quiet stream (a class waiting in the lobby) still carries a comment
// now and then, so proxies keep it and the page knows it is alive.
TEST(LiveHttpHeartbeatTest, AQuietEventStreamGetsPings) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.http_listen = "127.0.0.1:0";
  options.http_event_heartbeat = absl::Milliseconds(20);
  LiveServer server(options);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  SseReader kiosk(server.server()->http_port(),
                  "/v1/classes/" + info.class_id() + ":watch",
                  testing::kKioskKey);
  ASSERT_TRUE(kiosk.WaitFor("\"snapshot\"")) << kiosk.text();
  EXPECT_TRUE(kiosk.WaitFor("\n: ping\n\n")) << kiosk.text();
}

// A heartbeat due while an event stream's header is still being written
// waits for it: the header comes first, whole (and the Debug build's Beast,
// which asserts one write at a time, does not abort). A 1 ms heartbeat makes
// that overlap likely on some of the streams.
TEST(LiveHttpHeartbeatTest, EveryStreamStartsWithItsHeaderThoughPingsAreDue) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.http_listen = "127.0.0.1:0";
  options.http_event_heartbeat = absl::Milliseconds(1);
  LiveServer server(options);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  for (int i = 0; i < 20; ++i) {
    SseReader kiosk(server.server()->http_port(),
                    "/v1/classes/" + info.class_id() + ":watch",
                    testing::kKioskKey);
    ASSERT_TRUE(kiosk.WaitFor("\n: ping\n\n")) << kiosk.text();
    EXPECT_THAT(kiosk.text(), StartsWith("HTTP/1.1 200 OK\r\n"))
        << kiosk.text();
  }
}

TEST_F(LiveHttpTest, ShutdownEndsOpenEventStreams) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  SseReader kiosk(port(), "/v1/classes/" + info.class_id() + ":watch",
                  testing::kKioskKey);
  ASSERT_TRUE(kiosk.WaitFor("\"snapshot\""));
  server_.server()->Shutdown(absl::Now() + absl::Seconds(5));
  // The connection ends: reading stops with an error, not a 10 s timeout
  // (WaitFor gives up at the end of the stream).
  EXPECT_FALSE(kiosk.WaitFor("never sent"));
}

// The value of the sample `series` (name and labels, as exposed), or -1.
double Sample(const std::string& exposition, const std::string& series) {
  const std::string prefix = series + " ";
  size_t at = 0;
  while ((at = exposition.find(prefix, at)) != std::string::npos) {
    if (at == 0 || exposition[at - 1] == '\n') {
      return std::stod(exposition.substr(at + prefix.size()));
    }
    at += prefix.size();
  }
  return -1;
}

TEST_F(LiveHttpTest, MetricsCountClassesAndStreamsAndPassPromtool) {
  const Reply before = Fetch(port(), http::verb::get, "/metrics");
  const double reports_before =
      Sample(before.body, "circuit_reports_total{code=\"OK\"}");
  const double commands_before =
      Sample(before.body, "circuit_commands_total{code=\"OK\"}");
  const double acks_before =
      Sample(before.body, "circuit_ack_latency_seconds_count");

  server_.CreateClass("kickback-trio");  // stays in the lobby
  const v1::ClassInfo running = server_.CreateClass("kickback-trio");
  auto instructor = server_.Instruct(running.class_id());
  auto participant = server_.Join(running.join_code(), "Dana");
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  ASSERT_EQ(
      participant
          ->Report(testing::Completion("m-1", 0, 1, v1::SIDE_LEFT, 9), "m-1")
          .code(),
      0);
  Fetch(port(), http::verb::get, "/v1/classes/nope");  // a 404 to count

  const Reply metrics = Fetch(port(), http::verb::get, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.content_type, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_EQ(Sample(metrics.body, "circuit_classes{phase=\"lobby\"}"), 1);
  EXPECT_EQ(Sample(metrics.body, "circuit_classes{phase=\"running\"}"), 1);
  EXPECT_EQ(Sample(metrics.body, "circuit_open_streams{role=\"participant\"}"),
            1);
  EXPECT_EQ(Sample(metrics.body, "circuit_open_streams{role=\"instructor\"}"),
            1);
  EXPECT_EQ(Sample(metrics.body, "circuit_http_responses_total{code=\"404\"}"),
            1);
  // Counts are process-wide (other servers in this test binary add to
  // them): what this test did shows as growth.
  EXPECT_GE(Sample(metrics.body, "circuit_reports_total{code=\"OK\"}"),
            reports_before + 1);
  EXPECT_GE(Sample(metrics.body, "circuit_commands_total{code=\"OK\"}"),
            commands_before + 1);
  EXPECT_GE(Sample(metrics.body, "circuit_ack_latency_seconds_count"),
            acks_before + 1);
  EXPECT_GT(Sample(metrics.body, "circuit_fanout_messages_total"), 0);
  EXPECT_GT(Sample(metrics.body, "circuit_fanout_bytes_total"),
            Sample(metrics.body, "circuit_fanout_messages_total"));
  for (const char* series :
       {"circuit_journal_commit_seconds_count",
        "circuit_journal_batch_entries_count",
        "circuit_slow_reader_disconnects_total",
        "circuit_rate_limited_total{limit=\"joins_per_peer\"}",
        "circuit_resumes_total{with=\"snapshot\"}",
        "circuit_ack_latency_seconds_bucket{le=\"+Inf\"}"}) {
    EXPECT_GE(Sample(metrics.body, series), 0) << series;
  }
  // No names or ids in labels.
  EXPECT_THAT(metrics.body, Not(HasSubstr("Dana")));
  EXPECT_THAT(metrics.body, Not(HasSubstr(running.class_id())));

  // Debian's prometheus package; `make test` installs it. A missing
  // promtool fails here (the shell's 127), it does not skip.
  const std::string path = testing::MakeTempDir() + "/metrics.txt";
  {
    std::ofstream out(path);
    out << metrics.body;
  }
  auto check = testing::Subprocess::Start(
      {"/bin/sh", "-c", "promtool check metrics < " + path});
  ASSERT_TRUE(check.ok()) << check.status();
  auto code = check->Wait(absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << check->stderr_text() << metrics.body;
}

}  // namespace
}  // namespace circuit

namespace circuit {
namespace {

// Look-ups by join code are counted per address, gRPC and HTTP together, so
// nobody finds live codes by trying them; by id they are not.
TEST(LiveLookupLimitTest, LookupsByJoinCodeAreLimitedPerAddress) {
  FakeClock clock;  // frozen: the bucket never refills
  ServerOptions options = LiveServer::DefaultOptions();
  options.http_listen = "127.0.0.1:0";
  options.service.lookup_burst_per_peer = 4;
  LiveServer server(options, &clock);
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  const int port = server.server()->http_port();

  v1::GetClassRequest by_code;
  by_code.set_join_code(info.join_code());
  v1::GetClassResponse response;
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(server.stub()
                    ->GetClass(testing::Context().get(), by_code, &response)
                    .ok());
    EXPECT_EQ(Fetch(port, http::verb::get,
                    "/v1/classes:byJoinCode/" + info.join_code())
                  .status,
              200);
  }
  const grpc::Status refused =
      server.stub()->GetClass(testing::Context().get(), by_code, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("join code"));
  const Reply refused_http =
      Fetch(port, http::verb::get, "/v1/classes:byJoinCode/ZZZZZZ");
  EXPECT_EQ(refused_http.status, 429) << refused_http.body;
  EXPECT_THAT(refused_http.body, HasSubstr("RESOURCE_EXHAUSTED"));

  v1::GetClassRequest by_id;
  by_id.set_class_id(info.class_id());
  EXPECT_TRUE(
      server.stub()->GetClass(testing::Context().get(), by_id, &response).ok());
  clock.Advance(absl::Seconds(1));  // 5 a second
  EXPECT_TRUE(server.stub()
                  ->GetClass(testing::Context().get(), by_code, &response)
                  .ok());
}

}  // namespace
}  // namespace circuit
