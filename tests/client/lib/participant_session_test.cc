// ParticipantSession's join id and its retry of reports acknowledged
// UNAVAILABLE, against a scripted JoinClass on a real gRPC server on port 0.
// The script stands in for circuitd where it cannot yet be made to do this
// on demand: lose a Joined, or answer "not recorded, retry later".

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "client/lib/connection.h"
#include "client/lib/live_session.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace circuit::client {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);

// JoinClass as scripted: the first `lose_joined` joins end with UNAVAILABLE
// before their Joined, as if it was lost; then every completion is
// acknowledged, UNAVAILABLE the first time for the ids in `unavailable`.
class ScriptedJoinService final : public v1::CircuitService::Service {
 public:
  grpc::Status JoinClass(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<v1::JoinClassResponse, v1::JoinClassRequest>*
          stream) override {
    v1::JoinClassRequest first;
    if (!stream->Read(&first)) return grpc::Status::OK;
    {
      absl::MutexLock lock(&mu_);
      firsts_.push_back(first);
      if (lose_joined_ > 0) {
        --lose_joined_;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "Joined lost");
      }
    }
    v1::JoinClassResponse joined;
    joined.mutable_joined()->set_class_id("c-1");
    joined.mutable_joined()->set_participant_id("p-1");
    joined.mutable_joined()->set_resume_token("resume-token");
    if (!stream->Write(joined)) return grpc::Status::OK;
    {
      absl::MutexLock lock(&mu_);
      if (cut_after_joined_.has_value()) {
        grpc::Status cut = std::move(*cut_after_joined_);
        cut_after_joined_.reset();
        return cut;
      }
    }
    int batch_size = 0;
    {
      absl::MutexLock lock(&mu_);
      if (first.join().accept_batches()) batch_size = batch_acks_;
    }
    v1::JoinClassResponse batch;
    v1::JoinClassRequest request;
    while (stream->Read(&request)) {
      if (!request.has_completion()) continue;
      const std::string& id = request.completion().report_id();
      v1::JoinClassResponse ack;
      ack.mutable_ack()->set_report_id(id);
      {
        absl::MutexLock lock(&mu_);
        received_.push_back(id);
        if (unavailable_.erase(id) > 0) {
          ack.mutable_ack()->set_code(kUnavailable);
          ack.mutable_ack()->set_message("the journal is not writable");
        }
      }
      if (batch_size > 1) {
        *batch.add_batch() = std::move(ack);
        if (batch.batch_size() < batch_size) continue;
        ack = std::move(batch);
        batch.Clear();
      }
      if (!stream->Write(ack)) break;
    }
    return grpc::Status::OK;
  }

  // Acks go `count` to a message (as a batch) to a client that accepts
  // batches.
  void BatchAcks(int count) {
    absl::MutexLock lock(&mu_);
    batch_acks_ = count;
  }

  // The next stream ends with `status` right after its Joined.
  void CutAfterJoined(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    cut_after_joined_ = std::move(status);
  }

  void LoseJoined(int count) {
    absl::MutexLock lock(&mu_);
    lose_joined_ = count;
  }
  void AnswerUnavailableOnce(const std::string& id) {
    absl::MutexLock lock(&mu_);
    unavailable_.insert(id);
  }
  // Waits until `count` first requests came; all of them so far.
  std::vector<v1::JoinClassRequest> WaitForFirsts(size_t count) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return firsts_.size() >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return firsts_;
  }
  std::vector<std::string> Received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  int lose_joined_ ABSL_GUARDED_BY(mu_) = 0;
  int batch_acks_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> cut_after_joined_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unavailable_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::JoinClassRequest> firsts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> received_ ABSL_GUARDED_BY(mu_);
};

class ParticipantSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ConnectOptions options;
    options.address = absl::StrCat("127.0.0.1:", port);
    connection_ = std::make_shared<Connection>(options);
  }

  void TearDown() override {
    session_.reset();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }

  ParticipantSession& StartSession() {
    v1::CheckIn check_in;
    check_in.set_display_name("Ann");
    SessionOptions options;
    options.backoff_initial = absl::Milliseconds(5);
    options.backoff_max = absl::Milliseconds(20);
    options.clock_samples = 1;
    session_ = std::make_unique<ParticipantSession>(connection_, "ABC234",
                                                    check_in, options);
    session_->SetListener([this](const google::protobuf::Message* message) {
      const auto* response =
          dynamic_cast<const v1::JoinClassResponse*>(message);
      if (response == nullptr) return;
      EXPECT_EQ(response->batch_size(), 0) << "the listener sees a batch";
      if (!response->has_ack()) return;
      absl::MutexLock lock(&mu_);
      acks_seen_.push_back(response->ack());
    });
    session_->Start();
    return *session_;
  }

  // Waits until the session has applied `count` acks; all of them so far.
  std::vector<v1::ReportAck> WaitForAcksSeen(size_t count) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acks_seen_.size() >= count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return acks_seen_;
  }

  static v1::JoinClassRequest Completion(const std::string& id, int reps) {
    v1::JoinClassRequest request;
    request.mutable_completion()->set_report_id(id);
    request.mutable_completion()->set_block_index(0);
    request.mutable_completion()->set_set(1);
    request.mutable_completion()->set_side(v1::SIDE_BOTH);
    request.mutable_completion()->set_reps(reps);
    return request;
  }

  ScriptedJoinService service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<Connection> connection_;
  std::unique_ptr<ParticipantSession> session_;
  absl::Mutex mu_;
  std::vector<v1::ReportAck> acks_seen_ ABSL_GUARDED_BY(mu_);
};

TEST(NewClientJoinIdTest, IsThirtyTwoLowercaseHexCharactersFromEveryDigit) {
  std::set<char> seen;
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewClientJoinId();
    ASSERT_EQ(id.size(), 32u) << id;
    for (char c : id) {
      ASSERT_TRUE(absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                  (c >= 'a' && c <= 'f'))
          << id;
      seen.insert(c);
    }
    ids.insert(id);
  }
  // Every hex digit shows up, and no id repeats.
  EXPECT_EQ(seen.size(), 16u);
  EXPECT_EQ(ids.size(), 200u);
}

TEST_F(ParticipantSessionTest, RetriesAJoinWhoseJoinedWasLostWithTheSameId) {
  service_.LoseJoined(2);
  ParticipantSession& session = StartSession();
  ASSERT_TRUE(session.WaitForLink(LinkState::kLive, kWait));
  const std::vector<v1::JoinClassRequest> firsts = service_.WaitForFirsts(3);
  ASSERT_EQ(firsts.size(), 3u);
  for (const v1::JoinClassRequest& first : firsts) {
    ASSERT_TRUE(first.has_join());
    EXPECT_EQ(first.join().join_code(), "ABC234");
    EXPECT_EQ(first.join().client_join_id(), firsts[0].join().client_join_id());
  }
  EXPECT_EQ(firsts[0].join().client_join_id().size(), 32u);
  EXPECT_EQ(session.ResumeToken(), "resume-token");
}

TEST_F(ParticipantSessionTest, AcceptsBatchesAndHandlesEachMessageInOrder) {
  service_.BatchAcks(3);
  ParticipantSession& session = StartSession();
  ASSERT_TRUE(session.WaitForLink(LinkState::kLive, kWait));
  const std::vector<v1::JoinClassRequest> firsts = service_.WaitForFirsts(1);
  ASSERT_EQ(firsts.size(), 1u);
  EXPECT_TRUE(firsts[0].join().accept_batches());

  for (const char* id : {"r1", "r2", "r3"}) {
    ASSERT_TRUE(session.Submit(Completion(id, 9)).ok());
  }
  ASSERT_TRUE(session.WaitForAllAcked(kWait));
  const std::vector<v1::ReportAck> seen = WaitForAcksSeen(3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].report_id(), "r1");
  EXPECT_EQ(seen[1].report_id(), "r2");
  EXPECT_EQ(seen[2].report_id(), "r3");
  for (const char* id : {"r1", "r2", "r3"}) {
    ASSERT_TRUE(session.Ack(id).has_value()) << id;
  }
  EXPECT_EQ(session.PendingReports(), 0);
}

TEST_F(ParticipantSessionTest, ResumesWithoutAJoinIdOnceJoined) {
  ParticipantSession& session = StartSession();
  ASSERT_TRUE(session.WaitForLink(LinkState::kLive, kWait));
  ASSERT_EQ(service_.WaitForFirsts(1).size(), 1u);
  session.DropConnection();
  const std::vector<v1::JoinClassRequest> firsts = service_.WaitForFirsts(2);
  ASSERT_EQ(firsts.size(), 2u);
  EXPECT_TRUE(firsts[1].has_resume());
  EXPECT_TRUE(firsts[1].resume().accept_batches());
}

// What a phone that read too slowly sees when circuitd cuts its stream:
// RESOURCE_EXHAUSTED when the status gets through; when its connection had
// stalled, the transport's CANCELLED (the server's cancel) or UNAVAILABLE
// (the connection closed). Each means "resume", never "give up".
class SlowReaderCutTest
    : public ParticipantSessionTest,
      public ::testing::WithParamInterface<grpc::StatusCode> {};

TEST_P(SlowReaderCutTest, ResumesAfterTheCut) {
  service_.CutAfterJoined(grpc::Status(GetParam(), "cut"));
  ParticipantSession& session = StartSession();
  const std::vector<v1::JoinClassRequest> firsts = service_.WaitForFirsts(2);
  ASSERT_EQ(firsts.size(), 2u);
  EXPECT_TRUE(firsts[0].has_join());
  EXPECT_TRUE(firsts[1].has_resume());
  EXPECT_TRUE(session.WaitForLink(LinkState::kLive, kWait));
}

INSTANTIATE_TEST_SUITE_P(Cuts, SlowReaderCutTest,
                         ::testing::Values(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                           grpc::StatusCode::CANCELLED,
                                           grpc::StatusCode::UNAVAILABLE));

TEST_F(ParticipantSessionTest, SubmitResendsReportsLastAckedUnavailableFirst) {
  ParticipantSession& session = StartSession();
  ASSERT_TRUE(session.WaitForLink(LinkState::kLive, kWait));
  service_.AnswerUnavailableOnce("r1");

  ASSERT_TRUE(session.Submit(Completion("r1", 10)).ok());
  const std::vector<v1::ReportAck> first = WaitForAcksSeen(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].code(), kUnavailable);
  EXPECT_EQ(session.PendingReports(), 1);

  // No reconnect: the next report brings the first one along, before it.
  ASSERT_TRUE(session.Submit(Completion("r2", 11)).ok());
  ASSERT_TRUE(session.WaitForAllAcked(kWait));
  EXPECT_THAT(service_.Received(), ElementsAre("r1", "r1", "r2"));
  ASSERT_TRUE(session.Ack("r1").has_value());
  EXPECT_EQ(session.Ack("r1")->code(), 0);
  EXPECT_EQ(session.Status().reconnects, 0);

  // Once recorded, it is not sent again.
  ASSERT_TRUE(session.Submit(Completion("r3", 12)).ok());
  ASSERT_TRUE(session.WaitForAllAcked(kWait));
  EXPECT_THAT(service_.Received(), ElementsAre("r1", "r1", "r2", "r3"));
}

TEST_F(ParticipantSessionTest, AReportAckedUnavailableIsSentOncePerAck) {
  ParticipantSession& session = StartSession();
  ASSERT_TRUE(session.WaitForLink(LinkState::kLive, kWait));
  service_.AnswerUnavailableOnce("r1");
  service_.AnswerUnavailableOnce("r2");
  ASSERT_TRUE(session.Submit(Completion("r1", 10)).ok());
  ASSERT_EQ(WaitForAcksSeen(1).size(), 1u);
  // r1 goes again (recorded now) with r2, which is refused once in turn.
  ASSERT_TRUE(session.Submit(Completion("r2", 11)).ok());
  ASSERT_EQ(WaitForAcksSeen(3).size(), 3u);
  EXPECT_EQ(session.PendingReports(), 1);
  ASSERT_TRUE(session.Submit(Completion("r3", 12)).ok());
  ASSERT_TRUE(session.WaitForAllAcked(kWait));
  EXPECT_THAT(service_.Received(), ElementsAre("r1", "r1", "r2", "r2", "r3"));
}

}  // namespace
}  // namespace circuit::client
