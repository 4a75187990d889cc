#ifndef CIRCUIT_SERVER_ENGINE_ADAPTATION_H_
#define CIRCUIT_SERVER_ENGINE_ADAPTATION_H_

// The data behind the adaptation rules: what counts as too hard or too easy,
// how urgent a symptom is, which drill answers a pinching hip, and the words
// shown to people. Pure functions over the circuit library; the session
// decides when to apply them. The product suggests; the coach decides; none
// of this is medical advice.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "circuit/v1/circuits.pb.h"
#include "circuit/v1/live.pb.h"
#include "server/library/circuit_library.h"

namespace circuit::engine {

// The target reps of a block: its own range, else its exercise's; nullopt
// for holds and drills that have none. `exercise` may be null.
std::optional<v1::RepRange> BlockTarget(const v1::Block& block,
                                        const v1::Exercise* exercise);

// "Too hard": the quick rating says so, or CR-10 is 9 or more.
bool IsTooHard(const v1::EffortReport& report);
// "Too easy": the quick rating says so, or CR-10 is 2 or less (and the report
// is not also too hard).
bool IsTooEasy(const v1::EffortReport& report);

// How urgently the instructor should look at a symptom: PRIORITY for the
// ones that call for lowering the load, WARNING otherwise.
v1::AlertSeverity SymptomSeverity(v1::Symptom symptom);
// Leaking, pelvic heaviness and abdominal doming: lower the load.
bool CallsForLowerLoad(v1::Symptom symptom);

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

// Number of characters (UTF-8 code points) in `text`, for length limits that
// people count in letters, not bytes.
int64_t CharCount(absl::string_view text);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_ADAPTATION_H_
