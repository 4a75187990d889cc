// grpc.health.v1.Health as circuitd serves it: per-service status, watches
// that see draining and then end, so a watcher never holds up a shutdown.

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"

namespace circuit::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class LiveHealthTest : public ::testing::Test {
 protected:
  LiveHealthTest() : health_(Health::NewStub(server_.channel())) {}

  grpc::Status Check(const std::string& service,
                     HealthCheckResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    HealthCheckRequest request;
    request.set_service(service);
    return health_->Check(&context, request, response);
  }

  LiveServer server_;
  std::unique_ptr<Health::Stub> health_;
};

TEST_F(LiveHealthTest, ChecksTheServerAndTheServiceByName) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check("", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(Check("circuit.v1.CircuitService", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  grpc::Status unknown = Check("circuit.v1.Nope", &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.error_message().find("circuit.v1.Nope"), std::string::npos);
}

TEST_F(LiveHealthTest, ACheckThatDoesNotParseIsRefusedSayingSo) {
  grpc::GenericStub generic(server_.channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  // Field 1 (service) as a varint: not a HealthCheckRequest.
  const char garbage[] = {0x08, static_cast<char>(0xff)};
  grpc::Slice slice(garbage, sizeof(garbage));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check",
                    grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("grpc.health.v1.HealthCheckRequest"),
            std::string::npos)
      << status.error_message();
}

TEST_F(LiveHealthTest, WatchersSeeDrainingAndTheirStreamsEnd) {
  // Two watchers: the server as a whole and a name it does not serve.
  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader;
  };
  Watch all, unknown;
  HealthCheckRequest request;
  all.reader = health_->Watch(&all.context, request);
  request.set_service("circuit.v1.Nope");
  unknown.reader = health_->Watch(&unknown.context, request);

  HealthCheckResponse response;
  ASSERT_TRUE(all.reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(unknown.reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);

  // The drain's deadline is far off: the watches must end on their own.
  std::thread drain(
      [&] { server_.server()->Shutdown(absl::Now() + absl::Minutes(5)); });
  ASSERT_TRUE(all.reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(all.reader->Read(&response));
  EXPECT_TRUE(all.reader->Finish().ok());
  EXPECT_FALSE(unknown.reader->Read(&response));
  EXPECT_TRUE(unknown.reader->Finish().ok());
  drain.join();
}

}  // namespace
}  // namespace circuit::testing
