// Starts the real circuitd binary on port 0 and talks to it over gRPC.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "circuit/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using testing::BinaryPath;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using testing::Subprocess;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

class CircuitdSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = MakeTempDir() + "/data";
    auto circuitd = testing::StartCircuitd({"--data_dir=" + data_dir_},
                                           absl::Now() + kStartTimeout);
    ASSERT_TRUE(circuitd.ok()) << circuitd.status();
    process_ = std::move(circuitd->process);
    port_ = circuitd->port;
    channel_ = grpc::CreateChannel(circuitd->address,
                                   grpc::InsecureChannelCredentials());
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    return context;
  }

  std::string data_dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CircuitdSmokeTest, HealthIsServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// The names of the threads of process `pid`.
std::vector<std::string> ThreadNames(pid_t pid) {
  std::vector<std::string> names;
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(tasks + "/" + entry->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name)) names.push_back(name);
  }
  closedir(dir);
  return names;
}

// One thread model: every call, unary ones and health included, runs on the
// completion-queue shards, so circuitd has no callback-API poller (gRPC
// names those threads "nexting_thread" and starts them as soon as a server
// registers a callback method, whether or not one is called).
TEST_F(CircuitdSmokeTest, ServesUnaryCallsAndHealthWithoutACallbackPoller) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckResponse serving;
  ASSERT_TRUE(health
                  ->Check(Context().get(),
                          grpc::health::v1::HealthCheckRequest(), &serving)
                  .ok());
  auto stub = v1::CircuitService::NewStub(channel_);
  v1::ListCircuitsResponse circuits;
  ASSERT_TRUE(
      stub->ListCircuits(Context().get(), v1::ListCircuitsRequest(), &circuits)
          .ok());
  const std::vector<std::string> names = ThreadNames(process_->pid());
  ASSERT_THAT(names, Contains("circuitd"));
  EXPECT_THAT(names, ::testing::Not(Contains("nexting_thread")));
}

TEST_F(CircuitdSmokeTest, ReflectionListsTheCircuitService) {
  auto reflection =
      grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  auto context = Context();
  auto stream = reflection->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_THAT(names, Contains("circuit.v1.CircuitService"));
  EXPECT_THAT(names, Contains("grpc.health.v1.Health"));
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(CircuitdSmokeTest, ServesTheBuiltInLibrary) {
  auto stub = v1::CircuitService::NewStub(channel_);
  v1::ListCircuitsResponse response;
  grpc::Status status =
      stub->ListCircuits(Context().get(), v1::ListCircuitsRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::set<std::string> ids;
  for (const auto& c : response.circuits()) ids.insert(c.id());
  EXPECT_THAT(ids, Contains("kickback-trio"));
  EXPECT_THAT(ids, Contains("glute-foundations"));

  v1::GetCircuitRequest get;
  get.set_circuit_id("no-such-circuit");
  v1::GetCircuitResponse circuit;
  status = stub->GetCircuit(Context().get(), get, &circuit);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("no-such-circuit"));
}

// `circuit ARGS --address=... --data_dir=...` against this circuitd: exit
// code, stdout and stderr.
struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun RunCli(const std::string& address, const std::string& data_dir,
              std::vector<std::string> args) {
  args.insert(args.begin(), BinaryPath("circuit"));
  args.push_back("--address=" + address);
  args.push_back("--data_dir=" + data_dir);
  CliRun run;
  auto process = Subprocess::Start(args);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return run;
  run.out = process->ReadAll(absl::Now() + kStartTimeout);
  auto code = process->Wait(absl::Now() + kStartTimeout);
  EXPECT_TRUE(code.ok()) << code.status();
  run.code = code.ok() ? *code : -1;
  run.err = process->stderr_text();
  return run;
}

TEST_F(CircuitdSmokeTest, AdminCommandsManageAccountsThatOwnTheirClasses) {
  const std::string address = absl::StrCat("127.0.0.1:", port_);
  // The bootstrap key (data_dir/instructor.key) adds an instructor.
  CliRun add = RunCli(address, data_dir_, {"admin", "add", "Maya"});
  ASSERT_EQ(add.code, 0) << add.err;
  EXPECT_THAT(add.out, HasSubstr("a1  instructor  studio main  Maya"));
  const std::vector<std::string> lines = absl::StrSplit(add.out, '\n');
  ASSERT_GE(lines.size(), 2u);
  const std::string maya = lines[1];
  EXPECT_EQ(std::count(maya.begin(), maya.end(), '.'), 2) << maya;

  CliRun created =
      RunCli(address, data_dir_,
             {"class", "create", "kickback-trio", "--key=" + maya, "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("\"owner_id\":\"a1\""));

  CliRun list = RunCli(address, data_dir_, {"admin", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("a1  instructor"));

  // An instructor manages no accounts; the message says why.
  CliRun denied =
      RunCli(address, data_dir_, {"admin", "add", "Lena", "--key=" + maya});
  EXPECT_EQ(denied.code, 1);
  EXPECT_THAT(denied.err, HasSubstr("needs an admin account"));
  CliRun bad_role =
      RunCli(address, data_dir_, {"admin", "add", "Lena", "--role=owner"});
  EXPECT_EQ(bad_role.code, 2);

  CliRun keys = RunCli(address, data_dir_, {"admin", "rotate-key"});
  ASSERT_EQ(keys.code, 0) << keys.err;
  EXPECT_THAT(keys.out, HasSubstr("(signs new credentials)"));

  // A one-time code for the browser console; an instructor cannot ask for
  // one.
  CliRun sign_in = RunCli(address, data_dir_, {"admin", "sign-in", "a1"});
  ASSERT_EQ(sign_in.code, 0) << sign_in.err;
  EXPECT_THAT(sign_in.out, ::testing::ContainsRegex(
                               "sign-in code for a1: [A-Z2-9]{5}-[A-Z2-9]{5}"));
  EXPECT_THAT(sign_in.out, HasSubstr("works once, until"));
  CliRun own_code =
      RunCli(address, data_dir_, {"admin", "sign-in", "a1", "--key=" + maya});
  EXPECT_EQ(own_code.code, 1);
  EXPECT_THAT(own_code.err, HasSubstr("admin"));

  CliRun revoked = RunCli(address, data_dir_, {"admin", "revoke", "a1"});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  EXPECT_THAT(revoked.out, HasSubstr("(revoked)"));
  CliRun after = RunCli(address, data_dir_,
                        {"class", "create", "kickback-trio", "--key=" + maya});
  EXPECT_EQ(after.code, 1);
  EXPECT_THAT(after.err, HasSubstr("revoked"));
}

// The value of "key":"..." in one line of JSON; "" when absent.
std::string JsonString(const std::string& json, const std::string& key) {
  const std::string start = absl::StrCat("\"", key, "\":\"");
  const size_t at = json.find(start);
  if (at == std::string::npos) return "";
  const size_t from = at + start.size();
  return json.substr(from, json.find('"', from) - from);
}

TEST_F(CircuitdSmokeTest, ProfileCommandsKeepShowAndEraseHerProfile) {
  const std::string address = absl::StrCat("127.0.0.1:", port_);
  CliRun created = RunCli(address, data_dir_,
                          {"class", "create", "kickback-trio", "--json"});
  ASSERT_EQ(created.code, 0) << created.err;
  const std::string class_id = JsonString(created.out, "class_id");
  const std::string code = JsonString(created.out, "join_code");
  ASSERT_FALSE(class_id.empty()) << created.out;

  // She joins keeping a profile; stdin is empty, so she goes at once
  // (holding her seat) with the credential saved.
  const std::string file = MakeTempDir() + "/profile";
  CliRun joined = RunCli(address, data_dir_,
                         {"join", code, "--name=Dana", "--keep_profile",
                          "--profile_file=" + file, "--plain"});
  ASSERT_EQ(joined.code, 0) << joined.err;
  CliRun shown =
      RunCli(address, data_dir_, {"profile", "show", "--profile_file=" + file});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("\"display_name\":\"Dana\""));
  const std::string profile_id = JsonString(shown.out, "profile_id");
  ASSERT_FALSE(profile_id.empty()) << shown.out;

  // Her studio's admin (here the bootstrap key) erases on her request, once
  // her class has ended.
  CliRun early = RunCli(address, data_dir_, {"profile", "erase", profile_id});
  EXPECT_EQ(early.code, 1);
  EXPECT_THAT(early.err, HasSubstr("not ended"));
  CliRun ended =
      RunCli(address, data_dir_, {"instruct", class_id, "--command=end"});
  ASSERT_EQ(ended.code, 0) << ended.err;
  CliRun progress = RunCli(address, data_dir_, {"progress", profile_id});
  ASSERT_EQ(progress.code, 0) << progress.err;
  EXPECT_THAT(progress.out, HasSubstr("Progress of Dana"));
  CliRun erased = RunCli(address, data_dir_, {"profile", "erase", profile_id});
  ASSERT_EQ(erased.code, 0) << erased.err;
  EXPECT_THAT(erased.out,
              HasSubstr(absl::StrCat("profile ", profile_id,
                                     " and her record in 1 class are erased")));
  CliRun gone =
      RunCli(address, data_dir_, {"profile", "show", "--profile_file=" + file});
  EXPECT_EQ(gone.code, 1);
  EXPECT_THAT(gone.err, HasSubstr("erased"));
}

TEST_F(CircuitdSmokeTest, ItsFilesAreReadableByItsUserAlone) {
  const std::string address = absl::StrCat("127.0.0.1:", port_);
  ASSERT_EQ(RunCli(address, data_dir_, {"admin", "add", "Maya"}).code, 0);
  ASSERT_EQ(
      RunCli(address, data_dir_, {"class", "create", "kickback-trio"}).code, 0);
  for (const std::string name :
       {"", "/circuit.db", "/instructor.key", "/kiosk.key", "/accounts.binpb",
        "/signing-keys", "/signing-keys/signing.binpb"}) {
    struct stat st;
    ASSERT_EQ(stat((data_dir_ + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 077, 0u) << name << " is open to others";
  }
}

TEST_F(CircuitdSmokeTest, SigtermTurnsHealthNotServingAndDrains) {
  // A health watcher sees the drain begin; a participant stream is told the
  // server is going away.
  auto health = grpc::health::v1::Health::NewStub(channel_);
  auto watch_context = Context();
  grpc::health::v1::HealthCheckRequest request;
  auto watch = health->Watch(watch_context.get(), request);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto stub = v1::CircuitService::NewStub(channel_);
  auto create_context = Context();
  // The key circuitd generated in its data directory.
  FILE* key_file = fopen((data_dir_ + "/instructor.key").c_str(), "r");
  ASSERT_NE(key_file, nullptr);
  char key[128] = {};
  ASSERT_NE(fgets(key, sizeof key, key_file), nullptr);
  fclose(key_file);
  std::string instructor_key(key);
  instructor_key.erase(instructor_key.find_last_not_of("\n") + 1);
  create_context->AddMetadata("authorization", "Bearer " + instructor_key);
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  ASSERT_TRUE(stub->CreateClass(create_context.get(), create, &created).ok());
  auto join_context = Context();
  auto participant = stub->JoinClass(join_context.get());
  v1::JoinClassRequest join;
  join.mutable_join()->set_join_code(created.class_info().join_code());
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  ASSERT_TRUE(participant->Write(join));
  v1::JoinClassResponse joined;
  ASSERT_TRUE(participant->Read(&joined));
  EXPECT_TRUE(joined.has_joined());

  process_->Signal(SIGTERM);
  bool not_serving = false;
  while (watch->Read(&response)) {
    if (response.status() ==
        grpc::health::v1::HealthCheckResponse::NOT_SERVING) {
      not_serving = true;
      break;
    }
  }
  EXPECT_TRUE(not_serving);
  bool going_away = false;
  v1::JoinClassResponse message;
  while (participant->Read(&message)) {
    going_away = going_away || message.has_going_away();
  }
  EXPECT_TRUE(going_away);
  EXPECT_EQ(participant->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  watch_context->TryCancel();
  watch->Finish();
  auto code = process_->Wait(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << process_->stderr_text();
}

TEST_F(CircuitdSmokeTest, SigtermStopsCleanly) {
  process_->Signal(SIGTERM);
  auto code = process_->Wait(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << process_->stderr_text();
}

TEST_F(CircuitdSmokeTest, ASecondCircuitdOnTheSameDataRefusesToStart) {
  auto second = Subprocess::Start(
      {BinaryPath("circuitd"), "--listen=127.0.0.1:0",
       "--http_listen=127.0.0.1:0", "--data_dir=" + data_dir_});
  ASSERT_TRUE(second.ok());
  auto code = second->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(second->stderr_text(), HasSubstr("another circuitd"));
  EXPECT_THAT(second->stderr_text(), HasSubstr(data_dir_));
}

TEST_F(CircuitdSmokeTest, StartsAgainOnItsOwnData) {
  process_->Signal(SIGTERM);
  ASSERT_TRUE(process_->Wait(absl::Now() + kStartTimeout).ok());
  auto again = testing::StartCircuitd({"--data_dir=" + data_dir_},
                                      absl::Now() + kStartTimeout);
  ASSERT_TRUE(again.ok()) << again.status();
  again->process->Signal(SIGTERM);
  auto code = again->process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << again->process->stderr_text();
}

// A damaged database is never overwritten: circuitd says which file and
// what is wrong, and stops.
TEST(CircuitdCommandLineTest, RefusesACorruptDatabaseAndLeavesItAlone) {
  const std::string dir = MakeTempDir();
  const std::string db = dir + "/circuit.db";
  const std::string garbage(8192, '\x5a');
  FILE* f = fopen(db.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fwrite(garbage.data(), 1, garbage.size(), f);
  fclose(f);
  auto process =
      Subprocess::Start({BinaryPath("circuitd"), "--listen=127.0.0.1:0",
                         "--http_listen=127.0.0.1:0", "--data_dir=" + dir});
  ASSERT_TRUE(process.ok());
  auto code = process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(process->stderr_text(), HasSubstr(db));
  f = fopen(db.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string after(garbage.size() + 1, '\0');
  after.resize(fread(after.data(), 1, after.size(), f));
  fclose(f);
  EXPECT_EQ(after, garbage);
}

TEST(CircuitdCommandLineTest, RefusesAWriteIntervalThatIsNotOne) {
  for (const char* bad : {"soon", "-5", "10001"}) {
    const std::string dir = MakeTempDir();
    auto process =
        Subprocess::Start({BinaryPath("circuitd"), "--listen=127.0.0.1:0",
                           "--http_listen=127.0.0.1:0", "--data_dir=" + dir,
                           absl::StrCat("--write_interval_ms=", bad)});
    ASSERT_TRUE(process.ok());
    auto code = process->Wait(absl::Now() + kStartTimeout);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 1) << bad;
    EXPECT_THAT(process->stderr_text(),
                HasSubstr(absl::StrCat("--write_interval_ms is auto or 0 to "
                                       "10000, not \"",
                                       bad, "\"")));
  }
}

TEST(CircuitdCommandLineTest, CheckValidatesTheLibrary) {
  auto process = Subprocess::Start({BinaryPath("circuitd"), "--check"});
  ASSERT_TRUE(process.ok());
  std::string out = process->ReadAll(absl::Now() + kStartTimeout);
  auto code = process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << process->stderr_text();
  EXPECT_THAT(out, HasSubstr("circuit library OK"));
  EXPECT_THAT(out, HasSubstr("kickback-trio"));
  EXPECT_THAT(out, HasSubstr("strength-check"));
  EXPECT_THAT(out, HasSubstr("programme return-to-strength"));
}

TEST(CircuitdCommandLineTest, CheckRejectsABadProgramme) {
  std::string dir = MakeTempDir();
  auto write = [&](const std::string& name, const char* text) {
    FILE* f = fopen((dir + "/" + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(text, f);
    fclose(f);
  };
  write(
      "exercises.textproto",
      "exercises { id: \"a\" name: \"A\" pattern: MOVEMENT_PATTERN_HINGE }\n");
  write("c.textproto",
        "id: \"c\"\nname: \"C\"\nblocks { id: \"b\" exercise_id: \"a\" sets: 1 "
        "work_seconds: 30 }\n");
  write("p.programme.textproto",
        "id: \"p\"\nname: \"P\"\nstages {\n  id: \"s\"\n  name: \"S\"\n"
        "  circuit_ids: \"nope\"\n}\n");
  auto process = Subprocess::Start(
      {BinaryPath("circuitd"), "--check", "--circuits_dir=" + dir});
  ASSERT_TRUE(process.ok());
  auto code = process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(process->stderr_text(),
              HasSubstr(dir + "/p.programme.textproto:6:3: stage \"s\" uses "
                              "unknown circuit \"nope\""));
}

TEST(CircuitdCommandLineTest, CheckRejectsABadLibrary) {
  std::string dir = MakeTempDir();
  FILE* f = fopen((dir + "/exercises.textproto").c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("exercises { id: \"a\" name: \"A\" pattern: MOVEMENT_PATTERN_HINGE }\n",
        f);
  fclose(f);
  f = fopen((dir + "/c.textproto").c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(
      "id: \"c\"\nname: \"C\"\nblocks { id: \"b\" exercise_id: \"zz\" sets: 1 "
      "work_seconds: 30 }\n",
      f);
  fclose(f);
  auto process = Subprocess::Start(
      {BinaryPath("circuitd"), "--check", "--circuits_dir=" + dir});
  ASSERT_TRUE(process.ok());
  auto code = process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(process->stderr_text(),
              HasSubstr(dir + "/c.textproto:3:18: block \"b\" uses unknown "
                              "exercise \"zz\""));
}

TEST(CircuitdCommandLineTest, HelpListsEveryFlagWithItsDefault) {
  auto process = Subprocess::Start({BinaryPath("circuitd"), "--help"});
  ASSERT_TRUE(process.ok());
  std::string out = process->ReadAll(absl::Now() + kStartTimeout);
  ASSERT_TRUE(process->Wait(absl::Now() + kStartTimeout).ok());
  for (const char* flag :
       {"--listen", "--data_dir", "--circuits_dir", "--check",
        "--shutdown_grace_seconds", "--journal", "--health_retention_days"}) {
    EXPECT_THAT(out, HasSubstr(flag));
  }
  EXPECT_THAT(out, HasSubstr("default: \"127.0.0.1:50051\""));
}

TEST(CircuitCommandLineTest, HelpListsSubcommands) {
  auto process = Subprocess::Start({BinaryPath("circuit"), "--help"});
  ASSERT_TRUE(process.ok());
  std::string out = process->ReadAll(absl::Now() + kStartTimeout);
  auto code = process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(out, HasSubstr("circuits"));
  EXPECT_THAT(out, HasSubstr("Exit codes"));
}

}  // namespace
}  // namespace circuit
