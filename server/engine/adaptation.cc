#include "server/engine/adaptation.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace circuit::engine {

std::optional<v1::RepRange> BlockTarget(const v1::Block& block,
                                        const v1::Exercise* exercise) {
  if (block.has_reps()) return block.reps();
  if (exercise != nullptr && exercise->has_reps()) return exercise->reps();
  return std::nullopt;
}

bool IsTooHard(const v1::EffortReport& report) {
  return report.feel() == v1::EFFORT_FEEL_TOO_HARD ||
         (report.has_cr10() && report.cr10() >= 9);
}

bool IsTooEasy(const v1::EffortReport& report) {
  if (IsTooHard(report)) return false;
  return report.feel() == v1::EFFORT_FEEL_TOO_EASY ||
         (report.has_cr10() && report.cr10() <= 2);
}

bool CallsForLowerLoad(v1::Symptom symptom) {
  return symptom == v1::SYMPTOM_LEAKING ||
         symptom == v1::SYMPTOM_PELVIC_HEAVINESS ||
         symptom == v1::SYMPTOM_ABDOMINAL_DOMING;
}

v1::AlertSeverity SymptomSeverity(v1::Symptom symptom) {
  return CallsForLowerLoad(symptom) ? v1::ALERT_SEVERITY_PRIORITY
                                    : v1::ALERT_SEVERITY_WARNING;
}

std::string SymptomPhrase(v1::Symptom symptom, absl::string_view other_text) {
  switch (symptom) {
    case v1::SYMPTOM_HIP_PINCH:
      return "pinching at the front of the hip";
    case v1::SYMPTOM_LEAKING:
      return "leaking";
    case v1::SYMPTOM_PELVIC_HEAVINESS:
      return "heaviness or pressure in the pelvis";
    case v1::SYMPTOM_LOW_BACK_PAIN:
      return "low back pain";
    case v1::SYMPTOM_PELVIC_PAIN:
      return "SI-joint or pelvic pain";
    case v1::SYMPTOM_ABDOMINAL_DOMING:
      return "abdominal doming";
    case v1::SYMPTOM_OTHER:
      return absl::StrCat("\"", other_text, "\"");
    default:
      return "a symptom";
  }
}

std::optional<DrillTarget> FindHipPinchDrill(const v1::Circuit& circuit,
                                             const CircuitLibrary& library,
                                             int from_block, int report_block) {
  for (int b = from_block < 0 ? 0 : from_block; b < circuit.blocks_size();
       ++b) {
    const v1::Exercise* exercise =
        library.FindExercise(circuit.blocks(b).exercise_id());
    if (exercise != nullptr &&
        exercise->pattern() == v1::MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION &&
        !exercise->hip_pinch_drill_id().empty()) {
      return DrillTarget{exercise->id(), exercise->hip_pinch_drill_id()};
    }
  }
  if (report_block >= 0 && report_block < circuit.blocks_size()) {
    const v1::Exercise* exercise =
        library.FindExercise(circuit.blocks(report_block).exercise_id());
    if (exercise != nullptr && !exercise->hip_pinch_drill_id().empty()) {
      return DrillTarget{exercise->id(), exercise->hip_pinch_drill_id()};
    }
  }
  return std::nullopt;
}

int64_t CharCount(absl::string_view text) {
  int64_t count = 0;
  for (char c : text) {
    // Continuation bytes look like 10xxxxxx.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

}  // namespace circuit::engine
