// The browser's side of circuitd over HTTP: participants joining by code,
// reporting and resuming their seat; studio TVs pairing; the pages and their
// Content-Security-Policy. The same actors and rules as over gRPC.

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/integration/live_harness.h"

namespace circuit {
namespace {

namespace http = boost::beast::http;
using testing::Cmd;
using testing::Completion;
using testing::Fetch;
using ::testing::HasSubstr;
using testing::JsonField;
using testing::LiveServer;
using ::testing::Not;
using testing::Reply;
using testing::SseReader;

std::string JoinBody(const std::string& code, const std::string& name,
                     bool show_name) {
  return absl::StrCat(
      "{\"joinCode\":\"", code, "\",\"checkIn\":{\"displayName\":\"", name,
      "\",\"showNameOnKiosk\":", show_name ? "true" : "false", "}}");
}

class LiveHttpSeatsTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options = LiveServer::DefaultOptions();
    options.http_listen = "127.0.0.1:0";
    return options;
  }

  int port() { return server_.server()->http_port(); }

  // POST to a seat's `action` with its resume token.
  Reply SeatPost(const std::string& class_id, const std::string& participant,
                 const std::string& action, const std::string& token,
                 const std::string& body) {
    return Fetch(port(), http::verb::post,
                 absl::StrCat("/v1/classes/", class_id, "/participants/",
                              participant, ":", action),
                 body, -1, "Bearer " + token);
  }

  v1::ClassSummary Summary(const std::string& class_id) {
    v1::GetClassSummaryRequest request;
    request.set_class_id(class_id);
    v1::ClassSummary summary;
    grpc::Status status = server_.stub()->GetClassSummary(
        testing::Context(testing::kInstructorKey).get(), request, &summary);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return summary;
  }

  LiveServer server_{Options()};
};

TEST_F(LiveHttpSeatsTest, JoinStreamsTheSeatAndAReportIsCountedOnce) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  auto instructor = server_.Instruct(info.class_id());
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);

  // Case does not matter in the join code, as over gRPC.
  SseReader joined(
      port(), http::verb::post, "/v1/classes:join", "",
      JoinBody(absl::AsciiStrToLower(info.join_code()), "Rosa", true));
  ASSERT_TRUE(joined.WaitFor("\"snapshot\"")) << joined.text();
  EXPECT_THAT(joined.text(), HasSubstr("Content-Type: text/event-stream"));
  const std::string participant = JsonField(joined.text(), "participantId");
  const std::string token = JsonField(joined.text(), "resumeToken");
  ASSERT_FALSE(participant.empty());
  ASSERT_FALSE(token.empty());
  // `joined` comes first, then the snapshot with its seq as the event id.
  EXPECT_LT(joined.text().find("\"joined\""),
            joined.text().find("\"snapshot\""));
  EXPECT_THAT(joined.text(), HasSubstr("\nid: "));

  const std::string set =
      "{\"completion\":{\"reportId\":\"set-1\",\"blockIndex\":0,\"set\":1,"
      "\"side\":\"SIDE_LEFT\",\"reps\":9}}";
  const Reply ack =
      SeatPost(info.class_id(), participant, "report", token, set);
  EXPECT_EQ(ack.status, 200) << ack.body;
  EXPECT_THAT(ack.body, HasSubstr("\"reportId\":\"set-1\""));
  EXPECT_THAT(ack.body, Not(HasSubstr("duplicate")));
  // The phone never got that ack (it locked): the same report again.
  const Reply again =
      SeatPost(info.class_id(), participant, "report", token, set);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_THAT(again.body, HasSubstr("\"duplicate\":true"));
  const v1::ClassSummary summary = Summary(info.class_id());
  ASSERT_EQ(summary.participants_size(), 1);
  EXPECT_EQ(summary.participants(0).total_reps(), 9);
  EXPECT_EQ(summary.participants(0).check_in().display_name(), "Rosa");

  // The engine's refusals come back with their code and message.
  const Reply early = SeatPost(
      info.class_id(), participant, "report", token,
      "{\"completion\":{\"reportId\":\"set-9\",\"blockIndex\":2,\"set\":1,"
      "\"side\":\"SIDE_LEFT\",\"reps\":9}}");
  EXPECT_EQ(early.status, 400) << early.body;
  EXPECT_THAT(early.body, HasSubstr("\"code\":\"FAILED_PRECONDITION\""));
}

TEST_F(LiveHttpSeatsTest, BadJoinsAndReportsGetClearErrorsAndChangeNothing) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  const Reply not_json =
      Fetch(port(), http::verb::post, "/v1/classes:join", "{oops");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_THAT(not_json.body, HasSubstr("\"code\":\"INVALID_ARGUMENT\""));
  EXPECT_THAT(not_json.body, HasSubstr("JoinRequest"));
  const Reply unknown_field = Fetch(port(), http::verb::post,
                                    "/v1/classes:join", "{\"joinCod\":\"X\"}");
  EXPECT_EQ(unknown_field.status, 400);
  const Reply no_class = Fetch(port(), http::verb::post, "/v1/classes:join",
                               JoinBody("ZZZZZZ", "Ana", false));
  EXPECT_EQ(no_class.status, 404);
  EXPECT_THAT(no_class.body, HasSubstr("no class with join code"));
  const Reply no_name = Fetch(port(), http::verb::post, "/v1/classes:join",
                              JoinBody(info.join_code(), "", false));
  EXPECT_EQ(no_name.status, 400) << no_name.body;
  EXPECT_THAT(no_name.body, HasSubstr("\"code\":\"INVALID_ARGUMENT\""));
  const Reply escape =
      Fetch(port(), http::verb::post, "/v1/classes:join",
            "{\"joinCode\":\"" + info.join_code() +
                "\",\"checkIn\":{\"displayName\":\"\\u001b[2J\"}}");
  EXPECT_EQ(escape.status, 400) << escape.body;
  EXPECT_THAT(escape.body, HasSubstr("display_name has a control character"));
  const Reply get = Fetch(port(), http::verb::get, "/v1/classes:join");
  EXPECT_EQ(get.status, 501);

  SseReader joined(port(), http::verb::post, "/v1/classes:join", "",
                   JoinBody(info.join_code(), "Ana", false));
  ASSERT_TRUE(joined.WaitFor("\"snapshot\"")) << joined.text();
  const std::string participant = JsonField(joined.text(), "participantId");
  const std::string token = JsonField(joined.text(), "resumeToken");

  const std::string path = absl::StrCat("/v1/classes/", info.class_id(),
                                        "/participants/", participant);
  EXPECT_EQ(Fetch(port(), http::verb::post, path + ":report", "{}").status,
            401);
  EXPECT_EQ(Fetch(port(), http::verb::post, path + ":report", "{}", -1,
                  "Bearer not-a-token")
                .status,
            401);
  // A real token, for another seat.
  EXPECT_EQ(Fetch(port(), http::verb::post,
                  absl::StrCat("/v1/classes/", info.class_id(),
                               "/participants/p99:report"),
                  "{}", -1, "Bearer " + token)
                .status,
            403);
  const Reply not_a_report =
      SeatPost(info.class_id(), participant, "report", token, "{\"leave\":{}}");
  EXPECT_EQ(not_a_report.status, 400);
  EXPECT_THAT(not_a_report.body, HasSubstr("completion"));
  const Reply bad_reps =
      SeatPost(info.class_id(), participant, "report", token,
               "{\"completion\":{\"reportId\":\"r\",\"reps\":\"many\"}}");
  EXPECT_EQ(bad_reps.status, 400);
  EXPECT_EQ(
      Fetch(port(), http::verb::get, path + ":dance", "", -1, "Bearer " + token)
          .status,
      404);
  EXPECT_EQ(Summary(info.class_id()).participants(0).total_reps(), 0);
}

TEST_F(LiveHttpSeatsTest, ASeatResumesFromTheLastEventIdAndLeaves) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  auto instructor = server_.Instruct(info.class_id());
  auto joined =
      std::make_unique<SseReader>(port(), http::verb::post, "/v1/classes:join",
                                  "", JoinBody(info.join_code(), "Mae", true));
  ASSERT_TRUE(joined->WaitFor("\"snapshot\"")) << joined->text();
  const std::string participant = JsonField(joined->text(), "participantId");
  const std::string token = JsonField(joined->text(), "resumeToken");
  const std::string seq = JsonField(joined->text(), "seq");
  ASSERT_FALSE(seq.empty());
  joined->Close();  // the phone locks

  // What happens meanwhile comes as events on the resumed stream.
  const v1::CommandResult cue = instructor->Send(
      Cmd([](auto* c) { c->mutable_cue()->set_text("Ribs down"); }));
  ASSERT_EQ(cue.code(), 0);
  const std::string events =
      absl::StrCat("/v1/classes/", info.class_id(), "/participants/",
                   participant, ":events");
  SseReader resumed(port(), events, token, seq);
  ASSERT_TRUE(resumed.WaitFor("Ribs down")) << resumed.text();
  EXPECT_THAT(resumed.text(), Not(HasSubstr("\"snapshot\"")));
  EXPECT_THAT(resumed.text(), HasSubstr(absl::StrCat("id: ", cue.seq())));

  SseReader wrong(port(), events, "not-the-token");
  EXPECT_TRUE(wrong.WaitFor("\"code\":\"UNAUTHENTICATED\"")) << wrong.text();

  const Reply left = SeatPost(info.class_id(), participant, "leave", token, "");
  EXPECT_EQ(left.status, 200) << left.body;
  // The seat is gone: its stream ends and its token opens nothing.
  EXPECT_FALSE(resumed.WaitFor("never sent"));
  SseReader after(port(), events, token);
  EXPECT_TRUE(after.WaitFor("HTTP/1.1 4")) << after.text();
}

// A phone whose page was asleep while more happened than its stream may
// queue resumes from its Last-Event-ID and gets every event, in order, with
// no snapshot (the replay is fed as the connection takes it).
TEST_F(LiveHttpSeatsTest, AResumeWithMoreMissedEventsThanAQueueHoldsCatchesUp) {
  ServerOptions options = Options();
  options.service.max_queued_per_stream = 16;
  // The console sends a hundred cues at once.
  options.service.stream_messages_per_second = 100000;
  options.service.stream_message_burst = 100000;
  LiveServer server(options);
  const int http_port = server.server()->http_port();
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto joined = std::make_unique<SseReader>(
      http_port, http::verb::post, "/v1/classes:join", "",
      JoinBody(info.join_code(), "Mae", true));
  ASSERT_TRUE(joined->WaitFor("\"snapshot\"")) << joined->text();
  const std::string participant = JsonField(joined->text(), "participantId");
  const std::string token = JsonField(joined->text(), "resumeToken");
  const std::string seq = JsonField(joined->text(), "seq");
  ASSERT_FALSE(seq.empty());
  joined->Close();  // the phone locks

  constexpr int kMissed = 100;
  for (int i = 0; i < kMissed; ++i) {
    ASSERT_EQ(instructor
                  ->Send(Cmd([&](auto* c) {
                    c->mutable_cue()->set_text(absl::StrCat("missed ", i, "."));
                  }))
                  .code(),
              0);
  }
  SseReader resumed(http_port,
                    absl::StrCat("/v1/classes/", info.class_id(),
                                 "/participants/", participant, ":events"),
                    token, seq);
  const std::string last = absl::StrCat("missed ", kMissed - 1, ".");
  ASSERT_TRUE(resumed.WaitFor(last)) << resumed.text();
  const std::string text = resumed.text();
  EXPECT_THAT(text, Not(HasSubstr("\"snapshot\"")));
  EXPECT_THAT(text, Not(HasSubstr("RESOURCE_EXHAUSTED")));
  size_t at = 0;
  for (int i = 0; i < kMissed; ++i) {
    const size_t found = text.find(absl::StrCat("missed ", i, "."), at);
    ASSERT_NE(found, std::string::npos) << "cue " << i << " missing or late";
    at = found;
  }
  instructor->Close();
}

TEST_F(LiveHttpSeatsTest, ReportsOverTheRateAreRefusedAndOthersGoOn) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  SseReader joined(port(), http::verb::post, "/v1/classes:join", "",
                   JoinBody(info.join_code(), "Ivy", false));
  ASSERT_TRUE(joined.WaitFor("\"snapshot\"")) << joined.text();
  const std::string participant = JsonField(joined.text(), "participantId");
  const std::string token = JsonField(joined.text(), "resumeToken");
  // The burst (60) is spent long before the refill (20/s) catches up.
  int refused = 0;
  for (int i = 0; i < 100 && refused == 0; ++i) {
    const Reply reply =
        SeatPost(info.class_id(), participant, "report", token,
                 absl::StrCat("{\"symptom\":{\"reportId\":\"s", i,
                              "\",\"symptom\":\"SYMPTOM_HIP_PINCH\"}}"));
    if (reply.status == 429) {
      ++refused;
      EXPECT_THAT(reply.body, HasSubstr("messages per second"));
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(Fetch(port(), http::verb::get, "/healthz").status, 200);
}

TEST_F(LiveHttpSeatsTest, ASeatHasOneMessageBudgetOverGrpcAndHttpTogether) {
  FakeClock clock;  // frozen: the seat's bucket never refills
  LiveServer server(Options(), &clock);
  const int http_port = server.server()->http_port();
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  auto grpc_seat = server.Join(info.join_code(), "Ivy");
  const std::string path =
      absl::StrCat("/v1/classes/", info.class_id(), "/participants/",
                   grpc_seat->participant_id, ":report");

  // Half the burst (60) over HTTP...
  for (int i = 0; i < 30; ++i) {
    const Reply reply =
        Fetch(http_port, http::verb::post, path,
              absl::StrCat("{\"completion\":{\"reportId\":\"h", i,
                           "\",\"blockIndex\":0,\"set\":1,\"side\":"
                           "\"SIDE_LEFT\",\"reps\":9}}"),
              -1, "Bearer " + grpc_seat->resume_token);
    ASSERT_EQ(reply.status, 200) << i << ": " << reply.body;
  }
  // ...and the other half over gRPC, after which the stream is cut.
  for (int i = 0; i < 30; ++i) {
    const std::string id = absl::StrCat("g", i);
    ASSERT_EQ(
        grpc_seat->Report(Completion(id, 0, 2, v1::SIDE_LEFT, 9), id).code(), 0)
        << i;
  }
  grpc_seat->stream->Write(Completion("over", 0, 2, v1::SIDE_RIGHT, 9));
  const grpc::Status cut = grpc_seat->in.WaitDone();
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << cut.error_message();
  EXPECT_THAT(cut.error_message(), HasSubstr("gRPC and HTTP together"));
  // HTTP finds the same budget spent.
  const Reply refused = Fetch(
      http_port, http::verb::post, path,
      "{\"symptom\":{\"reportId\":\"s\",\"symptom\":\"SYMPTOM_HIP_PINCH\"}}",
      -1, "Bearer " + grpc_seat->resume_token);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("gRPC and HTTP together"));
  instructor->Close();
}

TEST_F(LiveHttpSeatsTest, OpeningASeatsEventsCountsAsAResumePerAddress) {
  FakeClock clock;  // frozen: the address's bucket never refills
  ServerOptions options = Options();
  options.service.join_burst_per_peer = 2;
  LiveServer server(options, &clock);
  const int http_port = server.server()->http_port();
  const v1::ClassInfo info = server.CreateClass("kickback-trio");
  SseReader joined(http_port, http::verb::post, "/v1/classes:join", "",
                   JoinBody(info.join_code(), "Ivy", false));  // one
  ASSERT_TRUE(joined.WaitFor("\"snapshot\"")) << joined.text();
  const std::string events =
      absl::StrCat("/v1/classes/", info.class_id(), "/participants/",
                   JsonField(joined.text(), "participantId"), ":events");
  const std::string token = JsonField(joined.text(), "resumeToken");
  joined.Close();

  SseReader resumed(http_port, events, token);  // two
  EXPECT_TRUE(resumed.WaitFor("\"snapshot\"")) << resumed.text();
  SseReader refused(http_port, events, token);
  EXPECT_TRUE(refused.WaitFor("HTTP/1.1 429")) << refused.text();
  EXPECT_THAT(refused.text(), HasSubstr("resume attempts"));
  EXPECT_THAT(refused.text(), Not(HasSubstr("\"snapshot\"")));
}

TEST_F(LiveHttpSeatsTest, ATvPairsWatchesAndIsRevoked) {
  const v1::ClassInfo info = server_.CreateClass("kickback-trio");
  const Reply started =
      Fetch(port(), http::verb::post, "/v1/kioskPairings", "{}");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string code = JsonField(started.body, "pairingCode");
  const std::string secret = JsonField(started.body, "pairingSecret");
  ASSERT_EQ(code.size(), 6u);
  ASSERT_FALSE(secret.empty());
  const std::string poll = "/v1/kioskPairings/" + code;
  EXPECT_THAT(
      Fetch(port(), http::verb::get, poll, "", -1, "Bearer " + secret).body,
      HasSubstr("KIOSK_PAIRING_STATE_PENDING"));
  EXPECT_EQ(Fetch(port(), http::verb::get, poll, "", -1, "Bearer wrong").status,
            401);

  // A paired-to-be TV opens nothing yet; the instructor approves its code.
  v1::ApproveKioskPairingRequest approve;
  approve.set_pairing_code(absl::AsciiStrToLower(code));
  approve.set_name("Front wall");
  v1::Kiosk kiosk;
  grpc::Status kiosk_key_status = server_.stub()->ApproveKioskPairing(
      testing::Context(testing::kKioskKey).get(), approve, &kiosk);
  EXPECT_EQ(kiosk_key_status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status approved = server_.stub()->ApproveKioskPairing(
      testing::Context(testing::kInstructorKey).get(), approve, &kiosk);
  ASSERT_TRUE(approved.ok()) << approved.error_message();
  EXPECT_EQ(kiosk.name(), "Front wall");
  grpc::Status twice = server_.stub()->ApproveKioskPairing(
      testing::Context(testing::kInstructorKey).get(), approve, &kiosk);
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  const Reply paired =
      Fetch(port(), http::verb::get, poll, "", -1, "Bearer " + secret);
  EXPECT_THAT(paired.body, HasSubstr("KIOSK_PAIRING_STATE_APPROVED"));
  const std::string token = JsonField(paired.body, "kioskToken");
  ASSERT_FALSE(token.empty());

  // Its credential lists and watches the studio's classes, and is not the
  // instructor's.
  const Reply classes =
      Fetch(port(), http::verb::get, "/v1/classes", "", -1, "Bearer " + token);
  EXPECT_EQ(classes.status, 200) << classes.body;
  EXPECT_THAT(classes.body, HasSubstr(info.class_id()));
  SseReader watch(port(), "/v1/classes/" + info.class_id() + ":watch", token);
  EXPECT_TRUE(watch.WaitFor("\"snapshot\"")) << watch.text();
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  EXPECT_EQ(server_.stub()
                ->CreateClass(testing::Context(token).get(), create, &created)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  std::unique_ptr<grpc::ClientContext> grpc_context = testing::Context(token);
  grpc_context->set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(10));
  v1::WatchClassRequest watch_request;
  watch_request.set_class_id(info.class_id());
  auto grpc_watch =
      server_.stub()->WatchClass(grpc_context.get(), watch_request);
  v1::WatchClassResponse first;
  ASSERT_TRUE(grpc_watch->Read(&first));
  EXPECT_TRUE(first.has_snapshot());

  v1::RevokeKioskRequest revoke;
  revoke.set_kiosk_id(kiosk.kiosk_id());
  ASSERT_TRUE(server_.stub()
                  ->RevokeKiosk(testing::Context(testing::kInstructorKey).get(),
                                revoke, &kiosk)
                  .ok());
  EXPECT_NE(kiosk.revoked_unix_ms(), 0);
  // The TV's open stream ends at once, saying why.
  EXPECT_TRUE(watch.WaitFor("this kiosk was revoked")) << watch.text();
  EXPECT_FALSE(watch.WaitFor("never sent"));
  while (grpc_watch->Read(&first)) {
  }
  const grpc::Status ended = grpc_watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << ended.error_message();
  EXPECT_EQ(
      Fetch(port(), http::verb::get, "/v1/classes", "", -1, "Bearer " + token)
          .status,
      401);
  v1::ListKiosksResponse listed;
  ASSERT_TRUE(server_.stub()
                  ->ListKiosks(testing::Context(testing::kInstructorKey).get(),
                               v1::ListKiosksRequest(), &listed)
                  .ok());
  ASSERT_EQ(listed.kiosks_size(), 1);
  EXPECT_NE(listed.kiosks(0).revoked_unix_ms(), 0);
  EXPECT_EQ(JsonField(paired.body, "kioskId"), listed.kiosks(0).kiosk_id());

  v1::ApproveKioskPairingRequest unknown;
  unknown.set_pairing_code("ZZZZZZ");
  EXPECT_EQ(
      server_.stub()
          ->ApproveKioskPairing(testing::Context(testing::kInstructorKey).get(),
                                unknown, &kiosk)
          .error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(LiveHttpSeatsTest, PagesComeWithAPolicyAndNothingOutsideTheirFolder) {
  for (const char* page : {"/", "/kiosk", "/kiosk/c-123"}) {
    const Reply reply = Fetch(port(), http::verb::get, page);
    EXPECT_EQ(reply.status, 200) << page;
    EXPECT_EQ(reply.content_type, "text/html; charset=utf-8") << page;
    EXPECT_THAT(reply.content_security_policy, HasSubstr("script-src 'self'"))
        << page;
    EXPECT_THAT(reply.content_security_policy, HasSubstr("default-src 'none'"))
        << page;
    EXPECT_THAT(reply.content_security_policy, Not(HasSubstr("unsafe")))
        << page;
  }
  const Reply script = Fetch(port(), http::verb::get, "/static/sse.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  for (const char* outside :
       {"/static/../CMakeLists.txt", "/static/%2e%2e/x", "/static/.hidden",
        "/static/", "/static/nope.js"}) {
    EXPECT_EQ(Fetch(port(), http::verb::get, outside).status, 404) << outside;
  }
  const Reply clock =
      Fetch(port(), http::verb::get, "/v1/clock?clientSendUnixMs=1234");
  EXPECT_EQ(clock.status, 200);
  EXPECT_THAT(clock.body, HasSubstr("\"clientSendUnixMs\":\"1234\""));
  EXPECT_THAT(clock.body, HasSubstr("serverReceiveUnixMs"));
  EXPECT_EQ(
      Fetch(port(), http::verb::get, "/v1/clock?clientSendUnixMs=soon").status,
      400);
}

}  // namespace
}  // namespace circuit
