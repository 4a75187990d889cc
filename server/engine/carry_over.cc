#include "server/engine/carry_over.h"

namespace circuit::engine {

// Placeholder until the carry-over rules land (helper branch "programme").
std::vector<SuggestionToMake> DerivePlan(
    const PlanInputs& inputs, const std::vector<internal::PastClass>& history) {
  (void)inputs;
  (void)history;
  return {};
}

internal::PastClass MakePastClass(const internal::ClassRecord& record,
                                  const v1::ParticipantSummary& participant,
                                  const std::string& stage_id) {
  internal::PastClass past;
  past.set_class_id(record.info().class_id());
  past.set_circuit_id(record.circuit().id());
  past.set_circuit_name(record.circuit().name());
  past.set_started_unix_ms(record.info().started_unix_ms());
  past.set_ended_unix_ms(record.info().ended_unix_ms());
  for (const v1::Block& block : record.circuit().blocks()) {
    internal::PastBlock* out = past.add_blocks();
    out->set_exercise_id(block.exercise_id());
    const v1::Exercise* exercise = nullptr;
    for (const v1::Exercise& e : record.exercises()) {
      if (e.id() == block.exercise_id()) exercise = &e;
    }
    if (std::optional<v1::RepRange> target = BlockTarget(block, exercise)) {
      *out->mutable_target() = *target;
    }
    if (exercise != nullptr) {
      out->set_pattern(exercise->pattern());
      out->set_per_side(exercise->per_side());
    }
  }
  *past.mutable_participant() = participant;
  past.set_stage_id(stage_id);
  return past;
}

}  // namespace circuit::engine
