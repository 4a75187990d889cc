// ClassSession's reading side: state, snapshots, progress, roster updates.
// Nothing here changes what the session has accepted.

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "server/engine/adaptation.h"
#include "server/engine/class_session.h"

namespace circuit::engine {
namespace {

constexpr size_t kKeptSuggestions = 200;
constexpr int kWallSize = 48;

}  // namespace

// --- Events ------------------------------------------------------------------

std::vector<Event> ClassSession::DrainEvents() { return log_.Drain(); }

std::optional<std::vector<const Event*>> ClassSession::EventsAfter(
    int64_t after_seq, size_t max) const {
  return log_.After(after_seq, max);
}

// --- Participants ------------------------------------------------------------

std::optional<v1::ConnectionState> ClassSession::Connection(
    const std::string& participant_id) const {
  const Participant* p = FindParticipant(participant_id);
  if (p == nullptr) return std::nullopt;
  return p->connection;
}

std::string ClassSession::ProfileOf(const std::string& participant_id) const {
  const Participant* p = FindParticipant(participant_id);
  return p == nullptr ? "" : p->profile_id;
}

// --- State -------------------------------------------------------------------

int ClassSession::participant_count() const {
  return connected_count_ + dropped_count_;
}

v1::ClassState ClassSession::State(absl::Time now) const {
  const int64_t now_ms = absl::ToUnixMillis(now);
  v1::ClassState state;
  state.set_class_id(info_.class_id());
  state.set_phase(phase_);
  state.set_interval_count(static_cast<int32_t>(intervals_.size()));
  state.set_started_unix_ms(info_.started_unix_ms());
  state.set_ended_unix_ms(info_.ended_unix_ms());
  if (phase_ == v1::CLASS_PHASE_LOBBY) {
    if (!intervals_.empty()) *state.mutable_next() = intervals_.front();
    return state;
  }
  if (current_ < 0) return state;  // ended
  const v1::Interval& interval = intervals_[static_cast<size_t>(current_)];
  *state.mutable_current() = interval;
  if (static_cast<size_t>(current_) + 1 < intervals_.size()) {
    *state.mutable_next() = intervals_[static_cast<size_t>(current_) + 1];
  }
  v1::Timer* timer = state.mutable_timer();
  timer->set_started_unix_ms(interval_started_ms_);
  if (phase_ == v1::CLASS_PHASE_PAUSED) {
    timer->set_remaining_ms(paused_remaining_ms_);
    timer->set_running(false);
  } else {
    timer->set_running(true);
    if (interval.duration_ms() > 0) {
      timer->set_deadline_unix_ms(deadline_ms_);
      timer->set_remaining_ms(std::max<int64_t>(0, deadline_ms_ - now_ms));
    }
  }
  return state;
}

// --- Progress and snapshots --------------------------------------------------

v1::ParticipantProgress ClassSession::ProgressFor(const Participant& p) const {
  v1::ParticipantProgress progress;
  v1::BlockProgress* current = nullptr;
  std::optional<v1::RepRange> target;
  for (const auto& [key, reps] : p.completions) {
    const auto [block, side, set] = key;
    if (current == nullptr || current->block_index() != block ||
        current->side() != side) {
      current = progress.add_blocks();
      current->set_block_index(block);
      current->set_side(static_cast<v1::Side>(side));
      target = BlockTarget(circuit_.blocks(block), BlockExercise(block));
    }
    current->set_sets_done(current->sets_done() + 1);
    current->set_reps(current->reps() + reps);
    if (target.has_value() && reps < target->min_reps()) {
      current->set_sets_under_range(current->sets_under_range() + 1);
    }
  }
  progress.set_total_reps(p.total_reps);
  if (p.last_cr10.has_value()) progress.set_last_cr10(*p.last_cr10);
  progress.set_last_feel(p.last_feel);
  for (const v1::SymptomRecord& s : p.symptoms) {
    progress.add_symptoms(s.symptom());
  }
  return progress;
}

v1::RosterEntry ClassSession::RosterEntryFor(const Participant& p) const {
  v1::RosterEntry entry;
  entry.set_participant_id(p.id);
  *entry.mutable_check_in() = p.check_in;
  entry.set_connection(p.connection);
  entry.set_connection_changed_unix_ms(p.connection_changed_ms);
  *entry.mutable_progress() = ProgressFor(p);
  entry.set_done_current(p.done_current);
  entry.set_profile_id(p.profile_id);
  return entry;
}

v1::ClassAggregates ClassSession::Aggregates() const {
  v1::ClassAggregates aggregates;
  aggregates.set_connected_count(connected_count_);
  aggregates.set_dropped_count(dropped_count_);
  aggregates.set_done_current_count(done_current_count_);
  const int32_t present = connected_count_ + dropped_count_;
  aggregates.set_done_current_share(
      present > 0 ? static_cast<double>(done_current_count_) / present : 0.0);
  // The median from the 11-bucket histogram: O(1) however big the class.
  int32_t rated = 0;
  for (int32_t n : cr10_counts_) rated += n;
  if (rated > 0) {
    auto nth = [this](int32_t k) {  // the k-th smallest rating, from 0
      for (size_t value = 0; value < cr10_counts_.size(); ++value) {
        if (k < cr10_counts_[value]) return static_cast<double>(value);
        k -= cr10_counts_[value];
      }
      return 10.0;
    };
    aggregates.set_median_cr10(rated % 2 == 1
                                   ? nth(rated / 2)
                                   : (nth(rated / 2 - 1) + nth(rated / 2)) / 2);
  }
  aggregates.set_too_easy_count(feel_counts_[v1::EFFORT_FEEL_TOO_EASY]);
  aggregates.set_just_right_count(feel_counts_[v1::EFFORT_FEEL_JUST_RIGHT]);
  aggregates.set_too_hard_count(feel_counts_[v1::EFFORT_FEEL_TOO_HARD]);
  return aggregates;
}

v1::ClassProgress ClassSession::Progress() const {
  v1::ClassProgress progress;
  const int32_t present = connected_count_ + dropped_count_;
  progress.set_participant_count(present);
  progress.set_done_current_count(done_current_count_);
  progress.set_done_current_share(
      present > 0 ? static_cast<double>(done_current_count_) / present : 0.0);
  progress.set_total_reps(static_cast<int32_t>(total_reps_));
  int shown = 0;
  for (const auto& [rank, order] : wall_) {
    if (shown++ == kWallSize) break;
    const Participant& p = participants_[static_cast<size_t>(order)];
    v1::WallEntry* entry = progress.add_wall();
    entry->set_display_name(p.check_in.display_name());
    entry->set_total_reps(p.total_reps);
    entry->set_done_current(p.done_current);
  }
  return progress;
}

bool ClassSession::TakeProgressChanged() {
  return std::exchange(progress_changed_, false);
}

std::optional<v1::RosterUpdate> ClassSession::TakeRosterUpdate() {
  v1::ClassAggregates aggregates = Aggregates();
  if (roster_dirty_.empty() &&
      aggregates.SerializeAsString() == last_aggregates_.SerializeAsString()) {
    return std::nullopt;
  }
  v1::RosterUpdate update;
  std::sort(roster_dirty_.begin(), roster_dirty_.end());
  for (int order : roster_dirty_) {
    Participant& p = participants_[static_cast<size_t>(order)];
    p.roster_dirty = false;
    *update.add_changed() = RosterEntryFor(p);
  }
  roster_dirty_.clear();
  last_aggregates_ = aggregates;
  *update.mutable_aggregates() = std::move(aggregates);
  return update;
}

v1::InstructorSnapshot ClassSession::InstructorSnapshot(absl::Time now) const {
  v1::InstructorSnapshot snapshot;
  snapshot.set_seq(log_.last_seq());
  snapshot.set_reason(v1::SNAPSHOT_REASON_INITIAL);
  *snapshot.mutable_class_info() = info_;
  *snapshot.mutable_state() = State(now);
  for (const v1::Cue& cue : recent_cues_) *snapshot.add_recent_cues() = cue;
  *snapshot.mutable_progress() = Progress();
  for (const Participant& p : participants_) {
    *snapshot.add_roster() = RosterEntryFor(p);
  }
  *snapshot.mutable_aggregates() = Aggregates();
  for (const v1::Alert& alert : alerts_) *snapshot.add_alerts() = alert;
  const size_t first = suggestion_index_.size() > kKeptSuggestions
                           ? suggestion_index_.size() - kKeptSuggestions
                           : 0;
  for (size_t i = first; i < suggestion_index_.size(); ++i) {
    const auto [participant, position] = suggestion_index_[i];
    if (participant < 0) continue;  // erased
    *snapshot.add_suggestions() =
        participants_[static_cast<size_t>(participant)]
            .suggestions[static_cast<size_t>(position)];
  }
  *snapshot.mutable_circuit() = circuit_;
  for (const v1::Exercise& exercise : exercises_) {
    *snapshot.add_exercises() = exercise;
  }
  return snapshot;
}

absl::StatusOr<v1::ParticipantSnapshot> ClassSession::ParticipantSnapshot(
    const std::string& participant_id, absl::Time now) const {
  const Participant* p = FindParticipant(participant_id);
  if (p == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("participant ", participant_id, " is not in this class"));
  }
  v1::ParticipantSnapshot snapshot;
  snapshot.set_seq(log_.last_seq());
  snapshot.set_reason(v1::SNAPSHOT_REASON_INITIAL);
  *snapshot.mutable_class_info() = info_;
  *snapshot.mutable_state() = State(now);
  for (const v1::Cue& cue : recent_cues_) *snapshot.add_recent_cues() = cue;
  *snapshot.mutable_progress() = Progress();
  snapshot.set_participant_id(p->id);
  *snapshot.mutable_check_in() = p->check_in;
  *snapshot.mutable_own_progress() = ProgressFor(*p);
  for (const v1::Suggestion& s : p->suggestions) {
    *snapshot.add_suggestions() = s;
  }
  *snapshot.mutable_circuit() = circuit_;
  for (const v1::Exercise& exercise : exercises_) {
    *snapshot.add_exercises() = exercise;
  }
  return snapshot;
}

v1::KioskSnapshot ClassSession::KioskSnapshot(absl::Time now) const {
  v1::KioskSnapshot snapshot;
  snapshot.set_seq(log_.last_seq());
  snapshot.set_reason(v1::SNAPSHOT_REASON_INITIAL);
  *snapshot.mutable_class_info() = info_;
  *snapshot.mutable_state() = State(now);
  for (const v1::Cue& cue : recent_cues_) *snapshot.add_recent_cues() = cue;
  *snapshot.mutable_progress() = Progress();
  *snapshot.mutable_circuit() = circuit_;
  for (const v1::Exercise& exercise : exercises_) {
    v1::Exercise* shown = snapshot.add_exercises();
    *shown = exercise;
    // A track option is said to the people on that track, on their phones
    // and to the instructor; a screen the whole room sees would tell the
    // room who is recovering from what.
    shown->clear_track_options();
  }
  return snapshot;
}

// --- History -----------------------------------------------------------------

std::string ClassSession::BlockExerciseName(int32_t block_index) const {
  // As the plan names it (PlanIntervals).
  const v1::Exercise* exercise = BlockExercise(block_index);
  return exercise != nullptr ? exercise->name()
                             : circuit_.blocks(block_index).exercise_id();
}

v1::ParticipantSummary ClassSession::SummaryFor(const Participant& p) const {
  v1::ParticipantSummary out;
  out.set_participant_id(p.id);
  out.set_connection(p.connection);
  if (p.erased) {
    out.set_erased(true);
    out.set_health_data_removed(true);
    return out;
  }
  *out.mutable_check_in() = p.check_in;
  out.set_profile_id(p.profile_id);

  // Class order is block, set, then side (left before right); completions_
  // are kept by block, side, set.
  std::vector<std::pair<SetKey, int32_t>> sets(p.completions.begin(),
                                               p.completions.end());
  std::sort(sets.begin(), sets.end(), [](const auto& a, const auto& b) {
    const auto [a_block, a_side, a_set] = a.first;
    const auto [b_block, b_side, b_set] = b.first;
    return std::tie(a_block, a_set, a_side) < std::tie(b_block, b_set, b_side);
  });

  // One row per exercise of the circuit, in the order the class meets them.
  std::vector<std::string> exercise_order;
  absl::flat_hash_map<std::string, v1::ExerciseTotals> totals;
  for (int b = 0; b < circuit_.blocks_size(); ++b) {
    const std::string& id = circuit_.blocks(b).exercise_id();
    if (totals.contains(id)) continue;
    exercise_order.push_back(id);
    v1::ExerciseTotals& row = totals[id];
    row.set_exercise_id(id);
    row.set_exercise_name(BlockExerciseName(b));
  }

  std::pair<int32_t, int32_t> last_set{-1, -1};  // (block, set) counted
  for (const auto& [key, reps] : sets) {
    const auto [block, side, set] = key;
    const std::string& exercise_id = circuit_.blocks(block).exercise_id();
    v1::SetRecord* record = out.add_sets();
    record->set_block_index(block);
    record->set_exercise_id(exercise_id);
    record->set_exercise_name(BlockExerciseName(block));
    record->set_set(set);
    record->set_side(static_cast<v1::Side>(side));
    record->set_reps(reps);
    if (auto parts = p.completion_parts.find(key);
        parts != p.completion_parts.end()) {
      for (const v1::PartDone& done : parts->second)
        *record->add_parts() = done;
    }

    v1::ExerciseTotals& row = totals[exercise_id];
    switch (side) {
      case v1::SIDE_LEFT:
        row.set_left_reps(row.left_reps() + reps);
        break;
      case v1::SIDE_RIGHT:
        row.set_right_reps(row.right_reps() + reps);
        break;
      default:
        row.set_both_reps(row.both_reps() + reps);
        break;
    }
    // Sorted by block then set, so each (block, set) comes in one run.
    if (last_set != std::make_pair(block, set)) {
      last_set = {block, set};
      row.set_sets(row.sets() + 1);
    }
  }
  for (const std::string& id : exercise_order) {
    *out.add_exercises() = std::move(totals[id]);
  }

  out.set_total_reps(p.total_reps);
  for (const v1::EffortRecord& e : p.efforts) *out.add_efforts() = e;
  for (const v1::SymptomRecord& s : p.symptoms) *out.add_symptoms() = s;
  for (const v1::Suggestion& s : p.suggestions) *out.add_suggestions() = s;
  for (const v1::Alert& a : p.alerts) *out.add_alerts() = a;
  out.set_health_data_removed(p.health_data_removed);
  return out;
}

v1::ClassSummary ClassSession::Summary(absl::Time now) const {
  v1::ClassSummary summary;
  *summary.mutable_class_info() = info_;
  for (const Participant& p : participants_) {
    *summary.add_participants() = SummaryFor(p);
  }
  *summary.mutable_aggregates() = Aggregates();
  summary.set_total_reps(total_reps_);
  summary.set_generated_unix_ms(absl::ToUnixMillis(now));
  return summary;
}

v1::WallSummary ClassSession::WallSummary() const {
  v1::WallSummary summary;
  summary.set_class_id(info_.class_id());
  summary.set_title(info_.title());
  summary.set_phase(phase_);
  summary.set_participant_count(static_cast<int32_t>(participants_.size()));
  summary.set_total_reps(total_reps_);
  std::vector<const Participant*> shown;
  for (const Participant& p : participants_) {
    if (p.check_in.show_name_on_kiosk()) shown.push_back(&p);
  }
  std::stable_sort(shown.begin(), shown.end(),
                   [](const Participant* a, const Participant* b) {
                     return a->total_reps > b->total_reps;
                   });
  for (const Participant* p : shown) {
    v1::WallEntry* entry = summary.add_wall();
    entry->set_display_name(p->check_in.display_name());
    entry->set_total_reps(p->total_reps);
    entry->set_done_current(p->done_current);
  }
  return summary;
}

}  // namespace circuit::engine
