#include "client/lib/class_mirror.h"

#include <algorithm>

namespace circuit::client {

template <typename Snapshot>
void ClassMirror::ApplyCommon(const Snapshot& snapshot) {
  has_snapshot_ = true;
  last_seq_ = snapshot.seq();
  class_info_ = snapshot.class_info();
  state_ = snapshot.state();
  NoteWork();
  cues_.assign(snapshot.recent_cues().begin(), snapshot.recent_cues().end());
  while (cues_.size() > kMaxCues) cues_.pop_front();
  progress_ = snapshot.progress();
  circuit_ = snapshot.circuit();
  exercises_.clear();
  for (const v1::Exercise& e : snapshot.exercises()) exercises_[e.id()] = e;
}

void ClassMirror::Apply(const v1::InstructorSnapshot& snapshot) {
  ApplyCommon(snapshot);
  roster_.assign(snapshot.roster().begin(), snapshot.roster().end());
  aggregates_ = snapshot.aggregates();
  alerts_.assign(snapshot.alerts().begin(), snapshot.alerts().end());
  suggestions_.assign(snapshot.suggestions().begin(),
                      snapshot.suggestions().end());
}

void ClassMirror::Apply(const v1::ParticipantSnapshot& snapshot) {
  ApplyCommon(snapshot);
  participant_id_ = snapshot.participant_id();
  check_in_ = snapshot.check_in();
  own_progress_ = snapshot.own_progress();
  suggestions_.assign(snapshot.suggestions().begin(),
                      snapshot.suggestions().end());
}

void ClassMirror::Apply(const v1::KioskSnapshot& snapshot) {
  ApplyCommon(snapshot);
}

void ClassMirror::NoteWork() {
  if (state_.has_current() &&
      state_.current().kind() == v1::INTERVAL_KIND_WORK) {
    last_work_ = state_.current();
  }
}

void ClassMirror::AddCue(const v1::Cue& cue) {
  cues_.push_back(cue);
  while (cues_.size() > kMaxCues) cues_.pop_front();
}

v1::RosterEntry* ClassMirror::FindRosterEntry(
    const std::string& participant_id) {
  for (v1::RosterEntry& entry : roster_) {
    if (entry.participant_id() == participant_id) return &entry;
  }
  return nullptr;
}

void ClassMirror::UpsertSuggestion(const v1::Suggestion& suggestion) {
  for (v1::Suggestion& s : suggestions_) {
    if (s.suggestion_id() == suggestion.suggestion_id()) {
      s = suggestion;
      return;
    }
  }
  suggestions_.push_back(suggestion);
}

void ClassMirror::ApplyReport(const v1::ReportRecorded& report) {
  if (report.participant_id() == participant_id_ && !participant_id_.empty()) {
    AddReportToProgress(report, TargetReps(report.completion().block_index()),
                        &own_progress_);
  }
  if (v1::RosterEntry* entry = FindRosterEntry(report.participant_id())) {
    AddReportToProgress(report, TargetReps(report.completion().block_index()),
                        entry->mutable_progress());
    if (report.has_completion() && state_.has_current()) {
      const v1::Interval& current = state_.current();
      const v1::CompletionReport& c = report.completion();
      if (c.block_index() == current.block_index() &&
          c.set() == current.set() && c.side() == current.side()) {
        entry->set_done_current(true);
      }
    }
  }
}

void ClassMirror::Apply(const v1::ClassEvent& event) {
  if (event.seq() <= last_seq_) return;
  last_seq_ = event.seq();
  switch (event.kind_case()) {
    case v1::ClassEvent::kState: {
      bool moved = event.state().current().index() != state_.current().index();
      state_ = event.state();
      NoteWork();
      class_info_.set_phase(state_.phase());
      class_info_.set_started_unix_ms(state_.started_unix_ms());
      class_info_.set_ended_unix_ms(state_.ended_unix_ms());
      if (moved) {
        for (v1::RosterEntry& entry : roster_) entry.set_done_current(false);
      }
      break;
    }
    case v1::ClassEvent::kCue:
      AddCue(event.cue());
      break;
    case v1::ClassEvent::kParticipantJoined:
      if (v1::RosterEntry* entry =
              FindRosterEntry(event.participant_joined().participant_id())) {
        *entry = event.participant_joined();
      } else if (event.participant_joined().participant_id() !=
                     participant_id_ ||
                 participant_id_.empty()) {
        roster_.push_back(event.participant_joined());
      }
      break;
    case v1::ClassEvent::kConnection:
      if (v1::RosterEntry* entry =
              FindRosterEntry(event.connection().participant_id())) {
        entry->set_connection(event.connection().connection());
        entry->set_connection_changed_unix_ms(event.at_unix_ms());
      }
      break;
    case v1::ClassEvent::kReport:
      ApplyReport(event.report());
      break;
    case v1::ClassEvent::kAlert:
      alerts_.push_back(event.alert());
      break;
    case v1::ClassEvent::kSuggestion:
      UpsertSuggestion(event.suggestion());
      break;
    case v1::ClassEvent::KIND_NOT_SET:
      break;
  }
}

void ClassMirror::Apply(const v1::ClassProgress& progress) {
  progress_ = progress;
}

void ClassMirror::Apply(const v1::RosterUpdate& update) {
  for (const v1::RosterEntry& changed : update.changed()) {
    if (v1::RosterEntry* entry = FindRosterEntry(changed.participant_id())) {
      *entry = changed;
    } else {
      roster_.push_back(changed);
    }
  }
  if (update.has_aggregates()) aggregates_ = update.aggregates();
}

void ClassMirror::SetServerTime(int64_t server_time_unix_ms) {
  server_time_unix_ms_ = std::max(server_time_unix_ms_, server_time_unix_ms);
}

const v1::Exercise* ClassMirror::FindExercise(const std::string& id) const {
  auto it = exercises_.find(id);
  return it == exercises_.end() ? nullptr : &it->second;
}

int64_t ClassMirror::RemainingMs(int64_t server_now_unix_ms) const {
  const v1::Timer& timer = state_.timer();
  if (timer.running() && timer.deadline_unix_ms() > 0) {
    return std::max<int64_t>(0, timer.deadline_unix_ms() - server_now_unix_ms);
  }
  return std::max<int64_t>(0, timer.remaining_ms());
}

const v1::RepRange* ClassMirror::TargetReps(int block_index) const {
  if (block_index < 0 || block_index >= circuit_.blocks_size()) return nullptr;
  const v1::Block& block = circuit_.blocks(block_index);
  if (block.has_reps()) return &block.reps();
  const v1::Exercise* exercise = FindExercise(block.exercise_id());
  if (exercise != nullptr && exercise->has_reps()) return &exercise->reps();
  return nullptr;
}

void AddReportToProgress(const v1::ReportRecorded& report,
                         const v1::RepRange* target,
                         v1::ParticipantProgress* progress) {
  switch (report.report_case()) {
    case v1::ReportRecorded::kCompletion: {
      const v1::CompletionReport& c = report.completion();
      v1::BlockProgress* block = nullptr;
      for (v1::BlockProgress& b : *progress->mutable_blocks()) {
        if (b.block_index() == c.block_index() && b.side() == c.side()) {
          block = &b;
        }
      }
      if (block == nullptr) {
        block = progress->add_blocks();
        block->set_block_index(c.block_index());
        block->set_side(c.side());
        std::stable_sort(
            progress->mutable_blocks()->begin(),
            progress->mutable_blocks()->end(),
            [](const v1::BlockProgress& a, const v1::BlockProgress& b) {
              return a.block_index() < b.block_index();
            });
        for (v1::BlockProgress& b : *progress->mutable_blocks()) {
          if (b.block_index() == c.block_index() && b.side() == c.side()) {
            block = &b;
          }
        }
      }
      block->set_sets_done(block->sets_done() + 1);
      block->set_reps(block->reps() + c.reps());
      if (target != nullptr && c.reps() < target->min_reps()) {
        block->set_sets_under_range(block->sets_under_range() + 1);
      }
      progress->set_total_reps(progress->total_reps() + c.reps());
      break;
    }
    case v1::ReportRecorded::kEffort:
      if (report.effort().has_cr10()) {
        progress->set_last_cr10(report.effort().cr10());
      }
      if (report.effort().feel() != v1::EFFORT_FEEL_UNSPECIFIED) {
        progress->set_last_feel(report.effort().feel());
      }
      break;
    case v1::ReportRecorded::kSymptom:
      progress->add_symptoms(report.symptom().symptom());
      break;
    case v1::ReportRecorded::REPORT_NOT_SET:
      break;
  }
}

}  // namespace circuit::client
