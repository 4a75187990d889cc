#include "server/fanout/stream.h"

#include <optional>
#include <string>
#include <vector>

#include "circuit/v1/service.pb.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "gtest/gtest.h"
#include "server/fanout/wire.h"

namespace circuit {
namespace {

// Keeps every write in flight until Complete() is called; defers as many
// writes as `defer` says.
class HeldSink final : public StreamSink {
 public:
  explicit HeldSink(Stream* stream) : stream_(stream) {}
  bool DeferWrite() override {
    if (defer <= 0) return false;
    --defer;
    ++deferred;
    return true;
  }
  void FinishStream(const absl::Status& status) override { finished = status; }
  int defer = 0;
  int deferred = 0;
  std::optional<absl::Status> finished;
  void StartWriteBytes(const grpc::ByteBuffer* bytes) override {
    written_.push_back(*bytes);
  }
  void AbortStream(const absl::Status&) override {}

  void Complete() { stream_->OnWriteDone(true); }
  const std::vector<grpc::ByteBuffer>& written() const { return written_; }

 private:
  Stream* const stream_;
  std::vector<grpc::ByteBuffer> written_;
};

template <typename Message>
Message ParseAs(const grpc::ByteBuffer& bytes) {
  grpc::ByteBuffer copy = bytes;
  grpc::ProtoBufferReader reader(&copy);
  Message message;
  EXPECT_TRUE(message.ParseFromZeroCopyStream(&reader));
  return message;
}

v1::JoinClassResponse Ack(int i) {
  v1::JoinClassResponse response;
  response.set_server_time_unix_ms(1000 + i);
  response.mutable_ack()->set_report_id("r" + std::to_string(i));
  response.mutable_ack()->set_seq(i);
  return response;
}

TEST(StreamTest, WithoutBatchesEveryMessageIsItsOwnWrite) {
  Stream stream(16);
  HeldSink sink(&stream);
  stream.Attach(&sink);
  for (int i = 1; i <= 3; ++i)
    stream.Send(ToByteBuffer(Ack(i)), Delivery::kReliable);
  for (int i = 0; i < 3; ++i) sink.Complete();
  ASSERT_EQ(sink.written().size(), 3u);
  for (int i = 0; i < 3; ++i) {
    v1::JoinClassResponse got =
        ParseAs<v1::JoinClassResponse>(sink.written()[static_cast<size_t>(i)]);
    EXPECT_EQ(got.batch_size(), 0);
    EXPECT_EQ(got.ack().report_id(), "r" + std::to_string(i + 1));
  }
}

TEST(StreamTest, WhatQueuesBehindAWriteGoesAsOneBatchInOrder) {
  Stream stream(16);
  HeldSink sink(&stream);
  stream.Attach(&sink);
  stream.AcceptBatches();
  stream.Send(ToByteBuffer(Ack(1)), Delivery::kReliable);  // written alone
  for (int i = 2; i <= 5; ++i) {
    stream.Send(ToByteBuffer(Ack(i)), Delivery::kReliable);
  }
  sink.Complete();
  sink.Complete();
  ASSERT_EQ(sink.written().size(), 2u);
  EXPECT_EQ(ParseAs<v1::JoinClassResponse>(sink.written()[0]).ack().seq(), 1);

  const v1::JoinClassResponse batch =
      ParseAs<v1::JoinClassResponse>(sink.written()[1]);
  EXPECT_FALSE(batch.has_ack());
  EXPECT_EQ(batch.server_time_unix_ms(), 0);
  ASSERT_EQ(batch.batch_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const v1::JoinClassResponse expected = Ack(i + 2);
    EXPECT_EQ(batch.batch(i).SerializeAsString(), expected.SerializeAsString());
  }
  // The same bytes read as any role's response: field 15 in each.
  EXPECT_EQ(ParseAs<v1::RunClassResponse>(sink.written()[1]).batch_size(), 4);
  EXPECT_EQ(ParseAs<v1::WatchClassResponse>(sink.written()[1]).batch_size(), 4);
}

TEST(StreamTest, ABatchHoldsAtMostItsLimitAndTheRestFollows) {
  constexpr size_t kQueued = Stream::kMaxBatchMessages + 10;
  Stream stream(kQueued + 1);
  HeldSink sink(&stream);
  stream.Attach(&sink);
  stream.AcceptBatches();
  for (size_t i = 0; i <= kQueued; ++i) {
    stream.Send(ToByteBuffer(Ack(static_cast<int>(i))), Delivery::kReliable);
  }
  for (int i = 0; i < 3; ++i) sink.Complete();
  ASSERT_EQ(sink.written().size(), 3u);
  EXPECT_EQ(ParseAs<v1::JoinClassResponse>(sink.written()[1]).batch_size(),
            static_cast<int>(Stream::kMaxBatchMessages));
  const v1::JoinClassResponse rest =
      ParseAs<v1::JoinClassResponse>(sink.written()[2]);
  ASSERT_EQ(rest.batch_size(), 10);
  EXPECT_EQ(rest.batch(9).ack().seq(), static_cast<int64_t>(kQueued));
}

TEST(StreamTest, ADeferredWriteWaitsForFlushAndCarriesWhatCameMeanwhile) {
  Stream stream(16);
  HeldSink sink(&stream);
  stream.Attach(&sink);
  stream.AcceptBatches();
  sink.defer = 1;
  for (int i = 1; i <= 3; ++i) {
    stream.Send(ToByteBuffer(Ack(i)), Delivery::kReliable);
  }
  EXPECT_EQ(sink.deferred, 1);  // asked once; then it waits for Flush
  EXPECT_TRUE(sink.written().empty());
  stream.Flush();
  ASSERT_EQ(sink.written().size(), 1u);
  const v1::JoinClassResponse batch =
      ParseAs<v1::JoinClassResponse>(sink.written()[0]);
  ASSERT_EQ(batch.batch_size(), 3);
  EXPECT_EQ(batch.batch(2).ack().seq(), 3);
}

TEST(StreamTest, ClosingAfterTheQueueIsNeverDeferredAndFinishesOnce) {
  Stream stream(16);
  HeldSink sink(&stream);
  stream.Attach(&sink);
  stream.AcceptBatches();
  sink.defer = 100;
  stream.Send(ToByteBuffer(Ack(1)), Delivery::kReliable);  // deferred
  stream.Close(absl::UnavailableError("going away"),
               /*after_queued=*/true);
  EXPECT_TRUE(sink.written().empty());
  stream.Flush();  // the closing stream writes what it has, not deferring
  ASSERT_EQ(sink.written().size(), 1u);
  EXPECT_EQ(sink.deferred, 1);
  EXPECT_FALSE(sink.finished.has_value());
  sink.Complete();
  ASSERT_TRUE(sink.finished.has_value());
  EXPECT_EQ(sink.finished->code(), absl::StatusCode::kUnavailable);
}

// A replay is fed a slice at a time: the sender hears once, with no lock
// held, when the queue is short again; never after the stream ends.
TEST(StreamTest, WhenQueueAtMostRunsOnceTheQueueIsShortAndNeverAfterTheEnd) {
  Stream stream(16);
  HeldSink sink(&stream);
  stream.Attach(&sink);
  for (int i = 1; i <= 5; ++i) {
    stream.Send(ToByteBuffer(Ack(i)), Delivery::kReliable);
  }
  ASSERT_EQ(stream.queued(), 4u);  // one in flight
  int ready = 0;
  stream.WhenQueueAtMost(2, [&] {
    ++ready;
    // No lock held: the stream may be used from here.
    stream.Send(ToByteBuffer(Ack(100)), Delivery::kReliable);
  });
  EXPECT_EQ(ready, 0);
  sink.Complete();  // 3 queued
  EXPECT_EQ(ready, 0);
  sink.Complete();  // 2 queued: due, and it queued one more
  EXPECT_EQ(ready, 1);
  EXPECT_EQ(stream.queued(), 3u);
  sink.Complete();
  EXPECT_EQ(ready, 1);  // once

  // Already short enough: at once.
  stream.WhenQueueAtMost(8, [&] { ++ready; });
  EXPECT_EQ(ready, 2);

  // A stream that ends drops what waits for it.
  stream.WhenQueueAtMost(0, [&] { ++ready; });
  stream.Close(absl::OkStatus(), /*after_queued=*/false);
  sink.Complete();
  EXPECT_EQ(ready, 2);
  EXPECT_EQ(stream.max_queued(), 16u);
}

}  // namespace
}  // namespace circuit
