#include "tests/integration/class_under_load.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace circuit::testing {
namespace {

using client::ClassMirror;
using client::LinkState;

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

}  // namespace

void SeqWatch::Event(int64_t seq) {
  absl::MutexLock lock(&mu_);
  if (seq <= last_) ++backwards_;
  last_ = std::max(last_, seq);
}

void SeqWatch::Snapshot(int64_t seq) {
  absl::MutexLock lock(&mu_);
  if (seq < last_) ++backwards_;
  last_ = std::max(last_, seq);
}

int SeqWatch::backwards() const {
  absl::MutexLock lock(&mu_);
  return backwards_;
}

void AckCounter::Add() {
  absl::MutexLock lock(&mu_);
  ++count_;
}

int64_t AckCounter::count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

bool AckCounter::WaitForAtLeast(int64_t n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

// One participant and the thread that keeps it reporting.
struct ClassUnderLoad::Reporter {
  std::unique_ptr<client::ParticipantSession> session;
  SeqWatch seqs;
  std::thread thread;
  // What was submitted: the latest reps per (block, set, side), and how
  // many symptoms.
  std::map<std::tuple<int, int, int>, int> latest_reps;
  int symptoms = 0;
  int submitted = 0;
};

ClassUnderLoad::ClassUnderLoad(LoadOptions options)
    : options_(std::move(options)) {
  session_options_.backoff_initial = absl::Milliseconds(50);
  session_options_.backoff_max = absl::Milliseconds(400);
  session_options_.clock_samples = 1;
  session_options_.max_queued_reports = 64;
}

ClassUnderLoad::~ClassUnderLoad() {
  stop_.store(true);
  for (const auto& r : reporters_) {
    if (r->thread.joinable()) r->thread.join();
  }
  StopSessions();
}

std::shared_ptr<client::Connection> ClassUnderLoad::NewConnection(
    const std::string& address) const {
  client::ConnectOptions connect;
  connect.address = address;
  return std::make_shared<client::Connection>(connect);
}

void ClassUnderLoad::ExpectSeat(const std::string& participant_id,
                                int total_reps, int symptoms) {
  other_seats_[participant_id] = Expected{total_reps, symptoms};
}

int ClassUnderLoad::kiosk_reconnects() const {
  return kiosk_ == nullptr ? 0 : kiosk_->Status().reconnects;
}

void ClassUnderLoad::Start() {
  const absl::Duration wait = options_.wait;
  absl::StatusOr<v1::ClassInfo> info = NewConnection()->CreateClass(
      options_.instructor_key, "kickback-trio", "Under load");
  ASSERT_TRUE(info.ok()) << info.status();
  info_ = *info;

  // The instructor moves to the last block, so every set can be reported,
  // and pauses there: the class never ends during the test.
  instructor_ = std::make_unique<client::InstructorSession>(
      NewConnection(), options_.instructor_key, info_.class_id(),
      session_options_);
  instructor_->SetListener([this](const google::protobuf::Message* message) {
    const auto* response = dynamic_cast<const v1::RunClassResponse*>(message);
    if (response == nullptr) return;
    if (response->has_event()) instructor_seqs_.Event(response->event().seq());
    if (response->has_snapshot()) {
      instructor_seqs_.Snapshot(response->snapshot().seq());
    }
  });
  instructor_->Start();
  ASSERT_TRUE(instructor_->WaitForLink(LinkState::kLive, wait));
  auto command = [&](auto fill) {
    v1::InstructorCommand c;
    fill(&c);
    absl::StatusOr<v1::CommandResult> result =
        instructor_->SendAndWait(c, wait);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->code(), 0) << result->message();
  };
  command([](v1::InstructorCommand* c) { c->mutable_start(); });
  const v1::Circuit circuit = instructor_->Mirror().circuit();
  const int last_block = circuit.blocks_size() - 1;
  while (instructor_->Mirror().state().current().block_index() < last_block) {
    command([](v1::InstructorCommand* c) { c->mutable_next(); });
  }
  command([](v1::InstructorCommand* c) { c->mutable_pause(); });
  const std::vector<SetKey> keys = AllSets(circuit, instructor_->Mirror());
  ASSERT_FALSE(keys.empty());

  // The kiosk: only state, cues and progress may ever reach it.
  kiosk_ = std::make_unique<client::KioskSession>(
      NewConnection(options_.spread.empty() ? options_.address
                                            : options_.spread.back()),
      options_.kiosk_key, info_.class_id(), session_options_);
  kiosk_->SetListener([this](const google::protobuf::Message* message) {
    const auto* response = dynamic_cast<const v1::WatchClassResponse*>(message);
    if (response == nullptr) return;
    if (response->has_event()) {
      const v1::ClassEvent& event = response->event();
      kiosk_seqs_.Event(event.seq());
      if (!event.has_state() && !event.has_cue()) ++kiosk_health_;
    }
    if (response->has_snapshot()) {
      kiosk_seqs_.Snapshot(response->snapshot().seq());
    }
  });
  kiosk_->Start();
  ASSERT_TRUE(kiosk_->WaitForLink(LinkState::kLive, wait))
      << "the kiosk's last error: " << kiosk_->Status().error;

  for (int i = 0; i < options_.participants; ++i) {
    auto r = std::make_unique<Reporter>();
    v1::CheckIn check_in;
    check_in.set_display_name(absl::StrCat("Reporter ", i));
    check_in.set_show_name_on_kiosk(i % 2 == 0);
    const std::string& address =
        options_.spread.empty()
            ? options_.address
            : options_.spread[static_cast<size_t>(i) % options_.spread.size()];
    r->session = std::make_unique<client::ParticipantSession>(
        NewConnection(address), info_.join_code(), check_in, session_options_);
    Reporter* raw = r.get();
    r->session->SetListener([raw, this](const google::protobuf::Message* m) {
      const auto* response = dynamic_cast<const v1::JoinClassResponse*>(m);
      if (response == nullptr) return;
      if (response->has_event()) raw->seqs.Event(response->event().seq());
      if (response->has_snapshot()) {
        raw->seqs.Snapshot(response->snapshot().seq());
      }
      if (response->has_ack() && response->ack().code() == 0) acks_.Add();
    });
    r->session->Start();
    reporters_.push_back(std::move(r));
  }
  for (const auto& r : reporters_) {
    ASSERT_TRUE(r->session->WaitForLink(LinkState::kLive, wait))
        << "a participant's last error: " << r->session->Status().error;
  }

  // Each participant keeps a few reports in flight until told to stop.
  const size_t in_flight_max = static_cast<size_t>(options_.in_flight);
  for (int i = 0; i < options_.participants; ++i) {
    Reporter* r = reporters_[static_cast<size_t>(i)].get();
    r->thread = std::thread([this, r, i, keys, in_flight_max] {
      std::deque<std::string> in_flight;
      for (int n = 0; !stop_.load(); ++n) {
        while (!in_flight.empty() && r->session->Ack(in_flight.front())) {
          in_flight.pop_front();
        }
        if (in_flight.size() >= in_flight_max) {
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
        if (!id.ok()) {  // the queue is full while the server is away
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
}

int ClassUnderLoad::StopAndCheck() {
  const absl::Duration wait = options_.wait;
  stop_.store(true);
  for (const auto& r : reporters_) r->thread.join();
  for (const auto& r : reporters_) {
    EXPECT_TRUE(r->session->WaitForAllAcked(wait))
        << r->session->PendingReports() << " reports never acknowledged";
  }

  // Every acknowledged report counted once: the instructor's roster equals
  // what the participants submitted (all of it acknowledged by now).
  std::map<std::string, const Reporter*> by_id;
  for (const auto& r : reporters_) {
    by_id[r->session->Mirror().participant_id()] = r.get();
  }
  EXPECT_EQ(by_id.size(), static_cast<size_t>(options_.participants))
      << "a participant took a second seat";
  auto roster_matches = [&](const ClassMirror& m) {
    int matched = 0;
    for (const v1::RosterEntry& entry : m.roster()) {
      auto it = by_id.find(entry.participant_id());
      if (it == by_id.end()) {
        auto other = other_seats_.find(entry.participant_id());
        if (other == other_seats_.end() ||
            entry.progress().total_reps() != other->second.reps ||
            entry.progress().symptoms_size() != other->second.symptoms) {
          return false;
        }
        continue;
      }
      int reps = 0;
      for (const auto& [key, n] : it->second->latest_reps) reps += n;
      if (entry.progress().total_reps() != reps ||
          entry.progress().symptoms_size() != it->second->symptoms) {
        return false;
      }
      ++matched;
    }
    return matched == options_.participants;
  };
  // A fresh console sees the same roster as the one that lived through it.
  client::InstructorSession fresh(NewConnection(), options_.instructor_key,
                                  info_.class_id(), session_options_);
  fresh.Start();
  EXPECT_TRUE(fresh.WaitFor(roster_matches, wait));
  EXPECT_TRUE(instructor_->WaitFor(roster_matches, wait));
  fresh.Stop();
  int submitted = 0;
  for (const auto& r : reporters_) submitted += r->submitted;

  EXPECT_EQ(instructor_seqs_.backwards(), 0);
  EXPECT_EQ(kiosk_seqs_.backwards(), 0);
  for (const auto& r : reporters_) EXPECT_EQ(r->seqs.backwards(), 0);
  EXPECT_EQ(kiosk_health_.load(), 0) << "the kiosk received health data";
  return submitted;
}

void ClassUnderLoad::StopSessions() {
  for (const auto& r : reporters_) r->session->Stop();
  if (kiosk_ != nullptr) kiosk_->Stop();
  if (instructor_ != nullptr) instructor_->Stop();
}

}  // namespace circuit::testing
