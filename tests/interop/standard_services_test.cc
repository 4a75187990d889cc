// The standard services of the real circuitd binary, checked from outside in
// Python (Debian's python3-grpcio): health, including the NOT_SERVING a
// watcher sees when SIGTERM starts the drain, and server reflection, used on
// its own to call CircuitService without any circuit.v1 stubs.
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Subprocess;

constexpr char kInstructorKey[] = "standard-services-instructor-key";
constexpr char kKioskKey[] = "standard-services-kiosk-key";
// Generous: deadlines only bound a failure, they never pace the test.
constexpr absl::Duration kTimeout = absl::Seconds(20);
// Far beyond every deadline of the tests: circuitd exits within one only if
// nothing open (a health watch, a class stream) held its drain.
constexpr int kGraceSeconds = 3600;

// Lines of `text`, without a trailing empty one.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

class StandardServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto circuitd = testing::StartCircuitd(
        {absl::StrCat("--instructor_key=", kInstructorKey),
         absl::StrCat("--kiosk_key=", kKioskKey),
         absl::StrCat("--shutdown_grace_seconds=", kGraceSeconds)},
        absl::Now() + kTimeout);
    ASSERT_TRUE(circuitd.ok()) << circuitd.status();
    circuitd_ = std::move(circuitd->process);
    address_ = circuitd->address;
  }

  // Starts tests/interop/python/<script> with Debian's Python and the
  // generated stubs, against this circuitd.
  std::unique_ptr<Subprocess> StartPython(
      const std::string& script, const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv = {
        "/usr/bin/env",
        "-u",
        "PYTHONHOME",
        "PYTHONNOUSERSITE=1",
        absl::StrCat("PYTHONPATH=", CIRCUIT_PY_GEN_DIR),
        "/usr/bin/python3",
        absl::StrCat(CIRCUIT_INTEROP_DIR, "/python/", script),
        "--address=" + address_,
    };
    argv.insert(argv.end(), args.begin(), args.end());
    auto process = Subprocess::Start(argv);
    if (!process.ok()) {
      ADD_FAILURE() << process.status();
      return nullptr;
    }
    return std::make_unique<Subprocess>(std::move(*process));
  }

  struct Result {
    int exit_code = -1;
    std::string out;
    std::string err;
  };

  // Runs a script to completion.
  Result RunPython(const std::string& script,
                   const std::vector<std::string>& args = {}) {
    Result result;
    std::unique_ptr<Subprocess> python = StartPython(script, args);
    if (python == nullptr) return result;
    result.out = python->ReadAll(absl::Now() + kTimeout);
    absl::StatusOr<int> code = python->Wait(absl::Now() + kTimeout);
    EXPECT_TRUE(code.ok()) << script << ": " << code.status();
    if (code.ok()) result.exit_code = *code;
    result.err = python->stderr_text();
    return result;
  }

  std::unique_ptr<Subprocess> circuitd_;
  std::string address_;
};

TEST_F(StandardServicesTest, HealthCheckIsServingAndUnknownIsNotFound) {
  Result result = RunPython("health_check.py");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(Lines(result.out),
              ElementsAre("check \"\" SERVING",
                          "check \"circuit.v1.CircuitService\" SERVING",
                          "check \"circuit.v1.NoSuchService\" NOT_FOUND"));
}

TEST_F(StandardServicesTest, WatcherSeesNotServingWhenSigtermDrains) {
  std::unique_ptr<Subprocess> watcher =
      StartPython("health_check.py", {"--watch"});
  ASSERT_NE(watcher, nullptr);
  absl::StatusOr<std::string> line = watcher->ReadLine(absl::Now() + kTimeout);
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_EQ(*line, "SERVING");

  // A participant in a class, so the drain has a live stream to end.
  auto stub = v1::CircuitService::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(20);
  grpc::ClientContext create_context;
  create_context.set_deadline(deadline);
  create_context.AddMetadata("authorization",
                             absl::StrCat("Bearer ", kInstructorKey));
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  grpc::Status status = stub->CreateClass(&create_context, create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  grpc::ClientContext join_context;
  join_context.set_deadline(deadline);
  auto participant = stub->JoinClass(&join_context);
  v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(created.class_info().join_code());
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  ASSERT_TRUE(participant->Write(join));
  v1::JoinClassResponse joined;
  ASSERT_TRUE(participant->Read(&joined));
  ASSERT_TRUE(joined.has_joined());

  circuitd_->Signal(SIGTERM);
  line = watcher->ReadLine(absl::Now() + kTimeout);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "NOT_SERVING");

  bool going_away = false;
  v1::JoinClassResponse message;
  while (participant->Read(&message)) {
    going_away = going_away || message.has_going_away();
  }
  EXPECT_TRUE(going_away);
  EXPECT_EQ(participant->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  // The drain ends on its own, long before its grace period: circuitd has
  // exited, 0, while the grace still has most of an hour to go.
  absl::StatusOr<int> code = circuitd_->Wait(absl::Now() + kTimeout);
  ASSERT_TRUE(code.ok()) << "circuitd still draining: " << code.status();
  EXPECT_EQ(*code, 0) << circuitd_->stderr_text();

  // The server finished the watch (OK), rather than cancelling it at the end
  // of the grace; the watcher saw nothing after NOT_SERVING and exits 0.
  std::vector<std::string> rest =
      Lines(watcher->ReadAll(absl::Now() + kTimeout));
  EXPECT_THAT(rest, ElementsAre("ended OK"));
  code = watcher->Wait(absl::Now() + kTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << watcher->stderr_text();
}

TEST_F(StandardServicesTest, ReflectionAloneSufficesToCallTheService) {
  Result result = RunPython("reflection_check.py");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::string> lines = Lines(result.out);
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("services: "),
                                    HasSubstr("circuit.v1.CircuitService"),
                                    HasSubstr("grpc.health.v1.Health"),
                                    HasSubstr("ServerReflection"))));
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("files: "),
                                    HasSubstr("circuit/v1/circuits.proto"),
                                    HasSubstr("circuit/v1/live.proto"),
                                    HasSubstr("circuit/v1/service.proto"))));
  EXPECT_THAT(lines, Contains("unknown symbol: NOT_FOUND"));
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("ListCircuits: "),
                                    HasSubstr("kickback-trio"))));
  EXPECT_THAT(lines, Contains(HasSubstr("GetCircuit kickback-trio: ")));
  EXPECT_THAT(lines, Contains(HasSubstr("GetClock: echo ok")));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "reflection check OK");
}

}  // namespace
}  // namespace circuit
