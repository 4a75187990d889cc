// The real `circuit` binary's after-class subcommands (class summary, export,
// erase, wall; classes --all) against a scripted CircuitService on port 0:
// arguments, keys, exit codes, output and the exported file. What circuitd
// itself answers is the end-to-end tests' business.

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::Subprocess;

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr int64_t kStart = 1778148000000;  // 2026-05-07 10:00:00 UTC

v1::ClassSummary MakeSummary() {
  v1::ClassSummary summary;
  v1::ClassInfo* info = summary.mutable_class_info();
  info->set_class_id("c-42");
  info->set_title("Tuesday mums");
  info->set_circuit_name("Kickback trio");
  info->set_phase(v1::CLASS_PHASE_ENDED);
  info->set_started_unix_ms(kStart);
  info->set_ended_unix_ms(kStart + 42 * 60000);
  v1::ParticipantSummary* ann = summary.add_participants();
  ann->set_participant_id("p-1");
  ann->mutable_check_in()->set_display_name("Ann, \"A\"");
  v1::SetRecord* set = ann->add_sets();
  set->set_exercise_id("kickback");
  set->set_exercise_name("Banded kickback");
  set->set_set(1);
  set->set_side(v1::SIDE_LEFT);
  set->set_reps(20);
  v1::ExerciseTotals* totals = ann->add_exercises();
  totals->set_exercise_id("kickback");
  totals->set_exercise_name("Banded kickback");
  totals->set_left_reps(20);
  totals->set_sets(1);
  ann->set_total_reps(20);
  ann->add_efforts()->set_cr10(7);
  ann->add_efforts()->set_feel(v1::EFFORT_FEEL_TOO_HARD);
  ann->add_symptoms()->set_symptom(v1::SYMPTOM_HIP_PINCH);
  summary.set_total_reps(20);
  return summary;
}

// Answers the after-class calls from fixed data and remembers what it was
// asked, with which credential.
class ScriptedService final : public v1::CircuitService::Service {
 public:
  grpc::Status GetClassSummary(grpc::ServerContext* context,
                               const v1::GetClassSummaryRequest* request,
                               v1::ClassSummary* summary) override {
    Record(context, absl::StrCat("summary ", request->class_id()));
    if (request->class_id() != "c-42") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such class");
    }
    *summary = MakeSummary();
    return grpc::Status::OK;
  }

  grpc::Status GetWallSummary(grpc::ServerContext* context,
                              const v1::GetWallSummaryRequest* request,
                              v1::WallSummary* wall) override {
    Record(context, absl::StrCat("wall ", request->class_id()));
    wall->set_class_id(request->class_id());
    wall->set_title("Tuesday mums");
    wall->set_phase(v1::CLASS_PHASE_ENDED);
    wall->set_participant_count(3);
    wall->set_total_reps(90);
    v1::WallEntry* entry = wall->add_wall();
    entry->set_display_name("Cleo");
    entry->set_total_reps(40);
    return grpc::Status::OK;
  }

  grpc::Status EraseHealthData(grpc::ServerContext* context,
                               const v1::EraseHealthDataRequest* request,
                               v1::EraseHealthDataResponse*) override {
    Record(context, absl::StrCat("erase ", request->class_id(), " ",
                                 request->participant_id()));
    if (request->class_id() == "c-live") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the class has not ended");
    }
    return grpc::Status::OK;
  }

  grpc::Status ListClasses(grpc::ServerContext* context,
                           const v1::ListClassesRequest* request,
                           v1::ListClassesResponse* response) override {
    Record(context,
           absl::StrCat("list include_ended=", request->include_ended()));
    v1::ClassInfo* live = response->add_classes();
    live->set_class_id("c-43");
    live->set_join_code("XYZ789");
    live->set_title("Thursday mums");
    live->set_phase(v1::CLASS_PHASE_RUNNING);
    live->set_started_unix_ms(kStart + 2 * 86400000);
    if (request->include_ended()) {
      *response->add_classes() = MakeSummary().class_info();
    }
    return grpc::Status::OK;
  }

  // "summary c-42 with Bearer KEY", ... in the order asked.
  std::vector<std::string> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  void Record(grpc::ServerContext* context, const std::string& call) {
    std::string credential = "no key";
    auto it = context->client_metadata().find("authorization");
    if (it != context->client_metadata().end()) {
      credential = std::string(it->second.data(), it->second.size());
    }
    absl::MutexLock lock(&mu_);
    calls_.push_back(absl::StrCat(call, " with ", credential));
  }

  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class CircuitCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Local times in the output are UTC here.
    setenv("TZ", "UTC", 1);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
    data_dir_ = MakeTempDir();
  }

  void TearDown() override {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }

  // Runs `circuit ARGS --address=... --data_dir=...`.
  Result Circuit(std::vector<std::string> args) {
    args.insert(args.begin(), BinaryPath("circuit"));
    args.push_back(absl::StrCat("--address=", address_));
    args.push_back(absl::StrCat("--data_dir=", data_dir_));
    Result run;
    auto process = Subprocess::Start(args);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return run;
    run.out = process->ReadAll(absl::Now() + kTimeout);
    absl::StatusOr<int> code = process->Wait(absl::Now() + kTimeout);
    EXPECT_TRUE(code.ok()) << code.status();
    run.code = code.ok() ? *code : -1;
    run.err = process->stderr_text();
    return run;
  }

  void WriteKey(const std::string& role, const std::string& key) {
    std::ofstream out(absl::StrCat(data_dir_, "/", role, ".key"));
    out << key << "\n";
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    return contents.str();
  }

  ScriptedService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::string data_dir_;
};

TEST_F(CircuitCliTest, SummaryPrintsTheReportWithTheInstructorKey) {
  Result run = Circuit({"class", "summary", "c-42", "--key=ik"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("Tuesday mums (class c-42) · ENDED\n"));
  EXPECT_THAT(run.out, HasSubstr("2026-05-07 10:00–10:42 UTC (42 min)"));
  EXPECT_THAT(run.out, HasSubstr("Ann, \"A\" (p-1)"));
  EXPECT_THAT(run.out, HasSubstr("left 20 · right 0 (1 set)  asymmetry"));
  EXPECT_THAT(service_.Calls(),
              ::testing::ElementsAre("summary c-42 with Bearer ik"));
}

TEST_F(CircuitCliTest, SummaryUsesTheInstructorKeyFile) {
  WriteKey("instructor", "from-file");
  Result run = Circuit({"class", "summary", "c-42"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(service_.Calls(),
              ::testing::ElementsAre("summary c-42 with Bearer from-file"));
}

TEST_F(CircuitCliTest, SummaryJsonParsesBackToTheSummary) {
  Result run = Circuit({"class", "summary", "c-42", "--key=ik", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  v1::ClassSummary parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(run.out, &parsed).ok())
      << run.out;
  EXPECT_EQ(parsed.SerializeAsString(), MakeSummary().SerializeAsString());
}

TEST_F(CircuitCliTest, SummaryOfAnUnknownClassFailsWithOneLine) {
  Result run = Circuit({"class", "summary", "c-0", "--key=ik"});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("no such class"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_TRUE(run.out.empty());
}

TEST_F(CircuitCliTest, ExportWritesTheSetsTableToStdout) {
  Result run = Circuit({"class", "export", "c-42", "--format=csv", "--key=ik"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out,
            "class_id,participant_id,display_name,block_index,exercise_id,"
            "exercise_name,set,side,reps,parts\r\n"
            "c-42,p-1,\"Ann, \"\"A\"\"\",0,kickback,Banded kickback,1,left,"
            "20,\r\n");
}

TEST_F(CircuitCliTest, ExportSelectsTheTable) {
  Result run = Circuit({"class", "export", "c-42", "--format=csv",
                        "--table=totals", "--key=ik"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("left_reps,right_reps,both_reps,sets\r\n"));
  EXPECT_THAT(run.out, HasSubstr(",20,0,0,1\r\n"));
}

TEST_F(CircuitCliTest, ExportWritesTheFileWithMode0600) {
  const std::string path = data_dir_ + "/c-42.json";
  Result run = Circuit({"class", "export", "c-42", "--format=json",
                        absl::StrCat("--output=", path), "--key=ik"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("wrote ", path, " (json")));
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  v1::ClassSummary parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(ReadFile(path), &parsed)
          .ok());
  EXPECT_EQ(parsed.class_info().class_id(), "c-42");
}

TEST_F(CircuitCliTest, ExportIntoAMissingDirectoryFailsWithOneLine) {
  Result run = Circuit({"class", "export", "c-42", "--format=csv",
                        absl::StrCat("--output=", data_dir_, "/no/such.csv"),
                        "--key=ik"});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("no/such.csv"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
}

TEST_F(CircuitCliTest, ExportFlagMistakesAreUsageErrorsBeforeAnyCall) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"class", "export", "c-42"},
           {"class", "export", "c-42", "--format=xml"},
           {"class", "export", "c-42", "--format=csv", "--table=people"},
           {"class", "export", "c-42", "--format=json", "--table=sets"},
           {"class", "export", "--format=csv"},
       }) {
    Result run = Circuit(args);
    EXPECT_EQ(run.code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(run.err, Not(HasSubstr("\n\n")));
  }
  EXPECT_TRUE(service_.Calls().empty());
}

TEST_F(CircuitCliTest, EraseSaysWhatItErased) {
  Result run =
      Circuit({"class", "erase", "c-42", "--participant=p-1", "--key=ik"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("erased the health data of Ann, \"A\" (p-1) "
                                 "in class c-42: 2 efforts and 1 symptom"));
  EXPECT_THAT(service_.Calls(),
              ::testing::Contains("erase c-42 p-1 with Bearer ik"));
}

TEST_F(CircuitCliTest, EraseInALiveClassFailsWithTheServersReason) {
  Result run =
      Circuit({"class", "erase", "c-live", "--participant=p-1", "--key=ik"});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("the class has not ended"));
  EXPECT_TRUE(run.out.empty());
}

TEST_F(CircuitCliTest, EraseNeedsAParticipant) {
  Result run = Circuit({"class", "erase", "c-42", "--key=ik"});
  EXPECT_EQ(run.code, 2);
  EXPECT_THAT(run.err, HasSubstr("usage: circuit class erase CLASS "
                                 "--participant=ID"));
  EXPECT_TRUE(service_.Calls().empty());
}

TEST_F(CircuitCliTest, WallUsesTheKioskKeyFileAndShowsNamesAndReps) {
  WriteKey("kiosk", "kk");
  WriteKey("instructor", "ik");
  Result run = Circuit({"class", "wall", "c-42"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out,
            "Tuesday mums (class c-42) · ENDED\n"
            "3 participants · 90 reps\n"
            "  Cleo  40\n"
            "  and 2 not shown by name\n");
  EXPECT_THAT(service_.Calls(),
              ::testing::ElementsAre("wall c-42 with Bearer kk"));
}

TEST_F(CircuitCliTest, ClassesAllAsksForEndedClassesAndSaysWhenTheyEnded) {
  Result run = Circuit({"classes", "--all", "--key=ik"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("ended 2026-05-07 10:42"));
  EXPECT_THAT(run.out, HasSubstr("started 2026-05-09 10:00"));
  EXPECT_THAT(service_.Calls(),
              ::testing::ElementsAre("list include_ended=1 with Bearer ik"));
  Result live = Circuit({"classes", "--key=ik"});
  EXPECT_THAT(live.out, Not(HasSubstr("c-42")));
}

TEST_F(CircuitCliTest, EveryClassFormHasHelp) {
  for (const char* verb : {"summary", "export", "erase", "wall"}) {
    Result run = Circuit({"class", verb, "--help"});
    EXPECT_EQ(run.code, 0) << verb;
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat("circuit class ", verb)));
    EXPECT_THAT(run.out, HasSubstr("--address"));
    EXPECT_THAT(run.out, HasSubstr("Exit codes: 0 ok, 1 failure, 2 usage."));
  }
  Result run = Circuit({"class", "--help"});
  for (const char* flag :
       {"--format", "--table", "--output", "--participant"}) {
    EXPECT_THAT(run.out, HasSubstr(flag));
  }
  EXPECT_TRUE(service_.Calls().empty());
}

TEST_F(CircuitCliTest, AnUnknownClassFormIsAUsageError) {
  Result run = Circuit({"class", "delete", "c-42"});
  EXPECT_EQ(run.code, 2);
  EXPECT_THAT(run.err, HasSubstr("circuit class summary CLASS"));
}

TEST_F(CircuitCliTest, TheLoadToolIsNotPartOfTheCli) {
  // It is circuit-bench, a binary of its own.
  Result help = Circuit({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("demo"));
  EXPECT_THAT(help.out, Not(HasSubstr("bench")));
  Result bench = Circuit({"bench", "--spawn_server"});
  EXPECT_EQ(bench.code, 2);
  EXPECT_THAT(bench.err, HasSubstr("unknown subcommand \"bench\""));
  EXPECT_TRUE(service_.Calls().empty());
}

}  // namespace
}  // namespace circuit
