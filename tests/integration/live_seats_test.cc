// Seats as proto/README.md describes them: the hold, what a resume gets,
// what a released seat answers, and joins retried with a client join id.

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"

namespace circuit::testing {
namespace {

using ::testing::HasSubstr;

bool HasConnection(const std::vector<v1::RunClassResponse>& all,
                   const std::string& participant_id,
                   v1::ConnectionState state) {
  for (const auto& m : all) {
    if (m.has_event() && m.event().has_connection() &&
        m.event().connection().participant_id() == participant_id &&
        m.event().connection().connection() == state) {
      return true;
    }
  }
  return false;
}

// Opens a JoinClass stream and sends `first`.
std::unique_ptr<ParticipantClient> Open(LiveServer& server,
                                        const v1::JoinClassRequest& first,
                                        const std::string& token = "") {
  auto client = std::make_unique<ParticipantClient>();
  client->context = Context(token);
  client->stream = server.stub()->JoinClass(client->context.get());
  EXPECT_TRUE(client->stream->Write(first));
  client->in.Start(client->stream.get());
  return client;
}

v1::JoinClassRequest JoinWithId(const std::string& code,
                                const std::string& client_join_id) {
  v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(code);
  join.mutable_join()->mutable_check_in()->set_display_name("Dana");
  join.mutable_join()->set_client_join_id(client_join_id);
  return join;
}

std::optional<v1::Joined> JoinedOf(ParticipantClient& client) {
  std::optional<v1::Joined> joined;
  client.in.WaitFor([&](const auto& all) {
    for (const auto& m : all) {
      if (m.has_joined()) {
        joined = m.joined();
        return true;
      }
    }
    return false;
  });
  return joined;
}

class LiveSeatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    info_ = server_.CreateClass("kickback-trio");
    instructor_ = server_.Instruct(info_.class_id());
  }

  LiveServer server_;
  v1::ClassInfo info_;
  std::unique_ptr<InstructorClient> instructor_;
};

TEST_F(LiveSeatsTest, JoinedCarriesTheHold) {
  auto dana = server_.Join(info_.join_code(), "Dana");
  std::optional<v1::Joined> joined = JoinedOf(*dana);
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->hold_ms(), 600'000);
}

TEST_F(LiveSeatsTest, ResumeAfterLeaveIsNotFound) {
  auto dana = server_.Join(info_.join_code(), "Dana");
  v1::JoinClassRequest leave;
  leave.mutable_leave();
  ASSERT_TRUE(dana->stream->Write(leave));
  EXPECT_TRUE(dana->in.WaitDone().ok());
  auto again = server_.Resume(dana->resume_token, dana->LastSeq());
  grpc::Status status = again->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("join again"));
}

TEST_F(LiveSeatsTest, ResumeFromSeqZeroGetsAMissedEventsSnapshot) {
  auto dana = server_.Join(info_.join_code(), "Dana");
  auto again = server_.Resume(dana->resume_token, 0);
  ASSERT_TRUE(again->in.WaitFor([](const auto& all) {
    for (const auto& m : all) {
      if (m.has_snapshot()) return true;
    }
    return false;
  }));
  for (const auto& m : again->in.messages()) {
    if (m.has_snapshot()) {
      EXPECT_EQ(m.snapshot().reason(), v1::SNAPSHOT_REASON_MISSED_EVENTS);
    }
  }
}

TEST_F(LiveSeatsTest, StreamClosedAfterTheEndLeavesInsteadOfHolding) {
  auto dana = server_.Join(info_.join_code(), "Dana");
  ASSERT_EQ(instructor_->Send(Cmd([](auto* c) { c->mutable_end(); })).code(),
            0);
  dana->stream->WritesDone();
  EXPECT_TRUE(dana->in.WaitDone().ok());
  EXPECT_TRUE(instructor_->in.WaitFor([&](const auto& all) {
    return HasConnection(all, dana->participant_id, v1::CONNECTION_STATE_LEFT);
  }));
  EXPECT_FALSE(HasConnection(instructor_->in.messages(), dana->participant_id,
                             v1::CONNECTION_STATE_DROPPED));
}

TEST_F(LiveSeatsTest, JoinRetriedWithTheSameClientJoinIdKeepsTheSeat) {
  const std::string id = "c0ffee-7a1b-4d2e-9f3a-5b6c7d8e9f01";
  auto first = Open(server_, JoinWithId(info_.join_code(), id));
  std::optional<v1::Joined> joined = JoinedOf(*first);
  ASSERT_TRUE(joined.has_value());
  // The phone never saw that Joined and tries again.
  first.reset();
  auto retry = Open(server_, JoinWithId(info_.join_code(), id));
  std::optional<v1::Joined> rejoined = JoinedOf(*retry);
  ASSERT_TRUE(rejoined.has_value());
  EXPECT_EQ(rejoined->participant_id(), joined->participant_id());
  EXPECT_NE(rejoined->resume_token(), joined->resume_token());
  // One seat; the lost token no longer opens it.
  v1::InstructorSnapshot snapshot = FreshSnapshot(server_, info_.class_id());
  EXPECT_EQ(snapshot.roster_size(), 1);
  auto stale = server_.Resume(joined->resume_token(), 0);
  EXPECT_EQ(stale->in.WaitDone().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Another id is another person.
  auto other =
      Open(server_, JoinWithId(info_.join_code(), "another-phone-42-abcdef"));
  std::optional<v1::Joined> other_joined = JoinedOf(*other);
  ASSERT_TRUE(other_joined.has_value());
  EXPECT_NE(other_joined->participant_id(), joined->participant_id());
}

TEST_F(LiveSeatsTest, ShortClientJoinIdIsRefused) {
  auto client = Open(server_, JoinWithId(info_.join_code(), "short"));
  grpc::Status status = client->in.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("client_join_id"));
}

TEST(LiveHoldTest, ResumeAfterTheHoldRanOutIsNotFound) {
  FakeClock clock(absl::Now());
  LiveServer server(LiveServer::DefaultOptions(), &clock);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto dana = server.Join(info.join_code(), "Dana");
  const std::string token = dana->resume_token;
  const std::string id = dana->participant_id;
  dana.reset();  // cancelled: a drop
  ASSERT_TRUE(instructor->in.WaitFor([&](const auto& all) {
    return HasConnection(all, id, v1::CONNECTION_STATE_DROPPED);
  }));
  clock.Advance(absl::Minutes(11));
  ASSERT_TRUE(instructor->in.WaitFor([&](const auto& all) {
    return HasConnection(all, id, v1::CONNECTION_STATE_LEFT);
  }));
  auto again = server.Resume(token, 0);
  EXPECT_EQ(again->in.WaitDone().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace circuit::testing
