// circuit-bench: the runs. How it measures:
// - Every participant has a grpc::Channel of its own (a local subchannel
//   pool, so its own TCP connection); their streams run on the raw
//   completion-queue API, served by --threads polling threads, one queue
//   each, so thousands of participants need no thread each.
// - A cue's text carries its send time; participants and the instructor are
//   in this one process and read the one clock (CLOCK_REALTIME), so every
//   (participant, cue) delivery is timed. An interval change is matched to
//   the command that made it by the seq in the command's result.
// - circuitd's CPU (utime + stime) and RSS come from /proc/PID before and
//   after the measured phase; the tool's own CPU from getrusage.
// - Every wait has a deadline, and the end of a run cancels every stream.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/load/attack.h"
#include "bench/load/cq_client.h"
#include "bench/load/load.h"
#include "bench/load/participants.h"
#include "bench/load/report.h"
#include "bench/load/sse.h"
#include "circuit/v1/service.grpc.pb.h"
#include "client/lib/connection.h"
#include "client/lib/process_sample.h"
#include "client/lib/spawner.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/channel_arguments.h"
#include "server/common/json.h"

namespace circuit::bench {

bool ParseBenchMode(const std::string& name, BenchMode* mode) {
  static const std::pair<const char*, BenchMode> kModes[] = {
      {"cues", BenchMode::kCues},   {"next", BenchMode::kNext},
      {"joins", BenchMode::kJoins}, {"reports", BenchMode::kReports},
      {"idle", BenchMode::kIdle},   {"class", BenchMode::kClass},
  };
  for (const auto& [mode_name, value] : kModes) {
    if (name == mode_name) {
      *mode = value;
      return true;
    }
  }
  return false;
}
namespace {

constexpr char kCircuitId[] = "kickback-trio";
constexpr size_t kCueTextBytes = 64;
// After the joins (and the start), before the measured phase: the server's
// coalesced roster and progress ticks settle.
constexpr absl::Duration kSettle = absl::Seconds(1);
// Opening the instructor stream, a command's result outside the measured
// phase, and the start reaching everyone.
constexpr absl::Duration kOpenTimeout = absl::Seconds(15);
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
// Cancelled streams must have ended by then, or the tool gives up (exit 1).
constexpr absl::Duration kTeardownTimeout = absl::Seconds(20);
// The shape of a real class.
constexpr Micros kClassFirstCue = 2'500'000;
constexpr Micros kClassCueEvery = 5'000'000;
constexpr Micros kClassFirstNext = 10'000'000;
constexpr Micros kClassNextEvery = 45'000'000;
constexpr Micros kClassReportEvery = 45'000'000;

const char* ModeName(BenchMode mode) {
  switch (mode) {
    case BenchMode::kCues:
      return "cues";
    case BenchMode::kNext:
      return "next";
    case BenchMode::kJoins:
      return "joins";
    case BenchMode::kReports:
      return "reports";
    case BenchMode::kIdle:
      return "idle";
    case BenchMode::kClass:
      return "class";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// /proc and rusage.

using client::SampleProcess;
using ProcSample = client::ProcessSample;  // client/lib/process_sample.h

double SelfCpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
             1e6;
}

// Each participant's connection needs a descriptor, here and in a server
// spawned from here (which inherits the limit). The soft limit after
// raising it to the hard one.
uint64_t RaiseFileLimit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

// Descriptors besides one per participant: the instructor, the unary
// channel, gRPC's own, the standard ones.
constexpr uint64_t kSpareFiles = 64;

// ---------------------------------------------------------------------------
// The runs.

// A command the instructor sent, and when.
struct SentCommand {
  std::string id;
  Micros sent = 0;
  bool is_change = false;  // next or previous
};

// One run: a server (spawned or given), a class, its instructor, N
// participants, the measured phase and its figures. Not thread-safe: Run
// once; the destructor cancels every stream and stops a spawned server,
// within bounded time.
class BenchRun {
 public:
  BenchRun(const BenchOptions& options, int participants)
      : options_(options), n_(participants) {}
  BenchRun(const BenchRun&) = delete;
  BenchRun& operator=(const BenchRun&) = delete;
  ~BenchRun() { Teardown(); }

  // Fills `row`; an error when the run could not be made.
  absl::Status Run(Row* row);

 private:
  absl::Status Setup();
  absl::Status SetupSse(const std::string& class_id, int max_cues);
  // circuitd's HTTP listener, into `options`' host and port.
  absl::Status HttpTarget(SseFleetOptions* options) const;
  // --consoles: attaches them to the class.
  absl::Status OpenConsoles(const std::string& class_id);
  absl::Status Joins(Row* row);
  // A join failure, with a hint when it is the server's join limit.
  absl::Status JoinFailure(const std::string& failure) const;
  absl::Status StartClass();
  void Measure(Row* row);
  void SendCues(Row* row);
  void SendChanges(Row* row);
  void SendReports(Row* row);
  void RunClassShape(Row* row);
  // Sends a cue (number `index`), a next or a previous, stamped now.
  void SendCue(int index);
  void SendChange(bool forward);
  // Waits until every participant caught up with the commands sent and its
  // own reports, or `deadline`.
  void WaitDelivered(absl::Time deadline);
  bool WaitCaughtUp(int64_t seq, absl::Time deadline);
  void Figures(Row* row);
  // Reads on the participants' (or SSE clients') streams and the messages
  // (events) they carried, so far.
  std::pair<int64_t, int64_t> ReadsAndMessages() const;
  void Teardown();
  void Progress(const std::string& text) const;
  // --attack: the address participant `i` connects from ("": the default).
  std::string ParticipantSource(int i) const;
  // Starts the attack and waits until it is at full strength.
  absl::Status StartAttack(Row* row);
  void StopAttack(Row* row);

  const BenchOptions& options_;
  const int n_;
  std::unique_ptr<spawn::SpawnedServer> server_;
  std::string address_;
  std::string key_;
  pid_t pid_ = 0;
  std::string join_code_;
  std::unique_ptr<RunState> state_;
  std::unique_ptr<Pollers> pollers_;
  std::unique_ptr<InstructorStream> instructor_;
  std::vector<std::unique_ptr<Participant>> participants_;
  // The SSE transports: the clients instead of participants_.
  std::unique_ptr<SseFleet> sse_;
  // --consoles, over gRPC or HTTP.
  std::vector<std::unique_ptr<InstructorStream>> consoles_;
  std::unique_ptr<SseFleet> sse_consoles_;
  std::unique_ptr<Attack> attack_;
  std::vector<SentCommand> commands_;
  int cues_sent_ = 0;
  int changes_sent_ = 0;
  int64_t reports_sent_ = 0;
  Micros last_send_ = 0;
  int command_count_ = 0;
  ProcSample before_joins_;
  ProcSample measure_start_;
  ProcSample before_attack_;  // --attack: before it started
  // The streams asked for batches.
  bool batches_ = false;
  bool torn_down_ = false;
};

void BenchRun::Progress(const std::string& text) const {
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "circuit-bench: %s N=%d: %s\n",
                 ModeName(options_.mode), n_, text.c_str());
  }
}

absl::Status BenchRun::Setup() {
  if (options_.spawn_server) {
    spawn::SpawnedServer::Options spawn;
    spawn.prefix = "circuit-bench";
    // The per-address limits (joins a minute, messages a second on one
    // stream) would refuse one machine playing thousands of phones: they are
    // lifted on this server only, by its flags.
    spawn.extra_args = {"--joins_per_minute_per_peer=1000000000",
                        "--stream_messages_per_second=1000000",
                        "--http_max_connections=0",
                        "--http_max_connections_per_address=0"};
    // Under --attack every participant connects from an address of its own,
    // so the server keeps its limits, as it would on the internet.
    if (options_.attack != BenchAttack::kOff) spawn.extra_args.clear();
    if (options_.mode == BenchMode::kReports && options_.messages >= 5000) {
      spawn.extra_args.push_back(absl::StrCat("--max_reports_per_participant=",
                                              options_.messages + 100));
    }
    spawn.extra_args.insert(spawn.extra_args.end(),
                            options_.server_flags.begin(),
                            options_.server_flags.end());
    server_ = std::make_unique<spawn::SpawnedServer>(spawn);
    if (absl::Status started = server_->Start(); !started.ok()) {
      return started;
    }
    address_ = server_->address();
    key_ = server_->instructor_key();
    pid_ = server_->pid();
    // Where to look while it runs (gone with the run, or with this process
    // however it ends).
    std::fprintf(stderr, "circuit-bench: %s N=%d: circuitd pid %d in %s\n",
                 ModeName(options_.mode), n_, static_cast<int>(pid_),
                 server_->directory().c_str());
  } else {
    address_ = options_.address;
    key_ = options_.instructor_key;
    pid_ = options_.server_pid;
  }

  client::ConnectOptions connect;
  connect.address = address_;
  connect.call_timeout = absl::Seconds(10);
  client::Connection connection(connect);
  absl::StatusOr<v1::ClassInfo> info =
      connection.CreateClass(key_, kCircuitId, "circuit-bench");
  if (!info.ok()) {
    return absl::Status(info.status().code(),
                        absl::StrCat("cannot create a class at ", address_,
                                     ": ", info.status().message()));
  }
  join_code_ = info->join_code();
  // The nodes of a cluster that do not own the class answer "retry" until
  // they have caught up with it (a GetClass there starts that); the phones
  // of this run join once every node serves it.
  for (const std::string& address : options_.participant_addresses) {
    client::ConnectOptions node = connect;
    node.address = address;
    client::Connection at(node);
    absl::Status served = at.GetClass(info->class_id()).status();
    for (const absl::Time until = absl::Now() + absl::Seconds(30);
         absl::IsUnavailable(served) && absl::Now() < until;
         served = at.GetClass(info->class_id()).status()) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (!served.ok()) {
      return absl::Status(served.code(),
                          absl::StrCat("the class is not served at ", address,
                                       ": ", served.message()));
    }
  }

  int max_cues = 0;
  if (options_.mode == BenchMode::kCues) max_cues = options_.messages;
  if (options_.mode == BenchMode::kClass) {
    max_cues =
        static_cast<int>(options_.seconds * 1'000'000LL / kClassCueEvery) + 1;
  }
  state_ = std::make_unique<RunState>(n_, options_.threads, max_cues);
  pollers_ = std::make_unique<Pollers>(options_.threads);
  instructor_ = std::make_unique<InstructorStream>(address_, key_);
  batches_ = options_.accept_batches;
  instructor_->Attach(pollers_->queue(0), info->class_id(), batches_);
  if (!instructor_->WaitAttached(kOpenTimeout)) {
    return absl::UnavailableError(
        absl::StrCat("the instructor stream did not open",
                     instructor_->ended()
                         ? absl::StrCat(": ", StatusText(instructor_->status()))
                         : ""));
  }
  if (options_.consoles > 0) {
    if (absl::Status opened = OpenConsoles(info->class_id()); !opened.ok()) {
      return opened;
    }
  }
  if (options_.transport != BenchTransport::kGrpc) {
    return SetupSse(info->class_id(), max_cues);
  }
  return absl::OkStatus();
}

absl::Status BenchRun::HttpTarget(SseFleetOptions* options) const {
  std::string http = options_.http_address;
  if (server_ != nullptr) {
    const int port = server_->http_port();
    if (port == 0) {
      return absl::UnavailableError(
          "the spawned circuitd did not say where it listens for HTTP");
    }
    http = absl::StrCat("127.0.0.1:", port);
  }
  const size_t colon = http.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(http.substr(colon + 1), &options->port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_address is IP:PORT, not \"", http, "\""));
  }
  options->host = http.substr(0, colon);
  return absl::OkStatus();
}

absl::Status BenchRun::OpenConsoles(const std::string& class_id) {
  if (options_.consoles_over_http) {
    SseFleetOptions sse;
    sse.transport = BenchTransport::kSseConsole;
    if (absl::Status target = HttpTarget(&sse); !target.ok()) return target;
    sse.key = key_;
    sse.class_id = class_id;
    sse.threads = 1;
    sse.open_timeout = kOpenTimeout;
    sse_consoles_ = std::make_unique<SseFleet>(std::move(sse));
    return sse_consoles_->Open(options_.consoles);
  }
  for (int i = 0; i < options_.consoles; ++i) {
    consoles_.push_back(std::make_unique<InstructorStream>(address_, key_));
    consoles_.back()->Attach(pollers_->queue(i % options_.threads), class_id,
                             batches_);
    if (!consoles_.back()->WaitAttached(kOpenTimeout)) {
      return absl::UnavailableError(
          absl::StrCat("console ", i, " did not attach"));
    }
  }
  return absl::OkStatus();
}

absl::Status BenchRun::SetupSse(const std::string& class_id, int max_cues) {
  SseFleetOptions sse;
  sse.transport = options_.transport;
  if (absl::Status target = HttpTarget(&sse); !target.ok()) return target;
  sse.key = options_.kiosk_key.empty() ? key_ : options_.kiosk_key;
  if (server_ != nullptr) sse.key = server_->kiosk_key();
  sse.class_id = class_id;
  sse.join_code = join_code_;
  sse.threads = options_.threads;
  sse.opens_in_flight = options_.joins_in_flight;
  sse.open_timeout = options_.join_timeout;
  sse.cue_prefix = kCuePrefix;
  sse.max_cues = max_cues;
  sse_ = std::make_unique<SseFleet>(std::move(sse));
  return absl::OkStatus();
}

absl::Status BenchRun::JoinFailure(const std::string& failure) const {
  if (!options_.spawn_server &&
      (absl::StrContains(failure, "RESOURCE_EXHAUSTED") ||
       absl::StrContains(failure, "HTTP 429"))) {
    return absl::ResourceExhaustedError(absl::StrCat(
        failure,
        " (circuitd limits joins per address: start it with "
        "--joins_per_minute_per_peer and --stream_messages_per_second "
        "raised, or use --spawn_server)"));
  }
  return absl::UnavailableError(failure);
}

absl::Status BenchRun::Joins(Row* row) {
  before_joins_ = SampleProcess(pid_);
  const ProcSample& before = before_joins_;
  const double self_before = SelfCpuSeconds();
  const Micros start = NowMicros();
  if (sse_ != nullptr) {
    if (absl::Status opened = sse_->Open(n_); !opened.ok()) {
      return JoinFailure(std::string(opened.message()));
    }
  }
  participants_.reserve(sse_ != nullptr ? 0 : static_cast<size_t>(n_));
  for (int i = 0; sse_ == nullptr && i < n_; ++i) {
    if (!state_->WaitJoinSlot(options_.joins_in_flight,
                              options_.join_timeout)) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "no join answered in %s (%d of %d joined)",
          absl::FormatDuration(options_.join_timeout), state_->joined(), n_));
    }
    if (std::string failure = state_->first_join_failure(); !failure.empty()) {
      return JoinFailure(failure);
    }
    const std::string& address =
        options_.participant_addresses.empty()
            ? address_
            : options_
                  .participant_addresses[static_cast<size_t>(i) %
                                         options_.participant_addresses.size()];
    participants_.push_back(std::make_unique<Participant>(
        state_.get(), i, address, ParticipantSource(i)));
    participants_.back()->Join(pollers_->queue(static_cast<size_t>(i)),
                               join_code_, batches_);
  }
  if (!state_->WaitJoinsSettled(options_.join_timeout)) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "joins not answered in %s (%d of %d joined)",
        absl::FormatDuration(options_.join_timeout), state_->joined(), n_));
  }
  if (std::string failure = state_->first_join_failure(); !failure.empty()) {
    return JoinFailure(failure);
  }
  const ProcSample after = SampleProcess(pid_);
  Micros last = start;
  for (const auto& p : participants_) {
    row->join_latency_us.push_back(p->join_latency());
    last = std::max(last, p->joined_at());
  }
  if (sse_ != nullptr) {
    row->join_latency_us = sse_->OpenLatencies();
    last = std::max(last, sse_->LastOpened());
  }
  std::sort(row->join_latency_us.begin(), row->join_latency_us.end());
  row->join_s = static_cast<double>(last - start) / 1e6;
  if (before.ok && after.ok) {
    row->server_cpu_ms_per_join = (after.cpu_s - before.cpu_s) * 1e3 / n_;
  }
  if (options_.mode == BenchMode::kJoins) {
    // The joins are the measured phase.
    row->load_cpu_s = SelfCpuSeconds() - self_before;
    row->measured_s = static_cast<double>(NowMicros() - start) / 1e6;
    if (before.ok && after.ok) {
      row->server_cpu_s = after.cpu_s - before.cpu_s;
      row->server_cpu_percent = 100 * row->server_cpu_s / row->measured_s;
    }
  }
  Progress(absl::StrFormat("%d joined in %.1f s", n_, row->join_s));
  return absl::OkStatus();
}

absl::Status BenchRun::StartClass() {
  v1::InstructorCommand start;
  start.mutable_start();
  if (!instructor_->Command("start", start)) {
    return absl::UnavailableError("the instructor stream ended");
  }
  std::optional<v1::CommandResult> result =
      instructor_->WaitResult("start", absl::Now() + kOpenTimeout);
  if (!result.has_value()) {
    return absl::DeadlineExceededError("the class's start was not answered");
  }
  if (result->code() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the class did not start: ", result->message()));
  }
  if (!WaitCaughtUp(result->seq(), absl::Now() + kStartTimeout)) {
    return absl::DeadlineExceededError(
        "the class's start did not reach every participant in time");
  }
  return absl::OkStatus();
}

bool BenchRun::WaitCaughtUp(int64_t seq, absl::Time deadline) {
  if (sse_ != nullptr) {
    while (!sse_->CaughtUp(seq)) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }
  size_t from = 0;
  for (;;) {
    while (from < participants_.size() && participants_[from]->CaughtUp(seq)) {
      ++from;
    }
    if (from == participants_.size()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void BenchRun::SendCue(int index) {
  const Micros now = NowMicros();
  std::string text =
      absl::StrFormat("%s%06d at %d us ", kCuePrefix, index, now);
  text.resize(std::max(kCueTextBytes, text.size()), '.');
  v1::InstructorCommand cue;
  cue.mutable_cue()->set_text(text);
  const std::string id = absl::StrCat("c", command_count_++);
  instructor_->Command(id, std::move(cue));
  commands_.push_back({id, now, false});
  ++cues_sent_;
  last_send_ = now;
}

void BenchRun::SendChange(bool forward) {
  const Micros now = NowMicros();
  v1::InstructorCommand command;
  if (forward) {
    command.mutable_next();
  } else {
    command.mutable_previous();
  }
  const std::string id = absl::StrCat("n", command_count_++);
  instructor_->Command(id, std::move(command));
  commands_.push_back({id, now, true});
  ++changes_sent_;
  last_send_ = now;
}

// Sleeps until `due`, if it is ahead.
void SleepUntil(Micros due) {
  const Micros now = NowMicros();
  if (due > now) absl::SleepFor(absl::Microseconds(due - now));
}

void BenchRun::SendCues(Row* row) {
  const Micros start = NowMicros();
  const double period = 1e6 / options_.rate;
  for (int k = 0; k < options_.messages; ++k) {
    SleepUntil(start + static_cast<Micros>(k * period));
    SendCue(k);
  }
  row->messages = absl::StrCat(options_.messages);
  row->rate = absl::StrFormat("%g", options_.rate);
}

void BenchRun::SendChanges(Row* row) {
  const Micros start = NowMicros();
  const double period = 1e6 / options_.rate;
  // Forward towards the end of the plan and back, never onto the last
  // interval (a `next` there ends the class, and so may its timer).
  const int top = std::max(1, instructor_->interval_count() - 3);
  int index = instructor_->current_index();
  bool forward = true;
  for (int k = 0; k < options_.messages; ++k) {
    SleepUntil(start + static_cast<Micros>(k * period));
    if (forward && index >= top) forward = false;
    if (!forward && index <= 0) forward = true;
    SendChange(forward);
    index += forward ? 1 : -1;
  }
  row->messages = absl::StrCat(options_.messages);
  row->rate = absl::StrFormat("%g", options_.rate);
}

void BenchRun::SendReports(Row* row) {
  const Micros start = NowMicros();
  const Micros period = static_cast<Micros>(1e6 / options_.rate);
  state_->SetReportSchedule(start, period);
  // Report j of the class is report j / N of participant j % N, due at
  // start + j * period / N.
  const int64_t total = static_cast<int64_t>(n_) * options_.messages;
  for (int64_t j = 0; j < total;) {
    const Micros now = NowMicros();
    Micros due = start + j * period / n_;
    while (j < total && due <= now) {
      participants_[static_cast<size_t>(j % n_)]->Report(j / n_);
      last_send_ = due;
      ++j;
      due = start + j * period / n_;
    }
    if (j < total) {
      absl::SleepFor(absl::Microseconds(std::max<Micros>(200, due - now)));
    }
  }
  reports_sent_ = total;
  row->messages = absl::StrCat(options_.messages);
  row->rate = absl::StrFormat("%g", options_.rate);
}

void BenchRun::RunClassShape(Row* row) {
  const Micros start = NowMicros();
  const Micros end = start + options_.seconds * 1'000'000LL;
  state_->SetReportSchedule(start, kClassReportEvery);
  Micros next_cue = start + kClassFirstCue;
  Micros next_change = start + kClassFirstNext;
  int cue = 0;
  int64_t j = 0;  // the class's next report, as in SendReports
  auto report_due = [&](int64_t report) {
    return start + report * kClassReportEvery / n_;
  };
  const int count = instructor_->interval_count();
  for (;;) {
    const Micros due = std::min({next_cue, next_change, report_due(j)});
    if (due >= end) break;
    SleepUntil(due);
    const Micros now = NowMicros();
    if (next_cue <= now && next_cue < end) {
      SendCue(cue++);
      next_cue += kClassCueEvery;
    }
    if (next_change <= now && next_change < end) {
      // Forward, unless that would end the class.
      SendChange(instructor_->current_index() < count - 2);
      next_change += kClassNextEvery;
    }
    while (report_due(j) <= now && report_due(j) < end) {
      participants_[static_cast<size_t>(j % n_)]->Report(j / n_);
      ++j;
    }
  }
  reports_sent_ = j;
  row->messages = absl::StrCat(cues_sent_ + changes_sent_);
  row->rate = "class";
}

void BenchRun::WaitDelivered(absl::Time deadline) {
  // The seq of the last event a command made: every participant is caught
  // up once it has seen that one (events arrive in order).
  int64_t seq = 0;
  for (const SentCommand& command : commands_) {
    std::optional<v1::CommandResult> result =
        instructor_->WaitResult(command.id, deadline);
    if (result.has_value() && result->code() == 0) {
      seq = std::max(seq, result->seq());
    }
  }
  WaitCaughtUp(seq, deadline);
}

std::string BenchRun::ParticipantSource(int i) const {
  if (options_.attack == BenchAttack::kOff) return "";
  // 127.1.0.1 onwards: 250 a block, every one of them this machine.
  const int block = i / 250;
  return absl::StrFormat("127.%d.%d.%d", 1 + block / 250, block % 250,
                         i % 250 + 1);
}

absl::Status BenchRun::StartAttack(Row* row) {
  AttackOptions attack;
  attack.attack = options_.attack;
  attack.size = options_.attack_size > 0 ? options_.attack_size
                                         : DefaultAttackSize(options_.attack);
  attack.from = options_.attack_from;
  attack.reopen = options_.attack_reopen;
  const size_t colon = address_.rfind(':');
  attack.host = address_.substr(0, colon);
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address_.substr(colon + 1), &attack.grpc_port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--attack needs a host:port server address, not \"", address_, "\""));
  }
  if (options_.attack == BenchAttack::kSlowloris) {
    if (server_ != nullptr) {
      attack.http_port = server_->http_port();
    } else {
      const size_t http_colon = options_.http_address.rfind(':');
      if (http_colon == std::string::npos ||
          !absl::SimpleAtoi(options_.http_address.substr(http_colon + 1),
                            &attack.http_port)) {
        attack.http_port = 0;
      }
    }
    if (attack.http_port == 0) {
      return absl::InvalidArgumentError(
          "--attack=slowloris needs circuitd's HTTP listener "
          "(--http_address, or --spawn_server)");
    }
  }
  attack.join_code = join_code_;
  attack.duration = absl::Seconds(options_.messages / options_.rate);
  attack.server_pid = pid_;
  row->attack = BenchAttackName(options_.attack);
  if (attack.size > 0) absl::StrAppend(&row->attack, " ", attack.size);
  const ProcSample before = SampleProcess(pid_);
  before_attack_ = before;
  if (before.ok) {
    row->rss_before_attack_mb = static_cast<double>(before.rss_kb) / 1024;
  }
  attack_ = std::make_unique<Attack>(std::move(attack));
  attack_->Start();
  if (!attack_->WaitRampedUp(absl::Seconds(30))) {
    return absl::DeadlineExceededError(
        "the attack did not reach full strength in 30 s");
  }
  Progress(absl::StrCat("attack ", row->attack, " under way"));
  return absl::OkStatus();
}

void BenchRun::StopAttack(Row* row) {
  if (attack_ == nullptr) return;
  attack_->Stop();
  row->attack_tally = attack_->tally();
  row->attack_summary = row->attack_tally.Summary(
      options_.attack, options_.attack_size > 0
                           ? options_.attack_size
                           : DefaultAttackSize(options_.attack));
  // What the server still holds once the attacker is gone.
  absl::SleepFor(2 * kSettle);
  const ProcSample after = SampleProcess(pid_);
  if (after.ok) {
    row->rss_after_attack_mb = static_cast<double>(after.rss_kb) / 1024;
  }
}

void BenchRun::Measure(Row* row) {
  absl::SleepFor(kSettle);
  measure_start_ = SampleProcess(pid_);
  if (options_.mode == BenchMode::kJoins) {
    if (measure_start_.ok) {
      row->server_rss_mb = static_cast<double>(measure_start_.rss_kb) / 1024;
    }
    return;
  }
  const ProcSample& before = measure_start_;
  const auto [reads_before, messages_before] = ReadsAndMessages();
  const double self_before = SelfCpuSeconds();
  const Micros start = NowMicros();
  switch (options_.mode) {
    case BenchMode::kCues:
      SendCues(row);
      break;
    case BenchMode::kNext:
      SendChanges(row);
      break;
    case BenchMode::kReports:
      SendReports(row);
      break;
    case BenchMode::kClass:
      RunClassShape(row);
      break;
    case BenchMode::kIdle:
      absl::SleepFor(absl::Seconds(options_.seconds));
      break;
    case BenchMode::kJoins:
      break;
  }
  if (options_.mode != BenchMode::kIdle) {
    WaitDelivered(absl::FromUnixMicros(std::max(last_send_, start)) +
                  options_.drain_timeout);
  }
  const ProcSample after = SampleProcess(pid_);
  const auto [reads_after, messages_after] = ReadsAndMessages();
  row->reads = reads_after - reads_before;
  row->read_messages = messages_after - messages_before;
  row->load_cpu_s = SelfCpuSeconds() - self_before;
  row->measured_s = static_cast<double>(NowMicros() - start) / 1e6;
  if (before.ok && after.ok) {
    row->server_cpu_s = after.cpu_s - before.cpu_s;
    row->server_cpu_percent =
        row->measured_s > 0 ? 100 * row->server_cpu_s / row->measured_s : kNan;
    row->server_rss_mb = static_cast<double>(after.rss_kb) / 1024;
  }
}

std::pair<int64_t, int64_t> BenchRun::ReadsAndMessages() const {
  return sse_ != nullptr ? sse_->ReadsAndEvents() : state_->ReadsAndMessages();
}

void BenchRun::Figures(Row* row) {
  // Commands: which were refused, and when each change was sent.
  std::map<std::string, v1::CommandResult> results = instructor_->Results();
  std::map<int64_t, Micros> change_sent;  // by the seq of its event
  std::map<int64_t, bool> command_seqs;
  for (const SentCommand& command : commands_) {
    auto it = results.find(command.id);
    if (it == results.end() || it->second.code() != 0) {
      if (row->commands_refused++ == 0) {
        row->first_command_refusal =
            it == results.end() ? "no answer"
                                : absl::StrCat("code ", it->second.code(), ": ",
                                               it->second.message());
      }
      continue;
    }
    command_seqs[it->second.seq()] = true;
    if (command.is_change) change_sent[it->second.seq()] = command.sent;
  }
  for (int64_t seq : instructor_->state_seqs()) {
    if (command_seqs.count(seq) == 0) ++row->auto_advances;
  }
  // The start's own state event is not a timer advance.
  if (row->auto_advances > 0 && options_.mode != BenchMode::kIdle &&
      options_.mode != BenchMode::kJoins) {
    --row->auto_advances;
  }

  std::map<int64_t, std::vector<int64_t>> reach;  // by seq: latencies
  CueReceipts cues;
  Micros last_change = 0, last_ack = 0;
  for (size_t i = 0; i < state_->shard_count(); ++i) {
    Shard& shard = state_->shard(i);
    absl::MutexLock lock(&shard.mu);
    cues.Add(shard.cues);
    for (const Change& change : shard.changes) {
      auto sent = change_sent.find(change.seq);
      if (sent == change_sent.end()) continue;
      row->change_latency_us.push_back(change.received - sent->second);
      reach[change.seq].push_back(change.received - sent->second);
      last_change = std::max(last_change, change.received);
    }
    row->ack_latency_us.insert(row->ack_latency_us.end(),
                               shard.ack_latency_us.begin(),
                               shard.ack_latency_us.end());
    last_ack = std::max(last_ack, shard.last_ack_received);
    row->refused += shard.refused;
    if (row->first_refusal.empty()) row->first_refusal = shard.first_refusal;
  }
  if (sse_ != nullptr) {
    SseTally tally = sse_->Collect();
    cues.Add(tally.cues);
    for (const auto& [seq, received] : tally.changes) {
      auto sent = change_sent.find(seq);
      if (sent == change_sent.end()) continue;
      row->change_latency_us.push_back(received - sent->second);
      reach[seq].push_back(received - sent->second);
      last_change = std::max(last_change, received);
    }
  }
  row->cue_latency_us = std::move(cues.latency_us);
  row->cue_duplicates = cues.duplicates;
  const Micros last_cue = cues.last_received_us;
  std::sort(row->cue_latency_us.begin(), row->cue_latency_us.end());
  std::sort(row->change_latency_us.begin(), row->change_latency_us.end());
  std::sort(row->ack_latency_us.begin(), row->ack_latency_us.end());
  row->acks_expected = reports_sent_;

  // How long the slowest `next` took to reach 99% and all participants.
  if (!change_sent.empty()) {
    row->nexts_timed = static_cast<int>(change_sent.size());
    double worst99 = 0, worst100 = 0;
    const size_t need99 = static_cast<size_t>(std::ceil(0.99 * n_));
    for (const auto& [seq, sent] : change_sent) {
      std::vector<int64_t>& times = reach[seq];
      std::sort(times.begin(), times.end());
      const double inf = std::numeric_limits<double>::infinity();
      const double at99 =
          times.size() >= need99 && need99 > 0 ? times[need99 - 1] / 1e3 : inf;
      const double at100 =
          times.size() >= static_cast<size_t>(n_) ? times.back() / 1e3 : inf;
      worst99 = std::max(worst99, at99);
      worst100 = std::max(worst100, at100);
    }
    row->next_reach99_ms = std::isinf(worst99) ? kNan : worst99;
    row->next_reach100_ms = std::isinf(worst100) ? kNan : worst100;
  }

  Micros last_delivery = 0;
  switch (options_.mode) {
    case BenchMode::kCues:
      row->latency_us = row->cue_latency_us;
      row->expected = static_cast<int64_t>(n_) * cues_sent_;
      last_delivery = last_cue;
      break;
    case BenchMode::kNext:
      row->latency_us = row->change_latency_us;
      row->expected = static_cast<int64_t>(n_) * changes_sent_;
      last_delivery = last_change;
      break;
    case BenchMode::kReports:
      row->latency_us = row->ack_latency_us;
      row->expected = reports_sent_;
      last_delivery = last_ack;
      break;
    case BenchMode::kClass:
      row->latency_us = row->cue_latency_us;
      row->latency_us.insert(row->latency_us.end(),
                             row->change_latency_us.begin(),
                             row->change_latency_us.end());
      std::sort(row->latency_us.begin(), row->latency_us.end());
      row->expected = static_cast<int64_t>(n_) * (cues_sent_ + changes_sent_);
      last_delivery = std::max(last_cue, last_change);
      break;
    case BenchMode::kJoins:
      row->latency_us = row->join_latency_us;
      row->expected = n_;
      row->delivered = static_cast<int64_t>(row->join_latency_us.size());
      row->messages = "1 join";
      row->rate = absl::StrCat(options_.joins_in_flight, " in flight");
      break;
    case BenchMode::kIdle:
      row->has_deliveries = false;
      row->messages = "0";
      row->rate = absl::StrCat(options_.seconds, " s");
      break;
  }
  if (options_.mode != BenchMode::kJoins) {
    row->delivered = static_cast<int64_t>(row->latency_us.size());
  }
  if (last_delivery > 0 && last_send_ > 0) {
    row->drain_s =
        static_cast<double>(std::max<Micros>(0, last_delivery - last_send_)) /
        1e6;
  }
  row->batches = batches_ && sse_ == nullptr;
  row->cut = state_->cut();
  row->first_cut = state_->first_cut();
  if (sse_ != nullptr) {
    row->cut = sse_->cut();
    row->first_cut = sse_->first_cut();
  }
  if (instructor_->ended()) {
    row->instructor =
        absl::StrCat("ended: ", StatusText(instructor_->status()));
  }
  row->consoles = options_.consoles;
  row->console_transport = options_.consoles_over_http ? "sse" : "grpc";
  // A console that was cut is a run that did not keep up.
  for (const auto& console : consoles_) {
    if (console->ended()) {
      row->instructor =
          absl::StrCat("a console ended: ", StatusText(console->status()));
    }
  }
  if (sse_consoles_ != nullptr && sse_consoles_->cut() > 0) {
    row->instructor =
        absl::StrCat("a console was cut: ", sse_consoles_->first_cut());
  }
  const bool acks_ok =
      row->refused == 0 &&
      static_cast<int64_t>(row->ack_latency_us.size()) == row->acks_expected;
  switch (options_.mode) {
    case BenchMode::kJoins:
      row->kept_up = row->delivered == row->expected;
      row->server_cpu_us_per_message = row->server_cpu_ms_per_join * 1e3;
      break;
    case BenchMode::kIdle:
      row->kept_up = row->cut == 0 && !instructor_->ended();
      break;
    default:
      row->kept_up = row->delivered == row->expected && row->expected > 0 &&
                     !std::isnan(row->drain_s) && row->drain_s <= 0.5 &&
                     acks_ok && row->commands_refused == 0;
      if (options_.mode != BenchMode::kClass && row->delivered > 0 &&
          !std::isnan(row->server_cpu_s)) {
        row->server_cpu_us_per_message =
            row->server_cpu_s * 1e6 / static_cast<double>(row->delivered);
      }
  }
}

absl::Status BenchRun::Run(Row* row) {
  row->mode = ModeName(options_.mode);
  row->transport = BenchTransportName(options_.transport);
  row->participants = n_;
  if (absl::Status setup = Setup(); !setup.ok()) return setup;
  if (absl::Status joined = Joins(row); !joined.ok()) return joined;
  if (options_.mode != BenchMode::kJoins && options_.mode != BenchMode::kIdle) {
    if (absl::Status started = StartClass(); !started.ok()) return started;
  }
  if (options_.attack != BenchAttack::kOff) {
    if (absl::Status attacked = StartAttack(row); !attacked.ok()) {
      return attacked;
    }
  }
  Measure(row);
  StopAttack(row);
  // RSS after the joins is sampled just before the measured phase (or the
  // attack).
  const ProcSample& joined =
      attack_ != nullptr ? before_attack_ : measure_start_;
  if (before_joins_.ok && joined.ok) {
    row->rss_kb_per_participant =
        static_cast<double>(joined.rss_kb - before_joins_.rss_kb) / n_;
  }
  Figures(row);
  return absl::OkStatus();
}

void BenchRun::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  if (attack_ != nullptr) attack_->Stop();
  if (state_ != nullptr) state_->cancelling.store(true);
  if (sse_ != nullptr) sse_->Cancelling();
  // End the class politely: on a shared server its seats are then released
  // as the streams close, instead of being held for the hold time.
  if (instructor_ != nullptr && !instructor_->ended()) {
    v1::InstructorCommand end;
    end.mutable_end();
    if (instructor_->Command("end", end)) {
      instructor_->WaitResult("end", absl::Now() + absl::Seconds(5));
    }
  }
  if (sse_ != nullptr) sse_->Close();
  if (sse_consoles_ != nullptr) {
    sse_consoles_->Cancelling();
    sse_consoles_->Close();
  }
  for (auto& p : participants_) p->Cancel();
  for (auto& c : consoles_) c->Cancel();
  if (instructor_ != nullptr) instructor_->Cancel();
  const absl::Time deadline = absl::Now() + kTeardownTimeout;
  auto all_ended = [&] {
    for (auto& p : participants_) {
      if (!p->ended()) return false;
    }
    for (auto& c : consoles_) {
      if (!c->ended()) return false;
    }
    return instructor_ == nullptr || instructor_->ended();
  };
  while (!all_ended()) {
    if (absl::Now() >= deadline) {
      std::fprintf(stderr,
                   "circuit-bench: streams did not end after being cancelled; "
                   "giving up\n");
      std::fflush(stdout);
      std::_Exit(1);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (pollers_ != nullptr) pollers_->Stop();
  participants_.clear();
  consoles_.clear();
  sse_.reset();
  sse_consoles_.reset();
  instructor_.reset();
  if (server_ != nullptr) server_->Stop();
}

}  // namespace

std::string BenchUsageError(const BenchOptions& options) {
  if (options.participants.empty()) return "--participants needs a number";
  for (int n : options.participants) {
    if (n < 1 || n > 100000) return "--participants are 1 to 100000 each";
  }
  if (options.messages < 1 || options.messages > 100000) {
    return "--messages is 1 to 100000";
  }
  if (!(options.rate >= 0.01 && options.rate <= 100000)) {
    return "--rate is 0.01 to 100000";
  }
  if (options.seconds < 1 || options.seconds > 86400) {
    return "--seconds is 1 to 86400";
  }
  if (options.joins_in_flight < 1 || options.joins_in_flight > 100000) {
    return "--joins_in_flight is 1 to 100000";
  }
  if (options.threads < 1 || options.threads > 64) {
    return "--threads is 1 to 64";
  }
  if (options.mode == BenchMode::kClass && options.seconds < 5) {
    return "--mode=class needs --seconds of 5 or more";
  }
  if (!options.spawn_server && options.instructor_key.empty()) {
    return "no instructor key: pass --key, set CIRCUIT_INSTRUCTOR_KEY, or "
           "use --spawn_server";
  }
  if (options.spawn_server && options.server_pid != 0) {
    return "--server_pid is for a server the bench did not spawn";
  }
  if (options.attack != BenchAttack::kOff) {
    if (options.transport != BenchTransport::kGrpc ||
        (options.mode != BenchMode::kCues && options.mode != BenchMode::kNext &&
         options.mode != BenchMode::kClass)) {
      return "--attack measures a gRPC class: --transport=grpc with "
             "--mode=cues, next or class";
    }
    if (options.attack_size < 0 || options.attack_size > 1000000) {
      return "--attack_size is 0 (the attack's default) to 1000000";
    }
  }
  if (options.transport != BenchTransport::kGrpc) {
    if (options.mode == BenchMode::kReports ||
        options.mode == BenchMode::kClass) {
      return "--transport=sse_kiosk and sse_participant run --mode=cues, "
             "next, joins or idle";
    }
    if (!options.spawn_server && options.http_address.empty()) {
      return "--transport=sse_* needs --http_address (circuitd's HTTP "
             "listener) or --spawn_server";
    }
  }
  return "";
}

int RunBench(const BenchOptions& options) {
  if (std::string error = BenchUsageError(options); !error.empty()) {
    std::fprintf(stderr, "circuit-bench: %s\n", error.c_str());
    return 2;
  }
  // Debian's Abseil is built without NDEBUG: every absl::Mutex (gRPC's
  // included) would pay for deadlock detection in the load tool too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const uint64_t files = RaiseFileLimit();
  const int most = *std::max_element(options.participants.begin(),
                                     options.participants.end());
  if (files > 0 && static_cast<uint64_t>(most) + kSpareFiles > files) {
    std::fprintf(
        stderr,
        "circuit-bench: %d participants need about %d open files, and the "
        "limit is %d (raise the hard limit: ulimit -Hn)\n",
        most, most + static_cast<int>(kSpareFiles), static_cast<int>(files));
    return 1;
  }
  if (!options.spawn_server && options.server_pid != 0 &&
      !SampleProcess(options.server_pid).ok) {
    std::fprintf(stderr, "circuit-bench: cannot read /proc/%d/stat\n",
                 static_cast<int>(options.server_pid));
    return 1;
  }
  bool header = !options.json;
  for (int n : options.participants) {
    Row row;
    absl::Status status;
    {
      BenchRun run(options, n);
      status = run.Run(&row);
    }
    if (!status.ok()) {
      std::fprintf(
          stderr, "circuit-bench: %s%s N=%d: %s\n", ModeName(options.mode),
          options.transport == BenchTransport::kGrpc
              ? ""
              : absl::StrCat(" (", BenchTransportName(options.transport), ")")
                    .c_str(),
          n, std::string(status.message()).c_str());
      return 1;
    }
    if (options.json) {
      PrintJson(row);
      continue;
    }
    if (header) PrintHeader();
    header = false;
    PrintRow(row);
  }
  return 0;
}

}  // namespace circuit::bench
