#include "server/http/event_stream.h"

#include <memory>
#include <string>
#include <vector>

#include "circuit/v1/service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/fanout/stream.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;

// Collects what an EventStream sends; acks each write when told.
class FakeSink : public EventSink {
 public:
  void Send(std::string chunk, absl::AnyInvocable<void()> written) override {
    chunks.push_back(std::move(chunk));
    pending.push_back(std::move(written));
  }
  void End() override { ended = true; }

  // The oldest write completes.
  void Ack() {
    ASSERT_FALSE(pending.empty());
    auto written = std::move(pending.front());
    pending.erase(pending.begin());
    written();
  }

  std::vector<std::string> chunks;
  std::vector<absl::AnyInvocable<void()>> pending;
  bool ended = false;
};

grpc::ByteBuffer Cue(int64_t seq, const std::string& text) {
  v1::WatchClassResponse response;
  response.set_server_time_unix_ms(1000);
  response.mutable_event()->set_seq(seq);
  response.mutable_event()->mutable_cue()->set_text(text);
  const std::string bytes = response.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(EventStreamTest, EachMessageIsAnEventWithItsSeqAsId) {
  auto events = EventStream::Create(EventStream::Kind::kWatch, 16,
                                    /*open_count=*/nullptr);
  auto sink = std::make_shared<FakeSink>();
  events->Start(sink);
  events->stream()->Send(Cue(7, "Squeeze"), Delivery::kReliable);
  ASSERT_EQ(sink->chunks.size(), 1u);
  EXPECT_EQ(sink->chunks[0].rfind("id: 7\ndata: {", 0), 0u) << sink->chunks[0];
  EXPECT_THAT(sink->chunks[0], HasSubstr("\"text\":\"Squeeze\""));
  EXPECT_EQ(sink->chunks[0].substr(sink->chunks[0].size() - 2), "\n\n");
  events->Stop();
}

// What queued behind a write goes out as one chunk of consecutive events,
// in order.
TEST(EventStreamTest, WhatQueuedBehindAWriteGoesInTheNextOne) {
  auto events = EventStream::Create(EventStream::Kind::kWatch, 16,
                                    /*open_count=*/nullptr);
  auto sink = std::make_shared<FakeSink>();
  events->Start(sink);
  events->stream()->Send(Cue(1, "one"), Delivery::kReliable);
  events->stream()->Send(Cue(2, "two"), Delivery::kReliable);
  events->stream()->Send(Cue(3, "three"), Delivery::kReliable);
  ASSERT_EQ(sink->chunks.size(), 1u);  // one write in flight
  sink->Ack();
  ASSERT_EQ(sink->chunks.size(), 2u);
  const std::string& batch = sink->chunks[1];
  const size_t two = batch.find("id: 2\n");
  const size_t three = batch.find("id: 3\n");
  ASSERT_NE(two, std::string::npos) << batch;
  ASSERT_NE(three, std::string::npos) << batch;
  EXPECT_LT(two, three);
  EXPECT_THAT(batch, HasSubstr("\"text\":\"two\"}}}\n\n"));
  EXPECT_EQ(batch.find("batch"), std::string::npos) << batch;
  events->Stop();
}

// One broadcast to many streams: the same text for each (encoded once).
TEST(EventStreamTest, TheSameBroadcastReadsTheSameOnEveryStream) {
  const grpc::ByteBuffer cue = Cue(9, "Breathe out");
  std::vector<std::shared_ptr<EventStream>> streams;
  std::vector<std::shared_ptr<FakeSink>> sinks;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(EventStream::Create(EventStream::Kind::kWatch, 16,
                                          /*open_count=*/nullptr));
    sinks.push_back(std::make_shared<FakeSink>());
    streams.back()->Start(sinks.back());
    streams.back()->stream()->Send(cue, Delivery::kReliable);
  }
  for (const auto& sink : sinks) {
    ASSERT_EQ(sink->chunks.size(), 1u);
    EXPECT_EQ(sink->chunks[0], sinks[0]->chunks[0]);
  }
  // Different bytes are different events, even after the first is gone.
  const grpc::ByteBuffer other = Cue(10, "Ribs down");
  sinks[0]->Ack();
  streams[0]->stream()->Send(other, Delivery::kReliable);
  ASSERT_EQ(sinks[0]->chunks.size(), 2u);
  EXPECT_THAT(sinks[0]->chunks[1], HasSubstr("Ribs down"));
  for (auto& stream : streams) stream->Stop();
}

}  // namespace
}  // namespace circuit
