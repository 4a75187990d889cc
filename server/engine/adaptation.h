#ifndef CIRCUIT_SERVER_ENGINE_ADAPTATION_H_
#define CIRCUIT_SERVER_ENGINE_ADAPTATION_H_

// The adaptation rules: what a participant's report or drop calls for
// (alerts for the instructor, suggested modifications for the participant),
// and the data behind them: what counts as too hard or too easy, how urgent a
// symptom is, which drill answers a pinching hip, and the words shown to
// people. Pure functions over the circuit library and the state the caller
// passes in; thread-safe. The ClassSession applies what they return (ids,
// events, and one open suggestion of a kind per exercise). The product
// suggests; the coach decides; none of this is medical advice.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "circuit/v1/circuits.pb.h"
#include "circuit/v1/live.pb.h"
#include "server/engine/text.h"
#include "server/library/circuit_library.h"

namespace circuit::engine {

// The target reps of a block: its own range, else its exercise's; nullopt
// for holds and drills that have none. `exercise` may be null.
std::optional<v1::RepRange> BlockTarget(const v1::Block& block,
                                        const v1::Exercise* exercise);

// The thresholds below come from the rule table (`rules`, complete as
// CircuitLibrary::rules() keeps it); the defaults are given in brackets.

// "Too hard": the quick rating says so, or CR-10 is at least
// too_hard_cr10_at_least (9). `cr10` is absent when only the feel was given.
bool IsTooHard(const v1::AdaptationRules& rules, v1::EffortFeel feel,
               std::optional<int32_t> cr10);
bool IsTooHard(const v1::AdaptationRules& rules,
               const v1::EffortReport& report);
// "Too easy": the quick rating says so, or CR-10 is at most
// too_easy_cr10_at_most (2), and the rating is not also too hard.
bool IsTooEasy(const v1::AdaptationRules& rules, v1::EffortFeel feel,
               std::optional<int32_t> cr10);
bool IsTooEasy(const v1::AdaptationRules& rules,
               const v1::EffortReport& report);

// How urgently the instructor should look at a symptom: lower_load_severity
// (PRIORITY) for the ones that call for lowering the load,
// other_symptom_severity (WARNING) otherwise.
v1::AlertSeverity SymptomSeverity(const v1::AdaptationRules& rules,
                                  v1::Symptom symptom);
// In lower_load_symptoms (leaking, pelvic heaviness, abdominal doming).
bool CallsForLowerLoad(const v1::AdaptationRules& rules, v1::Symptom symptom);
// In pelvic_symptoms (leaking, heaviness, pelvic pain, doming).
bool IsPelvicSymptom(const v1::AdaptationRules& rules, v1::Symptom symptom);

// A short phrase for a symptom, e.g. "pinching at the front of the hip".
std::string SymptomPhrase(v1::Symptom symptom, absl::string_view other_text);

// The hip-pinch drill to suggest and the exercise it prepares for.
struct DrillTarget {
  std::string exercise_id;
  std::string drill_id;
};
// The drill of the first hip internal rotation exercise with one, from
// block `from_block` onward; else the drill of the block the report is
// about; nullopt when neither has one.
std::optional<DrillTarget> FindHipPinchDrill(const v1::Circuit& circuit,
                                             const CircuitLibrary& library,
                                             int from_block, int report_block);

// --- The rules ---------------------------------------------------------------

// An alert a rule calls for, about the participant reporting.
struct AlertToRaise {
  v1::AlertKind kind = v1::ALERT_KIND_UNSPECIFIED;
  v1::AlertSeverity severity = v1::ALERT_SEVERITY_UNSPECIFIED;
  v1::Symptom symptom = v1::SYMPTOM_UNSPECIFIED;  // for ALERT_KIND_SYMPTOM
  std::string text;
  int32_t block_index = -1;  // -1 when no block is concerned
};

// A suggestion a rule calls for, for the participant reporting.
struct SuggestionToMake {
  v1::SuggestionKind kind = v1::SUGGESTION_KIND_UNSPECIFIED;
  std::string exercise_id;
  std::string suggested_exercise_id;  // empty for LOWER_LOAD
  std::string suggested_exercise_name;
  std::string reason;
  // Set for the items of a plan derived from past classes (carry_over.h).
  bool from_history = false;
  v1::Side start_side = v1::SIDE_UNSPECIFIED;  // WEAKER_SIDE_FIRST
  std::string suggested_stage_id;              // NEXT_STAGE
  std::string suggested_stage_name;
};

// One thing a rule calls for. Rules return them in the order their events
// are to be emitted.
using Reaction = std::variant<AlertToRaise, SuggestionToMake>;

// What the rules know of the class. `circuit` and `library` are not null;
// every pointer outlives the call.
struct AdaptationContext {
  const v1::Circuit* circuit = nullptr;
  const CircuitLibrary* library = nullptr;
  // The rule table; null for the library's (the class's library keeps the
  // table the class was created with).
  const v1::AdaptationRules* rules = nullptr;

  const v1::AdaptationRules& Rules() const {
    return rules != nullptr ? *rules : library->rules();
  }
};

// The easier version of the block's exercise, with `why` leading the reason;
// nullopt when the exercise has no regression. `block_index` must exist.
std::optional<SuggestionToMake> Regression(const AdaptationContext& context,
                                           int32_t block_index,
                                           absl::string_view why);

// After an accepted completion. `block_reps` holds the participant's latest
// reps for every set and side reported in the report's block, this report
// included. Reps under the target range on under_range_sets_for_regression
// (2) sets of one block, this one among them: the regression.
std::vector<Reaction> ReactToCompletion(const AdaptationContext& context,
                                        const v1::CompletionReport& report,
                                        const std::vector<int32_t>& block_reps);

// What an effort report calls for, and the participant's run of too-hard
// ratings after it.
struct EffortReaction {
  int too_hard_streak = 0;
  std::vector<Reaction> reactions;
};

// After an accepted effort report, given the run of too-hard ratings before
// it and `block_reps` as for ReactToCompletion. Too hard: the regression, and
// on the too_hard_in_a_row_for_alert-th (2nd) too-hard rating in a row an
// ALERT_KIND_REPEATED_TOO_HARD (WARNING). Anything else ends the run. Too easy,
// with at least one set of the block reported and every reported set at the top
// of the range: the progression.
EffortReaction ReactToEffort(const AdaptationContext& context,
                             absl::string_view display_name,
                             const v1::EffortReport& report,
                             int too_hard_streak,
                             const std::vector<int32_t>& block_reps);

// After an accepted symptom report, `other_text` as recorded, while the class
// is on `current_block` (-1 when no interval is current). Every symptom: an
// ALERT_KIND_SYMPTOM of SymptomSeverity. Then a hip pinch: the drill of
// FindHipPinchDrill, if any; one of lower_load_symptoms: lower the load.
std::vector<Reaction> ReactToSymptom(const AdaptationContext& context,
                                     absl::string_view display_name,
                                     const v1::SymptomReport& report,
                                     absl::string_view other_text,
                                     int32_t current_block);

// After a participant's connection dropped: an ALERT_KIND_DROPPED (INFO)
// saying how long the seat is held; nullopt once the class has ended (every
// phone disconnects then).
std::optional<AlertToRaise> ReactToDrop(absl::string_view display_name,
                                        absl::Duration hold,
                                        int32_t current_block,
                                        bool class_ended);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_ADAPTATION_H_
