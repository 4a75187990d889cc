// report_bench: acknowledged reports per second, and ack latency, through a
// real circuitd journaling to SQLite with synchronous=FULL, with 1, 100 and
// 2,000 concurrent reporters, each on its own TCP connection; with group
// commit and with one commit per report. Prints one table row per run. Not a
// test: it asserts nothing.
//
//   build/bench/report_bench [--reporters=1,100,2000] [--seconds=5]
//                            [--modes=group,single] [--rates=0,10000]
//
// --rates=0 (the default) is a closed loop: each reporter keeps one report in
// flight, which measures the most the server acks but not its latency under
// a given load (with N in flight, p50 is N over the throughput). A rate R
// offers R reports/s to the class on a fixed schedule, spread over the
// reporters; latency runs from when a report was due, and "kept up" means
// every report was acked, the last within 0.5 s of its due time.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
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
#include "client/lib/process_sample.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "sqlite3.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(std::string, reporters, "1,100,2000",
          "comma-separated numbers of concurrent reporters");
ABSL_FLAG(std::string, rates, "0",
          "comma-separated offered rates, reports per second for the whole "
          "class on a fixed schedule (open loop); 0: a closed loop, each "
          "reporter sending its next report when the previous ack came");
ABSL_FLAG(int, seconds, 5, "how long each run reports");
ABSL_FLAG(std::string, modes, "floor,group,single",
          "floor: a bare SQLite database on the same disk, one row per "
          "commit (the disk's floor for one commit per report); group: group "
          "commit (circuitd's default); single: one commit per report "
          "(--journal_max_batch=1)");

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

// One participant on its own connection. Reports are queued by the driver
// with the time each was due (closed loop: when the previous ack came; paced:
// on a fixed schedule) and written one at a time, the next when the previous
// write is done. Latency runs from the due time to the ack, so a server that
// falls behind a paced schedule shows it in full (no coordinated omission).
class Reporter final : public grpc::ClientBidiReactor<v1::JoinClassRequest,
                                                      v1::JoinClassResponse> {
 public:
  Reporter(const std::string& address, const std::string& join_code, int index,
           bool closed_loop, const std::atomic<bool>* running)
      : running_(running), closed_loop_(closed_loop), index_(index) {
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

  // Queues one report, due at `due`.
  void Enqueue(Clock::time_point due) {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      due_.push_back(due);
      pending_.push_back(static_cast<int>(due_.size()) - 1);
      if (!writing_ && joined_write_done_) write = TakeNextLocked();
    }
    if (write) StartWrite(&out_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_snapshot()) {
      absl::MutexLock lock(&mu_);
      ready_ = true;
    }
    if (in_.has_ack()) {
      const Clock::time_point now = Clock::now();
      const std::string& id = in_.ack().report_id();
      int n = -1;
      const size_t dash = id.rfind('-');
      if (dash != std::string::npos) {
        (void)absl::SimpleAtoi(id.substr(dash + 1), &n);
      }
      bool again = false;
      {
        absl::MutexLock lock(&mu_);
        if (n >= 0 && static_cast<size_t>(n) < due_.size()) {
          if (in_.ack().code() == 0) {
            latencies_us_.push_back(static_cast<int32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(
                    now - due_[static_cast<size_t>(n)])
                    .count()));
          } else {
            ++refused_;
          }
          ++answered_;
          last_ack_ = now;
        }
        again = closed_loop_ && running_->load();
      }
      if (again) Enqueue(now);
    }
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      joined_write_done_ = true;
      writing_ = false;
      if (ok) write = TakeNextLocked();
    }
    if (write) StartWrite(&out_);
  }
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
  // Waits until every queued report has its ack (or the stream ended).
  bool WaitAnswered(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto answered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return done_ || answered_ == static_cast<int>(due_.size());
    };
    return mu_.AwaitWithDeadline(absl::Condition(&answered), deadline) &&
           !done_;
  }
  void Cancel() { context_.TryCancel(); }
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }
  // Read after the run.
  std::vector<int32_t> latencies_us() {
    absl::MutexLock lock(&mu_);
    return latencies_us_;
  }
  int refused() {
    absl::MutexLock lock(&mu_);
    return refused_;
  }
  Clock::time_point last_ack() {
    absl::MutexLock lock(&mu_);
    return last_ack_;
  }

 private:
  // Fills out_ with the next pending report; false when none is pending.
  bool TakeNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.empty()) return false;
    const int n = pending_.front();
    pending_.pop_front();
    v1::CompletionReport* c = out_.mutable_completion();
    c->set_report_id(absl::StrCat("r", index_, "-", n));
    c->set_block_index(0);
    c->set_set(1 + (n / 2) % 2);
    c->set_side(n % 2 == 0 ? v1::SIDE_LEFT : v1::SIDE_RIGHT);
    c->set_reps(8 + n % 3);
    writing_ = true;
    return true;
  }

  const std::atomic<bool>* running_;
  const bool closed_loop_;
  const int index_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CircuitService::Stub> stub_;
  grpc::ClientContext context_;
  v1::JoinClassRequest join_;
  v1::JoinClassRequest out_;  // written only while writing_ is held
  v1::JoinClassResponse in_;  // touched only by the read callbacks
  absl::Mutex mu_;
  std::vector<Clock::time_point> due_ ABSL_GUARDED_BY(mu_);
  std::deque<int> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_write_done_ ABSL_GUARDED_BY(mu_) = false;
  int answered_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int32_t> latencies_us_ ABSL_GUARDED_BY(mu_);
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  Clock::time_point last_ack_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

struct Row {
  std::string mode;
  int reporters = 0;
  int offered = 0;  // reports/s on the schedule; 0 for a closed loop
  int64_t acks = 0;
  double seconds = 0;
  int32_t p50 = 0, p90 = 0, p99 = 0, max = 0;
  double drain_s = 0;  // last ack after the last report was due
  bool kept_up = false;
  double server_cpu_us_per_ack = 0;
  int refused = 0;
  std::string journal;
};

// The disk's own floor for "single": a bare SQLite database in the same
// kind of temporary directory, WAL and synchronous=FULL as circuitd opens it,
// one ~100-byte row per transaction, for `seconds`. No gRPC, no engine.
Row SqliteFloor(int seconds) {
  Row row;
  row.mode = "sqlite floor";
  row.reporters = 1;
  const std::string path = testing::MakeTempDir() + "/floor.db";
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    sqlite3_close(db);
    return row;
  }
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES(?)", -1, &insert, nullptr);
  const std::string body(100, 'x');
  std::vector<int32_t> latencies;
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  Clock::time_point now = start;
  while (now < end) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_bind_blob(insert, 1, body.data(), static_cast<int>(body.size()),
                      SQLITE_STATIC);
    sqlite3_step(insert);
    sqlite3_reset(insert);
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      ++row.refused;
    }
    const auto after = Clock::now();
    latencies.push_back(static_cast<int32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(after - now)
            .count()));
    now = after;
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
  std::sort(latencies.begin(), latencies.end());
  row.acks = static_cast<int64_t>(latencies.size());
  row.seconds = std::chrono::duration<double>(now - start).count();
  auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * latencies.size()))];
  };
  if (!latencies.empty()) {
    row.p50 = at(0.50);
    row.p90 = at(0.90);
    row.p99 = at(0.99);
    row.max = latencies.back();
  }
  row.kept_up = true;
  row.journal = "one row per COMMIT";
  return row;
}

Row Run(const std::string& mode, int reporters, int rate, int seconds) {
  Row row;
  row.mode = mode;
  row.reporters = reporters;
  row.offered = rate;
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

  const bool closed_loop = rate <= 0;
  std::atomic<bool> running{true};
  std::vector<std::unique_ptr<Reporter>> all;
  constexpr int kJoinsInFlight = 64;
  for (int i = 0; i < reporters; i += kJoinsInFlight) {
    const int end = std::min(reporters, i + kJoinsInFlight);
    for (int j = i; j < end; ++j) {
      all.push_back(std::make_unique<Reporter>(circuitd->address,
                                               created.class_info().join_code(),
                                               j, closed_loop, &running));
      all.back()->Start();
    }
    for (int j = i; j < end; ++j) {
      if (!all[static_cast<size_t>(j)]->WaitReady(absl::Seconds(30))) {
        std::fprintf(stderr, "reporter %d never joined\n", j);
        return row;
      }
    }
  }

  const double cpu_before =
      client::SampleProcess(circuitd->process->pid()).cpu_s;
  const auto start = Clock::now();
  const auto window_end = start + std::chrono::seconds(seconds);
  Clock::time_point last_due = start;
  if (closed_loop) {
    for (auto& r : all) r->Enqueue(start);
    absl::SleepFor(absl::Seconds(seconds));  // the measured window
    last_due = Clock::now();
  } else {
    // Report i is due at start + i / rate, from reporter i % reporters. The
    // pacer wakes every 200 us and queues whatever has come due.
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL / rate);
    int64_t i = 0;
    for (;;) {
      const auto now = Clock::now();
      auto due = start + i * interval;
      while (due <= now && due < window_end) {
        all[static_cast<size_t>(i % reporters)]->Enqueue(due);
        last_due = due;
        due = start + ++i * interval;
      }
      if (due >= window_end) break;
      absl::SleepFor(absl::Microseconds(200));
    }
  }
  running.store(false);
  // Every queued report must be answered within a minute of the window.
  const absl::Time answer_deadline = absl::Now() + absl::Seconds(60);
  bool all_answered = true;
  Clock::time_point last_ack = start;
  for (auto& r : all) {
    all_answered = r->WaitAnswered(answer_deadline) && all_answered;
    last_ack = std::max(last_ack, r->last_ack());
  }
  const auto stop = Clock::now();
  const double cpu_after =
      client::SampleProcess(circuitd->process->pid()).cpu_s;

  std::vector<int32_t> latencies;
  for (auto& r : all) {
    std::vector<int32_t> mine = r->latencies_us();
    latencies.insert(latencies.end(), mine.begin(), mine.end());
    row.refused += r->refused();
  }
  std::sort(latencies.begin(), latencies.end());
  row.acks = static_cast<int64_t>(latencies.size());
  // A closed loop's rate is over the whole run; a paced one's over the
  // schedule (what it offered), with the drain reported apart.
  row.seconds =
      std::chrono::duration<double>(
          (closed_loop ? stop : std::max(last_ack, window_end)) - start)
          .count();
  row.drain_s =
      std::max(0.0, std::chrono::duration<double>(last_ack - last_due).count());
  auto at = [&](double q) {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * latencies.size()))];
  };
  row.p50 = at(0.50);
  row.p90 = at(0.90);
  row.p99 = at(0.99);
  row.max = latencies.empty() ? 0 : latencies.back();
  // Kept up: every report acked, and the last within 0.5 s of its due time.
  row.kept_up = all_answered && row.refused == 0 && row.drain_s <= 0.5;
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
  auto numbers = [](const std::string& list) {
    std::vector<int> out;
    for (absl::string_view n : absl::StrSplit(list, ',')) {
      int value = 0;
      if (absl::SimpleAtoi(n, &value) && value >= 0) out.push_back(value);
    }
    return out;
  };
  std::printf(
      "| commit | reporters | offered/s | acked reports/s | ack p50 | p90 | "
      "p99 | max | drain | kept up | server CPU per ack | refused | "
      "journal |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  auto print = [](const circuit::Row& row) {
    std::printf(
        "| %s | %d | %s | %.0f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | "
        "%.2f s | %s | %.0f us | %d | %s |\n",
        row.mode.c_str(), row.reporters,
        row.offered > 0 ? absl::StrCat(row.offered).c_str() : "closed loop",
        row.seconds > 0 ? row.acks / row.seconds : 0.0, row.p50 / 1000.0,
        row.p90 / 1000.0, row.p99 / 1000.0, row.max / 1000.0, row.drain_s,
        row.kept_up ? "yes" : "no", row.server_cpu_us_per_ack, row.refused,
        row.journal.c_str());
    std::fflush(stdout);
  };
  for (absl::string_view mode :
       absl::StrSplit(absl::GetFlag(FLAGS_modes), ',')) {
    if (mode == "floor") {
      print(circuit::SqliteFloor(absl::GetFlag(FLAGS_seconds)));
      continue;
    }
    for (int n : numbers(absl::GetFlag(FLAGS_reporters))) {
      if (n == 0) continue;
      for (int rate : numbers(absl::GetFlag(FLAGS_rates))) {
        print(circuit::Run(std::string(mode), n, rate,
                           absl::GetFlag(FLAGS_seconds)));
      }
    }
  }
  return 0;
}
