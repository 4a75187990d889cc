// report_bench: acknowledged reports per second, and ack latency, through a
// real circuitd journaling to SQLite with synchronous=FULL, with 1, 100 and
// 2,000 concurrent reporters, each on its own TCP connection; with group
// commit and with one commit per report. Prints one table row per run. Not a
// test: it asserts nothing.
//
//   build/bench/report_bench [--reporters=1,100,2000] [--seconds=5]
//                            [--modes=group,single]

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(std::string, reporters, "1,100,2000",
          "comma-separated numbers of concurrent reporters");
ABSL_FLAG(int, seconds, 5, "how long each run reports");
ABSL_FLAG(std::string, modes, "group,single",
          "group: group commit (circuitd's default); single: one commit per "
          "report (--journal_max_batch=1)");

namespace circuit {
namespace {

constexpr char kInstructorKey[] = "bench-instructor";
using Clock = std::chrono::steady_clock;

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!bearer.empty())
    context->AddMetadata("authorization", "Bearer " + bearer);
  return context;
}

// CPU seconds (user + system) a process has used, from /proc.
double CpuSeconds(pid_t pid) {
  std::string stat;
  FILE* f = std::fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (f == nullptr) return 0;
  char buffer[4096];
  stat.assign(buffer, std::fread(buffer, 1, sizeof buffer, f));
  std::fclose(f);
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  // After "pid (comm) ": state is field 0; utime 11, stime 12.
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// One participant on its own connection: joins, then keeps one report in
// flight, sending the next when the ack comes, while `running`.
class Reporter final : public grpc::ClientBidiReactor<v1::JoinClassRequest,
                                                      v1::JoinClassResponse> {
 public:
  Reporter(const std::string& address, const std::string& join_code, int index,
           const std::atomic<bool>* running)
      : running_(running), index_(index) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    channel_ = grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::CircuitService::NewStub(channel_);
    join_.mutable_join()->set_join_code(join_code);
    join_.mutable_join()->mutable_check_in()->set_display_name(
        absl::StrCat("Reporter ", index));
  }

  void Start() {
    stub_->async()->JoinClass(&context_, this);
    StartWrite(&join_);
    StartRead(&in_);
    StartCall();
  }

  // Sends the first report (after the snapshot arrived).
  void Go() { SendNext(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_snapshot()) {
      absl::MutexLock lock(&mu_);
      ready_ = true;
    }
    if (in_.has_ack()) {
      const auto latency = Clock::now() - sent_at_;
      if (in_.ack().code() == 0) {
        latencies_us_.push_back(static_cast<int32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(latency)
                .count()));
      } else {
        ++refused_;
      }
      in_flight_ = false;
      if (running_->load()) SendNext();
    }
    StartRead(&in_);
  }
  void OnWriteDone(bool /*ok*/) override {}
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  bool WaitReady(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ready_ || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return ready_;
  }
  void Cancel() { context_.TryCancel(); }
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }
  bool in_flight() const { return in_flight_.load(); }
  // Read after the reporter stopped sending.
  const std::vector<int32_t>& latencies_us() const { return latencies_us_; }
  int refused() const { return refused_; }

 private:
  void SendNext() {
    const int n = sent_++;
    v1::CompletionReport* c = out_.mutable_completion();
    c->set_report_id(absl::StrCat("r", index_, "-", n));
    c->set_block_index(0);
    c->set_set(1 + (n / 2) % 2);
    c->set_side(n % 2 == 0 ? v1::SIDE_LEFT : v1::SIDE_RIGHT);
    c->set_reps(8 + n % 3);
    in_flight_ = true;
    sent_at_ = Clock::now();
    StartWrite(&out_);
  }

  const std::atomic<bool>* running_;
  const int index_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CircuitService::Stub> stub_;
  grpc::ClientContext context_;
  v1::JoinClassRequest join_;
  v1::JoinClassRequest out_;
  v1::JoinClassResponse in_;
  // The reactor's callbacks run one at a time for one call; these are
  // touched only by them (and read after the run).
  int sent_ = 0;
  Clock::time_point sent_at_;
  std::vector<int32_t> latencies_us_;
  int refused_ = 0;
  // Polled by the driver to see that the last ack came.
  std::atomic<bool> in_flight_{false};
  absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

struct Row {
  std::string mode;
  int reporters = 0;
  int64_t acks = 0;
  double seconds = 0;
  int32_t p50 = 0, p90 = 0, p99 = 0, max = 0;
  double server_cpu_us_per_ack = 0;
  int refused = 0;
  std::string journal;
};

Row Run(const std::string& mode, int reporters, int seconds) {
  Row row;
  row.mode = mode;
  row.reporters = reporters;
  std::vector<std::string> flags = {
      "--journal=sqlite",
      absl::StrCat("--instructor_key=", kInstructorKey),
      "--stream_messages_per_second=1000000",
      "--joins_per_minute_per_peer=100000000",
      "--max_queued_per_stream=4096",
      "--max_reports_per_participant=100000000"};
  if (mode == "single") flags.push_back("--journal_max_batch=1");
  absl::StatusOr<testing::Circuitd> circuitd =
      testing::StartCircuitd(flags, absl::Now() + absl::Seconds(30));
  if (!circuitd.ok()) {
    std::fprintf(stderr, "cannot start circuitd: %s\n",
                 std::string(circuitd.status().message()).c_str());
    return row;
  }
  auto channel = grpc::CreateChannel(circuitd->address,
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::CircuitService::NewStub(channel);
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  if (!stub->CreateClass(Context(kInstructorKey).get(), create, &created)
           .ok()) {
    std::fprintf(stderr, "cannot create a class\n");
    return row;
  }
  // Start the class so block 0 can be reported.
  auto instructor_context = Context(kInstructorKey);
  auto instructor = stub->RunClass(instructor_context.get());
  v1::RunClassRequest request;
  request.mutable_attach()->set_class_id(created.class_info().class_id());
  instructor->Write(request);
  request.Clear();
  request.mutable_command()->set_command_id("start");
  request.mutable_command()->mutable_start();
  instructor->Write(request);
  v1::RunClassResponse response;
  while (instructor->Read(&response) && !response.has_command_result()) {
  }
  // Reporters only: with a console attached every report is also an event
  // on its stream (that cost is the scale issue's).
  instructor_context->TryCancel();
  instructor->Finish().IgnoreError();

  std::atomic<bool> running{true};
  std::vector<std::unique_ptr<Reporter>> all;
  constexpr int kJoinsInFlight = 64;
  for (int i = 0; i < reporters; i += kJoinsInFlight) {
    const int end = std::min(reporters, i + kJoinsInFlight);
    for (int j = i; j < end; ++j) {
      all.push_back(std::make_unique<Reporter>(
          circuitd->address, created.class_info().join_code(), j, &running));
      all.back()->Start();
    }
    for (int j = i; j < end; ++j) {
      if (!all[static_cast<size_t>(j)]->WaitReady(absl::Seconds(30))) {
        std::fprintf(stderr, "reporter %d never joined\n", j);
        return row;
      }
    }
  }

  const double cpu_before = CpuSeconds(circuitd->process->pid());
  const auto start = Clock::now();
  for (auto& r : all) r->Go();
  absl::SleepFor(absl::Seconds(seconds));  // the measured window
  running.store(false);
  for (auto& r : all) {
    while (r->in_flight()) absl::SleepFor(absl::Milliseconds(1));
  }
  const auto stop = Clock::now();
  const double cpu_after = CpuSeconds(circuitd->process->pid());

  std::vector<int32_t> latencies;
  for (auto& r : all) {
    latencies.insert(latencies.end(), r->latencies_us().begin(),
                     r->latencies_us().end());
    row.refused += r->refused();
  }
  std::sort(latencies.begin(), latencies.end());
  row.acks = static_cast<int64_t>(latencies.size());
  row.seconds = std::chrono::duration<double>(stop - start).count();
  auto at = [&](double q) {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * latencies.size()))];
  };
  row.p50 = at(0.50);
  row.p90 = at(0.90);
  row.p99 = at(0.99);
  row.max = latencies.empty() ? 0 : latencies.back();
  row.server_cpu_us_per_ack =
      row.acks > 0 ? (cpu_after - cpu_before) * 1e6 / row.acks : 0;

  for (auto& r : all) r->Cancel();
  for (auto& r : all) r->WaitDone(absl::Seconds(10));
  circuitd->process->Signal(SIGTERM);
  circuitd->process->Wait(absl::Now() + absl::Seconds(30)).IgnoreError();
  // circuitd logs its journal's counters when it stops.
  std::istringstream log(circuitd->process->stderr_text());
  for (std::string line; std::getline(log, line);) {
    size_t at_journal = line.find("journal: ");
    if (at_journal != std::string::npos) row.journal = line.substr(at_journal);
  }
  return row;
}

}  // namespace
}  // namespace circuit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<int> counts;
  for (absl::string_view n :
       absl::StrSplit(absl::GetFlag(FLAGS_reporters), ',')) {
    int value = 0;
    if (absl::SimpleAtoi(n, &value) && value > 0) counts.push_back(value);
  }
  std::printf(
      "| commit | reporters | acked reports/s | ack p50 | p90 | p99 | max | "
      "server CPU per ack | refused | journal |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (absl::string_view mode :
       absl::StrSplit(absl::GetFlag(FLAGS_modes), ',')) {
    for (int n : counts) {
      circuit::Row row =
          circuit::Run(std::string(mode), n, absl::GetFlag(FLAGS_seconds));
      std::printf(
          "| %s | %d | %.0f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.0f us "
          "| %d | %s |\n",
          row.mode.c_str(), row.reporters,
          row.seconds > 0 ? row.acks / row.seconds : 0.0, row.p50 / 1000.0,
          row.p90 / 1000.0, row.p99 / 1000.0, row.max / 1000.0,
          row.server_cpu_us_per_ack, row.refused, row.journal.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
