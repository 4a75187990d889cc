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

// --- The rule table
// ------------------------------------------------------------

constexpr int kMaxClassesRead = 52;

absl::Status CheckCount(const v1::AdaptationRules& r, absl::string_view field,
                        int min, int max, const Locator& at) {
  const FieldDescriptor* fd =
      r.GetDescriptor()->FindFieldByName(std::string(field));
  const int32_t value = r.GetReflection()->GetInt32(r, fd);
  if (value < min || value > max) {
    return Invalid(at.At(field), absl::StrCat(field, " must be ", min, " to ",
                                              max, ", not ", value));
  }
  return absl::OkStatus();
}

// Checks a complete rule table (CompleteAdaptationRules).
absl::Status CheckRules(const v1::AdaptationRules& r, const Locator& at) {
  struct Bound {
    absl::string_view field;
    int min;
    int max;
  };
  for (const Bound& b : {Bound{"too_hard_cr10_at_least", 0, 10},
                         Bound{"too_easy_cr10_at_most", 0, 10},
                         Bound{"under_range_sets_for_regression", 1, kMaxSets},
                         Bound{"too_hard_in_a_row_for_alert", 1, kMaxSets},
                         Bound{"repeat_lookback_classes", 1, kMaxClassesRead},
                         Bound{"repeat_classes", 1, kMaxClassesRead},
                         Bound{"side_gap_percent", 1, 100},
                         Bound{"side_gap_classes", 1, kMaxClassesRead},
                         Bound{"pelvic_symptom_classes", 1, kMaxClassesRead},
                         Bound{"hip_pinch_classes", 1, kMaxClassesRead}}) {
    absl::Status s = CheckCount(r, b.field, b.min, b.max, at);
    if (!s.ok()) return s;
  }
  if (r.too_easy_cr10_at_most() >= r.too_hard_cr10_at_least()) {
    return Invalid(
        at.At("too_easy_cr10_at_most"),
        absl::StrCat("too_easy_cr10_at_most ", r.too_easy_cr10_at_most(),
                     " must be below too_hard_cr10_at_least ",
                     r.too_hard_cr10_at_least()));
  }
  if (r.repeat_classes() > r.repeat_lookback_classes()) {
    return Invalid(at.At("repeat_classes"),
                   absl::StrCat("repeat_classes ", r.repeat_classes(),
                                " is above repeat_lookback_classes ",
                                r.repeat_lookback_classes()));
  }
  for (absl::string_view field : {"lower_load_symptoms", "pelvic_symptoms"}) {
    const auto& list = field == "pelvic_symptoms" ? r.pelvic_symptoms()
                                                  : r.lower_load_symptoms();
    for (int i = 0; i < list.size(); ++i) {
      if (list.Get(i) == v1::SYMPTOM_UNSPECIFIED) {
        return Invalid(at.At(field, i),
                       absl::StrCat(field, " names no symptom"));
      }
    }
  }
  return absl::OkStatus();
}

// --- Programmes
// ------------------------------------------------------------------

constexpr int kMaxWeeks = 520;

absl::Status CheckWeekRange(const v1::WeekRange& w, absl::string_view stage,
                            const Locator& at) {
  for (absl::string_view field : {"min_weeks", "max_weeks"}) {
    const int32_t v = field == "min_weeks" ? w.min_weeks() : w.max_weeks();
    if (v < 0 || v > kMaxWeeks) {
      return Invalid(at.At(field),
                     absl::StrCat(field, " of stage \"", stage,
                                  "\" must be 0 to ", kMaxWeeks, ", not ", v));
    }
  }
  if (w.min_weeks() > w.max_weeks()) {
    return Invalid(at.At("min_weeks"),
                   absl::StrCat("the week range of stage \"", stage,
                                "\" runs backwards: ", w.min_weeks(), " to ",
                                w.max_weeks()));
  }
  return absl::OkStatus();
}

absl::Status CheckCriteria(const v1::StageCriteria& c, absl::string_view stage,
                           const CircuitLibrary& library, const Locator& at) {
  auto bad_count = [&](absl::string_view field, int32_t v, int max) {
    return Invalid(at.At(field),
                   absl::StrCat(field, " of stage \"", stage,
                                "\" must be 0 to ", max, ", not ", v));
  };
  if (c.in_range_classes() < 0 || c.in_range_classes() > kMaxClassesRead) {
    return bad_count("in_range_classes", c.in_range_classes(), kMaxClassesRead);
  }
  if (c.of_last_classes() < 0 || c.of_last_classes() > kMaxClassesRead) {
    return bad_count("of_last_classes", c.of_last_classes(), kMaxClassesRead);
  }
  if (c.in_range_classes() > c.of_last_classes()) {
    return Invalid(
        at.At("in_range_classes"),
        absl::StrCat("in_range_classes ", c.in_range_classes(), " of stage \"",
                     stage, "\" is above of_last_classes ",
                     c.of_last_classes()));
  }
  if (c.no_pelvic_symptom_classes() < 0 ||
      c.no_pelvic_symptom_classes() > kMaxClassesRead) {
    return bad_count("no_pelvic_symptom_classes", c.no_pelvic_symptom_classes(),
                     kMaxClassesRead);
  }
  if (c.min_weeks_postpartum() < 0 || c.min_weeks_postpartum() > kMaxWeeks) {
    return bad_count("min_weeks_postpartum", c.min_weeks_postpartum(),
                     kMaxWeeks);
  }
  for (int i = 0; i < c.strength_markers_size(); ++i) {
    const v1::StrengthMarker& m = c.strength_markers(i);
    Locator marker_at = at.Nested("strength_markers", i);
    const v1::Exercise* e = library.FindExercise(m.exercise_id());
    if (e == nullptr) {
      return Invalid(
          marker_at.At("exercise_id"),
          absl::StrCat("a criterion of stage \"", stage,
                       "\" names unknown exercise \"", m.exercise_id(), "\""));
    }
    if (!e->per_side()) {
      return Invalid(
          marker_at.At("exercise_id"),
          absl::StrCat("a criterion of stage \"", stage,
                       "\" counts reps each side of \"", m.exercise_id(),
                       "\", which is not one-sided"));
    }
    if (m.min_reps_each_side() < 1 || m.min_reps_each_side() > kMaxReps) {
      return Invalid(marker_at.At("min_reps_each_side"),
                     absl::StrCat("min_reps_each_side must be 1 to ", kMaxReps,
                                  ", not ", m.min_reps_each_side()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckProgramme(const v1::Programme& p,
                            const CircuitLibrary& library, const Locator& at) {
  if (!IsValidId(p.id())) {
    return Invalid(at.At("id"),
                   absl::StrCat("programme id \"", p.id(), "\" ", kIdRule));
  }
  if (p.name().empty()) {
    return Invalid(at.At("name"),
                   absl::StrCat("programme \"", p.id(), "\" has no name"));
  }
  if (p.stages_size() == 0) {
    return Invalid(at.At("stages"),
                   absl::StrCat("programme \"", p.id(), "\" has no stages"));
  }
  std::set<std::string, std::less<>> stage_ids;
  for (int i = 0; i < p.stages_size(); ++i) {
    const v1::ProgrammeStage& stage = p.stages(i);
    Locator stage_at = at.Nested("stages", i);
    if (!IsValidId(stage.id())) {
      return Invalid(stage_at.At("id"),
                     absl::StrCat("stage id \"", stage.id(), "\" ", kIdRule));
    }
    if (!stage_ids.insert(stage.id()).second) {
      return Invalid(stage_at.At("id"),
                     absl::StrCat("duplicate stage id \"", stage.id(),
                                  "\" in programme \"", p.id(), "\""));
    }
    if (stage.name().empty()) {
      return Invalid(stage_at.At("name"),
                     absl::StrCat("stage \"", stage.id(), "\" has no name"));
    }
    if (stage.circuit_ids_size() == 0) {
      return Invalid(
          stage_at.At("circuit_ids"),
          absl::StrCat("stage \"", stage.id(), "\" has no circuits"));
    }
    for (int c = 0; c < stage.circuit_ids_size(); ++c) {
      if (library.FindCircuit(stage.circuit_ids(c)) == nullptr) {
        return Invalid(
            stage_at.At("circuit_ids", c),
            absl::StrCat("stage \"", stage.id(), "\" uses unknown circuit \"",
                         stage.circuit_ids(c), "\""));
      }
    }
    absl::Status s = CheckWeekRange(stage.start_weeks(), stage.id(),
                                    stage_at.Nested("start_weeks"));
    if (!s.ok()) return s;
    std::set<v1::RecoveryTrack> tracks;
    for (int t = 0; t < stage.track_options_size(); ++t) {
      const v1::StageTrackOption& o = stage.track_options(t);
      Locator option_at = stage_at.Nested("track_options", t);
      if (o.track() == v1::RECOVERY_TRACK_UNSPECIFIED) {
        return Invalid(option_at.At("track"),
                       absl::StrCat("a track option of stage \"", stage.id(),
                                    "\" names no track"));
      }
      if (!tracks.insert(o.track()).second) {
        return Invalid(
            option_at.At("track"),
            absl::StrCat("stage \"", stage.id(), "\" has two options for ",
                         v1::RecoveryTrack_Name(o.track())));
      }
      if (o.has_start_weeks()) {
        s = CheckWeekRange(o.start_weeks(), stage.id(),
                           option_at.Nested("start_weeks"));
        if (!s.ok()) return s;
      }
    }
    s = CheckCriteria(stage.next_stage_criteria(), stage.id(), library,
                      stage_at.Nested("next_stage_criteria"));
    if (!s.ok()) return s;
    if (i == 0) continue;
    // Each track's ranges (its options, else the stages') go forward without
    // overlapping.
    const v1::ProgrammeStage& before = p.stages(i - 1);
    for (v1::RecoveryTrack track :
         {v1::RECOVERY_TRACK_UNSPECIFIED, v1::RECOVERY_TRACK_VAGINAL,
          v1::RECOVERY_TRACK_CESAREAN}) {
      const v1::WeekRange& prev = StageStartWeeks(before, track);
      const v1::WeekRange& now = StageStartWeeks(stage, track);
      if (now.min_weeks() > prev.max_weeks()) continue;
      Locator where = stage_at.Nested("start_weeks");
      for (int t = 0; t < stage.track_options_size(); ++t) {
        if (stage.track_options(t).track() == track &&
            stage.track_options(t).has_start_weeks()) {
          where = stage_at.Nested("track_options", t).Nested("start_weeks");
        }
      }
      const std::string on_track =
          track == v1::RECOVERY_TRACK_UNSPECIFIED
              ? std::string()
              : absl::StrCat(" on ", v1::RecoveryTrack_Name(track));
      return Invalid(
          where.At("min_weeks"),
          absl::StrCat("stage \"", stage.id(), "\" starts at ", now.min_weeks(),
                       " weeks", on_track,
                       now.min_weeks() < prev.min_weeks()
                           ? ", which goes backwards"
                           : ", which overlaps",
                       " from stage \"", before.id(), "\" (", prev.min_weeks(),
                       " to ", prev.max_weeks(), " weeks)"));
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

// True when `source` is the library file `file` (in any directory).
bool IsFile(const LibrarySource& source, absl::string_view file) {
  return source.name == file ||
         absl::EndsWith(source.name, absl::StrCat("/", file));
}

}  // namespace

v1::AdaptationRules DefaultAdaptationRules() {
  return CompleteAdaptationRules(v1::AdaptationRules());
}

v1::AdaptationRules CompleteAdaptationRules(const v1::AdaptationRules& rules) {
  // These are the thresholds adaptation.cc hard-coded before the table: a
  // record stored then replays the same with them.
  v1::AdaptationRules r = rules;
  if (!r.has_too_hard_cr10_at_least()) r.set_too_hard_cr10_at_least(9);
  if (!r.has_too_easy_cr10_at_most()) r.set_too_easy_cr10_at_most(2);
  if (!r.has_under_range_sets_for_regression()) {
    r.set_under_range_sets_for_regression(2);
  }
  if (!r.has_too_hard_in_a_row_for_alert())
    r.set_too_hard_in_a_row_for_alert(2);
  if (r.lower_load_symptoms().empty()) {
    for (v1::Symptom s : {v1::SYMPTOM_LEAKING, v1::SYMPTOM_PELVIC_HEAVINESS,
                          v1::SYMPTOM_ABDOMINAL_DOMING}) {
      r.add_lower_load_symptoms(s);
    }
  }
  if (r.lower_load_severity() == v1::ALERT_SEVERITY_UNSPECIFIED) {
    r.set_lower_load_severity(v1::ALERT_SEVERITY_PRIORITY);
  }
  if (r.other_symptom_severity() == v1::ALERT_SEVERITY_UNSPECIFIED) {
    r.set_other_symptom_severity(v1::ALERT_SEVERITY_WARNING);
  }
  // Carry-over (new with the table).
  if (!r.has_repeat_lookback_classes()) r.set_repeat_lookback_classes(2);
  if (!r.has_repeat_classes()) r.set_repeat_classes(2);
  if (!r.has_side_gap_percent()) r.set_side_gap_percent(20);
  if (!r.has_side_gap_classes()) r.set_side_gap_classes(2);
  if (r.pelvic_symptoms().empty()) {
    for (v1::Symptom s :
         {v1::SYMPTOM_LEAKING, v1::SYMPTOM_PELVIC_HEAVINESS,
          v1::SYMPTOM_PELVIC_PAIN, v1::SYMPTOM_ABDOMINAL_DOMING}) {
      r.add_pelvic_symptoms(s);
    }
  }
  if (!r.has_pelvic_symptom_classes()) r.set_pelvic_symptom_classes(2);
  if (!r.has_hip_pinch_classes()) r.set_hip_pinch_classes(1);
  return r;
}

absl::StatusOr<CircuitLibrary> CircuitLibrary::Load(
    const std::vector<LibrarySource>& sources) {
  const LibrarySource* catalog_source = nullptr;
  const LibrarySource* rules_source = nullptr;
  std::vector<const LibrarySource*> programme_sources;
  for (const LibrarySource& source : sources) {
    if (IsFile(source, kCatalogFileName)) {
      catalog_source = &source;
    } else if (IsFile(source, kRulesFileName)) {
      rules_source = &source;
    } else if (absl::EndsWith(source.name, kProgrammeFileSuffix)) {
      programme_sources.push_back(&source);
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

  v1::AdaptationRules rules;
  if (rules_source != nullptr) {
    TextFormat::ParseInfoTree tree;
    status = ParseFile(*rules_source, &rules, &tree);
    if (!status.ok()) return status;
    library.rules_ = CompleteAdaptationRules(rules);
    status = CheckRules(library.rules_,
                        Locator(&rules_source->name, &tree,
                                v1::AdaptationRules::descriptor(), 0, 0));
    if (!status.ok()) return status;
  } else {
    library.rules_ = DefaultAdaptationRules();
  }

  std::map<std::string, std::string> circuit_files;  // id -> file
  for (const LibrarySource& source : sources) {
    if (&source == catalog_source || &source == rules_source ||
        absl::EndsWith(source.name, kProgrammeFileSuffix)) {
      continue;
    }
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

  // Programmes last: they name circuits and exercises.
  std::map<std::string, std::string> programme_files;  // id -> file
  for (const LibrarySource* source : programme_sources) {
    v1::Programme programme;
    TextFormat::ParseInfoTree tree;
    status = ParseFile(*source, &programme, &tree);
    if (!status.ok()) return status;
    Locator at(&source->name, &tree, v1::Programme::descriptor(), 0, 0);
    status = CheckProgramme(programme, library, at);
    if (!status.ok()) return status;
    auto [it, inserted] = programme_files.emplace(programme.id(), source->name);
    if (!inserted) {
      return Invalid(at.At("id"),
                     absl::StrCat("duplicate programme id \"", programme.id(),
                                  "\", also in ", it->second));
    }
    library.programmes_.push_back(std::move(programme));
  }
  std::sort(library.programmes_.begin(), library.programmes_.end(),
            [](const v1::Programme& a, const v1::Programme& b) {
              return a.id() < b.id();
            });
  for (size_t i = 0; i < library.programmes_.size(); ++i) {
    library.programme_index_.emplace(library.programmes_[i].id(), i);
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
    const std::vector<v1::Exercise>& exercises,
    const v1::AdaptationRules& rules) {
  v1::ExerciseCatalog catalog;
  for (const v1::Exercise& e : exercises) *catalog.add_exercises() = e;
  std::vector<LibrarySource> sources(3);
  sources[0].name = absl::StrCat(name, "/", kCatalogFileName);
  sources[1].name = absl::StrCat(name, "/", circuit.id(), ".textproto");
  sources[2].name = absl::StrCat(name, "/", kRulesFileName);
  if (!TextFormat::PrintToString(catalog, &sources[0].text) ||
      !TextFormat::PrintToString(circuit, &sources[1].text) ||
      !TextFormat::PrintToString(rules, &sources[2].text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": cannot print the stored circuit"));
  }
  return Load(sources);
}

const v1::Circuit* CircuitLibrary::FindCircuit(absl::string_view id) const {
  auto it = circuit_index_.find(id);
  return it == circuit_index_.end() ? nullptr : &circuits_[it->second];
}

const v1::Programme* CircuitLibrary::FindProgramme(absl::string_view id) const {
  auto it = programme_index_.find(id);
  return it == programme_index_.end() ? nullptr : &programmes_[it->second];
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

const v1::WeekRange& StageStartWeeks(const v1::ProgrammeStage& stage,
                                     v1::RecoveryTrack track) {
  for (const v1::StageTrackOption& o : stage.track_options()) {
    if (o.track() == track && o.has_start_weeks()) return o.start_weeks();
  }
  return stage.start_weeks();
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
