#ifndef CIRCUIT_SERVER_LIBRARY_CIRCUIT_LIBRARY_H_
#define CIRCUIT_SERVER_LIBRARY_CIRCUIT_LIBRARY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "circuit/v1/circuits.pb.h"
#include "circuit/v1/programmes.pb.h"

namespace circuit {

// One file of a circuit library: its name (for error messages) and text.
struct LibrarySource {
  std::string name;
  std::string text;
};

// The files of a library, by name: the exercise catalog (kCatalogFileName,
// a v1::ExerciseCatalog, required), the rule table (kRulesFileName, a
// v1::AdaptationRules, optional: without it every threshold takes its
// default), one programme per file ending in kProgrammeFileSuffix (a
// v1::Programme), and one circuit in every other `.textproto` file.
inline constexpr absl::string_view kCatalogFileName = "exercises.textproto";
inline constexpr absl::string_view kRulesFileName = "rules.textproto";
inline constexpr absl::string_view kProgrammeFileSuffix =
    ".programme.textproto";

// The rule table with every field at its default: the thresholds the server
// used before the table existed (CR-10 9 too hard, 2 too easy, "twice", ...).
v1::AdaptationRules DefaultAdaptationRules();
// `rules` with every field it leaves out (or every empty list) at its
// default.
v1::AdaptationRules CompleteAdaptationRules(const v1::AdaptationRules& rules);

// The validated circuit library: the exercise catalog and the circuits built
// from it. Immutable after loading, so thread-safe to read.
//
// Loading checks everything a running class relies on and reports the first
// problem as INVALID_ARGUMENT with "file:line:column: what is wrong" (line and
// column from 1): text-format syntax, duplicate ids, unknown exercise ids,
// regression, progression or drill links to nothing, min reps above max reps,
// zero sets, an untimed block that advances on its timer; a rule table out of
// bounds; and in a programme: a duplicate programme or stage id, a stage
// without circuits or naming an unknown circuit, week ranges that run
// backwards or overlap (for any track), a criterion naming an unknown (or
// two-sided) exercise.
class CircuitLibrary {
 public:
  // Loads the catalog and circuits from `sources` (one must be named
  // kCatalogFileName, at least one other is a circuit).
  static absl::StatusOr<CircuitLibrary> Load(
      const std::vector<LibrarySource>& sources);

  // Loads every `.textproto` file in `dir`. NOT_FOUND when `dir` cannot be
  // read.
  static absl::StatusOr<CircuitLibrary> LoadDirectory(const std::string& dir);

  // Loads the library compiled into the binary from server/circuits/.
  static absl::StatusOr<CircuitLibrary> LoadEmbedded();

  // A library of one circuit, the exercises it uses and the rule table (as
  // stored with a class; `rules` is completed with CompleteAdaptationRules,
  // so a record stored before the table replays with the defaults),
  // validated as Load validates files; errors name `name`. No programmes.
  static absl::StatusOr<CircuitLibrary> FromParts(
      const std::string& name, const v1::Circuit& circuit,
      const std::vector<v1::Exercise>& exercises,
      const v1::AdaptationRules& rules);

  // Circuits in id order.
  const std::vector<v1::Circuit>& circuits() const { return circuits_; }
  // Exercises in id order.
  const std::vector<v1::Exercise>& exercises() const { return exercises_; }

  // Programmes in id order.
  const std::vector<v1::Programme>& programmes() const { return programmes_; }
  // The rule table, every field set (CompleteAdaptationRules).
  const v1::AdaptationRules& rules() const { return rules_; }

  // nullptr when there is no such id.
  const v1::Circuit* FindCircuit(absl::string_view id) const;
  const v1::Exercise* FindExercise(absl::string_view id) const;
  const v1::Programme* FindProgramme(absl::string_view id) const;

  // The exercises a circuit uses, with everything they link to (regressions,
  // progressions, drills, track alternatives), transitively, in id order.
  std::vector<v1::Exercise> ExercisesFor(const v1::Circuit& circuit) const;

 private:
  CircuitLibrary() = default;

  std::vector<v1::Circuit> circuits_;
  std::vector<v1::Exercise> exercises_;
  std::vector<v1::Programme> programmes_;
  v1::AdaptationRules rules_;
  std::map<std::string, size_t, std::less<>> circuit_index_;
  std::map<std::string, size_t, std::less<>> exercise_index_;
  std::map<std::string, size_t, std::less<>> programme_index_;
};

// The weeks postpartum `stage` usually starts at on `track`: its track
// option's range when it has one, else the stage's.
const v1::WeekRange& StageStartWeeks(const v1::ProgrammeStage& stage,
                                     v1::RecoveryTrack track);

// Approximate seconds a class on `circuit` takes: timed intervals at their
// length, untimed work at 60 seconds per interval; at most INT32_MAX.
int32_t EstimateCircuitSeconds(const v1::Circuit& circuit,
                               const CircuitLibrary& library);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIBRARY_CIRCUIT_LIBRARY_H_
