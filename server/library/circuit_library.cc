#include "server/library/circuit_library.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/library/embedded_circuits.h"

namespace circuit {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

constexpr int kMaxSets = 20;
constexpr int kMaxReps = 100;
constexpr int kMaxSeconds = 3600;
// A part held for seconds; the same bound a report's part amount has.
constexpr int kMaxPartSeconds = 600;

// Collects the first syntax error of a text-format parse.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!has_error_) {
      has_error_ = true;
      // The parser counts from 0; editors count from 1.
      error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber,
                  const std::string&) override {}

  bool has_error() const { return has_error_; }
  const std::string& error() const { return error_; }

 private:
  bool has_error_ = false;
  std::string error_;
};

// Points at a message in a parsed file, to say where a problem is.
class Locator {
 public:
  Locator(const std::string* file, const TextFormat::ParseInfoTree* tree,
          const Descriptor* descriptor, int line, int column)
      : file_(file),
        tree_(tree),
        descriptor_(descriptor),
        line_(line),
        column_(column) {}

  // "file:line:column" of `field` (element `index` when repeated) in this
  // message, or of the message itself when the field is not in the file.
  std::string At(absl::string_view field, int index = -1) const {
    int line = line_;
    int column = column_;
    const FieldDescriptor* fd =
        descriptor_->FindFieldByName(std::string(field));
    if (tree_ != nullptr && fd != nullptr) {
      // A repeated field is located by an element (protobuf aborts on -1):
      // without one, its first; none at all, the message itself (below).
      auto location =
          tree_->GetLocation(fd, fd->is_repeated() ? std::max(index, 0) : -1);
      if (location.line >= 0) {
        line = location.line;
        column = location.column;
      }
    }
    return absl::StrCat(*file_, ":", line + 1, ":", column + 1);
  }

  // The locator of the nested message in `field` (element `index`).
  Locator Nested(absl::string_view field, int index = -1) const {
    const FieldDescriptor* fd =
        descriptor_->FindFieldByName(std::string(field));
    int line = line_;
    int column = column_;
    const TextFormat::ParseInfoTree* nested = nullptr;
    if (tree_ != nullptr && fd != nullptr) {
      int i = fd->is_repeated() ? index : -1;
      auto location = tree_->GetLocation(fd, i);
      if (location.line >= 0) {
        line = location.line;
        column = location.column;
      }
      nested = tree_->GetTreeForNested(fd, i);
    }
    return Locator(file_, nested, fd->message_type(), line, column);
  }

 private:
  const std::string* file_;
  const TextFormat::ParseInfoTree* tree_;
  const Descriptor* descriptor_;
  int line_;
  int column_;
};

absl::Status Invalid(const std::string& where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  if (id.front() == '-' || id.back() == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
  });
}

constexpr absl::string_view kIdRule =
    "must be 1 to 64 lowercase letters, digits and dashes";

// Parses `source` into `message`, keeping field locations in `tree`.
absl::Status ParseFile(const LibrarySource& source, Message* message,
                       TextFormat::ParseInfoTree* tree) {
  TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(tree);
  if (!parser.ParseFromString(source.text, message)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source.name, ":",
        errors.has_error() ? errors.error() : "1:1: cannot parse"));
  }
  return absl::OkStatus();
}

absl::Status CheckRepRange(const v1::RepRange& reps, const Locator& at) {
  if (reps.min_reps() < 1) {
    return Invalid(at.At("min_reps"), "min_reps must be at least 1");
  }
  if (reps.max_reps() > kMaxReps) {
    return Invalid(at.At("max_reps"),
                   absl::StrCat("max_reps must be at most ", kMaxReps));
  }
  if (reps.min_reps() > reps.max_reps()) {
    return Invalid(at.At("min_reps"),
                   absl::StrCat("min_reps ", reps.min_reps(),
                                " is above max_reps ", reps.max_reps()));
  }
  return absl::OkStatus();
}

absl::Status CheckSeconds(int32_t seconds, absl::string_view field,
                          const Locator& at) {
  if (seconds < 0 || seconds > kMaxSeconds) {
    return Invalid(at.At(field), absl::StrCat(field, " must be 0 to ",
                                              kMaxSeconds, ", not ", seconds));
  }
  return absl::OkStatus();
}

// The parts of a combination set: a report names them by id and its `reps`
// is the first part's, so the first counts repetitions.
absl::Status CheckParts(const v1::Exercise& e, const Locator& at) {
  std::set<std::string, std::less<>> ids;
  for (int i = 0; i < e.parts_size(); ++i) {
    const v1::ExercisePart& part = e.parts(i);
    Locator part_at = at.Nested("parts", i);
    if (!IsValidId(part.id())) {
      return Invalid(part_at.At("id"),
                     absl::StrCat("part id \"", part.id(), "\" ", kIdRule));
    }
    if (!ids.insert(part.id()).second) {
      return Invalid(part_at.At("id"),
                     absl::StrCat("duplicate part id \"", part.id(),
                                  "\" in exercise \"", e.id(), "\""));
    }
    if (part.name().empty()) {
      return Invalid(part_at.At("name"),
                     absl::StrCat("part \"", part.id(), "\" has no name"));
    }
    const bool reps = part.unit() == v1::PART_UNIT_REPS;
    if (!reps && part.unit() != v1::PART_UNIT_SECONDS) {
      return Invalid(part_at.At("unit"),
                     absl::StrCat("part \"", part.id(),
                                  "\" needs unit PART_UNIT_REPS or "
                                  "PART_UNIT_SECONDS"));
    }
    if (i == 0 && !reps) {
      return Invalid(part_at.At("unit"),
                     absl::StrCat("the first part of \"", e.id(),
                                  "\" must count PART_UNIT_REPS: a report's "
                                  "reps is the first part's"));
    }
    const int most = reps ? kMaxReps : kMaxPartSeconds;
    if (part.target() < 1 || part.target() > most) {
      return Invalid(
          part_at.At("target"),
          absl::StrCat("part \"", part.id(), "\" target must be 1 to ", most,
                       ", not ", part.target()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckExercise(const v1::Exercise& e, const Locator& at) {
  if (!IsValidId(e.id())) {
    return Invalid(at.At("id"),
                   absl::StrCat("exercise id \"", e.id(), "\" ", kIdRule));
  }
  if (e.name().empty()) {
    return Invalid(at.At("name"),
                   absl::StrCat("exercise \"", e.id(), "\" has no name"));
  }
  if (e.pattern() == v1::MOVEMENT_PATTERN_UNSPECIFIED) {
    return Invalid(at.At("pattern"),
                   absl::StrCat("exercise \"", e.id(), "\" has no pattern"));
  }
  if (e.has_reps()) {
    absl::Status s = CheckRepRange(e.reps(), at.Nested("reps"));
    if (!s.ok()) return s;
  }
  absl::Status s = CheckParts(e, at);
  if (!s.ok()) return s;
  return CheckSeconds(e.hold_seconds(), "hold_seconds", at);
}

// Checks that every id an exercise links to names an exercise in `ids`.
absl::Status CheckExerciseLinks(const v1::Exercise& e,
                                const std::set<std::string, std::less<>>& ids,
                                const Locator& at) {
  auto check = [&](const std::string& target, absl::string_view field,
                   int index) -> absl::Status {
    if (ids.count(target) == 0) {
      return Invalid(
          at.At(field, index),
          absl::StrCat(field, " of \"", e.id(),
                       "\" links to unknown exercise \"", target, "\""));
    }
    if (target == e.id()) {
      return Invalid(at.At(field, index), absl::StrCat(field, " of \"", e.id(),
                                                       "\" links to itself"));
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < e.regression_ids_size(); ++i) {
    absl::Status s = check(e.regression_ids(i), "regression_ids", i);
    if (!s.ok()) return s;
  }
  for (int i = 0; i < e.progression_ids_size(); ++i) {
    absl::Status s = check(e.progression_ids(i), "progression_ids", i);
    if (!s.ok()) return s;
  }
  if (!e.hip_pinch_drill_id().empty()) {
    absl::Status s = check(e.hip_pinch_drill_id(), "hip_pinch_drill_id", -1);
    if (!s.ok()) return s;
  }
  for (int i = 0; i < e.track_options_size(); ++i) {
    const v1::TrackOption& option = e.track_options(i);
    Locator option_at = at.Nested("track_options", i);
    if (option.track() == v1::RECOVERY_TRACK_UNSPECIFIED) {
      return Invalid(
          option_at.At("track"),
          absl::StrCat("a track option of \"", e.id(), "\" names no track"));
    }
    if (!option.alternative_exercise_id().empty() &&
        ids.count(option.alternative_exercise_id()) == 0) {
      return Invalid(option_at.At("alternative_exercise_id"),
                     absl::StrCat("track option of \"", e.id(),
                                  "\" links to unknown exercise \"",
                                  option.alternative_exercise_id(), "\""));
    }
  }
  return absl::OkStatus();
}

// An easier or harder version is the same movement with more or less
// support, range or load, so it trains what the exercise trains: a mobility
// drill or a recovery stretch is never a version of a strength exercise (nor
// the other way round). A drill that answers a symptom belongs in
// hip_pinch_drill_id, which suggests it before the exercise, not instead.
bool IsDrill(v1::MovementPattern pattern) {
  return pattern == v1::MOVEMENT_PATTERN_MOBILITY ||
         pattern == v1::MOVEMENT_PATTERN_RECOVERY;
}

absl::Status CheckVersionPatterns(
    const v1::Exercise& e,
    const std::map<std::string, v1::MovementPattern, std::less<>>& patterns,
    const Locator& at) {
  auto check = [&](const google::protobuf::RepeatedPtrField<std::string>& ids,
                   absl::string_view field) -> absl::Status {
    for (int i = 0; i < ids.size(); ++i) {
      auto it = patterns.find(ids.Get(i));
      if (it == patterns.end() || IsDrill(it->second) == IsDrill(e.pattern())) {
        continue;
      }
      return Invalid(
          at.At(field, i),
          absl::StrCat(field, " of \"", e.id(), "\" links to \"", ids.Get(i),
                       "\", ",
                       IsDrill(it->second) ? "a drill, not a version of it"
                                           : "a strength exercise, not a drill",
                       ": a version is the same movement with more or less "
                       "support, range or load (a drill for a pinch goes in "
                       "hip_pinch_drill_id)"));
    }
    return absl::OkStatus();
  };
  absl::Status s = check(e.regression_ids(), "regression_ids");
  if (!s.ok()) return s;
  return check(e.progression_ids(), "progression_ids");
}

absl::Status CheckBlock(const v1::Block& b,
                        const std::set<std::string, std::less<>>& exercise_ids,
                        const Locator& at) {
  if (!IsValidId(b.id())) {
    return Invalid(at.At("id"),
                   absl::StrCat("block id \"", b.id(), "\" ", kIdRule));
  }
  if (exercise_ids.count(b.exercise_id()) == 0) {
    return Invalid(
        at.At("exercise_id"),
        absl::StrCat("block \"", b.id(), "\" uses unknown exercise \"",
                     b.exercise_id(), "\""));
  }
  if (b.sets() < 1 || b.sets() > kMaxSets) {
    return Invalid(at.At("sets"),
                   absl::StrCat("block \"", b.id(), "\" has ", b.sets(),
                                " sets; it needs 1 to ", kMaxSets));
  }
  if (b.has_reps()) {
    absl::Status s = CheckRepRange(b.reps(), at.Nested("reps"));
    if (!s.ok()) return s;
  }
  for (absl::string_view field :
       {"work_seconds", "rest_between_sides_seconds",
        "rest_between_sets_seconds", "rest_after_seconds"}) {
    const FieldDescriptor* fd =
        b.GetDescriptor()->FindFieldByName(std::string(field));
    absl::Status s =
        CheckSeconds(b.GetReflection()->GetInt32(b, fd), field, at);
    if (!s.ok()) return s;
  }
  if (b.work_seconds() == 0 && b.advance() != v1::ADVANCE_MODE_INSTRUCTOR) {
    return Invalid(at.At("work_seconds"),
                   absl::StrCat("block \"", b.id(),
                                "\" is untimed (work_seconds 0) so it must use "
                                "advance: ADVANCE_MODE_INSTRUCTOR"));
  }
  return absl::OkStatus();
}

absl::Status CheckCircuit(
    const v1::Circuit& c,
    const std::set<std::string, std::less<>>& exercise_ids, const Locator& at) {
  if (!IsValidId(c.id())) {
    return Invalid(at.At("id"),
                   absl::StrCat("circuit id \"", c.id(), "\" ", kIdRule));
  }
  if (c.name().empty()) {
    return Invalid(at.At("name"),
                   absl::StrCat("circuit \"", c.id(), "\" has no name"));
  }
  if (c.blocks_size() == 0) {
    return Invalid(at.At("blocks"),
                   absl::StrCat("circuit \"", c.id(), "\" has no blocks"));
  }
  std::set<std::string, std::less<>> block_ids;
  for (int i = 0; i < c.blocks_size(); ++i) {
    Locator block_at = at.Nested("blocks", i);
    absl::Status s = CheckBlock(c.blocks(i), exercise_ids, block_at);
    if (!s.ok()) return s;
    if (!block_ids.insert(c.blocks(i).id()).second) {
      return Invalid(block_at.At("id"),
                     absl::StrCat("duplicate block id \"", c.blocks(i).id(),
                                  "\" in circuit \"", c.id(), "\""));
    }
  }
  return absl::OkStatus();
}

void CollectLinked(const CircuitLibrary& library, const std::string& id,
                   std::set<std::string>* out) {
  if (!out->insert(id).second) return;
  const v1::Exercise* e = library.FindExercise(id);
  if (e == nullptr) return;
  for (const auto& r : e->regression_ids()) CollectLinked(library, r, out);
  for (const auto& p : e->progression_ids()) CollectLinked(library, p, out);
  if (!e->hip_pinch_drill_id().empty()) {
    CollectLinked(library, e->hip_pinch_drill_id(), out);
  }
  for (const auto& o : e->track_options()) {
    if (!o.alternative_exercise_id().empty()) {
      CollectLinked(library, o.alternative_exercise_id(), out);
    }
  }
}

}  // namespace

absl::StatusOr<CircuitLibrary> CircuitLibrary::Load(
    const std::vector<LibrarySource>& sources) {
  const LibrarySource* catalog_source = nullptr;
  for (const LibrarySource& source : sources) {
    if (source.name == kCatalogFileName ||
        absl::EndsWith(source.name, absl::StrCat("/", kCatalogFileName))) {
      catalog_source = &source;
    }
  }
  if (catalog_source == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("the circuit library has no ", kCatalogFileName));
  }

  CircuitLibrary library;
  v1::ExerciseCatalog catalog;
  TextFormat::ParseInfoTree catalog_tree;
  absl::Status status = ParseFile(*catalog_source, &catalog, &catalog_tree);
  if (!status.ok()) return status;
  Locator catalog_at(&catalog_source->name, &catalog_tree,
                     v1::ExerciseCatalog::descriptor(), 0, 0);

  std::set<std::string, std::less<>> exercise_ids;
  for (int i = 0; i < catalog.exercises_size(); ++i) {
    const v1::Exercise& e = catalog.exercises(i);
    Locator at = catalog_at.Nested("exercises", i);
    status = CheckExercise(e, at);
    if (!status.ok()) return status;
    if (!exercise_ids.insert(e.id()).second) {
      return Invalid(at.At("id"),
                     absl::StrCat("duplicate exercise id \"", e.id(), "\""));
    }
  }
  std::map<std::string, v1::MovementPattern, std::less<>> patterns;
  for (const v1::Exercise& e : catalog.exercises()) {
    patterns.emplace(e.id(), e.pattern());
  }
  for (int i = 0; i < catalog.exercises_size(); ++i) {
    status = CheckExerciseLinks(catalog.exercises(i), exercise_ids,
                                catalog_at.Nested("exercises", i));
    if (!status.ok()) return status;
    status = CheckVersionPatterns(catalog.exercises(i), patterns,
                                  catalog_at.Nested("exercises", i));
    if (!status.ok()) return status;
  }

  std::map<std::string, std::string> circuit_files;  // id -> file
  for (const LibrarySource& source : sources) {
    if (&source == catalog_source) continue;
    v1::Circuit circuit;
    TextFormat::ParseInfoTree tree;
    status = ParseFile(source, &circuit, &tree);
    if (!status.ok()) return status;
    Locator at(&source.name, &tree, v1::Circuit::descriptor(), 0, 0);
    status = CheckCircuit(circuit, exercise_ids, at);
    if (!status.ok()) return status;
    auto [it, inserted] = circuit_files.emplace(circuit.id(), source.name);
    if (!inserted) {
      return Invalid(at.At("id"),
                     absl::StrCat("duplicate circuit id \"", circuit.id(),
                                  "\", also in ", it->second));
    }
    library.circuits_.push_back(std::move(circuit));
  }
  if (library.circuits_.empty()) {
    return absl::InvalidArgumentError("the circuit library has no circuits");
  }

  library.exercises_.assign(catalog.exercises().begin(),
                            catalog.exercises().end());
  std::sort(library.exercises_.begin(), library.exercises_.end(),
            [](const v1::Exercise& a, const v1::Exercise& b) {
              return a.id() < b.id();
            });
  std::sort(library.circuits_.begin(), library.circuits_.end(),
            [](const v1::Circuit& a, const v1::Circuit& b) {
              return a.id() < b.id();
            });
  for (size_t i = 0; i < library.exercises_.size(); ++i) {
    library.exercise_index_.emplace(library.exercises_[i].id(), i);
  }
  for (size_t i = 0; i < library.circuits_.size(); ++i) {
    library.circuit_index_.emplace(library.circuits_[i].id(), i);
  }
  for (v1::Circuit& c : library.circuits_) {
    c.set_estimated_seconds(EstimateCircuitSeconds(c, library));
  }
  return library;
}

absl::StatusOr<CircuitLibrary> CircuitLibrary::LoadDirectory(
    const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(opendir(dir.c_str()), &closedir);
  if (handle == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot read circuits directory ", dir));
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(handle.get())) {
    std::string name = entry->d_name;
    if (absl::EndsWith(name, ".textproto")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<LibrarySource> sources;
  for (const std::string& name : names) {
    std::string path = absl::StrCat(dir, "/", name);
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    std::ostringstream text;
    text << in.rdbuf();
    sources.push_back({path, text.str()});
  }
  return Load(sources);
}

absl::StatusOr<CircuitLibrary> CircuitLibrary::LoadEmbedded() {
  return Load(EmbeddedCircuitSources());
}

absl::StatusOr<CircuitLibrary> CircuitLibrary::FromParts(
    const std::string& name, const v1::Circuit& circuit,
    const std::vector<v1::Exercise>& exercises) {
  v1::ExerciseCatalog catalog;
  for (const v1::Exercise& e : exercises) *catalog.add_exercises() = e;
  std::vector<LibrarySource> sources(2);
  sources[0].name = absl::StrCat(name, "/", kCatalogFileName);
  sources[1].name = absl::StrCat(name, "/", circuit.id(), ".textproto");
  if (!TextFormat::PrintToString(catalog, &sources[0].text) ||
      !TextFormat::PrintToString(circuit, &sources[1].text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": cannot print the stored circuit"));
  }
  return Load(sources);
}

const v1::Circuit* CircuitLibrary::FindCircuit(absl::string_view id) const {
  auto it = circuit_index_.find(id);
  return it == circuit_index_.end() ? nullptr : &circuits_[it->second];
}

const v1::Exercise* CircuitLibrary::FindExercise(absl::string_view id) const {
  auto it = exercise_index_.find(id);
  return it == exercise_index_.end() ? nullptr : &exercises_[it->second];
}

std::vector<v1::Exercise> CircuitLibrary::ExercisesFor(
    const v1::Circuit& circuit) const {
  std::set<std::string> ids;
  for (const v1::Block& b : circuit.blocks()) {
    CollectLinked(*this, b.exercise_id(), &ids);
  }
  std::vector<v1::Exercise> out;
  for (const std::string& id : ids) {
    if (const v1::Exercise* e = FindExercise(id)) out.push_back(*e);
  }
  return out;
}

int32_t EstimateCircuitSeconds(const v1::Circuit& circuit,
                               const CircuitLibrary& library) {
  constexpr int64_t kUntimedWorkSeconds = 60;
  // In 64 bits, then capped: a circuit file with thousands of hour-long
  // blocks (each field within its bounds) would overflow 32.
  int64_t total = 0;
  for (int i = 0; i < circuit.blocks_size(); ++i) {
    const v1::Block& b = circuit.blocks(i);
    const v1::Exercise* e = library.FindExercise(b.exercise_id());
    const int64_t sides = (e != nullptr && e->per_side()) ? 2 : 1;
    const int64_t sets = b.sets();
    const int64_t work =
        b.work_seconds() > 0 ? b.work_seconds() : kUntimedWorkSeconds;
    total += sets * sides * work;
    total += sets * (sides - 1) * b.rest_between_sides_seconds();
    total += (sets - 1) * b.rest_between_sets_seconds();
    if (i + 1 < circuit.blocks_size()) total += b.rest_after_seconds();
  }
  return static_cast<int32_t>(
      std::min<int64_t>(total, std::numeric_limits<int32_t>::max()));
}

}  // namespace circuit
