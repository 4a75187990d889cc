#include "client/demo.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/spawner.h"

namespace circuit::client {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(15);
constexpr absl::Duration kTick = absl::Milliseconds(20);

// One simulated participant and what they are like.
struct Simulated {
  std::unique_ptr<ParticipantSession> session;
  // Rates "too hard" and comes in under the range now and then.
  bool struggles = false;
  // Does every rep at the top of the range and rates it "too easy".
  bool easy = false;
  // Her kept profile's credential once the first class made it.
  std::string profile_credential;
  // Reports a pinch at the front of the hip in the second block.
  bool pinches = false;
  bool pinch_reported = false;
  // Drops off the network for a few intervals, then resumes.
  bool flaky = false;
  int offline_until_interval = -1;
  // Simulated ms into the current work interval when they report it.
  int64_t report_at_ms = 0;
  bool reported = false;
  bool rated = false;
};

const char* const kNames[] = {"Ana",  "Bea",  "Cleo", "Dani", "Esme", "Fern",
                              "Gia",  "Hana", "Ines", "Jo",   "Kai",  "Lena",
                              "Mira", "Noor", "Oona", "Pia",  "Rosa", "Sana",
                              "Tess", "Uma",  "Vera", "Wren", "Yara", "Zoe"};

// Runs the room: an instructor who follows the plan at `speed`, and
// participants who report what a real room would.
class Simulation {
 public:
  Simulation(const DemoOptions& options, InstructorSession* instructor,
             std::vector<Simulated>* people)
      : options_(options),
        instructor_(instructor),
        people_(people),
        rng_(options.seed) {}

  void Run(const std::atomic<bool>* stop) {
    int interval = -2;
    absl::Time interval_start = absl::Now();
    while (!stop->load()) {
      ClassMirror mirror = instructor_->Mirror();
      if (mirror.ended()) return;
      if (mirror.state().phase() == v1::CLASS_PHASE_LOBBY) {
        Command([](v1::InstructorCommand* c) { c->mutable_start(); });
        absl::SleepFor(kTick);
        continue;
      }
      const v1::Interval& current = mirror.state().current();
      if (current.index() != interval) {
        interval = current.index();
        interval_start = absl::Now();
        Enter(mirror);
      }
      const int64_t simulated_ms = static_cast<int64_t>(
          absl::ToDoubleMilliseconds(absl::Now() - interval_start) *
          options_.speed);
      Act(mirror, simulated_ms);
      // Short intervals are moved on by hand; longer ones were shortened
      // with adjust_time on entry and the server advances them itself.
      if (manual_next_ && simulated_ms >= PlannedMs(current)) {
        manual_next_ = false;
        Command([](v1::InstructorCommand* c) { c->mutable_next(); });
      }
      absl::SleepFor(kTick);
    }
  }

 private:
  static int64_t PlannedMs(const v1::Interval& interval) {
    // Untimed intervals get the time of a comfortable set.
    return interval.duration_ms() > 0 ? interval.duration_ms() : 40'000;
  }

  template <typename Fill>
  void Command(Fill fill) {
    v1::InstructorCommand command;
    fill(&command);
    instructor_->SendAndWait(command, absl::Seconds(5)).IgnoreError();
  }

  void Enter(const ClassMirror& mirror) {
    const v1::Interval& current = mirror.state().current();
    const int64_t planned = PlannedMs(current);
    const int64_t compressed =
        static_cast<int64_t>(static_cast<double>(planned) / options_.speed);
    manual_next_ = true;
    if (current.duration_ms() > 0 && !current.waits_for_instructor() &&
        compressed >= 1500) {
      // The server's own countdown then shows the compressed time.
      Command([&](v1::InstructorCommand* c) {
        c->mutable_adjust_time()->set_delta_ms(
            -(mirror.RemainingMs(instructor_->ServerNowMs()) - compressed));
      });
      manual_next_ = false;
    }
    if (current.kind() == v1::INTERVAL_KIND_WORK && current.set() == 1 &&
        current.side() != v1::SIDE_RIGHT) {
      Command([](v1::InstructorCommand* c) {
        c->mutable_cue()->set_canned_cue_index(0);
      });
    }
    std::uniform_int_distribution<int64_t> when(planned * 6 / 10,
                                                planned * 9 / 10);
    for (Simulated& p : *people_) {
      p.report_at_ms = when(rng_);
      p.reported = false;
      p.rated = false;
      if (p.flaky && current.index() == 3) {
        p.session->DropConnection();
        p.session->PauseReconnecting();
        p.offline_until_interval = current.index() + 3;
      }
      if (p.flaky && current.index() == p.offline_until_interval) {
        p.session->ResumeReconnecting();
        p.offline_until_interval = -1;
      }
    }
  }

  void Act(const ClassMirror& mirror, int64_t simulated_ms) {
    const v1::Interval& current = mirror.state().current();
    for (Simulated& p : *people_) {
      if (current.kind() == v1::INTERVAL_KIND_WORK && !p.reported &&
          simulated_ms >= p.report_at_ms) {
        p.reported = true;
        int low = 8, high = 10;
        if (current.has_target_reps()) {
          low = current.target_reps().min_reps();
          high = current.target_reps().max_reps();
        }
        if (p.struggles) low = std::max(1, low - 2), high = low + 1;
        if (p.easy) low = high;
        if (current.has_target_reps()) {
          p.session
              ->ReportReps(std::uniform_int_distribution<int>(low, high)(rng_))
              .IgnoreError();
        } else {
          p.session->ReportReps(0).IgnoreError();
        }
        if (p.pinches && !p.pinch_reported && current.block_index() == 1) {
          p.pinch_reported = true;
          p.session->ReportSymptom(v1::SYMPTOM_HIP_PINCH).IgnoreError();
        }
      }
      if (current.kind() == v1::INTERVAL_KIND_REST && !p.rated &&
          simulated_ms >= p.report_at_ms / 3) {
        p.rated = true;
        v1::EffortFeel feel = v1::EFFORT_FEEL_JUST_RIGHT;
        const int roll = std::uniform_int_distribution<int>(0, 9)(rng_);
        if (p.struggles) {
          feel = v1::EFFORT_FEEL_TOO_HARD;
        } else if (p.easy || (roll == 0 && options_.weeks == 1)) {
          feel = v1::EFFORT_FEEL_TOO_EASY;
        }
        p.session->ReportEffort(feel).IgnoreError();
      }
    }
  }

  const DemoOptions options_;
  InstructorSession* const instructor_;
  std::vector<Simulated>* const people_;
  std::mt19937_64 rng_;
  bool manual_next_ = false;
};

// One class of the demo: the instructor, the participants (with their
// kept profiles from the second week on) and the kiosk view. The exit code.
int RunClass(const AppOptions& app, const DemoOptions& demo,
             const std::shared_ptr<Connection>& connection,
             const std::string& instructor_key, const std::string& kiosk_key,
             const v1::ClassInfo& info, int week,
             std::vector<Simulated>* people_in) {
  std::vector<Simulated>& people = *people_in;
  InstructorSession instructor(connection, instructor_key, info.class_id());
  instructor.Start();
  if (!instructor.WaitFor([](const ClassMirror& m) { return m.has_snapshot(); },
                          kStartTimeout)) {
    std::fprintf(stderr, "circuit: the instructor stream did not open: %s\n",
                 instructor.Status().error.ToString().c_str());
    return 1;
  }

  // Every participant on a connection of their own, as phones are.
  SessionOptions quick;
  quick.backoff_max = absl::Seconds(1);
  quick.clock_samples = 2;
  for (size_t i = 0; i < people.size(); ++i) {
    const size_t name_count = sizeof(kNames) / sizeof(kNames[0]);
    v1::CheckIn check_in;
    check_in.set_display_name(
        i < name_count
            ? kNames[i]
            : absl::StrCat(kNames[i % name_count], " ", i / name_count + 1));
    // One keeps her name off the wall: the wall shows only who consented.
    check_in.set_show_name_on_kiosk(i != 4);
    check_in.set_equipment(i % 3 == 0 ? "heavy band" : "medium band");
    check_in.set_weeks_postpartum(static_cast<int>(8 + (i * 7) % 40));
    check_in.set_track(i % 2 == 0 ? v1::RECOVERY_TRACK_VAGINAL
                                  : v1::RECOVERY_TRACK_CESAREAN);
    SessionOptions options = quick;
    if (demo.weeks > 1) {
      options.keep_profile = people[i].profile_credential.empty();
      options.profile_credential = people[i].profile_credential;
    }
    people[i].pinch_reported = false;
    people[i].session = std::make_unique<ParticipantSession>(
        std::make_shared<Connection>(connection->options()), info.join_code(),
        check_in, options);
    people[i].session->Start();
  }
  for (Simulated& p : people) {
    if (!p.session->WaitFor(
            [](const ClassMirror& m) { return m.has_snapshot(); },
            kStartTimeout)) {
      std::fprintf(stderr, "circuit: a participant could not join: %s\n",
                   p.session->Status().error.ToString().c_str());
      return 1;
    }
    if (p.profile_credential.empty()) {
      p.profile_credential = p.session->Joined().profile_credential();
    }
  }
  if (demo.weeks > 1) {
    // What the coach sees before the start: each plan, which she accepts.
    instructor.WaitFor(
        [&](const ClassMirror& m) {
          return m.roster().size() >= people.size();
        },
        kStartTimeout);
    ClassMirror before = instructor.Mirror();
    std::printf("Week %d: %s\n", week, info.title().c_str());
    int items = 0;
    for (const v1::Suggestion& s : before.suggestions()) {
      if (!s.from_history()) continue;
      ++items;
      std::string name = s.participant_id();
      for (const v1::RosterEntry& e : before.roster()) {
        if (e.participant_id() == s.participant_id()) {
          name = e.check_in().display_name();
        }
      }
      std::printf(
          "  plan for %s: %s%s\n", name.c_str(), s.reason().c_str(),
          s.kind() == v1::SUGGESTION_KIND_NEXT_STAGE
              ? absl::StrCat(" -> next stage: ", s.suggested_stage_name())
                    .c_str()
              : "");
      v1::InstructorCommand accept;
      accept.mutable_decide_suggestion()->set_suggestion_id(s.suggestion_id());
      accept.mutable_decide_suggestion()->set_decision(
          v1::SUGGESTION_DECISION_ACCEPTED);
      instructor.SendAndWait(accept, absl::Seconds(5)).IgnoreError();
    }
    if (items == 0) std::printf("  no plans yet: nobody has a past class\n");
  }

  KioskSession kiosk(connection, kiosk_key, info.class_id());
  std::atomic<bool> stop{false};
  Simulation simulation(demo, &instructor, &people);
  kiosk.Start();
  std::thread driver([&] { simulation.Run(&stop); });
  int rc = ShowKiosk(app, &kiosk);
  stop = true;
  driver.join();

  ClassMirror final_view = instructor.Mirror();
  for (Simulated& p : people) p.session->Leave();
  for (Simulated& p : people) p.session->Stop();
  instructor.Stop();
  kiosk.Stop();
  if (rc != 0) return rc;
  if (!final_view.ended()) {
    std::printf("Demo stopped before the class ended.\n");
    return 0;
  }
  // Counts only: the alerts themselves are health data for the instructor.
  std::printf(
      "Demo class complete: %d participants, %d reps; the instructor got %zu "
      "alerts and %zu suggestions.\n",
      final_view.progress().participant_count(),
      final_view.progress().total_reps(), final_view.alerts().size(),
      final_view.suggestions().size());
  return 0;
}

}  // namespace

int RunDemo(const AppOptions& app, const DemoOptions& demo) {
  std::shared_ptr<Connection> connection = app.connection;
  std::string instructor_key = demo.instructor_key;
  std::string kiosk_key = demo.kiosk_key;
  std::unique_ptr<spawn::SpawnedServer> server;
  if (demo.spawn_server) {
    spawn::SpawnedServer::Options spawn;
    spawn.prefix = "circuit-demo";
    server = std::make_unique<spawn::SpawnedServer>(spawn);
    if (absl::Status started = server->Start(); !started.ok()) {
      std::fprintf(stderr, "circuit: %s\n",
                   std::string(started.message()).c_str());
      return 1;
    }
    ConnectOptions options = connection->options();
    options.address = server->address();
    options.tls.reset();  // the spawned circuitd is plaintext on loopback
    connection = std::make_shared<Connection>(options);
    instructor_key = server->instructor_key();
    kiosk_key = server->kiosk_key();
  }

  absl::StatusOr<v1::ClassInfo> info =
      connection->CreateClass(instructor_key, demo.circuit_id, "Demo class");
  if (!info.ok()) {
    std::fprintf(stderr, "circuit: cannot create the demo class: %s (%s)\n",
                 std::string(info.status().message()).c_str(),
                 connection->options().address.c_str());
    return 1;
  }

  std::vector<Simulated> people(static_cast<size_t>(demo.participants));
  for (size_t i = 0; i < people.size(); ++i) {
    people[i].struggles = i % 5 == 2;
    people[i].easy = i % 5 == 0;
    people[i].pinches = i == 1;
    people[i].flaky = i == 3 && demo.weeks == 1;
  }
  for (int week = 1; week <= demo.weeks; ++week) {
    if (week > 1) {
      info = connection->CreateClass(instructor_key, demo.circuit_id,
                                     absl::StrCat("Demo class, week ", week));
      if (!info.ok()) {
        std::fprintf(stderr, "circuit: cannot create week %d's class: %s\n",
                     week, std::string(info.status().message()).c_str());
        return 1;
      }
    }
    if (int rc = RunClass(app, demo, connection, instructor_key, kiosk_key,
                          *info, week, &people);
        rc != 0) {
      return rc;
    }
  }
  return 0;
}

}  // namespace circuit::client
