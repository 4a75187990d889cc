// Bad input against a real in-process circuitd: each gets its status, changes
// nothing, and everyone else in the class keeps being served.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"

namespace circuit::testing {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using InstructorMessages = std::vector<v1::RunClassResponse>;
using ParticipantMessages = std::vector<v1::JoinClassResponse>;

const v1::RosterEntry* FindEntry(const v1::InstructorSnapshot& snapshot,
                                 const std::string& participant_id) {
  for (const auto& entry : snapshot.roster()) {
    if (entry.participant_id() == participant_id) return &entry;
  }
  return nullptr;
}

// Opens a participant stream and sends `join` without waiting for anything.
std::unique_ptr<ParticipantClient> StartJoin(v1::CircuitService::Stub* stub,
                                             const std::string& join_code,
                                             const std::string& name) {
  auto client = std::make_unique<ParticipantClient>();
  client->context = Context();
  client->stream = stub->JoinClass(client->context.get());
  v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(join_code);
  join.mutable_join()->mutable_check_in()->set_display_name(name);
  client->stream->Write(join);  // may fail once the server has refused
  client->in.Start(client->stream.get());
  return client;
}

bool SawConnection(InstructorClient& instructor,
                   const std::string& participant_id,
                   v1::ConnectionState state) {
  return instructor.in.WaitFor([&](const InstructorMessages& all) {
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_connection() &&
          m.event().connection().participant_id() == participant_id &&
          m.event().connection().connection() == state) {
        return true;
      }
    }
    return false;
  });
}

v1::JoinClassRequest Symptom(const std::string& id, v1::Symptom symptom,
                             const std::string& other_text, int block) {
  v1::JoinClassRequest request;
  request.mutable_symptom()->set_report_id(id);
  request.mutable_symptom()->set_symptom(symptom);
  request.mutable_symptom()->set_other_text(other_text);
  request.mutable_symptom()->set_block_index(block);
  return request;
}

// Sends a report and waits for a new ack for its id. Unlike
// ParticipantClient::Report, it does not take an earlier ack for the same id
// (a retry's) as the answer.
v1::ReportAck ReportAgain(ParticipantClient& p,
                          const v1::JoinClassRequest& request,
                          const std::string& report_id) {
  auto acks = [&](const ParticipantMessages& all) {
    std::vector<v1::ReportAck> found;
    for (const auto& m : all) {
      if (m.has_ack() && m.ack().report_id() == report_id) {
        found.push_back(m.ack());
      }
    }
    return found;
  };
  const size_t before = acks(p.in.messages()).size();
  EXPECT_TRUE(p.stream->Write(request));
  v1::ReportAck ack;
  EXPECT_TRUE(p.in.WaitFor([&](const ParticipantMessages& all) {
    std::vector<v1::ReportAck> found = acks(all);
    if (found.size() <= before) return false;
    ack = found.back();
    return true;
  })) << "no new ack for "
      << report_id;
  return ack;
}

v1::CommandResult Start(InstructorClient& instructor) {
  return instructor.Send(Cmd([](auto* c) { c->mutable_start(); }));
}

TEST(LiveErrorsTest, UnknownJoinCodeAndClassAreNotFound) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());

  auto stranger = StartJoin(server.stub(), "XXXXXX", "Stranger");
  grpc::Status status = stranger->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("XXXXXX"));
  for (const auto& m : stranger->in.messages()) {
    EXPECT_FALSE(m.has_joined()) << m.ShortDebugString();
  }

  v1::GetClassResponse response;
  v1::GetClassRequest by_id;
  by_id.set_class_id("no-such-class");
  status = server.stub()->GetClass(Context().get(), by_id, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetClassRequest by_code;
  by_code.set_join_code("XXXXXX");
  status = server.stub()->GetClass(Context().get(), by_code, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // The real class is untouched and still served.
  by_code.set_join_code(info.join_code());
  status = server.stub()->GetClass(Context().get(), by_code, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.class_info().class_id(), info.class_id());
  EXPECT_EQ(response.class_info().participant_count(), 0);
  auto dana = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(dana->participant_id.empty());
  EXPECT_EQ(FreshSnapshot(server, info.class_id()).roster_size(), 1);
  instructor->Close();
}

// Bytes that are not the method's request message get INVALID_ARGUMENT with
// a message naming the message type, on every unary RPC, and change nothing.
TEST(LiveErrorsTest, UnaryRequestThatDoesNotParseIsInvalidArgument) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  grpc::GenericStub generic(server.channel());
  // A length-delimited field 1 that claims 80 bytes and carries 3.
  grpc::Slice garbage(
      std::string("\x0a\x50"
                  "abc"));
  const grpc::ByteBuffer request(&garbage, 1);
  for (const char* method :
       {"ListCircuits", "GetCircuit", "CreateClass", "GetClass", "ListClasses",
        "GetClock", "GetClassSummary", "GetWallSummary", "EraseHealthData",
        "ApproveKioskPairing", "ListKiosks", "RevokeKiosk", "AddAccount",
        "ListAccounts", "RevokeAccount", "ReissueAccountCredential",
        "IssueClassCredential", "RotateSigningKey", "RetireSigningKey"}) {
    SCOPED_TRACE(method);
    std::unique_ptr<grpc::ClientContext> context = Context();
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    generic.UnaryCall(
        context.get(), absl::StrCat("/circuit.v1.CircuitService/", method),
        grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
          status = std::move(s);
          done.Notify();
        });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("does not parse as a"));
    EXPECT_THAT(status.error_message(), HasSubstr("circuit.v1."));
  }
  // Nothing was created; the class is still served.
  v1::ListClassesResponse classes;
  grpc::Status status = server.stub()->ListClasses(
      Context(kInstructorKey).get(), v1::ListClassesRequest(), &classes);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(classes.classes_size(), 1);
  EXPECT_EQ(classes.classes(0).class_id(), info.class_id());
  auto dana = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(dana->participant_id.empty());
}

// A name that would repaint the instructor's terminal, or a cue that would
// reorder what the screens show, is refused naming the field; nothing joins,
// nothing is sent, and the class goes on.
TEST(LiveErrorsTest, ControlCharactersInTextAreRefusedNamingTheField) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());

  auto clearer = StartJoin(server.stub(), info.join_code(), "\x1b[2J");
  grpc::Status status = clearer->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("display_name has a control character (U+001B)"));

  const v1::CommandResult cue = instructor->Send(Cmd([](auto* c) {
    c->mutable_cue()->set_text("Squeeze \xe2\x80\xae at the top");
  }));
  EXPECT_EQ(cue.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(cue.message(), HasSubstr("cue text has a control character"));

  auto dana = server.Join(info.join_code(), "Dana");
  EXPECT_FALSE(dana->participant_id.empty());
  const v1::InstructorSnapshot snapshot =
      FreshSnapshot(server, info.class_id());
  EXPECT_EQ(snapshot.roster_size(), 1);
  EXPECT_EQ(snapshot.recent_cues_size(), 0);
  instructor->Close();
}

TEST(LiveErrorsTest, BadReportsAreRefusedChangeNothingAndTheStreamGoesOn) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto a = server.Join(info.join_code(), "Avery");
  auto b = server.Join(info.join_code(), "Blair");

  // In the lobby: nothing has been reached yet.
  v1::ReportAck lobby =
      a->Report(Completion("lobby", 0, 1, v1::SIDE_LEFT, 9), "lobby");
  EXPECT_EQ(lobby.code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(lobby.message(), Not(IsEmpty()));
  EXPECT_EQ(lobby.seq(), 0);
  v1::InstructorSnapshot before_start = FreshSnapshot(server, info.class_id());
  ASSERT_NE(FindEntry(before_start, a->participant_id), nullptr);
  EXPECT_EQ(FindEntry(before_start, a->participant_id)->progress().total_reps(),
            0);
  EXPECT_EQ(before_start.progress().total_reps(), 0);

  v1::CommandResult started = Start(*instructor);
  ASSERT_EQ(started.code(), 0) << started.message();

  v1::ReportAck first =
      a->Report(Completion("ok-0", 0, 1, v1::SIDE_LEFT, 9), "ok-0");
  ASSERT_EQ(first.code(), 0) << first.message();
  v1::InstructorSnapshot baseline = FreshSnapshot(server, info.class_id());
  ASSERT_NE(FindEntry(baseline, a->participant_id), nullptr);
  const v1::ParticipantProgress expected =
      FindEntry(baseline, a->participant_id)->progress();
  EXPECT_EQ(expected.total_reps(), 9);

  struct Bad {
    std::string name;
    v1::JoinClassRequest request;
    grpc::StatusCode code;
  };
  std::vector<Bad> bad = {
      {"reps-150", Completion("reps-150", 0, 1, v1::SIDE_LEFT, 150),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"block-99", Completion("block-99", 99, 1, v1::SIDE_LEFT, 9),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"set-9", Completion("set-9", 0, 9, v1::SIDE_LEFT, 9),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"side-both", Completion("side-both", 0, 1, v1::SIDE_BOTH, 9),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"block-2", Completion("block-2", 2, 1, v1::SIDE_LEFT, 9),
       grpc::StatusCode::FAILED_PRECONDITION},
  };
  int n = 0;
  for (const Bad& report : bad) {
    SCOPED_TRACE(report.name);
    v1::ReportAck ack = a->Report(report.request, report.name);
    EXPECT_EQ(ack.code(), report.code) << ack.message();
    EXPECT_THAT(ack.message(), Not(IsEmpty()));
    EXPECT_EQ(ack.seq(), 0);
    EXPECT_FALSE(ack.duplicate());

    // The stream still works: a valid report (a correction of the same set,
    // so the expected progress stays put) is acknowledged.
    std::string id = absl::StrCat("ok-", ++n);
    v1::ReportAck ok = a->Report(Completion(id, 0, 1, v1::SIDE_LEFT, 9), id);
    EXPECT_EQ(ok.code(), 0) << ok.message();
    EXPECT_FALSE(ok.duplicate());

    v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
    const v1::RosterEntry* entry = FindEntry(snapshot, a->participant_id);
    ASSERT_NE(entry, nullptr);
    EXPECT_TRUE(MessageDifferencer::Equals(entry->progress(), expected))
        << entry->progress().ShortDebugString() << " vs "
        << expected.ShortDebugString();
    EXPECT_EQ(snapshot.progress().total_reps(), 9);
    EXPECT_EQ(snapshot.alerts_size(), 0);
    EXPECT_EQ(snapshot.suggestions_size(), 0);
    EXPECT_EQ(snapshot.state().phase(), v1::CLASS_PHASE_RUNNING);
  }
  // No rejected report reached the instructor or the participant as an event.
  for (const auto& m : instructor->in.messages()) {
    if (m.has_event() && m.event().has_report()) {
      EXPECT_THAT(m.event().report().completion().report_id(),
                  HasSubstr("ok-"));
    }
  }
  for (const auto& m : a->in.messages()) {
    if (m.has_event() && m.event().has_report()) {
      EXPECT_THAT(m.event().report().completion().report_id(),
                  HasSubstr("ok-"));
    }
  }

  // Someone else was served all along.
  v1::ReportAck other =
      b->Report(Completion("b-1", 0, 1, v1::SIDE_LEFT, 8), "b-1");
  EXPECT_EQ(other.code(), 0) << other.message();

  // After the end, reports are refused; a retry of an accepted one is still
  // acknowledged, so the stream goes on working.
  v1::CommandResult ended =
      instructor->Send(Cmd([](auto* c) { c->mutable_end(); }));
  ASSERT_EQ(ended.code(), 0) << ended.message();
  v1::ReportAck late =
      a->Report(Completion("late", 0, 1, v1::SIDE_RIGHT, 8), "late");
  EXPECT_EQ(late.code(), grpc::StatusCode::FAILED_PRECONDITION)
      << late.message();
  EXPECT_THAT(late.message(), Not(IsEmpty()));
  v1::ReportAck retry =
      ReportAgain(*a, Completion("ok-0", 0, 1, v1::SIDE_LEFT, 9), "ok-0");
  EXPECT_EQ(retry.code(), 0) << retry.message();
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.seq(), first.seq());

  v1::InstructorSnapshot after = FreshSnapshot(server, info.class_id());
  EXPECT_EQ(after.state().phase(), v1::CLASS_PHASE_ENDED);
  ASSERT_NE(FindEntry(after, a->participant_id), nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(
      FindEntry(after, a->participant_id)->progress(), expected));
  EXPECT_EQ(after.progress().total_reps(), 9 + 8);
  instructor->Close();
}

TEST(LiveErrorsTest, WrongRoleOrCredentialIsRefused) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto dana = server.Join(info.join_code(), "Dana");
  ASSERT_FALSE(dana->resume_token.empty());

  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  grpc::Status status =
      server.stub()->CreateClass(Context().get(), create, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  status =
      server.stub()->CreateClass(Context(kKioskKey).get(), create, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  status = server.stub()->CreateClass(Context(dana->resume_token).get(), create,
                                      &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // RunClass with the kiosk key, and with a participant's resume token.
  auto run_as = [&](const std::string& key) {
    InstructorClient client;
    client.context = Context(key);
    client.stream = server.stub()->RunClass(client.context.get());
    v1::RunClassRequest attach;
    attach.mutable_attach()->set_class_id(info.class_id());
    client.stream->Write(attach);  // may fail: the server refuses at once
    client.in.Start(client.stream.get());
    grpc::Status result = client.in.WaitDone();
    for (const auto& m : client.in.messages()) {
      EXPECT_FALSE(m.has_snapshot()) << "a refused console got a snapshot";
    }
    return result;
  };
  EXPECT_EQ(run_as(kKioskKey).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(run_as(dana->resume_token).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(run_as("").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // WatchClass without a key.
  {
    KioskClient kiosk;
    kiosk.context = Context();
    v1::WatchClassRequest request;
    request.set_class_id(info.class_id());
    kiosk.stream = server.stub()->WatchClass(kiosk.context.get(), request);
    kiosk.in.Start(kiosk.stream.get());
    EXPECT_EQ(kiosk.in.WaitDone().error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(kiosk.in.messages(), IsEmpty());
  }

  // Resuming with a token nobody was given.
  auto bogus = server.Resume("not-a-real-token", 0);
  EXPECT_EQ(bogus->in.WaitDone().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  for (const auto& m : bogus->in.messages()) {
    EXPECT_FALSE(m.has_snapshot()) << "a bogus resume got a snapshot";
  }

  // ListClasses: kiosk and instructor keys yes, nothing no.
  v1::ListClassesRequest list;
  v1::ListClassesResponse listed;
  status = server.stub()->ListClasses(Context(kKioskKey).get(), list, &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(listed.classes_size(), 1);  // the refused creates made nothing
  EXPECT_EQ(listed.classes(0).class_id(), info.class_id());
  listed.Clear();
  status =
      server.stub()->ListClasses(Context(kInstructorKey).get(), list, &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(listed.classes_size(), 1);
  status = server.stub()->ListClasses(Context().get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // The participant and the class were not disturbed.
  auto instructor = server.Instruct(info.class_id());
  ASSERT_EQ(Start(*instructor).code(), 0);
  v1::ReportAck ack =
      dana->Report(Completion("d-1", 0, 1, v1::SIDE_LEFT, 9), "d-1");
  EXPECT_EQ(ack.code(), 0) << ack.message();
  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  ASSERT_EQ(snapshot.roster_size(), 1);
  EXPECT_EQ(snapshot.roster(0).connection(), v1::CONNECTION_STATE_CONNECTED);
  instructor->Close();
}

TEST(LiveErrorsTest, SecondJoinOnAJoinedStreamEndsItAndTheSeatIsHeld) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto dana = server.Join(info.join_code(), "Dana");
  auto erin = server.Join(info.join_code(), "Erin");

  v1::JoinClassRequest again;
  again.mutable_join()->set_join_code(info.join_code());
  again.mutable_join()->mutable_check_in()->set_display_name("Dana again");
  dana->stream->Write(again);
  grpc::Status status = dana->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << status.error_message();
  EXPECT_TRUE(SawConnection(*instructor, dana->participant_id,
                            v1::CONNECTION_STATE_DROPPED));

  // The seat is held, not doubled: the token resumes it.
  v1::InstructorSnapshot held = FreshSnapshot(server, info.class_id());
  ASSERT_EQ(held.roster_size(), 2);
  const v1::RosterEntry* entry = FindEntry(held, dana->participant_id);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->connection(), v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(entry->check_in().display_name(), "Dana");

  auto resumed = server.Resume(dana->resume_token, 0);
  EXPECT_TRUE(resumed->in.WaitFor([&](const ParticipantMessages& all) {
    for (const auto& m : all) {
      if (m.has_snapshot()) {
        return m.snapshot().participant_id() == dana->participant_id;
      }
    }
    return false;
  }));
  EXPECT_TRUE(SawConnection(*instructor, dana->participant_id,
                            v1::CONNECTION_STATE_CONNECTED));
  ASSERT_EQ(Start(*instructor).code(), 0);
  v1::ReportAck ack =
      resumed->Report(Completion("d-1", 0, 1, v1::SIDE_LEFT, 9), "d-1");
  EXPECT_EQ(ack.code(), 0) << ack.message();
  v1::ReportAck erin_ack =
      erin->Report(Completion("e-1", 0, 1, v1::SIDE_LEFT, 9), "e-1");
  EXPECT_EQ(erin_ack.code(), 0) << erin_ack.message();

  v1::InstructorSnapshot after = FreshSnapshot(server, info.class_id());
  ASSERT_EQ(after.roster_size(), 2);
  entry = FindEntry(after, dana->participant_id);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->connection(), v1::CONNECTION_STATE_CONNECTED);
  EXPECT_EQ(entry->progress().total_reps(), 9);
  instructor->Close();
}

TEST(LiveErrorsTest, CommandInTheWrongPhaseIsRefusedAndTheConsoleGoesOn) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());

  v1::CommandResult pause =
      instructor->Send(Cmd([](auto* c) { c->mutable_pause(); }));
  EXPECT_EQ(pause.code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(pause.message(), Not(IsEmpty()));
  EXPECT_EQ(pause.seq(), 0);
  EXPECT_EQ(FreshSnapshot(server, info.class_id()).state().phase(),
            v1::CLASS_PHASE_LOBBY);

  v1::CommandResult started = Start(*instructor);
  EXPECT_EQ(started.code(), 0) << started.message();
  EXPECT_GT(started.seq(), 0);
  v1::CommandResult paused =
      instructor->Send(Cmd([](auto* c) { c->mutable_pause(); }));
  EXPECT_EQ(paused.code(), 0) << paused.message();
  EXPECT_EQ(FreshSnapshot(server, info.class_id()).state().phase(),
            v1::CLASS_PHASE_PAUSED);
  instructor->Close();
}

TEST(LiveErrorsTest, StreamSendingTooFastIsEndedAndOthersGoOn) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.stream_messages_per_second = 5;
  options.service.stream_message_burst = 5;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto flood = server.Join(info.join_code(), "Flood");
  auto calm = server.Join(info.join_code(), "Calm");
  ASSERT_EQ(Start(*instructor).code(), 0);

  for (int i = 0; i < 20; ++i) {
    std::string id = absl::StrCat("f-", i);
    if (!flood->stream->Write(Completion(id, 0, 1, v1::SIDE_LEFT, 9))) break;
  }
  grpc::Status status = flood->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  int acked = 0;
  for (const auto& m : flood->in.messages()) {
    if (m.has_ack()) ++acked;
  }
  EXPECT_LT(acked, 20);

  v1::ReportAck ack =
      calm->Report(Completion("c-1", 0, 1, v1::SIDE_LEFT, 9), "c-1");
  EXPECT_EQ(ack.code(), 0) << ack.message();
  v1::CommandResult cue = instructor->Send(
      Cmd([](auto* c) { c->mutable_cue()->set_text("Keep going"); }));
  EXPECT_EQ(cue.code(), 0) << cue.message();
  EXPECT_TRUE(SawConnection(*instructor, flood->participant_id,
                            v1::CONNECTION_STATE_DROPPED));
  instructor->Close();
}

TEST(LiveErrorsTest, JoinsAreRateLimitedPerPeer) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.joins_per_second_per_peer = 0.001;
  options.service.join_burst_per_peer = 3;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  std::vector<std::unique_ptr<ParticipantClient>> joined;
  for (int i = 0; i < 3; ++i) {
    joined.push_back(server.Join(info.join_code(), absl::StrCat("P", i)));
    ASSERT_FALSE(joined.back()->participant_id.empty());
  }
  auto fourth = StartJoin(server.stub(), info.join_code(), "P3");
  grpc::Status status = fourth->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  for (const auto& m : fourth->in.messages()) {
    EXPECT_FALSE(m.has_joined());
  }

  // Those already in are served; the refused join made no seat.
  ASSERT_EQ(Start(*instructor).code(), 0);
  v1::ReportAck ack =
      joined[0]->Report(Completion("p-1", 0, 1, v1::SIDE_LEFT, 9), "p-1");
  EXPECT_EQ(ack.code(), 0) << ack.message();
  EXPECT_EQ(FreshSnapshot(server, info.class_id()).roster_size(), 3);
  instructor->Close();
}

TEST(LiveErrorsTest, OversizedMessageEndsThatStreamOnly) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto big = server.Join(info.join_code(), "Big");
  auto other = server.Join(info.join_code(), "Other");
  ASSERT_EQ(Start(*instructor).code(), 0);

  big->stream->Write(
      Symptom("huge", v1::SYMPTOM_OTHER, std::string(70000, 'x'), 0));
  grpc::Status status = big->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  for (const auto& m : big->in.messages()) {
    EXPECT_FALSE(m.has_ack()) << m.ShortDebugString();
  }

  // The class and the others go on; nothing was recorded for "huge".
  v1::ReportAck ack =
      other->Report(Completion("o-1", 0, 1, v1::SIDE_LEFT, 9), "o-1");
  EXPECT_EQ(ack.code(), 0) << ack.message();
  v1::CommandResult cue = instructor->Send(
      Cmd([](auto* c) { c->mutable_cue()->set_text("Still with us"); }));
  EXPECT_EQ(cue.code(), 0) << cue.message();
  EXPECT_TRUE(other->in.WaitFor([](const ParticipantMessages& all) {
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_cue() &&
          m.event().cue().text() == "Still with us") {
        return true;
      }
    }
    return false;
  }));
  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  EXPECT_EQ(snapshot.state().phase(), v1::CLASS_PHASE_RUNNING);
  for (const auto& alert : snapshot.alerts()) {
    EXPECT_NE(alert.kind(), v1::ALERT_KIND_SYMPTOM) << alert.ShortDebugString();
  }
  const v1::RosterEntry* entry = FindEntry(snapshot, big->participant_id);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->progress().symptoms_size(), 0);
  EXPECT_EQ(snapshot.progress().total_reps(), 9);
}

TEST(LiveErrorsTest, OtherTextOverLimitIsInvalidArgument) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto dana = server.Join(info.join_code(), "Dana");
  ASSERT_EQ(Start(*instructor).code(), 0);

  v1::ReportAck too_long = dana->Report(
      Symptom("long", v1::SYMPTOM_OTHER, std::string(141, 'y'), 0), "long");
  EXPECT_EQ(too_long.code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(too_long.message(), HasSubstr("140"));
  EXPECT_EQ(too_long.seq(), 0);

  v1::ReportAck fits = dana->Report(
      Symptom("fits", v1::SYMPTOM_OTHER, std::string(140, 'y'), 0), "fits");
  EXPECT_EQ(fits.code(), 0) << fits.message();

  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  ASSERT_EQ(snapshot.roster_size(), 1);
  EXPECT_EQ(snapshot.roster(0).progress().symptoms_size(), 1);
  EXPECT_EQ(snapshot.alerts_size(), 1);
  instructor->Close();
}

}  // namespace
}  // namespace circuit::testing
