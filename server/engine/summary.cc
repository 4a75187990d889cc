#include "server/engine/summary.h"

namespace circuit::engine {

void ScrubHealthData(v1::ClassSummary* summary,
                     const std::string& participant_id) {
  bool scrubbed = false;
  for (v1::ParticipantSummary& p : *summary->mutable_participants()) {
    if (!participant_id.empty() && p.participant_id() != participant_id) {
      continue;
    }
    p.clear_efforts();
    p.clear_symptoms();
    p.clear_alerts();
    p.clear_suggestions();
    p.set_health_data_removed(true);
    scrubbed = true;
  }
  if (!scrubbed) return;
  v1::ClassAggregates* aggregates = summary->mutable_aggregates();
  aggregates->clear_median_cr10();
  aggregates->clear_too_easy_count();
  aggregates->clear_just_right_count();
  aggregates->clear_too_hard_count();
}

void EraseSeat(v1::ClassSummary* summary, const std::string& participant_id) {
  if (participant_id.empty()) return;
  for (v1::ParticipantSummary& p : *summary->mutable_participants()) {
    if (p.participant_id() != participant_id) continue;
    ScrubHealthData(summary, participant_id);
    summary->set_total_reps(summary->total_reps() - p.total_reps());
    v1::ParticipantSummary stub;
    stub.set_participant_id(p.participant_id());
    stub.set_connection(p.connection());
    stub.set_erased(true);
    stub.set_health_data_removed(true);
    p = std::move(stub);
    return;
  }
}

}  // namespace circuit::engine
