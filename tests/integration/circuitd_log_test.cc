// The whole log of a real circuitd that ran a class with efforts and
// symptoms holds no health data and no secret: not the symptom texts, not
// the instructor or kiosk key, not an account or class credential, not a
// resume token, not the data key. Also
// runs `circuitd --rotate_data_key` with the operator's keys and checks the
// rotated journal still opens under the new key alone.

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "circuit/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;
using testing::Subprocess;

constexpr absl::Duration kDeadline = absl::Seconds(30);
constexpr char kInstructorKey[] = "ik-secret-4417-qz";
constexpr char kKioskKey[] = "kk-secret-5528-qz";
const char* const kSymptomTexts[] = {"zq-leak-marker-7", "zq-heavy-marker-8"};
// Rejected (a control character): it must not reach the log either.
constexpr char kRejectedText[] = "zq-bad\nmarker-9";
constexpr char kRejectedMarker[] = "zq-bad";

// Two operator keys: 3 is used first, then rotated to 4.
std::string KeyHex(char fill) {
  return absl::BytesToHexString(std::string(32, fill));
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  if (!bearer.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", bearer));
  }
  return context;
}

// Reads `stream` until `done` says so, or it ends.
template <typename Stream, typename Response, typename Pred>
bool ReadUntil(Stream* stream, Response* response, Pred done) {
  while (stream->Read(response)) {
    if (done(*response)) return true;
  }
  return false;
}

class ScopedEnv {
 public:
  // An empty value leaves it unset.
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (!value.empty()) setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

struct Running {
  std::unique_ptr<Subprocess> process;
  std::unique_ptr<v1::CircuitService::Stub> stub;
};

Running StartCircuitd(const std::string& data_dir,
                      const std::string& data_keys) {
  ScopedEnv env("CIRCUIT_DATA_KEY", data_keys);
  absl::StatusOr<testing::Circuitd> circuitd = testing::StartCircuitd(
      {"--data_dir=" + data_dir,
       std::string("--instructor_key=") + kInstructorKey,
       std::string("--kiosk_key=") + kKioskKey, "--shutdown_grace_seconds=1"},
      absl::Now() + kDeadline);
  EXPECT_TRUE(circuitd.ok()) << circuitd.status();
  Running run;
  if (!circuitd.ok()) return run;
  run.process = std::move(circuitd->process);
  run.stub = v1::CircuitService::NewStub(grpc::CreateChannel(
      circuitd->address, grpc::InsecureChannelCredentials()));
  return run;
}

// Stops circuitd with SIGTERM; everything it wrote.
std::string StopAndLog(Running& run) {
  run.process->Signal(SIGTERM);
  std::string out = run.process->ReadAll(absl::Now() + kDeadline);
  absl::StatusOr<int> code = run.process->Wait(absl::Now() + kDeadline);
  EXPECT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code.value_or(-1), 0);
  return out + run.process->stderr_text();
}

TEST(CircuitdLogTest, AClassWithSymptomsLeavesNoHealthDataOrSecretInTheLog) {
  const std::string data_dir = testing::MakeTempDir() + "/data";
  const std::string data_keys = absl::StrCat("3:", KeyHex('\x33'));
  Running run = StartCircuitd(data_dir, data_keys);
  ASSERT_NE(run.process, nullptr);
  std::vector<std::string> secrets = {
      kInstructorKey, kKioskKey, KeyHex('\x33'),
      absl::Base64Escape(std::string(32, '\x33'))};

  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  ASSERT_TRUE(
      run.stub->CreateClass(Context(kInstructorKey).get(), create, &created)
          .ok());
  const std::string class_id = created.class_info().class_id();

  auto instructor_context = Context(kInstructorKey);
  auto instructor = run.stub->RunClass(instructor_context.get());
  v1::RunClassRequest command;
  command.mutable_attach()->set_class_id(class_id);
  ASSERT_TRUE(instructor->Write(command));
  command.Clear();
  command.mutable_command()->set_command_id("start");
  command.mutable_command()->mutable_start();
  ASSERT_TRUE(instructor->Write(command));
  v1::RunClassResponse from_console;
  ASSERT_TRUE(ReadUntil(instructor.get(), &from_console, [](const auto& m) {
    return m.has_command_result() && m.command_result().command_id() == "start";
  }));

  auto kiosk_context = Context(kKioskKey);
  v1::WatchClassRequest watch;
  watch.set_class_id(class_id);
  auto kiosk = run.stub->WatchClass(kiosk_context.get(), watch);
  v1::WatchClassResponse on_wall;
  ASSERT_TRUE(kiosk->Read(&on_wall));

  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    auto context = Context();
    auto stream = run.stub->JoinClass(context.get());
    v1::JoinClassRequest request;
    request.mutable_join()->set_join_code(created.class_info().join_code());
    request.mutable_join()->mutable_check_in()->set_display_name(
        absl::StrCat("Mara", i));
    request.mutable_join()->mutable_check_in()->set_weeks_postpartum(9 + i);
    request.mutable_join()->mutable_check_in()->set_track(
        v1::RECOVERY_TRACK_CESAREAN);
    ASSERT_TRUE(stream->Write(request));
    v1::JoinClassResponse response;
    ASSERT_TRUE(ReadUntil(stream.get(), &response,
                          [](const auto& m) { return m.has_joined(); }));
    const std::string token = response.joined().resume_token();
    ASSERT_FALSE(token.empty());
    secrets.push_back(token);

    request.Clear();
    request.mutable_effort()->set_report_id(absl::StrCat("e", i));
    request.mutable_effort()->set_cr10(7 + i);
    ASSERT_TRUE(stream->Write(request));
    request.Clear();
    request.mutable_symptom()->set_report_id(absl::StrCat("s", i));
    request.mutable_symptom()->set_symptom(v1::SYMPTOM_OTHER);
    request.mutable_symptom()->set_other_text(kSymptomTexts[i]);
    ASSERT_TRUE(stream->Write(request));
    request.Clear();
    request.mutable_symptom()->set_report_id(absl::StrCat("bad", i));
    request.mutable_symptom()->set_symptom(v1::SYMPTOM_OTHER);
    request.mutable_symptom()->set_other_text(kRejectedText);
    ASSERT_TRUE(stream->Write(request));
    const std::string last = absl::StrCat("bad", i);
    ASSERT_TRUE(ReadUntil(stream.get(), &response, [&](const auto& m) {
      return m.has_ack() && m.ack().report_id() == last;
    }));
    EXPECT_NE(response.ack().code(), 0);
    context->TryCancel();
    stream->Finish();

    // A resume with the token, and one with a wrong token.
    for (const std::string& bearer : {token, token + "x"}) {
      auto resume_context = Context(bearer);
      auto resumed = run.stub->JoinClass(resume_context.get());
      request.Clear();
      request.mutable_resume()->set_last_seq(0);
      ASSERT_TRUE(resumed->Write(request));
      ReadUntil(resumed.get(), &response, [](const auto&) { return true; });
      resume_context->TryCancel();
      resumed->Finish();
    }
  }

  v1::GetClassSummaryRequest get_summary;
  get_summary.set_class_id(class_id);
  v1::ClassSummary summary;
  ASSERT_TRUE(run.stub
                  ->GetClassSummary(Context(kInstructorKey).get(), get_summary,
                                    &summary)
                  .ok());
  ASSERT_EQ(summary.participants_size(), 2);
  EXPECT_EQ(summary.participants(0).symptoms(0).other_text(), kSymptomTexts[0]);

  // An account and a class credential: used, then reissued; none of them
  // (nor their signatures) may reach the log either.
  v1::AddAccountRequest add_account;
  add_account.set_name("Maya");
  add_account.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
  v1::AccountCredential maya;
  ASSERT_TRUE(
      run.stub->AddAccount(Context(kInstructorKey).get(), add_account, &maya)
          .ok());
  v1::CreateClassResponse mayas_class;
  ASSERT_TRUE(
      run.stub
          ->CreateClass(Context(maya.credential()).get(), create, &mayas_class)
          .ok());
  v1::IssueClassCredentialRequest issue;
  issue.set_class_id(mayas_class.class_info().class_id());
  v1::ClassCredential substitute;
  ASSERT_TRUE(run.stub
                  ->IssueClassCredential(Context(maya.credential()).get(),
                                         issue, &substitute)
                  .ok());
  v1::GetClassSummaryRequest get_mayas;
  get_mayas.set_class_id(issue.class_id());
  v1::ClassSummary mayas_summary;
  ASSERT_TRUE(run.stub
                  ->GetClassSummary(Context(substitute.credential()).get(),
                                    get_mayas, &mayas_summary)
                  .ok());
  v1::ReissueAccountCredentialRequest reissue;
  reissue.set_account_id(maya.account().account_id());
  v1::AccountCredential reissued;
  ASSERT_TRUE(run.stub
                  ->ReissueAccountCredential(Context(kInstructorKey).get(),
                                             reissue, &reissued)
                  .ok());
  EXPECT_EQ(run.stub
                ->GetClassSummary(Context(maya.credential()).get(), get_mayas,
                                  &mayas_summary)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  for (const std::string& token :
       {maya.credential(), substitute.credential(), reissued.credential()}) {
    secrets.push_back(token);
    secrets.push_back(token.substr(token.rfind('.') + 1));
  }
  command.Clear();
  command.mutable_command()->set_command_id("end");
  command.mutable_command()->mutable_end();
  ASSERT_TRUE(instructor->Write(command));
  ASSERT_TRUE(ReadUntil(instructor.get(), &from_console, [](const auto& m) {
    return m.has_command_result() && m.command_result().command_id() == "end";
  }));
  instructor_context->TryCancel();
  instructor->Finish();
  kiosk_context->TryCancel();
  kiosk->Finish();

  std::string log = StopAndLog(run);
  // It is the log (StartCircuitd read the banner lines, which name only
  // addresses and paths).
  EXPECT_THAT(log, HasSubstr("created from kickback-trio"));
  EXPECT_THAT(log, HasSubstr("stopped"));

  // The operator rotates to key 4, then runs with key 4 alone.
  const std::string rotated_keys =
      absl::StrCat(data_keys, ",4:", KeyHex('\x44'));
  secrets.push_back(KeyHex('\x44'));
  {
    ScopedEnv env("CIRCUIT_DATA_KEY", rotated_keys);
    absl::StatusOr<Subprocess> rotate =
        Subprocess::Start({testing::BinaryPath("circuitd"),
                           "--data_dir=" + data_dir, "--rotate_data_key"});
    ASSERT_TRUE(rotate.ok()) << rotate.status();
    const std::string out = rotate->ReadAll(absl::Now() + kDeadline);
    absl::StatusOr<int> code = rotate->Wait(absl::Now() + kDeadline);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << out << rotate->stderr_text();
    EXPECT_THAT(out, HasSubstr("sealed under data key 4"));
    log += out + rotate->stderr_text();
  }
  Running again = StartCircuitd(data_dir, absl::StrCat("4:", KeyHex('\x44')));
  ASSERT_NE(again.process, nullptr);
  v1::ClassSummary stored;
  grpc::Status read = again.stub->GetClassSummary(Context(kInstructorKey).get(),
                                                  get_summary, &stored);
  ASSERT_TRUE(read.ok()) << read.error_message();
  ASSERT_EQ(stored.participants_size(), 2);
  EXPECT_EQ(stored.participants(1).symptoms(0).other_text(), kSymptomTexts[1]);
  ASSERT_EQ(stored.participants(1).efforts_size(), 1);
  EXPECT_EQ(stored.participants(1).efforts(0).cr10(), 8);
  log += StopAndLog(again);

  for (const char* text : kSymptomTexts) {
    EXPECT_THAT(log, Not(HasSubstr(text))) << "health data in the log";
  }
  EXPECT_THAT(log, Not(HasSubstr(kRejectedMarker))) << "health data in the log";
  EXPECT_THAT(log, Not(HasSubstr("zq-"))) << "health data in the log";
  for (const std::string& secret : secrets) {
    EXPECT_THAT(log, Not(HasSubstr(secret))) << "a secret in the log";
  }
  // Shown when a check above fails.
  SCOPED_TRACE(log);
}

// Creates a class, joins it and reports a symptom with `text`; the class id.
std::string ClassWithASymptom(v1::CircuitService::Stub* stub,
                              const std::string& text) {
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  grpc::Status status =
      stub->CreateClass(Context(kInstructorKey).get(), create, &created);
  EXPECT_TRUE(status.ok()) << status.error_message();
  auto context = Context();
  auto stream = stub->JoinClass(context.get());
  v1::JoinClassRequest request;
  request.mutable_join()->set_join_code(created.class_info().join_code());
  request.mutable_join()->mutable_check_in()->set_display_name("Mara");
  EXPECT_TRUE(stream->Write(request));
  request.Clear();
  request.mutable_symptom()->set_report_id("s");
  request.mutable_symptom()->set_symptom(v1::SYMPTOM_OTHER);
  request.mutable_symptom()->set_other_text(text);
  EXPECT_TRUE(stream->Write(request));
  v1::JoinClassResponse response;
  EXPECT_TRUE(ReadUntil(stream.get(), &response, [](const auto& m) {
    return m.has_ack() && m.ack().report_id() == "s";
  }));
  EXPECT_EQ(response.ack().code(), 0);
  context->TryCancel();
  stream->Finish();
  return created.class_info().class_id();
}

std::vector<std::string> SymptomTexts(v1::CircuitService::Stub* stub,
                                      const std::string& class_id) {
  v1::GetClassSummaryRequest request;
  request.set_class_id(class_id);
  v1::ClassSummary summary;
  grpc::Status status =
      stub->GetClassSummary(Context(kInstructorKey).get(), request, &summary);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> texts;
  for (const auto& p : summary.participants()) {
    for (const auto& s : p.symptoms()) texts.push_back(s.other_text());
  }
  return texts;
}

// circuitd --rotate_data_key; its exit code and everything it wrote.
std::pair<int, std::string> Rotate(const std::string& data_dir) {
  absl::StatusOr<Subprocess> rotate =
      Subprocess::Start({testing::BinaryPath("circuitd"),
                         "--data_dir=" + data_dir, "--rotate_data_key"});
  EXPECT_TRUE(rotate.ok()) << rotate.status();
  if (!rotate.ok()) return {-1, ""};
  std::string out = rotate->ReadAll(absl::Now() + kDeadline);
  absl::StatusOr<int> code = rotate->Wait(absl::Now() + kDeadline);
  EXPECT_TRUE(code.ok()) << code.status();
  return {code.value_or(-1), out + rotate->stderr_text()};
}

TEST(CircuitdLogTest, RotatingTheKeyDirectoryLetsTheOldKeyGo) {
  const std::string data_dir = testing::MakeTempDir() + "/data";
  Running run = StartCircuitd(data_dir, "");
  ASSERT_NE(run.process, nullptr);
  const std::string class_id =
      ClassWithASymptom(run.stub.get(), "zq-rotate-marker-3");

  // Not while circuitd runs: refused, and no key is added.
  auto [refused, refused_out] = Rotate(data_dir);
  EXPECT_EQ(refused, 1);
  EXPECT_THAT(refused_out, HasSubstr("another circuitd"));
  EXPECT_FALSE(std::filesystem::exists(data_dir + "/keys/data-2.key"));
  StopAndLog(run);

  auto [code, out] = Rotate(data_dir);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("added data key 2"));
  EXPECT_THAT(out, HasSubstr("sealed under data key 2"));
  ASSERT_TRUE(std::filesystem::remove(data_dir + "/keys/data-1.key"));

  Running again = StartCircuitd(data_dir, "");
  ASSERT_NE(again.process, nullptr);
  EXPECT_THAT(SymptomTexts(again.stub.get(), class_id),
              ::testing::ElementsAre("zq-rotate-marker-3"));
  const std::string log = StopAndLog(again);
  EXPECT_THAT(log, Not(HasSubstr("left out")));
}

}  // namespace
}  // namespace circuit
