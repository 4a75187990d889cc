#include "server/fanout/broadcaster.h"

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/support/proto_buffer_reader.h"
#include "gtest/gtest.h"
#include "server/fanout/wire.h"

namespace circuit {
namespace {

// A sink that completes every write at once and keeps what was written.
class RecordingSink : public StreamSink {
 public:
  explicit RecordingSink(Stream* stream) : stream_(stream) {}
  void StartWriteBytes(const grpc::ByteBuffer* bytes) override {
    written_.push_back(*bytes);
    pending_ = true;
  }
  void FinishStream(const absl::Status& status) override { status_ = status; }
  void AbortStream(const absl::Status& status) override { status_ = status; }

  // Completes the write in flight (outside the Stream's lock), repeatedly.
  void Flush() {
    while (pending_) {
      pending_ = false;
      stream_->OnWriteDone(true);
    }
  }

  // How many messages were written.
  size_t written() {
    Flush();
    return written_.size();
  }

  // The seqs of the events written.
  std::vector<int64_t> Seqs() {
    Flush();
    std::vector<int64_t> seqs;
    for (grpc::ByteBuffer& b : written_) {
      grpc::ByteBuffer copy = b;
      grpc::ProtoBufferReader reader(&copy);
      v1::RunClassResponse response;  // parses any role's event bytes
      EXPECT_TRUE(response.ParseFromZeroCopyStream(&reader));
      if (response.has_event()) seqs.push_back(response.event().seq());
    }
    return seqs;
  }

 private:
  Stream* stream_;
  std::vector<grpc::ByteBuffer> written_;
  bool pending_ = false;
  absl::Status status_;
};

struct Subscriber {
  std::shared_ptr<Stream> stream = std::make_shared<Stream>(64);
  RecordingSink sink{stream.get()};
  Subscriber() { stream->Attach(&sink); }
};

engine::Event MakeEvent(int64_t seq, engine::Audience audience,
                        const std::string& participant_id = "") {
  engine::Event e;
  e.event.set_seq(seq);
  e.audience = audience;
  e.participant_id = participant_id;
  return e;
}

TEST(VisibleTest, TheOneRuleForEveryAudienceAndRole) {
  using engine::Audience;
  const engine::Event pub = MakeEvent(1, Audience::kPublic);
  const engine::Event instructor = MakeEvent(2, Audience::kInstructor);
  const engine::Event own =
      MakeEvent(3, Audience::kInstructorAndParticipant, "p1");
  EXPECT_TRUE(Visible(pub, Role::kInstructor, ""));
  EXPECT_TRUE(Visible(pub, Role::kParticipant, "p2"));
  EXPECT_TRUE(Visible(pub, Role::kKiosk, ""));
  EXPECT_TRUE(Visible(instructor, Role::kInstructor, ""));
  EXPECT_FALSE(Visible(instructor, Role::kParticipant, "p1"));
  EXPECT_FALSE(Visible(instructor, Role::kKiosk, ""));
  EXPECT_TRUE(Visible(own, Role::kInstructor, ""));
  EXPECT_TRUE(Visible(own, Role::kParticipant, "p1"));
  EXPECT_FALSE(Visible(own, Role::kParticipant, "p2"));
  EXPECT_FALSE(Visible(own, Role::kParticipant, ""));
  EXPECT_FALSE(Visible(own, Role::kKiosk, ""));
  const engine::Event report = MakeEvent(4, Audience::kParticipant, "p1");
  EXPECT_FALSE(Visible(report, Role::kInstructor, ""));
  EXPECT_TRUE(Visible(report, Role::kParticipant, "p1"));
  EXPECT_FALSE(Visible(report, Role::kParticipant, "p2"));
  EXPECT_FALSE(Visible(report, Role::kParticipant, ""));
  EXPECT_FALSE(Visible(report, Role::kKiosk, ""));
}

TEST(BroadcasterTest, PublishAndCatchUpFollowTheSameRule) {
  using engine::Audience;
  Broadcaster broadcaster;
  Subscriber instructor, kiosk, p1, p2;
  broadcaster.AddInstructor(instructor.stream);
  broadcaster.AddKiosk(kiosk.stream);
  broadcaster.SetParticipant("p1", p1.stream);
  broadcaster.SetParticipant("p2", p2.stream);
  const std::vector<engine::Event> events = {
      MakeEvent(1, Audience::kPublic), MakeEvent(2, Audience::kInstructor),
      MakeEvent(3, Audience::kInstructorAndParticipant, "p1"),
      MakeEvent(4, Audience::kInstructorAndParticipant, "p2")};
  broadcaster.Publish(events, 0);
  EXPECT_EQ(instructor.sink.Seqs(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(kiosk.sink.Seqs(), (std::vector<int64_t>{1}));
  EXPECT_EQ(p1.sink.Seqs(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(p2.sink.Seqs(), (std::vector<int64_t>{1, 4}));

  // A resuming participant gets the same selection from the log.
  Subscriber late;
  std::vector<const engine::Event*> log;
  for (const engine::Event& e : events) log.push_back(&e);
  Broadcaster::SendVisible(log, Role::kParticipant, "p2", late.stream.get(), 0);
  EXPECT_EQ(late.sink.Seqs(), (std::vector<int64_t>{1, 4}));
}

TEST(BroadcasterTest, AReplacedParticipantStreamIsReturnedAndNoLongerFed) {
  Broadcaster broadcaster;
  Subscriber first, second;
  EXPECT_EQ(broadcaster.SetParticipant("p1", first.stream), nullptr);
  EXPECT_EQ(broadcaster.SetParticipant("p1", second.stream), first.stream);
  broadcaster.Publish({MakeEvent(1, engine::Audience::kPublic)}, 0);
  EXPECT_TRUE(first.sink.Seqs().empty());
  EXPECT_EQ(second.sink.Seqs(), (std::vector<int64_t>{1}));
  // Removing names the stream: an old stream's end leaves the new one.
  EXPECT_EQ(broadcaster.RemoveParticipant("p1", first.stream.get()), nullptr);
  EXPECT_NE(broadcaster.Participant("p1"), nullptr);
  EXPECT_EQ(broadcaster.RemoveParticipant("p1", second.stream.get()),
            second.stream);
  EXPECT_EQ(broadcaster.size(), 0u);
}

TEST(BroadcasterTest, ProgressGoesRoundTheSlicesOnceToEveryParticipant) {
  Broadcaster broadcaster;
  Subscriber instructor, kiosk;
  broadcaster.AddInstructor(instructor.stream);
  broadcaster.AddKiosk(kiosk.stream);
  constexpr int kParticipants = 60;
  std::vector<std::unique_ptr<Subscriber>> participants;
  for (int i = 0; i < kParticipants; ++i) {
    participants.push_back(std::make_unique<Subscriber>());
    broadcaster.SetParticipant("p" + std::to_string(i + 1),
                               participants.back()->stream);
  }
  EXPECT_EQ(broadcaster.participant_count(), 60u);
  v1::RunClassResponse progress;
  progress.mutable_progress()->set_total_reps(9);
  const grpc::ByteBuffer bytes = ToByteBuffer(progress);

  constexpr int kSlices = 5;
  int slices_used = 0;
  size_t sent = 0;
  for (int slice = 0; slice < kSlices; ++slice) {
    broadcaster.SendProgressToParticipants(bytes, slice, kSlices);
    size_t now = 0;
    for (auto& p : participants) now += p->sink.written();
    if (now > sent) ++slices_used;
    sent = now;
  }
  // One round: every participant exactly once, spread over the ticks; the
  // staff's progress goes apart.
  for (auto& p : participants) EXPECT_EQ(p->sink.written(), 1u);
  EXPECT_GT(slices_used, 1);
  EXPECT_EQ(instructor.sink.written(), 0u);
  EXPECT_EQ(kiosk.sink.written(), 0u);
  broadcaster.SendProgressToStaff(bytes);
  EXPECT_EQ(instructor.sink.written(), 1u);
  EXPECT_EQ(kiosk.sink.written(), 1u);
  for (auto& p : participants) EXPECT_EQ(p->sink.written(), 1u);
}

}  // namespace
}  // namespace circuit
