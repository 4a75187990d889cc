// plan_bench: how long carry-over takes for a room of kept profiles, each
// with a year of weekly classes. Not a test: it asserts nothing.
//
//   build/bench/plan_bench [--profiles=200,2000] [--weeks=52] [--runs=3]
//                          [--perf_out=FILE]
//
// Two numbers per room size:
//   plans    engine::DerivePlan for every profile, over the newest past
//            classes the server keeps in memory (ProfileBook::kRecentClasses)
//            and, for comparison, over the whole year: the CPU cost alone.
//   console  a real circuitd (on a SQLite journal pre-filled with the
//            profiles and their year) opens a class; every participant joins
//            with her profile credential (one stream each, 50 to a
//            connection); the time from the first join sent to the
//            instructor's console holding every seat and at least one plan
//            item for each. The target: 200 within 100 ms, 2,000 within 1 s.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
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
#include "grpcpp/grpcpp.h"
#include "server/common/secrets.h"
#include "server/engine/carry_over.h"
#include "server/journal/sqlite_journal.h"
#include "server/library/circuit_library.h"
#include "server/live/profiles.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(std::string, profiles, "200,2000", "room sizes");
ABSL_FLAG(int, weeks, 52, "weekly past classes per profile");
ABSL_FLAG(int, runs, 3, "runs per size (the median is printed)");
ABSL_FLAG(std::string, perf_out, "",
          "with a path: `perf record -g --call-graph dwarf` on circuitd for "
          "the last run's joins (first size) only, written there (and the "
          "same joins without profiles to PATH.baseline)");
ABSL_FLAG(bool, baseline, true,
          "also time the same joins without profiles (no plans), back to "
          "back, to see what the plans add");

namespace circuit {
namespace {

constexpr char kKey[] = "plan-bench-instructor-key";
constexpr int64_t kWeekMs = 7LL * 24 * 3600 * 1000;

std::vector<int> Numbers(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view n : absl::StrSplit(list, ',')) {
    int value = 0;
    if (absl::SimpleAtoi(n, &value) && value > 0) out.push_back(value);
  }
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

internal::ClassRecord RecordOf(const CircuitLibrary& library,
                               const std::string& class_id, int64_t at_ms) {
  const v1::Circuit& circuit = *library.FindCircuit("kickback-trio");
  internal::ClassRecord record;
  record.mutable_info()->set_class_id(class_id);
  record.mutable_info()->set_join_code(class_id.substr(class_id.size() - 6));
  record.mutable_info()->set_circuit_id(circuit.id());
  record.mutable_info()->set_title("Bench week");
  record.mutable_info()->set_created_unix_ms(at_ms);
  record.mutable_info()->set_started_unix_ms(at_ms);
  record.mutable_info()->set_ended_unix_ms(at_ms + 3'600'000);
  record.mutable_info()->set_phase(v1::CLASS_PHASE_ENDED);
  *record.mutable_circuit() = circuit;
  for (v1::Exercise& e : library.ExercisesFor(circuit)) {
    *record.add_exercises() = std::move(e);
  }
  *record.mutable_rules() = library.rules();
  return record;
}

// Her record in one week's class: every set reported, an effort per block,
// now and then a symptom; a few are "too easy" at the top of the range so
// plans have items.
v1::ParticipantSummary SummaryOf(const internal::ClassRecord& record,
                                 const std::string& participant_id,
                                 std::mt19937_64& rng, bool easy) {
  v1::ParticipantSummary p;
  p.set_participant_id(participant_id);
  p.mutable_check_in()->set_display_name("Bench");
  int total = 0;
  for (int b = 0; b < record.circuit().blocks_size(); ++b) {
    const v1::Block& block = record.circuit().blocks(b);
    for (int set = 1; set <= block.sets(); ++set) {
      for (v1::Side side : {v1::SIDE_LEFT, v1::SIDE_RIGHT}) {
        v1::SetRecord* s = p.add_sets();
        s->set_block_index(b);
        s->set_exercise_id(block.exercise_id());
        s->set_set(set);
        s->set_side(side);
        const int reps =
            easy ? 10 : std::uniform_int_distribution<int>(7, 10)(rng);
        s->set_reps(reps);
        total += reps;
      }
    }
    v1::EffortRecord* e = p.add_efforts();
    e->set_block_index(b);
    e->set_feel(easy ? v1::EFFORT_FEEL_TOO_EASY : v1::EFFORT_FEEL_JUST_RIGHT);
  }
  if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) {
    v1::SymptomRecord* s = p.add_symptoms();
    s->set_block_index(1);
    s->set_symptom(v1::SYMPTOM_HIP_PINCH);
  }
  p.set_total_reps(total);
  return p;
}

struct Room {
  std::vector<std::string> credentials;
  std::vector<std::vector<internal::PastClass>> histories;
};

// Writes `n` profiles with `weeks` past classes each into a journal at
// `path` (as circuitd would have, class by class), and keeps them in memory.
absl::StatusOr<Room> Fill(const std::string& path,
                          const CircuitLibrary& library, int n, int weeks) {
  SqliteJournalOptions options;
  options.path = path;
  auto journal = SqliteJournal::Open(options);
  if (!journal.ok()) return journal.status();
  std::mt19937_64 rng(7);
  Room room;
  std::vector<internal::StoredProfile> profiles(n);
  const v1::Programme* programme =
      library.programmes().empty() ? nullptr : &library.programmes().front();
  const int64_t start_ms = absl::ToUnixMillis(absl::Now()) - weeks * kWeekMs;
  for (int i = 0; i < n; ++i) {
    v1::Profile* profile = profiles[i].mutable_profile();
    profile->set_profile_id(absl::StrCat("pf-bench", i));
    profile->set_studio_id("main");
    profile->set_display_name(absl::StrCat("P", i));
    profile->set_track(i % 2 ? v1::RECOVERY_TRACK_CESAREAN
                             : v1::RECOVERY_TRACK_VAGINAL);
    profile->set_weeks_given(6);
    profile->set_weeks_given_unix_ms(start_ms);
    if (programme != nullptr) {
      profile->set_programme_id(programme->id());
      profile->set_stage_id(programme->stages(0).id());
    }
    room.credentials.push_back(absl::StrCat("cp_", RandomHex(24)));
    profiles[i].set_credential_sha256(Sha256(room.credentials.back()));
  }
  room.histories.resize(n);
  absl::Mutex mu;
  absl::Status failed;
  int pending = 0;
  auto check = [&](absl::Status s) {
    absl::MutexLock lock(&mu);
    if (!s.ok() && failed.ok()) failed = s;
    --pending;
  };
  for (int w = 0; w < weeks; ++w) {
    const std::string class_id = absl::StrCat("c-bench-week", 100000 + w);
    internal::ClassRecord record =
        RecordOf(library, class_id, start_ms + w * kWeekMs);
    {
      absl::MutexLock lock(&mu);
      ++pending;
    }
    (*journal)->CreateClass(record, check);
    v1::ClassSummary summary;
    *summary.mutable_class_info() = record.info();
    std::vector<internal::ProfileUpdate> updates;
    for (int i = 0; i < n; ++i) {
      v1::ParticipantSummary p =
          SummaryOf(record, absl::StrCat("p", i + 1), rng, /*easy=*/i % 4 == 0);
      p.set_profile_id(profiles[i].profile().profile_id());
      internal::ProfileUpdate& update = updates.emplace_back();
      *update.mutable_profile() = profiles[i];
      *update.mutable_past() =
          engine::MakePastClass(record, p, profiles[i].profile().stage_id());
      room.histories[i].push_back(update.past());
      *summary.add_participants() = std::move(p);
    }
    {
      absl::MutexLock lock(&mu);
      ++pending;
    }
    (*journal)->EndClass(summary, std::move(updates), check);
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* p) { return *p == 0; }, &pending));
  if (!failed.ok()) return failed;
  return room;
}

// DerivePlan for every profile over her newest `keep` past classes; ms.
double PlanAll(const CircuitLibrary& library, const Room& room, size_t keep,
               int weeks, size_t* items, size_t* planned) {
  const v1::Circuit* circuit = library.FindCircuit("kickback-trio");
  const absl::Time t0 = absl::Now();
  *items = 0;
  *planned = 0;
  int i = 0;
  for (const std::vector<internal::PastClass>& history : room.histories) {
    const size_t first = history.size() > keep ? history.size() - keep : 0;
    std::vector<internal::PastClass> recent(history.begin() + first,
                                            history.end());
    engine::PlanInputs inputs;
    inputs.circuit = circuit;
    inputs.library = &library;
    // As the server sees her: 6 weeks at her first class, a year ago.
    inputs.weeks_postpartum = 6 + weeks;
    inputs.track =
        i++ % 2 ? v1::RECOVERY_TRACK_CESAREAN : v1::RECOVERY_TRACK_VAGINAL;
    if (!library.programmes().empty()) {
      inputs.programme_id = library.programmes().front().id();
      inputs.stage_id = library.programmes().front().stages(0).id();
    }
    const size_t made = engine::DerivePlan(inputs, recent).size();
    *items += made;
    if (made > 0) ++*planned;
  }
  return absl::ToDoubleMilliseconds(absl::Now() - t0);
}

using JoinStream =
    grpc::ClientReaderWriter<v1::JoinClassRequest, v1::JoinClassResponse>;

// Opens a class on the circuitd at `address`, joins every profile, and
// answers the ms from the first join sent until the console holds every
// seat and a plan item for each of the `planned_expected` who have one; -1
// when that never happened within a minute.
double OpenClass(const std::string& address, const Room& room,
                 size_t planned_expected, bool with_profiles, pid_t perf_pid,
                 const std::string& perf_out) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = v1::CircuitService::NewStub(channel);
  v1::CreateClassRequest create;
  create.set_circuit_id("kickback-trio");
  v1::CreateClassResponse created;
  grpc::ClientContext create_context;
  create_context.AddMetadata("authorization", absl::StrCat("Bearer ", kKey));
  if (!stub->CreateClass(&create_context, create, &created).ok()) return -1;
  const std::string class_id = created.class_info().class_id();
  const size_t n = room.credentials.size();

  // The console: counts seats and the seats with a plan item.
  grpc::ClientContext console_context;
  console_context.AddMetadata("authorization", absl::StrCat("Bearer ", kKey));
  console_context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(60));
  auto console = stub->RunClass(&console_context);
  v1::RunClassRequest attach;
  attach.mutable_attach()->set_class_id(class_id);
  // As the consoles do (client/lib/live_session.cc): several events a write.
  attach.mutable_attach()->set_accept_batches(true);
  console->Write(attach);
  v1::RunClassResponse first;
  if (!console->Read(&first)) return -1;  // the snapshot

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::CircuitService::Stub>> stubs;
  for (size_t c = 0; c < (n + 49) / 50; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    args.SetInt("bench.channel", static_cast<int>(c));
    channels.push_back(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(v1::CircuitService::NewStub(channels.back()));
  }
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<JoinStream>> streams;
  std::unique_ptr<circuit::testing::Subprocess> perf;
  if (perf_pid != 0) {
    absl::StatusOr<circuit::testing::Subprocess> started =
        circuit::testing::Subprocess::Start(
            {"/usr/bin/perf", "record", "-g", "--call-graph", "dwarf,16384",
             "-F", "1999", "-p", absl::StrCat(perf_pid), "-o", perf_out});
    if (started.ok()) {
      perf =
          std::make_unique<circuit::testing::Subprocess>(std::move(*started));
      absl::SleepFor(absl::Seconds(1));  // perf attaches (a bench, not a test)
    } else {
      std::fprintf(stderr, "perf: %s\n", started.status().ToString().c_str());
    }
  }
  const absl::Time t0 = absl::Now();
  size_t unsent = 0;
  for (size_t i = 0; i < n; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(stubs[i / 50]->JoinClass(contexts.back().get()));
    v1::JoinClassRequest join;
    join.mutable_join()->set_join_code(created.class_info().join_code());
    if (with_profiles) {
      join.mutable_join()->set_profile_credential(room.credentials[i]);
    } else {
      join.mutable_join()->mutable_check_in()->set_display_name(
          absl::StrCat("P", i));
    }
    if (!streams.back()->Write(join)) ++unsent;
  }
  std::set<std::string> seats, planned;
  v1::RunClassResponse message;
  auto take = [&](const v1::RunClassResponse& m) {
    if (m.has_roster()) {
      for (const auto& e : m.roster().changed())
        seats.insert(e.participant_id());
    }
    if (m.has_event() && m.event().has_participant_joined()) {
      seats.insert(m.event().participant_joined().participant_id());
    }
    if (m.has_event() && m.event().has_suggestion() &&
        m.event().suggestion().from_history()) {
      planned.insert(m.event().suggestion().participant_id());
    }
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((seats.size() < n || planned.size() < planned_expected) &&
         absl::Now() < deadline && console->Read(&message)) {
    take(message);
    for (const v1::RunClassResponse& m : message.batch()) take(m);
  }
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  std::string console_end;
  if (absl::Now() < deadline &&
      (seats.size() < n || planned.size() < planned_expected)) {
    const grpc::Status ended = console->Finish();  // it ended on its own
    console_end =
        absl::StrCat("the console's stream ended: ", ended.error_code(), " ",
                     ended.error_message());
  }
  if (perf != nullptr) {
    perf->Signal(SIGINT);
    perf->Wait(absl::Now() + absl::Seconds(60)).IgnoreError();
  }
  for (auto& context : contexts) context->TryCancel();
  console_context.TryCancel();
  if (seats.size() < n || planned.size() < planned_expected) {
    std::fprintf(stderr,
                 "the console saw %zu of %zu seats and %zu of %zu plans after "
                 "%.0f ms. %s\n",
                 seats.size(), n, planned.size(), planned_expected, ms,
                 console_end.c_str());
    v1::GetClassRequest get;
    get.set_class_id(class_id);
    v1::GetClassResponse got;
    grpc::ClientContext get_context;
    get_context.AddMetadata("authorization", absl::StrCat("Bearer ", kKey));
    const grpc::Status get_status = stub->GetClass(&get_context, get, &got);
    std::fprintf(stderr,
                 "  %zu joins not sent; the server counts %d participants "
                 "(%s)\n",
                 unsent, got.class_info().participant_count(),
                 get_status.error_message().c_str());
    for (auto& stream : streams) {
      v1::JoinClassResponse ignored;
      while (stream->Read(&ignored)) {
      }
      const grpc::Status status = stream->Finish();
      if (status.error_code() != grpc::StatusCode::CANCELLED) {
        std::fprintf(stderr, "  a join: %d %s\n", status.error_code(),
                     status.error_message().c_str());
      }
    }
    return -1;
  }
  return ms;
}

int Main() {
  absl::StatusOr<CircuitLibrary> library = CircuitLibrary::LoadEmbedded();
  if (!library.ok()) {
    std::fprintf(stderr, "%s\n", library.status().ToString().c_str());
    return 1;
  }
  const int weeks = absl::GetFlag(FLAGS_weeks);
  std::printf(
      "| profiles | past classes each | plans (newest %d) | plans (whole "
      "history) | plan items | first join to console showing every plan | "
      "the same joins without profiles |\n"
      "|---|---|---|---|---|---|---|\n",
      ProfileBook::kRecentClasses);
  const std::vector<int> sizes = Numbers(absl::GetFlag(FLAGS_profiles));
  for (int n : sizes) {
    const std::string dir = circuit::testing::MakeTempDir();
    absl::StatusOr<Room> room = Fill(dir + "/circuit.db", *library, n, weeks);
    if (!room.ok()) {
      std::fprintf(stderr, "cannot fill the journal: %s\n",
                   room.status().ToString().c_str());
      return 1;
    }
    std::vector<double> recent_ms, all_ms, console_ms, baseline_ms;
    size_t items = 0, all_items = 0, planned = 0, all_planned = 0;
    for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
      recent_ms.push_back(PlanAll(*library, *room, ProfileBook::kRecentClasses,
                                  weeks, &items, &planned));
      all_ms.push_back(
          PlanAll(*library, *room, weeks, weeks, &all_items, &all_planned));
      auto circuitd = circuit::testing::StartCircuitd(
          {"--data_dir=" + dir, absl::StrCat("--instructor_key=", kKey),
           "--joins_per_minute_per_peer=1000000000",
           // The year of classes stays whole: a server that ran all year
           // purged each class's health data once, a month after it; here
           // that year-long backlog would be purged at start-up, while the
           // joins are timed.
           "--health_retention_days=3650"},
          absl::Now() + absl::Seconds(120));
      if (!circuitd.ok()) {
        std::fprintf(stderr, "circuitd did not start: %s\n",
                     circuitd.status().ToString().c_str());
        return 1;
      }
      const bool profile_this = run == absl::GetFlag(FLAGS_runs) - 1 &&
                                n == sizes.front() &&
                                !absl::GetFlag(FLAGS_perf_out).empty();
      // A class nobody times first: the server's first 2,000 streams grow
      // its heap and warm its caches, which would count against whichever
      // measured class came first.
      OpenClass(circuitd->address, *room, 0, false, 0, "");
      const pid_t perf_pid = profile_this ? circuitd->process->pid() : 0;
      const std::string perf_out = absl::GetFlag(FLAGS_perf_out);
      console_ms.push_back(OpenClass(circuitd->address, *room, planned, true,
                                     perf_pid, perf_out));
      if (absl::GetFlag(FLAGS_baseline)) {
        baseline_ms.push_back(OpenClass(circuitd->address, *room, 0, false,
                                        perf_pid, perf_out + ".baseline"));
      }
      circuitd->process->Signal(SIGTERM);
      circuitd->process->Wait(absl::Now() + absl::Seconds(30)).IgnoreError();
    }
    std::printf(
        "| %d | %d | %.1f ms | %.1f ms | %zu (%zu with a plan) | %.0f ms | "
        "%.0f ms |\n",
        n, weeks, Median(recent_ms), Median(all_ms), items, planned,
        Median(console_ms), baseline_ms.empty() ? 0.0 : Median(baseline_ms));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace circuit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return circuit::Main();
}
