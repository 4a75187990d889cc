#ifndef CIRCUIT_SERVER_LIBRARY_CIRCUIT_LIBRARY_H_
#define CIRCUIT_SERVER_LIBRARY_CIRCUIT_LIBRARY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "circuit/v1/circuits.pb.h"

namespace circuit {

// One file of a circuit library: its name (for error messages) and text.
struct LibrarySource {
  std::string name;
  std::string text;
};

// The name of the exercise catalog in a library; every other `.textproto`
// file holds one circuit.
inline constexpr absl::string_view kCatalogFileName = "exercises.textproto";

// The validated circuit library: the exercise catalog and the circuits built
// from it. Immutable after loading, so thread-safe to read.
//
// Loading checks everything a running class relies on and reports the first
// problem as INVALID_ARGUMENT with "file:line:column: what is wrong" (line and
// column from 1): text-format syntax, duplicate ids, unknown exercise ids,
// regression, progression or drill links to nothing, min reps above max reps,
// zero sets, an untimed block that advances on its timer.
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

  // A library of one circuit and the exercises it uses (as stored with a
  // class), validated as Load validates files; errors name `name`.
  static absl::StatusOr<CircuitLibrary> FromParts(
      const std::string& name, const v1::Circuit& circuit,
      const std::vector<v1::Exercise>& exercises);

  // Circuits in id order.
  const std::vector<v1::Circuit>& circuits() const { return circuits_; }
  // Exercises in id order.
  const std::vector<v1::Exercise>& exercises() const { return exercises_; }

  // nullptr when there is no such id.
  const v1::Circuit* FindCircuit(absl::string_view id) const;
  const v1::Exercise* FindExercise(absl::string_view id) const;

  // The exercises a circuit uses, with everything they link to (regressions,
  // progressions, drills, track alternatives), transitively, in id order.
  std::vector<v1::Exercise> ExercisesFor(const v1::Circuit& circuit) const;

 private:
  CircuitLibrary() = default;

  std::vector<v1::Circuit> circuits_;
  std::vector<v1::Exercise> exercises_;
  std::map<std::string, size_t, std::less<>> circuit_index_;
  std::map<std::string, size_t, std::less<>> exercise_index_;
};

// Approximate seconds a class on `circuit` takes: timed intervals at their
// length, untimed work at 60 seconds per interval; at most INT32_MAX.
int32_t EstimateCircuitSeconds(const v1::Circuit& circuit,
                               const CircuitLibrary& library);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIBRARY_CIRCUIT_LIBRARY_H_
