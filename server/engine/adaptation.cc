#include "server/engine/adaptation.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace circuit::engine {

std::optional<v1::RepRange> BlockTarget(const v1::Block& block,
                                        const v1::Exercise* exercise) {
  if (block.has_reps()) return block.reps();
  if (exercise != nullptr && exercise->has_reps()) return exercise->reps();
  return std::nullopt;
}

bool IsTooHard(const v1::AdaptationRules& rules, v1::EffortFeel feel,
               std::optional<int32_t> cr10) {
  return feel == v1::EFFORT_FEEL_TOO_HARD ||
         (cr10.has_value() && *cr10 >= rules.too_hard_cr10_at_least());
}

bool IsTooHard(const v1::AdaptationRules& rules,
               const v1::EffortReport& report) {
  return IsTooHard(
      rules, report.feel(),
      report.has_cr10() ? std::optional<int32_t>(report.cr10()) : std::nullopt);
}

bool IsTooEasy(const v1::AdaptationRules& rules, v1::EffortFeel feel,
               std::optional<int32_t> cr10) {
  if (IsTooHard(rules, feel, cr10)) return false;
  return feel == v1::EFFORT_FEEL_TOO_EASY ||
         (cr10.has_value() && *cr10 <= rules.too_easy_cr10_at_most());
}

bool IsTooEasy(const v1::AdaptationRules& rules,
               const v1::EffortReport& report) {
  return IsTooEasy(
      rules, report.feel(),
      report.has_cr10() ? std::optional<int32_t>(report.cr10()) : std::nullopt);
}

bool CallsForLowerLoad(const v1::AdaptationRules& rules, v1::Symptom symptom) {
  return std::find(rules.lower_load_symptoms().begin(),
                   rules.lower_load_symptoms().end(),
                   symptom) != rules.lower_load_symptoms().end();
}

bool IsPelvicSymptom(const v1::AdaptationRules& rules, v1::Symptom symptom) {
  return std::find(rules.pelvic_symptoms().begin(),
                   rules.pelvic_symptoms().end(),
                   symptom) != rules.pelvic_symptoms().end();
}

v1::AlertSeverity SymptomSeverity(const v1::AdaptationRules& rules,
                                  v1::Symptom symptom) {
  return CallsForLowerLoad(rules, symptom) ? rules.lower_load_severity()
                                           : rules.other_symptom_severity();
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

namespace {

const v1::Exercise* BlockExercise(const AdaptationContext& context,
                                  int32_t block_index) {
  return context.library->FindExercise(
      context.circuit->blocks(block_index).exercise_id());
}

// A display name for a block: its exercise's name, else the block's id.
std::string BlockName(const AdaptationContext& context, int32_t block_index) {
  const v1::Exercise* exercise = BlockExercise(context, block_index);
  return exercise != nullptr ? exercise->name()
                             : context.circuit->blocks(block_index).id();
}

// "once", "twice", "3 times".
std::string Times(int n) {
  if (n == 1) return "once";
  if (n == 2) return "twice";
  return absl::StrCat(n, " times");
}

std::string ExerciseName(const CircuitLibrary& library, const std::string& id) {
  const v1::Exercise* exercise = library.FindExercise(id);
  return exercise != nullptr ? exercise->name() : id;
}

}  // namespace

std::optional<SuggestionToMake> Regression(const AdaptationContext& context,
                                           int32_t block_index,
                                           absl::string_view why) {
  const v1::Exercise* exercise = BlockExercise(context, block_index);
  if (exercise == nullptr || exercise->regression_ids().empty()) {
    return std::nullopt;
  }
  SuggestionToMake suggestion;
  suggestion.kind = v1::SUGGESTION_KIND_REGRESSION;
  suggestion.exercise_id = exercise->id();
  suggestion.suggested_exercise_id = exercise->regression_ids(0);
  if (const v1::Exercise* easier =
          context.library->FindExercise(suggestion.suggested_exercise_id)) {
    suggestion.suggested_exercise_name = easier->name();
  }
  suggestion.reason = absl::StrCat(
      why, ": try ",
      ExerciseName(*context.library, suggestion.suggested_exercise_id),
      " instead of ", exercise->name(), ".");
  return suggestion;
}

std::vector<Reaction> ReactToCompletion(
    const AdaptationContext& context, const v1::CompletionReport& report,
    const std::vector<int32_t>& block_reps) {
  std::vector<Reaction> out;
  const int32_t b = report.block_index();
  const std::optional<v1::RepRange> target =
      BlockTarget(context.circuit->blocks(b), BlockExercise(context, b));
  if (!target.has_value() || report.reps() >= target->min_reps()) return out;
  int under = 0;
  for (int32_t reps : block_reps) {
    if (reps < target->min_reps()) ++under;
  }
  if (under < context.Rules().under_range_sets_for_regression()) return out;
  if (std::optional<SuggestionToMake> regression = Regression(
          context, b,
          absl::StrCat(
              "Reps came in under the ", target->min_reps(), " to ",
              target->max_reps(), " range ",
              Times(context.Rules().under_range_sets_for_regression())))) {
    out.push_back(std::move(*regression));
  }
  return out;
}

EffortReaction ReactToEffort(const AdaptationContext& context,
                             absl::string_view display_name,
                             const v1::EffortReport& report,
                             int too_hard_streak,
                             const std::vector<int32_t>& block_reps) {
  EffortReaction out;
  const int32_t b = report.block_index();
  const v1::AdaptationRules& rules = context.Rules();
  if (IsTooHard(rules, report)) {
    out.too_hard_streak = too_hard_streak + 1;
    if (std::optional<SuggestionToMake> regression =
            Regression(context, b, "That felt too hard")) {
      out.reactions.push_back(std::move(*regression));
    }
    if (out.too_hard_streak == rules.too_hard_in_a_row_for_alert()) {
      AlertToRaise alert;
      alert.kind = v1::ALERT_KIND_REPEATED_TOO_HARD;
      alert.severity = v1::ALERT_SEVERITY_WARNING;
      alert.text = absl::StrCat(display_name, " rated too hard ",
                                Times(out.too_hard_streak), " in a row (",
                                BlockName(context, b), ").");
      alert.block_index = b;
      out.reactions.push_back(std::move(alert));
    }
    return out;
  }
  out.too_hard_streak = 0;
  if (!IsTooEasy(rules, report)) return out;
  const v1::Exercise* exercise = BlockExercise(context, b);
  const std::optional<v1::RepRange> target =
      BlockTarget(context.circuit->blocks(b), exercise);
  if (exercise == nullptr || !target.has_value() ||
      exercise->progression_ids().empty() || block_reps.empty()) {
    return out;
  }
  // "Every rep done": each set reported for the block reached the top of the
  // range.
  for (int32_t reps : block_reps) {
    if (reps < target->max_reps()) return out;
  }
  SuggestionToMake suggestion;
  suggestion.kind = v1::SUGGESTION_KIND_PROGRESSION;
  suggestion.exercise_id = exercise->id();
  suggestion.suggested_exercise_id = exercise->progression_ids(0);
  if (const v1::Exercise* harder =
          context.library->FindExercise(suggestion.suggested_exercise_id)) {
    suggestion.suggested_exercise_name = harder->name();
  }
  suggestion.reason = absl::StrCat(
      "Every rep done and it felt easy: try ",
      ExerciseName(*context.library, suggestion.suggested_exercise_id),
      " when you are ready.");
  out.reactions.push_back(std::move(suggestion));
  return out;
}

std::vector<Reaction> ReactToSymptom(const AdaptationContext& context,
                                     absl::string_view display_name,
                                     const v1::SymptomReport& report,
                                     absl::string_view other_text,
                                     int32_t current_block) {
  std::vector<Reaction> out;
  const int32_t b = report.block_index();
  AlertToRaise alert;
  alert.kind = v1::ALERT_KIND_SYMPTOM;
  alert.severity = SymptomSeverity(context.Rules(), report.symptom());
  alert.symptom = report.symptom();
  alert.text = absl::StrCat(display_name, " reported ",
                            SymptomPhrase(report.symptom(), other_text),
                            " during ", BlockName(context, b), ".");
  alert.block_index = b;
  out.push_back(std::move(alert));

  if (report.symptom() == v1::SYMPTOM_HIP_PINCH) {
    if (std::optional<DrillTarget> drill = FindHipPinchDrill(
            *context.circuit, *context.library, current_block, b)) {
      SuggestionToMake suggestion;
      suggestion.kind = v1::SUGGESTION_KIND_DRILL;
      suggestion.exercise_id = drill->exercise_id;
      suggestion.suggested_exercise_id = drill->drill_id;
      if (const v1::Exercise* drill_exercise =
              context.library->FindExercise(drill->drill_id)) {
        suggestion.suggested_exercise_name = drill_exercise->name();
      }
      suggestion.reason = absl::StrCat(
          "A pinch at the front of the hip: try ",
          ExerciseName(*context.library, drill->drill_id), " before ",
          ExerciseName(*context.library, drill->exercise_id),
          ", then load again.");
      out.push_back(std::move(suggestion));
    }
  } else if (CallsForLowerLoad(context.Rules(), report.symptom())) {
    SuggestionToMake suggestion;
    suggestion.kind = v1::SUGGESTION_KIND_LOWER_LOAD;
    suggestion.exercise_id = context.circuit->blocks(b).exercise_id();
    suggestion.reason =
        "Lower the load, rest more, and tell the coach how you feel.";
    out.push_back(std::move(suggestion));
  }
  return out;
}

std::optional<AlertToRaise> ReactToDrop(absl::string_view display_name,
                                        absl::Duration hold,
                                        int32_t current_block,
                                        bool class_ended) {
  if (class_ended) return std::nullopt;
  AlertToRaise alert;
  alert.kind = v1::ALERT_KIND_DROPPED;
  alert.severity = v1::ALERT_SEVERITY_INFO;
  alert.text = absl::StrCat(display_name,
                            "'s connection dropped; their seat is held for ",
                            absl::FormatDuration(hold), ".");
  alert.block_index = current_block;
  return alert;
}

}  // namespace circuit::engine
