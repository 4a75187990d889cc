// The after-class commands end to end: a class run on the real circuitd,
// which is then restarted on the same data; `circuit classes --all`,
// `class summary`, `class export`, `class wall` and `class erase` read it
// back.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "circuit/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using testing::BinaryPath;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Subprocess;

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr char kInstructorKey[] = "history-instructor";
constexpr char kKioskKey[] = "history-kiosk";

std::unique_ptr<grpc::ClientContext> Context(const std::string& key = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  if (!key.empty()) context->AddMetadata("authorization", "Bearer " + key);
  return context;
}

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class CircuitHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = testing::MakeTempDir() + "/data";
    Start();
  }
  void TearDown() override { Stop(); }

  void Start() {
    auto circuitd = testing::StartCircuitd(
        {"--data_dir=" + data_dir_,
         absl::StrCat("--instructor_key=", kInstructorKey),
         absl::StrCat("--kiosk_key=", kKioskKey)},
        absl::Now() + kTimeout);
    ASSERT_TRUE(circuitd.ok()) << circuitd.status();
    circuitd_ = std::move(*circuitd);
    stub_ = v1::CircuitService::NewStub(grpc::CreateChannel(
        circuitd_.address, grpc::InsecureChannelCredentials()));
  }
  void Stop() {
    if (circuitd_.process == nullptr) return;
    // Our idle channel would hold circuitd's drain until its grace runs out
    // (gRPC 1.51 waits on connections that carried streams).
    stub_.reset();
    circuitd_.process->Signal(SIGTERM);
    auto code = circuitd_.process->Wait(absl::Now() + kTimeout);
    EXPECT_TRUE(code.ok() && *code == 0) << circuitd_.process->stderr_text();
    circuitd_.process.reset();
  }

  Result Circuit(std::vector<std::string> args,
                 const std::string& key = kInstructorKey) {
    std::vector<std::string> argv = {BinaryPath("circuit"),
                                     "--address=" + circuitd_.address,
                                     "--key=" + key};
    argv.insert(argv.end(), args.begin(), args.end());
    auto process = Subprocess::Start(argv);
    EXPECT_TRUE(process.ok());
    Result result;
    result.out = process->ReadAll(absl::Now() + kTimeout);
    auto code = process->Wait(absl::Now() + kTimeout);
    result.code = code.ok() ? *code : -1;
    result.err = process->stderr_text();
    return result;
  }

  // A class with Dana (shown on the wall: left 10, right 7 reps, a leaking
  // symptom) and Priv (not shown), run to its end.
  v1::ClassInfo RunClass() {
    v1::CreateClassRequest create;
    create.set_circuit_id("kickback-trio");
    create.set_title("Tuesday mums");
    v1::CreateClassResponse created;
    EXPECT_TRUE(
        stub_->CreateClass(Context(kInstructorKey).get(), create, &created)
            .ok());
    const v1::ClassInfo info = created.class_info();
    auto instructor_context = Context(kInstructorKey);
    auto instructor = stub_->RunClass(instructor_context.get());
    v1::RunClassRequest request;
    request.mutable_attach()->set_class_id(info.class_id());
    instructor->Write(request);
    auto command = [&](const std::string& id, auto fill) {
      v1::RunClassRequest r;
      r.mutable_command()->set_command_id(id);
      fill(r.mutable_command());
      EXPECT_TRUE(instructor->Write(r));
      v1::RunClassResponse response;
      while (instructor->Read(&response)) {
        if (response.has_command_result() &&
            response.command_result().command_id() == id) {
          EXPECT_EQ(response.command_result().code(), 0)
              << response.command_result().message();
          return;
        }
      }
      ADD_FAILURE() << "no result for " << id;
    };
    command("start", [](v1::InstructorCommand* c) { c->mutable_start(); });
    auto participant = [&](const std::string& name, bool shown,
                           std::vector<v1::JoinClassRequest> reports) {
      auto context = Context();
      auto stream = stub_->JoinClass(context.get());
      v1::JoinClassRequest join;
      join.mutable_join()->set_join_code(info.join_code());
      join.mutable_join()->mutable_check_in()->set_display_name(name);
      join.mutable_join()->mutable_check_in()->set_show_name_on_kiosk(shown);
      EXPECT_TRUE(stream->Write(join));
      for (const auto& r : reports) EXPECT_TRUE(stream->Write(r));
      size_t acks = 0;
      v1::JoinClassResponse response;
      while (acks < reports.size() && stream->Read(&response)) {
        if (response.has_ack()) {
          EXPECT_EQ(response.ack().code(), 0) << response.ack().message();
          ++acks;
        }
      }
      v1::JoinClassRequest leave;
      leave.mutable_leave();
      stream->Write(leave);
      stream->WritesDone();
      while (stream->Read(&response)) {
      }
      EXPECT_TRUE(stream->Finish().ok());
    };
    auto completion = [](const std::string& id, v1::Side side, int reps) {
      v1::JoinClassRequest r;
      r.mutable_completion()->set_report_id(id);
      r.mutable_completion()->set_block_index(0);
      r.mutable_completion()->set_set(1);
      r.mutable_completion()->set_side(side);
      r.mutable_completion()->set_reps(reps);
      return r;
    };
    v1::JoinClassRequest symptom;
    symptom.mutable_symptom()->set_report_id("s1");
    symptom.mutable_symptom()->set_symptom(v1::SYMPTOM_LEAKING);
    participant("Dana", true,
                {completion("a", v1::SIDE_LEFT, 10),
                 completion("b", v1::SIDE_RIGHT, 7), symptom});
    participant("Priv", false, {completion("c", v1::SIDE_LEFT, 9)});
    command("end", [](v1::InstructorCommand* c) { c->mutable_end(); });
    instructor_context->TryCancel();
    instructor->Finish().IgnoreError();
    return info;
  }

  std::string data_dir_;
  testing::Circuitd circuitd_;
  std::unique_ptr<v1::CircuitService::Stub> stub_;
};

TEST_F(CircuitHistoryTest, LastWeeksClassIsStillThereToReadAndExport) {
  const v1::ClassInfo info = RunClass();
  Stop();
  Start();

  Result listed = Circuit({"classes", "--all"});
  EXPECT_EQ(listed.code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(info.class_id()));
  EXPECT_THAT(listed.out, HasSubstr("Tuesday mums"));

  Result summary = Circuit({"class", "summary", info.class_id()});
  EXPECT_EQ(summary.code, 0) << summary.err;
  EXPECT_THAT(summary.out, HasSubstr("Dana"));
  EXPECT_THAT(summary.out, HasSubstr("leaking"));
  EXPECT_THAT(summary.out, HasSubstr("10"));

  Result json = Circuit({"class", "export", info.class_id(), "--format=json"});
  EXPECT_EQ(json.code, 0) << json.err;
  v1::ClassSummary parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok())
      << json.out;
  ASSERT_EQ(parsed.participants_size(), 2);
  ASSERT_GE(parsed.participants(0).exercises_size(), 1);
  EXPECT_EQ(parsed.participants(0).exercises(0).left_reps(), 10);
  EXPECT_EQ(parsed.participants(0).exercises(0).right_reps(), 7);

  Result csv = Circuit({"class", "export", info.class_id(), "--format=csv"});
  EXPECT_EQ(csv.code, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr("class_id,participant_id,display_name"));
  EXPECT_THAT(csv.out, HasSubstr("Dana"));

  // The wall, with the kiosk's key: consenting names and reps only.
  Result wall = Circuit({"class", "wall", info.class_id()}, kKioskKey);
  EXPECT_EQ(wall.code, 0) << wall.err;
  EXPECT_THAT(wall.out, HasSubstr("Dana"));
  EXPECT_THAT(wall.out, Not(HasSubstr("Priv")));
  EXPECT_THAT(wall.out, Not(HasSubstr("leaking")));
  // The kiosk's key opens no summary.
  EXPECT_NE(Circuit({"class", "summary", info.class_id()}, kKioskKey).code, 0);

  // Dana asks for her health data to be erased.
  Result erased =
      Circuit({"class", "erase", info.class_id(),
               "--participant=" + parsed.participants(0).participant_id()});
  EXPECT_EQ(erased.code, 0) << erased.err;
  Result after = Circuit({"class", "export", info.class_id(), "--format=json"});
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(after.out, &parsed).ok());
  EXPECT_TRUE(parsed.participants(0).health_data_removed());
  EXPECT_EQ(parsed.participants(0).symptoms_size(), 0);
  EXPECT_EQ(parsed.participants(0).total_reps(), 17);
}

}  // namespace
}  // namespace circuit
