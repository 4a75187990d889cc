// The instructor's console over HTTP (server/http/API.md, "Instructor
// console"): circuits, creating and running a class on an event stream,
// commands, the summary and its export, the studio's TVs; and every refusal
// changes nothing. The same actors and rules as over gRPC: what the console
// sees is compared with what a gRPC instructor gets.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/lib/summary_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/integration/live_harness.h"

namespace circuit {
namespace {

namespace http = boost::beast::http;
using testing::Context;
using testing::Fetch;
using ::testing::HasSubstr;
using testing::JsonField;
using testing::kInstructorKey;
using testing::kKioskKey;
using testing::LiveServer;
using ::testing::Not;
using testing::Reply;
using testing::SseReader;

class LiveHttpConsoleTest : public ::testing::Test {
 protected:
  int port() { return server_.server()->http_port(); }

  // `method` on `target` with `key` as the bearer token (none when empty).
  Reply Call(http::verb method, const std::string& target,
             const std::string& key, const std::string& body = "") {
    return Fetch(port(), method, target, body, -1,
                 key.empty() ? "" : "Bearer " + key);
  }

  // POSTs a command to the class's console; the answer.
  Reply Command(const std::string& class_id, const std::string& key,
                const std::string& body) {
    return Call(http::verb::post,
                absl::StrCat("/v1/classes/", class_id, ":command"), key, body);
  }

  std::string CreateOverHttp(const std::string& key) {
    const Reply created =
        Call(http::verb::post, "/v1/classes", key,
             "{\"circuitId\":\"kickback-trio\",\"title\":\"Evening\"}");
    EXPECT_EQ(created.status, 200) << created.body;
    return JsonField(created.body, "classId");
  }

  v1::AccountCredential AddAccount(const std::string& name,
                                   v1::AccountRole role,
                                   const std::string& studio,
                                   int64_t ttl_seconds = 0) {
    v1::AddAccountRequest add;
    add.set_name(name);
    add.set_role(role);
    add.set_studio_id(studio);
    add.set_credential_ttl_seconds(ttl_seconds);
    v1::AccountCredential credential;
    const grpc::Status status = server_.stub()->AddAccount(
        Context(kInstructorKey).get(), add, &credential);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return credential;
  }

  v1::ClassSummary GrpcSummary(const std::string& class_id) {
    v1::GetClassSummaryRequest request;
    request.set_class_id(class_id);
    v1::ClassSummary summary;
    const grpc::Status status = server_.stub()->GetClassSummary(
        Context(kInstructorKey).get(), request, &summary);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return summary;
  }

  // What the class looks like to a fresh gRPC console: the seq and phase.
  std::string StateOf(const std::string& class_id) {
    const v1::InstructorSnapshot snapshot =
        testing::FreshSnapshot(server_, class_id);
    return absl::StrCat(snapshot.seq(), " ",
                        v1::ClassPhase_Name(snapshot.state().phase()));
  }

  // Frozen at a real time (accounts' credentials expire by it); the ticker
  // still sends roster updates.
  FakeClock clock_{absl::Now()};
  LiveServer server_{LiveServer::HttpOptions(), &clock_};
};

TEST_F(LiveHttpConsoleTest, TheLibraryIsOpenToRead) {
  const Reply all = Call(http::verb::get, "/v1/circuits", "");
  EXPECT_EQ(all.status, 200) << all.body;
  EXPECT_THAT(all.body, HasSubstr("\"id\":\"kickback-trio\""));
  EXPECT_THAT(all.body, HasSubstr("\"exercises\""));
  const Reply one = Call(http::verb::get, "/v1/circuits/kickback-trio", "");
  EXPECT_EQ(one.status, 200) << one.body;
  EXPECT_THAT(one.body, HasSubstr("\"circuit\""));
  const Reply unknown = Call(http::verb::get, "/v1/circuits/nope", "");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("no circuit with id"));
}

TEST_F(LiveHttpConsoleTest, AConsoleCreatesRunsAndExportsAClass) {
  const std::string class_id = CreateOverHttp(kInstructorKey);
  ASSERT_FALSE(class_id.empty());
  const std::string run = absl::StrCat("/v1/classes/", class_id, ":run");
  SseReader console(port(), run, kInstructorKey);
  ASSERT_TRUE(console.WaitFor("\"snapshot\"")) << console.text();
  EXPECT_THAT(console.text(), HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(console.text(), HasSubstr("CLASS_PHASE_LOBBY"));

  const Reply started =
      Command(class_id, kInstructorKey, "{\"commandId\":\"c1\",\"start\":{}}");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_THAT(started.body, HasSubstr("\"commandId\":\"c1\""));
  const std::string start_seq = JsonField(started.body, "seq");
  ASSERT_FALSE(start_seq.empty()) << started.body;
  EXPECT_TRUE(console.WaitFor(absl::StrCat("id: ", start_seq, "\n")))
      << console.text();
  const Reply cued = Command(
      class_id, kInstructorKey,
      "{\"commandId\":\"c2\",\"cue\":{\"text\":\"Drive through the heel\"}}");
  ASSERT_EQ(cued.status, 200) << cued.body;
  EXPECT_TRUE(console.WaitFor("Drive through the heel")) << console.text();

  // A participant joins over HTTP: the console's roster shows them, and a
  // symptom raises an alert on the console (only there).
  SseReader phone(port(), http::verb::post, "/v1/classes:join", "",
                  absl::StrCat("{\"joinCode\":\"",
                               GrpcSummary(class_id).class_info().join_code(),
                               "\",\"checkIn\":{\"displayName\":\"Rosa\"}}"));
  ASSERT_TRUE(phone.WaitFor("\"snapshot\"")) << phone.text();
  const std::string participant = JsonField(phone.text(), "participantId");
  const std::string token = JsonField(phone.text(), "resumeToken");
  EXPECT_TRUE(console.WaitFor("\"roster\"")) << console.text();
  EXPECT_TRUE(console.WaitFor("Rosa")) << console.text();
  const Reply pinch = Fetch(
      port(), http::verb::post,
      absl::StrCat("/v1/classes/", class_id, "/participants/", participant,
                   ":report"),
      "{\"symptom\":{\"reportId\":\"s1\",\"symptom\":\"SYMPTOM_HIP_PINCH\"}}",
      -1, "Bearer " + token);
  ASSERT_EQ(pinch.status, 200) << pinch.body;
  EXPECT_TRUE(console.WaitFor("\"alert\"")) << console.text();

  const Reply next =
      Command(class_id, kInstructorKey, "{\"commandId\":\"c3\",\"next\":{}}");
  ASSERT_EQ(next.status, 200) << next.body;
  const std::string next_seq = JsonField(next.body, "seq");
  EXPECT_TRUE(console.WaitFor(absl::StrCat("id: ", next_seq, "\n")))
      << console.text();
  EXPECT_THAT(phone.text(), Not(HasSubstr("\"alert\"")));

  // A console that reconnects after the start gets what it missed, no
  // snapshot: the cue, the alert, the next interval.
  SseReader resumed(port(), run, kInstructorKey, start_seq);
  EXPECT_TRUE(resumed.WaitFor(absl::StrCat("id: ", next_seq, "\n")))
      << resumed.text();
  EXPECT_THAT(resumed.text(), HasSubstr("Drive through the heel"));
  EXPECT_THAT(resumed.text(), Not(HasSubstr("\"snapshot\"")));
  EXPECT_THAT(resumed.text(),
              Not(HasSubstr(absl::StrCat("id: ", start_seq, "\n"))));

  // The summary is the gRPC one; the exports are the CLI's bytes.
  const v1::ClassSummary expected = GrpcSummary(class_id);
  const Reply summary =
      Call(http::verb::get, absl::StrCat("/v1/classes/", class_id, "/summary"),
           kInstructorKey);
  ASSERT_EQ(summary.status, 200) << summary.body;
  v1::ClassSummary got;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(summary.body, &got).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, expected))
      << got.ShortDebugString() << "\n"
      << expected.ShortDebugString();
  ASSERT_EQ(expected.participants_size(), 1);
  EXPECT_EQ(expected.participants(0).symptoms_size(), 1);

  const std::string export_path =
      absl::StrCat("/v1/classes/", class_id, ":export");
  const Reply sets =
      Call(http::verb::get, export_path + "?format=csv", kInstructorKey);
  ASSERT_EQ(sets.status, 200) << sets.body;
  EXPECT_EQ(sets.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(sets.content_disposition,
            absl::StrCat("attachment; filename=\"", class_id, "-sets.csv\""));
  EXPECT_EQ(sets.body, client::SummaryCsv(expected, client::CsvTable::kSets));
  const Reply symptoms =
      Call(http::verb::get, export_path + "?format=csv&table=symptoms",
           kInstructorKey);
  ASSERT_EQ(symptoms.status, 200) << symptoms.body;
  EXPECT_EQ(symptoms.body,
            client::SummaryCsv(expected, client::CsvTable::kSymptoms));
  EXPECT_THAT(symptoms.body, HasSubstr("hip pinch"));
  const Reply json =
      Call(http::verb::get, export_path + "?format=json", kInstructorKey);
  ASSERT_EQ(json.status, 200) << json.body;
  EXPECT_EQ(json.body, client::SummaryExport(expected, /*json=*/true));
  EXPECT_EQ(json.content_disposition,
            absl::StrCat("attachment; filename=\"", class_id, ".json\""));
  for (const char* bad : {"", "?format=xml", "?format=csv&table=nope",
                          "?format=json&table=sets"}) {
    const Reply refused =
        Call(http::verb::get, export_path + bad, kInstructorKey);
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.body;
  }

  // Health data is erased from ended classes only.
  const std::string erase =
      absl::StrCat("/v1/classes/", class_id, "/participants/", participant,
                   ":eraseHealthData");
  EXPECT_EQ(Call(http::verb::post, erase, kInstructorKey).status, 400);
  EXPECT_EQ(GrpcSummary(class_id).participants(0).symptoms_size(), 1);
  ASSERT_EQ(
      Command(class_id, kInstructorKey, "{\"commandId\":\"c4\",\"end\":{}}")
          .status,
      200);
  const Reply erased = Call(http::verb::post, erase, kInstructorKey);
  EXPECT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(GrpcSummary(class_id).participants(0).symptoms_size(), 0);
}

TEST_F(LiveHttpConsoleTest, TvsAreApprovedListedAndRevokedPerStudio) {
  const Reply started =
      Fetch(port(), http::verb::post, "/v1/kioskPairings", "{}");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string approve = absl::StrCat(
      "{\"pairingCode\":\"", JsonField(started.body, "pairingCode"),
      "\",\"name\":\"Front wall\"}");
  // A kiosk cannot approve another; bad JSON names the message.
  EXPECT_EQ(
      Call(http::verb::post, "/v1/kiosks:approve", kKioskKey, approve).status,
      403);
  const Reply not_json =
      Call(http::verb::post, "/v1/kiosks:approve", kInstructorKey, "{oops");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_THAT(not_json.body, HasSubstr("ApproveKioskPairingRequest"));
  const Reply none = Call(http::verb::get, "/v1/kiosks", kInstructorKey);
  EXPECT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.body, "{}");

  const Reply approved =
      Call(http::verb::post, "/v1/kiosks:approve", kInstructorKey, approve);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_THAT(approved.body, HasSubstr("\"name\":\"Front wall\""));
  const std::string kiosk_id = JsonField(approved.body, "kioskId");
  ASSERT_FALSE(kiosk_id.empty());
  const Reply listed = Call(http::verb::get, "/v1/kiosks", kInstructorKey);
  EXPECT_EQ(listed.status, 200);
  EXPECT_THAT(listed.body, HasSubstr(kiosk_id));

  // Another studio's admin sees it not, and cannot revoke it.
  const std::string other =
      AddAccount("Bo", v1::ACCOUNT_ROLE_ADMIN, "south").credential();
  const Reply theirs = Call(http::verb::get, "/v1/kiosks", other);
  EXPECT_EQ(theirs.status, 200);
  EXPECT_THAT(theirs.body, Not(HasSubstr(kiosk_id)));
  const std::string revoke = absl::StrCat("/v1/kiosks/", kiosk_id, ":revoke");
  EXPECT_EQ(Call(http::verb::post, revoke, other).status, 403);
  EXPECT_EQ(Call(http::verb::post, revoke, kKioskKey).status, 403);
  EXPECT_THAT(Call(http::verb::get, "/v1/kiosks", kInstructorKey).body,
              Not(HasSubstr("revokedUnixMs")));

  const Reply revoked = Call(http::verb::post, revoke, kInstructorKey);
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_THAT(revoked.body, HasSubstr("revokedUnixMs"));
  EXPECT_EQ(
      Call(http::verb::post, "/v1/kiosks/k-nope:revoke", kInstructorKey).status,
      404);
}

TEST_F(LiveHttpConsoleTest, EveryRefusalChangesNothing) {
  const std::string class_id = CreateOverHttp(kInstructorKey);
  const std::string other_class = CreateOverHttp(kInstructorKey);
  const std::string before = StateOf(class_id);
  const std::string start = "{\"commandId\":\"c1\",\"start\":{}}";
  const std::string run = absl::StrCat("/v1/classes/", class_id, ":run");
  const std::string summary =
      absl::StrCat("/v1/classes/", class_id, "/summary");
  const std::string exported =
      absl::StrCat("/v1/classes/", class_id, ":export?format=csv");
  const std::string create = "{\"circuitId\":\"kickback-trio\"}";

  // Each refused credential: 401 or 403 on every instructor call.
  const std::string real =
      AddAccount("Ann", v1::ACCOUNT_ROLE_INSTRUCTOR, "main").credential();
  std::string forged = real;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  const std::string studio_b =
      AddAccount("Bea", v1::ACCOUNT_ROLE_INSTRUCTOR, "south").credential();
  v1::IssueClassCredentialRequest issue;
  issue.set_class_id(other_class);
  v1::ClassCredential for_other;
  ASSERT_TRUE(server_.stub()
                  ->IssueClassCredential(Context(kInstructorKey).get(), issue,
                                         &for_other)
                  .ok());
  struct Refused {
    std::string what;
    std::string key;
    int status;
  };
  const Refused refusals[] = {
      {"no credential", "", 401},
      {"forged", forged, 401},
      {"not a credential", "guess", 401},
      {"another studio's instructor", studio_b, 403},
      {"a class credential for another class", for_other.credential(), 403},
      {"a kiosk", kKioskKey, 403},
      {"another instructor of the studio", real, 403},
  };
  for (const Refused& refused : refusals) {
    SCOPED_TRACE(refused.what);
    const Reply ran = Call(http::verb::get, run, refused.key);
    EXPECT_EQ(ran.status, refused.status) << ran.body;
    EXPECT_THAT(ran.body, Not(HasSubstr("snapshot")));
    EXPECT_EQ(Command(class_id, refused.key, start).status, refused.status);
    EXPECT_EQ(Call(http::verb::get, summary, refused.key).status,
              refused.status);
    EXPECT_EQ(Call(http::verb::get, exported, refused.key).status,
              refused.status);
  }
  EXPECT_EQ(Call(http::verb::post, "/v1/classes", "", create).status, 401);
  EXPECT_EQ(Call(http::verb::post, "/v1/classes", kKioskKey, create).status,
            403);
  EXPECT_EQ(
      Call(http::verb::post, "/v1/classes", for_other.credential(), create)
          .status,
      403);
  EXPECT_EQ(Call(http::verb::get, "/v1/kiosks", "").status, 401);

  // Unknown classes, bad JSON, a command without its id, a command the
  // class refuses.
  EXPECT_EQ(
      Call(http::verb::get, "/v1/classes/c-nope:run", kInstructorKey).status,
      404);
  EXPECT_EQ(Command("c-nope", kInstructorKey, start).status, 404);
  EXPECT_EQ(Call(http::verb::get, "/v1/classes/c-nope/summary", kInstructorKey)
                .status,
            404);
  const Reply not_json = Command(class_id, kInstructorKey, "{oops");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_THAT(not_json.body, HasSubstr("InstructorCommand"));
  const Reply bad_create =
      Call(http::verb::post, "/v1/classes", kInstructorKey, "{oops");
  EXPECT_EQ(bad_create.status, 400);
  EXPECT_THAT(bad_create.body, HasSubstr("CreateClassRequest"));
  const Reply no_id = Command(class_id, kInstructorKey, "{\"start\":{}}");
  EXPECT_EQ(no_id.status, 400);
  EXPECT_THAT(no_id.body, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(no_id.body, HasSubstr("command_id"));
  const Reply long_id =
      Command(class_id, kInstructorKey,
              absl::StrCat("{\"commandId\":\"", std::string(65, 'x'),
                           "\",\"start\":{}}"));
  EXPECT_EQ(long_id.status, 400);
  const Reply too_early =
      Command(class_id, kInstructorKey, "{\"commandId\":\"n\",\"next\":{}}");
  EXPECT_EQ(too_early.status, 400) << too_early.body;
  EXPECT_THAT(too_early.body, HasSubstr("FAILED_PRECONDITION"));

  // An account's credential that expired.
  const std::string brief =
      AddAccount("Cy", v1::ACCOUNT_ROLE_ADMIN, "main", 60).credential();
  ASSERT_EQ(Call(http::verb::get, summary, brief).status, 200);
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(Call(http::verb::get, run, brief).status, 401);
  EXPECT_EQ(Command(class_id, brief, start).status, 401);
  EXPECT_EQ(Call(http::verb::post, "/v1/classes", brief, create).status, 401);

  EXPECT_EQ(StateOf(class_id), before);
  v1::ListClassesResponse classes;
  ASSERT_TRUE(server_.stub()
                  ->ListClasses(Context(kInstructorKey).get(),
                                v1::ListClassesRequest(), &classes)
                  .ok());
  EXPECT_EQ(classes.classes_size(), 2);
}

}  // namespace
}  // namespace circuit
