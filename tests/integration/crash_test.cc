// The real circuitd, killed with SIGKILL twenty times while twenty
// participants report through the client library and a kiosk watches,
// restarted each time on the same data directory. Nothing acknowledged may
// be lost or counted twice, no client may see a seq go backwards, and the
// kiosk never receives health data.

#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/lib/connection.h"
#include "client/lib/live_session.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tcp_proxy.h"

namespace circuit {
namespace {

using client::ClassMirror;
using client::LinkState;

constexpr int kParticipants = 20;
constexpr int kKills = 20;
constexpr int kInFlight = 6;  // reports each participant keeps unacked
constexpr char kInstructorKey[] = "crash-test-instructor";
constexpr char kKioskKey[] = "crash-test-kiosk";
constexpr absl::Duration kWait = absl::Seconds(30);

// Checks, for one stream, that seqs never go backwards.
class SeqWatch {
 public:
  // `seq` of an event (strictly after what came before) or of a snapshot
  // (not before it).
  void Event(int64_t seq) {
    absl::MutexLock lock(&mu_);
    if (seq <= last_) ++backwards_;
    last_ = std::max(last_, seq);
  }
  void Snapshot(int64_t seq) {
    absl::MutexLock lock(&mu_);
    if (seq < last_) ++backwards_;
    last_ = std::max(last_, seq);
  }
  int backwards() const {
    absl::MutexLock lock(&mu_);
    return backwards_;
  }

 private:
  mutable absl::Mutex mu_;
  int64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  int backwards_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts acknowledgements across every participant, so the test can kill
// the server after some progress rather than after some time.
class AckCounter {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  int64_t count() const {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  bool WaitForAtLeast(int64_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return count_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// One participant and the thread that keeps it reporting.
struct Reporter {
  std::unique_ptr<client::ParticipantSession> session;
  SeqWatch seqs;
  std::thread thread;
  // What was submitted: the latest reps per (block, set, side), and how
  // many symptoms.
  std::map<std::tuple<int, int, int>, int> latest_reps;
  int symptoms = 0;
  int submitted = 0;
};

struct SetKey {
  int block;
  int set;
  v1::Side side;
};

std::vector<SetKey> AllSets(const v1::Circuit& circuit,
                            const ClassMirror& mirror) {
  std::vector<SetKey> keys;
  for (int b = 0; b < circuit.blocks_size(); ++b) {
    const v1::Block& block = circuit.blocks(b);
    const v1::Exercise* exercise = mirror.FindExercise(block.exercise_id());
    const bool per_side = exercise != nullptr && exercise->per_side();
    for (int set = 1; set <= block.sets(); ++set) {
      if (per_side) {
        keys.push_back({b, set, v1::SIDE_LEFT});
        keys.push_back({b, set, v1::SIDE_RIGHT});
      } else {
        keys.push_back({b, set, v1::SIDE_BOTH});
      }
    }
  }
  return keys;
}

testing::Circuitd Restart(const std::vector<std::string>& flags) {
  absl::StatusOr<testing::Circuitd> circuitd =
      testing::StartCircuitd(flags, absl::Now() + kWait);
  EXPECT_TRUE(circuitd.ok()) << circuitd.status();
  return circuitd.ok() ? std::move(*circuitd) : testing::Circuitd{};
}

TEST(CrashTest, KilledTwentyTimesLosesNothingAcknowledged) {
  const std::string data_dir = testing::MakeTempDir() + "/data";
  const std::vector<std::string> flags = {
      "--data_dir=" + data_dir,
      "--journal=sqlite",
      absl::StrCat("--instructor_key=", kInstructorKey),
      absl::StrCat("--kiosk_key=", kKioskKey),
      "--stream_messages_per_second=2000",
      "--joins_per_minute_per_peer=6000"};
  testing::Circuitd circuitd = Restart(flags);
  ASSERT_GT(circuitd.port, 0);
  absl::StatusOr<std::unique_ptr<testing::TcpProxy>> proxy =
      testing::TcpProxy::Start(circuitd.port);
  ASSERT_TRUE(proxy.ok()) << proxy.status();

  client::ConnectOptions connect;
  connect.address = absl::StrCat("127.0.0.1:", (*proxy)->port());
  client::SessionOptions session_options;
  session_options.backoff_initial = absl::Milliseconds(50);
  session_options.backoff_max = absl::Milliseconds(400);
  session_options.clock_samples = 1;
  session_options.max_queued_reports = 64;
  auto connection = [&] {
    return std::make_shared<client::Connection>(connect);
  };

  absl::StatusOr<v1::ClassInfo> info =
      connection()->CreateClass(kInstructorKey, "kickback-trio", "Crash test");
  ASSERT_TRUE(info.ok()) << info.status();

  // The instructor moves to the last block, so every set can be reported,
  // and pauses there: the class never ends during the test.
  client::InstructorSession instructor(connection(), kInstructorKey,
                                       info->class_id(), session_options);
  SeqWatch instructor_seqs;
  instructor.SetListener([&](const google::protobuf::Message* message) {
    const auto* response = dynamic_cast<const v1::RunClassResponse*>(message);
    if (response == nullptr) return;
    if (response->has_event()) instructor_seqs.Event(response->event().seq());
    if (response->has_snapshot()) {
      instructor_seqs.Snapshot(response->snapshot().seq());
    }
  });
  instructor.Start();
  ASSERT_TRUE(instructor.WaitForLink(LinkState::kLive, kWait));
  auto command = [&](auto fill) {
    v1::InstructorCommand c;
    fill(&c);
    absl::StatusOr<v1::CommandResult> result = instructor.SendAndWait(c, kWait);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->code(), 0) << result->message();
  };
  command([](v1::InstructorCommand* c) { c->mutable_start(); });
  ClassMirror mirror = instructor.Mirror();
  const v1::Circuit circuit = mirror.circuit();
  const int last_block = circuit.blocks_size() - 1;
  while (instructor.Mirror().state().current().block_index() < last_block) {
    command([](v1::InstructorCommand* c) { c->mutable_next(); });
  }
  command([](v1::InstructorCommand* c) { c->mutable_pause(); });
  const std::vector<SetKey> keys = AllSets(circuit, instructor.Mirror());
  ASSERT_FALSE(keys.empty());

  // The kiosk: only state, cues and progress may ever reach it.
  client::KioskSession kiosk(connection(), kKioskKey, info->class_id(),
                             session_options);
  SeqWatch kiosk_seqs;
  std::atomic<int> kiosk_health{0};
  kiosk.SetListener([&](const google::protobuf::Message* message) {
    const auto* response = dynamic_cast<const v1::WatchClassResponse*>(message);
    if (response == nullptr) return;
    if (response->has_event()) {
      const v1::ClassEvent& event = response->event();
      kiosk_seqs.Event(event.seq());
      if (!event.has_state() && !event.has_cue()) ++kiosk_health;
    }
    if (response->has_snapshot()) {
      kiosk_seqs.Snapshot(response->snapshot().seq());
    }
  });
  kiosk.Start();
  ASSERT_TRUE(kiosk.WaitForLink(LinkState::kLive, kWait));

  AckCounter acks;
  std::vector<std::unique_ptr<Reporter>> reporters;
  for (int i = 0; i < kParticipants; ++i) {
    auto r = std::make_unique<Reporter>();
    v1::CheckIn check_in;
    check_in.set_display_name(absl::StrCat("Reporter ", i));
    check_in.set_show_name_on_kiosk(i % 2 == 0);
    r->session = std::make_unique<client::ParticipantSession>(
        connection(), info->join_code(), check_in, session_options);
    Reporter* raw = r.get();
    r->session->SetListener([raw, &acks](const google::protobuf::Message* m) {
      const auto* response = dynamic_cast<const v1::JoinClassResponse*>(m);
      if (response == nullptr) return;
      if (response->has_event()) raw->seqs.Event(response->event().seq());
      if (response->has_snapshot()) {
        raw->seqs.Snapshot(response->snapshot().seq());
      }
      if (response->has_ack() && response->ack().code() == 0) acks.Add();
    });
    r->session->Start();
    reporters.push_back(std::move(r));
  }
  for (const auto& r : reporters) {
    ASSERT_TRUE(r->session->WaitForLink(LinkState::kLive, kWait));
  }

  // Each participant keeps a few reports in flight until told to stop.
  std::atomic<bool> stop{false};
  for (int i = 0; i < kParticipants; ++i) {
    Reporter* r = reporters[static_cast<size_t>(i)].get();
    r->thread = std::thread([r, i, &keys, &stop] {
      std::deque<std::string> in_flight;
      for (int n = 0; !stop.load(); ++n) {
        while (!in_flight.empty() && r->session->Ack(in_flight.front())) {
          in_flight.pop_front();
        }
        if (in_flight.size() >= kInFlight) {
          r->session->WaitForAck(in_flight.front(), absl::Milliseconds(200));
          continue;
        }
        v1::JoinClassRequest report;
        if (n % 5 == 4) {
          report.mutable_symptom()->set_block_index(0);
          report.mutable_symptom()->set_symptom(v1::SYMPTOM_HIP_PINCH);
        } else {
          const SetKey& key = keys[static_cast<size_t>(n + i) % keys.size()];
          v1::CompletionReport* c = report.mutable_completion();
          c->set_block_index(key.block);
          c->set_set(key.set);
          c->set_side(key.side);
          c->set_reps(1 + (n * 7 + i) % 12);
        }
        absl::StatusOr<std::string> id = r->session->Submit(report);
        if (!id.ok()) {  // the queue is full while the server is down
          if (!in_flight.empty()) {
            r->session->WaitForAck(in_flight.front(), absl::Milliseconds(200));
          }
          continue;
        }
        in_flight.push_back(*id);
        ++r->submitted;
        if (report.has_symptom()) {
          ++r->symptoms;
        } else {
          const v1::CompletionReport& c = report.completion();
          r->latest_reps[{c.block_index(), c.set(), c.side()}] = c.reps();
        }
      }
    });
  }

  // Kill at a random amount of progress each time (seeded, so a failure
  // can be replayed by its seed).
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 random(seed);
  for (int kill = 0; kill < kKills; ++kill) {
    const int64_t target =
        acks.count() + std::uniform_int_distribution<int>(5, 80)(random);
    ASSERT_TRUE(acks.WaitForAtLeast(target, kWait))
        << "no progress before kill " << kill;
    circuitd.process->Signal(SIGKILL);
    ASSERT_TRUE(circuitd.process->Wait(absl::Now() + kWait).ok());
    circuitd = Restart(flags);
    ASSERT_GT(circuitd.port, 0) << "restart " << kill;
    (*proxy)->SetTarget(circuitd.port);
    (*proxy)->Cut();
  }
  ASSERT_TRUE(acks.WaitForAtLeast(acks.count() + 20, kWait));
  stop.store(true);
  for (const auto& r : reporters) r->thread.join();
  for (const auto& r : reporters) {
    ASSERT_TRUE(r->session->WaitForAllAcked(kWait))
        << r->session->PendingReports() << " reports never acknowledged";
  }

  // Every acknowledged report counted once: the instructor's roster equals
  // what the participants submitted (all of it acknowledged by now).
  std::map<std::string, const Reporter*> by_id;
  for (const auto& r : reporters) {
    by_id[r->session->Mirror().participant_id()] = r.get();
  }
  ASSERT_EQ(by_id.size(), static_cast<size_t>(kParticipants))
      << "a participant took a second seat";
  auto roster_matches = [&](const ClassMirror& m) {
    int matched = 0;
    for (const v1::RosterEntry& entry : m.roster()) {
      auto it = by_id.find(entry.participant_id());
      if (it == by_id.end()) return false;
      int reps = 0;
      for (const auto& [key, n] : it->second->latest_reps) reps += n;
      if (entry.progress().total_reps() != reps ||
          entry.progress().symptoms_size() != it->second->symptoms) {
        return false;
      }
      ++matched;
    }
    return matched == kParticipants;
  };
  // A fresh console sees the same roster as the one that lived through it.
  client::InstructorSession fresh(connection(), kInstructorKey,
                                  info->class_id(), session_options);
  fresh.Start();
  EXPECT_TRUE(fresh.WaitFor(roster_matches, kWait));
  EXPECT_TRUE(instructor.WaitFor(roster_matches, kWait));
  int submitted = 0;
  for (const auto& r : reporters) submitted += r->submitted;
  EXPECT_GT(submitted, kKills * 5);

  EXPECT_EQ(instructor_seqs.backwards(), 0);
  EXPECT_EQ(kiosk_seqs.backwards(), 0);
  for (const auto& r : reporters) EXPECT_EQ(r->seqs.backwards(), 0);
  EXPECT_EQ(kiosk_health.load(), 0) << "the kiosk received health data";
  EXPECT_GT(kiosk.Status().reconnects, 0);

  fresh.Stop();
  for (const auto& r : reporters) r->session->Stop();
  kiosk.Stop();
  instructor.Stop();
  circuitd.process->Signal(SIGTERM);
  EXPECT_TRUE(circuitd.process->Wait(absl::Now() + kWait).ok());
}

}  // namespace
}  // namespace circuit
