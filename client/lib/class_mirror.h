#ifndef CIRCUIT_CLIENT_LIB_CLASS_MIRROR_H_
#define CIRCUIT_CLIENT_LIB_CLASS_MIRROR_H_

// The client's copy of a class: built from a snapshot, kept current by the
// events, progress and roster updates that follow. The server is the only
// authority; the mirror only renders what it said. One type serves every
// role: the fields a role never receives stay empty.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "circuit/v1/service.pb.h"

namespace circuit::client {

class ClassMirror {
 public:
  static constexpr int kMaxCues = 10;

  // Snapshots replace everything they carry.
  void Apply(const v1::InstructorSnapshot& snapshot);
  void Apply(const v1::ParticipantSnapshot& snapshot);
  void Apply(const v1::KioskSnapshot& snapshot);
  // Applies an event once: events at or below last_seq() are ignored.
  void Apply(const v1::ClassEvent& event);
  void Apply(const v1::ClassProgress& progress);
  void Apply(const v1::RosterUpdate& update);
  // Records the server time of the latest message.
  void SetServerTime(int64_t server_time_unix_ms);

  bool has_snapshot() const { return has_snapshot_; }
  // The highest event seq applied: what to send when resuming.
  int64_t last_seq() const { return last_seq_; }
  int64_t server_time_unix_ms() const { return server_time_unix_ms_; }

  const v1::ClassInfo& class_info() const { return class_info_; }
  const v1::ClassState& state() const { return state_; }
  const std::deque<v1::Cue>& recent_cues() const { return cues_; }
  const v1::ClassProgress& progress() const { return progress_; }
  const v1::Circuit& circuit() const { return circuit_; }
  // The exercise with `id`; nullptr when the snapshot did not carry it.
  const v1::Exercise* FindExercise(const std::string& id) const;
  // The target range of block `block_index` (the block's own, else its
  // exercise's); nullptr when it has none.
  const v1::RepRange* TargetReps(int block_index) const;

  // Instructor only.
  const std::vector<v1::RosterEntry>& roster() const { return roster_; }
  const v1::ClassAggregates& aggregates() const { return aggregates_; }
  const std::vector<v1::Alert>& alerts() const { return alerts_; }
  // Instructor: every suggestion; participant: their own.
  const std::vector<v1::Suggestion>& suggestions() const {
    return suggestions_;
  }

  // The latest work interval seen (the current one, or the one a rest
  // follows); unset before the first. Reports during a rest are about it.
  const v1::Interval& last_work() const { return last_work_; }

  // Participant only.
  const std::string& participant_id() const { return participant_id_; }
  const v1::CheckIn& check_in() const { return check_in_; }
  const v1::ParticipantProgress& own_progress() const { return own_progress_; }

  // Milliseconds left on the current interval at `server_now_unix_ms`: from
  // the deadline while running, the frozen figure otherwise; never negative.
  int64_t RemainingMs(int64_t server_now_unix_ms) const;

  // True when the class is over.
  bool ended() const { return state_.phase() == v1::CLASS_PHASE_ENDED; }

 private:
  template <typename Snapshot>
  void ApplyCommon(const Snapshot& snapshot);
  void AddCue(const v1::Cue& cue);
  void NoteWork();
  void ApplyReport(const v1::ReportRecorded& report);
  v1::RosterEntry* FindRosterEntry(const std::string& participant_id);
  void UpsertSuggestion(const v1::Suggestion& suggestion);

  bool has_snapshot_ = false;
  int64_t last_seq_ = 0;
  int64_t server_time_unix_ms_ = 0;
  v1::ClassInfo class_info_;
  v1::ClassState state_;
  v1::Interval last_work_;
  std::deque<v1::Cue> cues_;
  v1::ClassProgress progress_;
  v1::Circuit circuit_;
  std::map<std::string, v1::Exercise> exercises_;
  std::vector<v1::RosterEntry> roster_;
  v1::ClassAggregates aggregates_;
  std::vector<v1::Alert> alerts_;
  std::vector<v1::Suggestion> suggestions_;
  std::string participant_id_;
  v1::CheckIn check_in_;
  v1::ParticipantProgress own_progress_;
};

// Adds an accepted report to `progress` the way the server counts it: sets,
// reps and sets under the target range for completions, the latest
// rating for effort, the symptom list for symptoms.
// `target` is the block's target range, when it has one.
void AddReportToProgress(const v1::ReportRecorded& report,
                         const v1::RepRange* target,
                         v1::ParticipantProgress* progress);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_CLASS_MIRROR_H_
