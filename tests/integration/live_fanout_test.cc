// Fan-out against a real in-process circuitd: a reader that never reads does
// not hold anyone up, a drain tells every stream the server is going away,
// and a kiosk never sees anything private over a whole class.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"

namespace circuit::testing {
namespace {

using InstructorMessages = std::vector<v1::RunClassResponse>;
using ParticipantMessages = std::vector<v1::JoinClassResponse>;
using KioskMessages = std::vector<v1::WatchClassResponse>;

// True when `message` or anything in it carries fields its type does not
// declare: bytes meant for another role's message would show up this way.
bool HasUnknownFields(const google::protobuf::Message& message) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() !=
        google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        if (HasUnknownFields(
                reflection->GetRepeatedMessage(message, field, i))) {
          return true;
        }
      }
    } else if (HasUnknownFields(reflection->GetMessage(message, field))) {
      return true;
    }
  }
  return false;
}

template <typename Response>
int CountCues(const std::vector<Response>& all, const std::string& prefix) {
  int count = 0;
  for (const auto& m : all) {
    if (m.has_event() && m.event().has_cue() &&
        absl::StartsWith(m.event().cue().text(), prefix)) {
      ++count;
    }
  }
  return count;
}

// The streams the class's actor holds, after what was posted before.
size_t StreamCount(ClassActor& actor) {
  absl::Notification counted;
  size_t count = 0;
  actor.CountStreams([&](size_t n) {
    count = n;
    counted.Notify();
  });
  counted.WaitForNotification();
  return count;
}

std::string ParticipantIdOf(InstructorClient& instructor,
                            const std::string& name) {
  std::string id;
  EXPECT_TRUE(instructor.in.WaitFor([&](const InstructorMessages& all) {
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_participant_joined() &&
          m.event().participant_joined().check_in().display_name() == name) {
        id = m.event().participant_joined().participant_id();
        return true;
      }
    }
    return false;
  })) << "the instructor never saw "
      << name << " join";
  return id;
}

TEST(LiveFanoutTest, ReaderThatNeverReadsIsDroppedAndHoldsUpNoOne) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.max_queued_per_stream = 32;
  options.service.stream_messages_per_second = 100000;
  options.service.stream_message_burst = 100000;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto kiosk = server.Watch(info.class_id());
  auto reader = server.Join(info.join_code(), "Reader");

  // Its own connection, so only it stops reading. It joins and never calls
  // Read. Without BDP probing its HTTP/2 window stays at the default 64 KiB,
  // so the server's queue for it must fill (with probing, a client on
  // loopback can buffer megabytes before the server notices anything).
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  args.SetInt("grpc.http2.bdp_probe", 0);
  auto sleepy_stub = v1::CircuitService::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", server.server()->port()),
      grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext sleepy_context;
  auto sleepy = sleepy_stub->JoinClass(&sleepy_context);
  // However the test ends, cancel before the stream object goes away.
  struct CancelFirst {
    grpc::ClientContext* context;
    grpc::ClientReaderWriter<v1::JoinClassRequest, v1::JoinClassResponse>*
        stream;
    ~CancelFirst() {
      if (context == nullptr) return;  // finished already
      context->TryCancel();
      grpc::Status ignored = stream->Finish();
      (void)ignored;
    }
  } cancel_first{&sleepy_context, sleepy.get()};
  v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(info.join_code());
  join.mutable_join()->mutable_check_in()->set_display_name("Sleepy");
  ASSERT_TRUE(sleepy->Write(join));
  const std::string sleepy_id = ParticipantIdOf(*instructor, "Sleepy");
  ASSERT_FALSE(sleepy_id.empty());
  std::shared_ptr<ClassActor> actor =
      server.server()->registry()->Find(info.class_id());
  ASSERT_NE(actor, nullptr);
  EXPECT_EQ(StreamCount(*actor), 4u);

  // Every cue is a public event for every stream.
  constexpr int kCues = 2000;
  const std::string prefix = "cue-";
  for (int i = 0; i < kCues; ++i) {
    std::string text = absl::StrCat(prefix, i, " ");
    text.resize(280, 'z');
    v1::CommandResult result = instructor->Send(
        Cmd([&](auto* c) { c->mutable_cue()->set_text(text); }));
    ASSERT_EQ(result.code(), 0) << result.message();
  }

  // The readers got every cue.
  EXPECT_TRUE(reader->in.WaitFor([&](const ParticipantMessages& all) {
    return CountCues(all, prefix) == kCues;
  })) << CountCues(reader->in.messages(), prefix);
  EXPECT_TRUE(kiosk->in.WaitFor([&](const KioskMessages& all) {
    return CountCues(all, prefix) == kCues;
  })) << CountCues(kiosk->in.messages(), prefix);
  EXPECT_TRUE(instructor->in.WaitFor([&](const InstructorMessages& all) {
    return CountCues(all, prefix) == kCues;
  }));

  // The one that never read was cut off promptly: dropped (seat held), and
  // its stream is no longer subscribed.
  EXPECT_TRUE(instructor->in.WaitFor(
      [&](const InstructorMessages& all) {
        for (const auto& m : all) {
          if (m.has_event() && m.event().has_connection() &&
              m.event().connection().participant_id() == sleepy_id &&
              m.event().connection().connection() ==
                  v1::CONNECTION_STATE_DROPPED) {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(10)))
      << "the never-reading participant was not dropped";
  EXPECT_EQ(StreamCount(*actor), 3u);

  // When it reads again it gets what was in flight, then the end: the
  // RESOURCE_EXHAUSTED that explains it, or (the status could not pass its
  // stalled window) the server's cancel; proto/README.md tells apps to
  // resume on each, as the client library does.
  v1::JoinClassResponse read;
  int buffered = 0;
  while (sleepy->Read(&read)) ++buffered;
  const grpc::Status cut = sleepy->Finish();
  EXPECT_THAT(cut.error_code(),
              ::testing::AnyOf(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               grpc::StatusCode::CANCELLED))
      << cut.error_code() << " " << cut.error_message() << " after " << buffered
      << " messages";
  cancel_first.context = nullptr;
  instructor->Close();
}

// An instructor's console that falls behind (a join rush of thousands, each
// join and plan item an event) has a deeper queue than a phone: where a
// phone would be cut, it catches up. `console_queue` is
// max_queued_per_console; the phones' is 32. Answers the cues the console
// read and how its stream ended.
struct ConsoleCatchUp {
  int cues = 0;
  bool cut = false;  // dropped from the class while it was not reading
  grpc::Status status;
};
ConsoleCatchUp BehindConsole(size_t console_queue) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.max_queued_per_stream = 32;
  options.service.max_queued_per_console = console_queue;
  options.service.stream_messages_per_second = 100000;
  options.service.stream_message_burst = 100000;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  std::shared_ptr<ClassActor> actor =
      server.server()->registry()->Find(info.class_id());
  EXPECT_NE(actor, nullptr);
  if (actor == nullptr) return {};

  // A second console on its own connection, without BDP probing (a 64 KiB
  // window, so the server's queue must fill), that attaches and then does
  // not read while the class goes on.
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  args.SetInt("grpc.http2.bdp_probe", 0);
  auto stub = v1::CircuitService::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", server.server()->port()),
      grpc::InsecureChannelCredentials(), args));
  std::unique_ptr<grpc::ClientContext> context = Context(kInstructorKey);
  auto behind = stub->RunClass(context.get());
  v1::RunClassRequest attach;
  attach.mutable_attach()->set_class_id(info.class_id());
  EXPECT_TRUE(behind->Write(attach));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (StreamCount(*actor) < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));  // polling for the attach
  }
  EXPECT_EQ(StreamCount(*actor), 2u);

  constexpr int kCues = 2000;  // about 600 KB: far past 32 queued and 64 KiB
  for (int i = 0; i < kCues; ++i) {
    std::string text = absl::StrCat("rush-", i, " ");
    text.resize(280, 'z');
    v1::CommandResult result = instructor->Send(
        Cmd([&](auto* c) { c->mutable_cue()->set_text(text); }));
    EXPECT_EQ(result.code(), 0) << result.message();
    if (result.code() != 0) break;
  }
  // The reading console has them all; then, was the other one dropped?
  EXPECT_TRUE(instructor->in.WaitFor([&](const InstructorMessages& all) {
    return CountCues(all, "rush-") == kCues;
  }));
  ConsoleCatchUp out;
  out.cut = StreamCount(*actor) < 2;
  // It reads again: everything, or what was in flight and then the end.
  v1::RunClassResponse read;
  while (out.cues < kCues && behind->Read(&read)) {
    if (read.has_event() && read.event().has_cue() &&
        absl::StartsWith(read.event().cue().text(), "rush-")) {
      ++out.cues;
    }
  }
  context->TryCancel();
  out.status = behind->Finish();
  instructor->Close();
  return out;
}

TEST(LiveFanoutTest, AConsoleThatFallsBehindCatchesUpWhereAPhoneWouldBeCut) {
  const ConsoleCatchUp deep = BehindConsole(16384);
  EXPECT_FALSE(deep.cut);
  EXPECT_EQ(deep.cues, 2000);
  // The same console with a phone's queue: cut, as a phone would be.
  const ConsoleCatchUp shallow = BehindConsole(32);
  EXPECT_TRUE(shallow.cut);
  EXPECT_LT(shallow.cues, 2000);
  EXPECT_THAT(shallow.status.error_code(),
              ::testing::AnyOf(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               grpc::StatusCode::CANCELLED));
}

// A phone, a console or a TV that was away while the class went on comes
// back with more missed events than its stream may queue (but fewer than
// the class keeps): each catches up on every one, in order, with no
// snapshot, while the class goes on, instead of being cut for falling
// behind before it has read anything.
TEST(LiveFanoutTest, AResumeWithMoreMissedEventsThanAQueueHoldsCatchesUp) {
  ServerOptions options = LiveServer::DefaultOptions();
  options.service.max_queued_per_stream = 16;
  options.service.stream_messages_per_second = 100000;
  options.service.stream_message_burst = 100000;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto phone = server.Join(info.join_code(), "Away");
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  ASSERT_TRUE(phone->in.WaitFor([](const ParticipantMessages& all) {
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_state()) return true;
    }
    return false;
  }));
  const int64_t last_seq = phone->LastSeq();
  phone->context->TryCancel();  // the phone loses Wi-Fi
  phone->in.WaitDone();

  constexpr int kMissed = 100;  // six queues' worth
  for (int i = 0; i < kMissed; ++i) {
    ASSERT_EQ(instructor
                  ->Send(Cmd([&](auto* c) {
                    c->mutable_cue()->set_text(absl::StrCat("missed-", i));
                  }))
                  .code(),
              0);
  }
  auto console = server.Instruct(info.class_id(), last_seq);
  auto tv = server.Watch(info.class_id(), last_seq);
  auto back = server.Resume(phone->resume_token, last_seq);
  // The class goes on while they catch up.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(instructor
                  ->Send(Cmd([&](auto* c) {
                    c->mutable_cue()->set_text(absl::StrCat("live-", i));
                  }))
                  .code(),
              0);
  }

  auto expect_caught_up = [&](auto& in, const char* who) {
    using Messages = std::decay_t<decltype(in.messages())>;
    EXPECT_TRUE(in.WaitFor([&](const Messages& all) {
      return CountCues(all, "live-") == 10;
    })) << who
        << " got " << CountCues(in.messages(), "missed-") << " missed cues and "
        << CountCues(in.messages(), "live-") << " live ones";
    std::vector<std::string> cues;
    int64_t previous = last_seq;
    for (const auto& m : in.messages()) {
      EXPECT_FALSE(m.has_snapshot()) << who << " got a snapshot";
      if (!m.has_event()) continue;
      EXPECT_GT(m.event().seq(), previous) << who << ": out of order";
      previous = m.event().seq();
      if (m.event().has_cue()) cues.push_back(m.event().cue().text());
    }
    ASSERT_EQ(cues.size(), static_cast<size_t>(kMissed + 10)) << who;
    EXPECT_EQ(cues[0], "missed-0") << who;
    EXPECT_EQ(cues[kMissed - 1], absl::StrCat("missed-", kMissed - 1)) << who;
    EXPECT_EQ(cues[kMissed], "live-0") << who;
  };
  expect_caught_up(console->in, "the console");
  expect_caught_up(tv->in, "the TV");
  expect_caught_up(back->in, "the phone");
  instructor->Close();
}

TEST(LiveFanoutTest, ShutdownTellsEveryStreamItIsGoingAwayThenEndsIt) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto kiosk = server.Watch(info.class_id());
  auto participant = server.Join(info.join_code(), "Dana");
  ASSERT_TRUE(instructor->in.WaitFor([](const InstructorMessages& all) {
    return !all.empty() && all.front().has_snapshot();
  }));
  ASSERT_TRUE(kiosk->in.WaitFor([](const KioskMessages& all) {
    return !all.empty() && all.front().has_snapshot();
  }));
  ASSERT_TRUE(participant->in.WaitFor([](const ParticipantMessages& all) {
    for (const auto& m : all) {
      if (m.has_snapshot()) return true;
    }
    return false;
  }));

  std::thread shutdown(
      [&] { server.server()->Shutdown(absl::Now() + absl::Seconds(5)); });

  grpc::Status status = instructor->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  InstructorMessages instructor_messages = instructor->in.messages();
  ASSERT_FALSE(instructor_messages.empty());
  EXPECT_TRUE(instructor_messages.back().has_going_away())
      << instructor_messages.back().ShortDebugString();

  status = participant->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  ParticipantMessages participant_messages = participant->in.messages();
  ASSERT_FALSE(participant_messages.empty());
  EXPECT_TRUE(participant_messages.back().has_going_away())
      << participant_messages.back().ShortDebugString();

  status = kiosk->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  KioskMessages kiosk_messages = kiosk->in.messages();
  ASSERT_FALSE(kiosk_messages.empty());
  EXPECT_TRUE(kiosk_messages.back().has_going_away())
      << kiosk_messages.back().ShortDebugString();
  EXPECT_GT(kiosk_messages.back().going_away().reconnect_after_ms(), 0);

  shutdown.join();
}

TEST(LiveFanoutTest, KioskNeverSeesEffortSymptomsOrPrivateNames) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto kiosk = server.Watch(info.class_id());
  auto avery = server.Join(info.join_code(), "Avery", /*show_name=*/true);
  auto blair = server.Join(info.join_code(), "Blair", /*show_name=*/true);
  auto casey = server.Join(info.join_code(), "Casey", /*show_name=*/false);
  std::vector<ParticipantClient*> everyone = {avery.get(), blair.get(),
                                              casey.get()};

  v1::CommandResult started =
      instructor->Send(Cmd([](auto* c) { c->mutable_start(); }));
  ASSERT_EQ(started.code(), 0) << started.message();
  v1::ClassState state = StateAfter(*instructor, started.seq());

  int total = 0;
  int guard = 0;
  while (state.phase() != v1::CLASS_PHASE_ENDED && guard++ < 100) {
    ASSERT_EQ(state.phase(), v1::CLASS_PHASE_RUNNING);
    const v1::Interval& current = state.current();
    if (current.kind() == v1::INTERVAL_KIND_WORK) {
      for (ParticipantClient* p : everyone) {
        std::string id = absl::StrCat("c-", current.index());
        v1::ReportAck ack =
            p->Report(Completion(id, current.block_index(), current.set(),
                                 current.side(), 9),
                      id);
        ASSERT_EQ(ack.code(), 0) << ack.message();
        total += 9;
      }
      // Avery finds the first block too hard, twice, then has symptoms.
      if (current.block_index() == 0 && current.set() == 1) {
        std::string id = absl::StrCat("e-", current.index());
        v1::JoinClassRequest effort;
        effort.mutable_effort()->set_report_id(id);
        effort.mutable_effort()->set_block_index(0);
        effort.mutable_effort()->set_cr10(9);
        effort.mutable_effort()->set_feel(v1::EFFORT_FEEL_TOO_HARD);
        v1::ReportAck ack = avery->Report(effort, id);
        ASSERT_EQ(ack.code(), 0) << ack.message();
      }
      if (current.block_index() == 1 && current.set() == 1 &&
          current.side() == v1::SIDE_LEFT) {
        v1::JoinClassRequest symptom;
        symptom.mutable_symptom()->set_report_id("leak");
        symptom.mutable_symptom()->set_symptom(v1::SYMPTOM_LEAKING);
        symptom.mutable_symptom()->set_block_index(1);
        v1::ReportAck ack = avery->Report(symptom, "leak");
        ASSERT_EQ(ack.code(), 0) << ack.message();
      }
      if (current.block_index() == 2 && current.set() == 1 &&
          current.side() == v1::SIDE_LEFT) {
        v1::JoinClassRequest symptom;
        symptom.mutable_symptom()->set_report_id("pinch");
        symptom.mutable_symptom()->set_symptom(v1::SYMPTOM_HIP_PINCH);
        symptom.mutable_symptom()->set_block_index(2);
        v1::ReportAck ack = avery->Report(symptom, "pinch");
        ASSERT_EQ(ack.code(), 0) << ack.message();
      }
    }
    v1::CommandResult next =
        instructor->Send(Cmd([](auto* c) { c->mutable_next(); }));
    ASSERT_EQ(next.code(), 0) << next.message();
    state = StateAfter(*instructor, next.seq());
  }
  ASSERT_EQ(state.phase(), v1::CLASS_PHASE_ENDED);

  // The instructor did get the alerts and suggestions, so there was private
  // data to leak.
  std::set<std::pair<int, int>> alerts;  // (kind, symptom)
  std::set<int> suggestions;             // kind
  for (const auto& m : instructor->in.messages()) {
    if (!m.has_event()) continue;
    if (m.event().has_alert()) {
      EXPECT_EQ(m.event().alert().participant_id(), avery->participant_id);
      alerts.insert({m.event().alert().kind(), m.event().alert().symptom()});
      if (m.event().alert().symptom() == v1::SYMPTOM_LEAKING) {
        EXPECT_EQ(m.event().alert().severity(), v1::ALERT_SEVERITY_PRIORITY);
      }
    }
    if (m.event().has_suggestion()) {
      EXPECT_EQ(m.event().suggestion().participant_id(), avery->participant_id);
      suggestions.insert(m.event().suggestion().kind());
    }
  }
  EXPECT_EQ(alerts.count({v1::ALERT_KIND_SYMPTOM, v1::SYMPTOM_LEAKING}), 1u);
  EXPECT_EQ(alerts.count({v1::ALERT_KIND_SYMPTOM, v1::SYMPTOM_HIP_PINCH}), 1u);
  EXPECT_EQ(
      alerts.count({v1::ALERT_KIND_REPEATED_TOO_HARD, v1::SYMPTOM_UNSPECIFIED}),
      1u);
  EXPECT_EQ(suggestions.count(v1::SUGGESTION_KIND_REGRESSION), 1u);
  EXPECT_EQ(suggestions.count(v1::SUGGESTION_KIND_LOWER_LOAD), 1u);

  // Avery got her own suggestions; the others got none, and no alerts.
  std::set<int> own;
  for (const auto& m : avery->in.messages()) {
    if (m.has_event() && m.event().has_suggestion()) {
      EXPECT_EQ(m.event().suggestion().participant_id(), avery->participant_id);
      own.insert(m.event().suggestion().kind());
    }
    EXPECT_FALSE(m.has_event() && m.event().has_alert());
  }
  EXPECT_EQ(own, suggestions);
  for (ParticipantClient* p : {blair.get(), casey.get()}) {
    for (const auto& m : p->in.messages()) {
      EXPECT_FALSE(m.has_event() && m.event().has_suggestion())
          << m.ShortDebugString();
      EXPECT_FALSE(m.has_event() && m.event().has_alert())
          << m.ShortDebugString();
      if (m.has_snapshot()) {
        EXPECT_EQ(m.snapshot().suggestions_size(), 0);
      }
    }
  }

  // The kiosk saw the class end and the final progress...
  ASSERT_TRUE(kiosk->in.WaitFor([&](const KioskMessages& all) {
    bool ended = false;
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_state() &&
          m.event().state().phase() == v1::CLASS_PHASE_ENDED) {
        ended = true;
      }
    }
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->has_progress()) {
        return ended && it->progress().total_reps() == total;
      }
    }
    return false;
  }));
  // ...and nothing private, ever.
  std::set<std::string> wall_names;
  int snapshots = 0;
  for (const auto& m : kiosk->in.messages()) {
    EXPECT_FALSE(HasUnknownFields(m)) << m.ShortDebugString();
    EXPECT_EQ(m.SerializeAsString().find("Casey"), std::string::npos)
        << "Casey did not consent to the kiosk: " << m.ShortDebugString();
    if (m.has_event()) {
      const v1::ClassEvent& event = m.event();
      EXPECT_TRUE(event.has_state() || event.has_cue())
          << "a kiosk got " << event.ShortDebugString();
      EXPECT_FALSE(event.has_report() || event.has_alert() ||
                   event.has_suggestion() || event.has_connection() ||
                   event.has_participant_joined());
    }
    if (m.has_snapshot()) {
      ++snapshots;
      for (const auto& entry : m.snapshot().progress().wall()) {
        wall_names.insert(entry.display_name());
      }
    }
    if (m.has_progress()) {
      for (const auto& entry : m.progress().wall()) {
        wall_names.insert(entry.display_name());
      }
    }
  }
  EXPECT_EQ(snapshots, 1);
  EXPECT_EQ(wall_names, (std::set<std::string>{"Avery", "Blair"}));
  instructor->Close();
}

}  // namespace
}  // namespace circuit::testing
