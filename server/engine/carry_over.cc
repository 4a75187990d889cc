#include "server/engine/carry_over.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace circuit::engine {
namespace {

using History = std::vector<const internal::PastClass*>;

// "one" to "ten", then digits: reasons are read by people.
std::string Number(int n) {
  static constexpr const char* kWords[] = {"no",    "one",  "two", "three",
                                           "four",  "five", "six", "seven",
                                           "eight", "nine", "ten"};
  if (n >= 0 && n <= 10) return kWords[n];
  return absl::StrCat(n);
}

// "Last class", "Last two classes", "2 of your last 3 classes".
std::string Window(int count, int of) {
  if (count == of) {
    return of == 1 ? "Last class"
                   : absl::StrCat("Last ", Number(of), " classes");
  }
  return absl::StrCat(count, " of your last ", of, " classes");
}

// "your last class", "the class before last", "3 classes ago".
std::string ClassesAgo(size_t i) {
  if (i == 0) return "your last class";
  if (i == 1) return "the class before last";
  return absl::StrCat(i + 1, " classes ago");
}

std::string NameOf(const CircuitLibrary& library, const std::string& id) {
  const v1::Exercise* e = library.FindExercise(id);
  return e != nullptr ? e->name() : id;
}

const internal::PastBlock* BlockAt(const internal::PastClass& c, int32_t i) {
  return i >= 0 && i < c.blocks_size() ? &c.blocks(i) : nullptr;
}

// The exercise a set was about: its block's, else the one it names.
const std::string& SetExercise(const internal::PastClass& c,
                               const v1::SetRecord& set) {
  const internal::PastBlock* b = BlockAt(c, set.block_index());
  return b != nullptr ? b->exercise_id() : set.exercise_id();
}

// What one past class shows about one exercise.
struct ExerciseInClass {
  bool done = false;         // a set or a rating reported on it
  bool too_hard = false;     // a rating too hard
  bool too_easy = false;     // a rating too easy, and none too hard
  bool under_range = false;  // a set under its target range
  bool all_at_top = false;   // sets reported, each at the top of its range
  int32_t top = 0;           // the top of the range (the latest block's)
  int32_t best = 0;          // the most reps in a set
};

ExerciseInClass Read(const internal::PastClass& c, const std::string& id,
                     const v1::AdaptationRules& rules) {
  ExerciseInClass out;
  int sets = 0;
  int at_top = 0;
  for (const v1::SetRecord& set : c.participant().sets()) {
    if (SetExercise(c, set) != id) continue;
    out.done = true;
    ++sets;
    out.best = std::max(out.best, set.reps());
    const internal::PastBlock* b = BlockAt(c, set.block_index());
    if (b == nullptr || !b->has_target()) continue;
    out.top = b->target().max_reps();
    if (set.reps() < b->target().min_reps()) out.under_range = true;
    if (set.reps() >= b->target().max_reps()) ++at_top;
  }
  out.all_at_top = sets > 0 && at_top == sets;
  bool easy = false;
  for (const v1::EffortRecord& e : c.participant().efforts()) {
    const internal::PastBlock* b = BlockAt(c, e.block_index());
    if (b == nullptr || b->exercise_id() != id) continue;
    out.done = true;
    const std::optional<int32_t> cr10 =
        e.has_cr10() ? std::optional<int32_t>(e.cr10()) : std::nullopt;
    if (IsTooHard(rules, e.feel(), cr10)) out.too_hard = true;
    if (IsTooEasy(rules, e.feel(), cr10)) easy = true;
  }
  out.too_easy = easy && !out.too_hard;
  return out;
}

// Her last `n` classes with exercise `id`, newest first.
std::vector<ExerciseInClass> LastWith(const History& newest_first,
                                      const std::string& id, int n,
                                      const v1::AdaptationRules& rules) {
  std::vector<ExerciseInClass> out;
  for (const internal::PastClass* c : newest_first) {
    if (static_cast<int>(out.size()) >= n) break;
    ExerciseInClass read = Read(*c, id, rules);
    if (read.done) out.push_back(read);
  }
  return out;
}

// Today's exercises, once each, in block order.
std::vector<std::string> TodaysExercises(const v1::Circuit& circuit) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const v1::Block& b : circuit.blocks()) {
    if (seen.insert(b.exercise_id()).second) out.push_back(b.exercise_id());
  }
  return out;
}

SuggestionToMake Item(v1::SuggestionKind kind, std::string exercise_id,
                      std::string reason) {
  SuggestionToMake s;
  s.kind = kind;
  s.exercise_id = std::move(exercise_id);
  s.reason = std::move(reason);
  s.from_history = true;
  return s;
}

void SetSuggested(const CircuitLibrary& library, const std::string& id,
                  SuggestionToMake* s) {
  s->suggested_exercise_id = id;
  s->suggested_exercise_name = NameOf(library, id);
}

// --- The rules, one function each
// ---------------------------------------------

// A pelvic symptom in her last pelvic_symptom_classes classes: lower the load,
// and a note for the coach.
std::optional<SuggestionToMake> PelvicSymptom(const PlanInputs& in,
                                              const History& newest_first) {
  const v1::AdaptationRules& rules = in.library->rules();
  std::vector<std::string> phrases;
  size_t newest = newest_first.size();
  std::string exercise_id;
  for (size_t i = 0; i < newest_first.size() &&
                     i < static_cast<size_t>(rules.pelvic_symptom_classes());
       ++i) {
    const internal::PastClass& c = *newest_first[i];
    for (const v1::SymptomRecord& s : c.participant().symptoms()) {
      if (!IsPelvicSymptom(rules, s.symptom())) continue;
      std::string phrase = SymptomPhrase(s.symptom(), s.other_text());
      if (std::find(phrases.begin(), phrases.end(), phrase) == phrases.end()) {
        phrases.push_back(std::move(phrase));
      }
      if (newest == newest_first.size()) newest = i;
      const internal::PastBlock* b = BlockAt(c, s.block_index());
      if (exercise_id.empty() && b != nullptr) exercise_id = b->exercise_id();
    }
  }
  if (phrases.empty()) return std::nullopt;
  // About the exercise where it happened when today has it, else today's
  // first.
  const std::vector<std::string> today = TodaysExercises(*in.circuit);
  if (std::find(today.begin(), today.end(), exercise_id) == today.end()) {
    exercise_id = today.empty() ? std::string() : today.front();
  }
  return Item(v1::SUGGESTION_KIND_LOWER_LOAD, exercise_id,
              absl::StrCat("You reported ", absl::StrJoin(phrases, " and "),
                           " in ", ClassesAgo(newest),
                           ": lower the load and rest more today, and tell "
                           "the coach how you feel. Coach: check in with "
                           "her before loading."));
}

// A pinch at the front of the hip on a hip internal rotation exercise in her
// last hip_pinch_classes classes: the hip-shift drill first, then load.
std::optional<SuggestionToMake> HipPinch(const PlanInputs& in,
                                         const History& newest_first) {
  const v1::AdaptationRules& rules = in.library->rules();
  for (size_t i = 0; i < newest_first.size() &&
                     i < static_cast<size_t>(rules.hip_pinch_classes());
       ++i) {
    const internal::PastClass& c = *newest_first[i];
    for (const v1::SymptomRecord& s : c.participant().symptoms()) {
      const internal::PastBlock* b = BlockAt(c, s.block_index());
      if (s.symptom() != v1::SYMPTOM_HIP_PINCH || b == nullptr ||
          b->pattern() != v1::MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION) {
        continue;
      }
      std::optional<DrillTarget> drill =
          FindHipPinchDrill(*in.circuit, *in.library, 0, -1);
      if (!drill.has_value()) return std::nullopt;
      SuggestionToMake item = Item(
          v1::SUGGESTION_KIND_DRILL, drill->exercise_id,
          absl::StrCat(
              "A pinch at the front of the hip on ",
              NameOf(*in.library, b->exercise_id()), " in ", ClassesAgo(i),
              ": do ", NameOf(*in.library, drill->drill_id), " before ",
              NameOf(*in.library, drill->exercise_id), ", then load again."));
      SetSuggested(*in.library, drill->drill_id, &item);
      return item;
    }
  }
  return std::nullopt;
}

// "Too hard" or reps under the range in repeat_classes of her last
// repeat_lookback_classes classes with an exercise: start with the easier
// version. Appends to `out`; returns the exercises it covered.
std::set<std::string> Regressions(const PlanInputs& in,
                                  const History& newest_first,
                                  std::vector<SuggestionToMake>* out) {
  const v1::AdaptationRules& rules = in.library->rules();
  std::set<std::string> covered;
  for (const std::string& id : TodaysExercises(*in.circuit)) {
    const v1::Exercise* e = in.library->FindExercise(id);
    if (e == nullptr || e->regression_ids().empty()) continue;
    const std::vector<ExerciseInClass> last =
        LastWith(newest_first, id, rules.repeat_lookback_classes(), rules);
    int hard = 0;
    int under = 0;
    int either = 0;
    for (const ExerciseInClass& r : last) {
      hard += r.too_hard;
      under += r.under_range;
      either += r.too_hard || r.under_range;
    }
    if (either < rules.repeat_classes()) continue;
    std::string what = hard >= either    ? "too hard"
                       : under >= either ? "reps under the range"
                                         : "too hard or reps under the range";
    SuggestionToMake item = Item(
        v1::SUGGESTION_KIND_REGRESSION, id,
        absl::StrCat(Window(either, static_cast<int>(last.size())), " with ",
                     e->name(), ": ", what, ". Start with ",
                     NameOf(*in.library, e->regression_ids(0)), " today."));
    SetSuggested(*in.library, e->regression_ids(0), &item);
    out->push_back(std::move(item));
    covered.insert(id);
  }
  return covered;
}

// "Too easy" with every rep at the top of the range in repeat_classes of her
// last repeat_lookback_classes classes with an exercise: start with the
// harder version.
void Progressions(const PlanInputs& in, const History& newest_first,
                  const std::set<std::string>& skip,
                  std::vector<SuggestionToMake>* out) {
  const v1::AdaptationRules& rules = in.library->rules();
  for (const std::string& id : TodaysExercises(*in.circuit)) {
    const v1::Exercise* e = in.library->FindExercise(id);
    if (e == nullptr || e->progression_ids().empty() || skip.count(id) > 0) {
      continue;
    }
    const std::vector<ExerciseInClass> last =
        LastWith(newest_first, id, rules.repeat_lookback_classes(), rules);
    int easy = 0;
    for (const ExerciseInClass& r : last) easy += r.too_easy && r.all_at_top;
    if (easy < rules.repeat_classes() || last.empty()) continue;
    const int32_t top = last.front().top;
    SuggestionToMake item = Item(
        v1::SUGGESTION_KIND_PROGRESSION, id,
        absl::StrCat(Window(easy, static_cast<int>(last.size())), " with ",
                     e->name(), ": ", top, " of ", top,
                     " reps, too easy. Start with ",
                     NameOf(*in.library, e->progression_ids(0)), " today."));
    SetSuggested(*in.library, e->progression_ids(0), &item);
    out->push_back(std::move(item));
  }
}

// One side at least side_gap_percent behind the other over her last
// side_gap_classes classes (one-sided sets with both sides reported): start
// with the weaker side.
std::optional<SuggestionToMake> WeakerSide(const PlanInputs& in,
                                           const History& newest_first) {
  const v1::AdaptationRules& rules = in.library->rules();
  std::string first_one_sided;
  for (const std::string& id : TodaysExercises(*in.circuit)) {
    const v1::Exercise* e = in.library->FindExercise(id);
    if (e != nullptr && e->per_side()) {
      first_one_sided = id;
      break;
    }
  }
  if (first_one_sided.empty()) return std::nullopt;
  int64_t left = 0;
  int64_t right = 0;
  int classes = 0;
  for (size_t i = 0; i < newest_first.size() &&
                     i < static_cast<size_t>(rules.side_gap_classes());
       ++i) {
    const internal::PastClass& c = *newest_first[i];
    ++classes;
    // (block, set) -> reps on the left and on the right.
    std::map<std::pair<int32_t, int32_t>, std::pair<int32_t, int32_t>> pairs;
    std::map<std::pair<int32_t, int32_t>, int> sides;
    for (const v1::SetRecord& s : c.participant().sets()) {
      const internal::PastBlock* b = BlockAt(c, s.block_index());
      if (b == nullptr || !b->per_side()) continue;
      auto key = std::make_pair(s.block_index(), s.set());
      if (s.side() == v1::SIDE_LEFT) {
        pairs[key].first = s.reps();
        sides[key] |= 1;
      } else if (s.side() == v1::SIDE_RIGHT) {
        pairs[key].second = s.reps();
        sides[key] |= 2;
      }
    }
    for (const auto& [key, reps] : pairs) {
      if (sides[key] != 3) continue;
      left += reps.first;
      right += reps.second;
    }
  }
  const int64_t strong = std::max(left, right);
  const int64_t weak = std::min(left, right);
  if (strong == 0 ||
      (strong - weak) * 100 < rules.side_gap_percent() * strong) {
    return std::nullopt;
  }
  const bool left_weaker = left < right;
  const std::string weak_name = left_weaker ? "left" : "right";
  const std::string strong_name = left_weaker ? "right" : "left";
  const int64_t percent = (strong - weak) * 100 / strong;
  SuggestionToMake item = Item(
      v1::SUGGESTION_KIND_WEAKER_SIDE_FIRST, first_one_sided,
      absl::StrCat(
          classes == 1 ? "Last class"
                       : absl::StrCat("Last ", Number(classes), " classes"),
          ": your ", weak_name, " side did ", percent,
          "% fewer reps than your ", strong_name, " (", weak, " to ", strong,
          "). Start each one-sided exercise on your ", weak_name,
          " and let it set the count for the ", strong_name, "."));
  item.start_side = left_weaker ? v1::SIDE_LEFT : v1::SIDE_RIGHT;
  return item;
}

// Every set at or above its range and no rating too hard ("just right" or
// easier), with at least one set reported.
bool InRange(const internal::PastClass& c, const v1::AdaptationRules& rules) {
  if (c.participant().sets().empty()) return false;
  for (const v1::SetRecord& s : c.participant().sets()) {
    const internal::PastBlock* b = BlockAt(c, s.block_index());
    if (b != nullptr && b->has_target() && s.reps() < b->target().min_reps()) {
      return false;
    }
  }
  for (const v1::EffortRecord& e : c.participant().efforts()) {
    if (IsTooHard(
            rules, e.feel(),
            e.has_cr10() ? std::optional<int32_t>(e.cr10()) : std::nullopt)) {
      return false;
    }
  }
  return true;
}

bool HasPelvicSymptom(const internal::PastClass& c,
                      const v1::AdaptationRules& rules) {
  for (const v1::SymptomRecord& s : c.participant().symptoms()) {
    if (IsPelvicSymptom(rules, s.symptom())) return true;
  }
  return false;
}

// Her best set on each side of `id` in her most recent class with both sides
// of it; nullopt when no class has them.
std::optional<std::pair<int32_t, int32_t>> BestEachSide(
    const History& newest_first, const std::string& id) {
  for (const internal::PastClass* c : newest_first) {
    int32_t left = -1;
    int32_t right = -1;
    for (const v1::SetRecord& s : c->participant().sets()) {
      if (SetExercise(*c, s) != id) continue;
      if (s.side() == v1::SIDE_LEFT) left = std::max(left, s.reps());
      if (s.side() == v1::SIDE_RIGHT) right = std::max(right, s.reps());
    }
    if (left >= 0 && right >= 0) return std::make_pair(left, right);
  }
  return std::nullopt;
}

// Her current stage's criteria hold, and her weeks postpartum allow the next
// stage on her track: offer the coach the next stage.
std::optional<SuggestionToMake> NextStage(const PlanInputs& in,
                                          const History& newest_first) {
  const v1::AdaptationRules& rules = in.library->rules();
  const v1::Programme* programme = in.library->FindProgramme(in.programme_id);
  if (programme == nullptr || programme->stages().empty()) return std::nullopt;
  const int current = StageIndex(*programme, in.stage_id);
  if (current < 0 || current + 1 >= programme->stages_size()) {
    return std::nullopt;
  }
  const v1::ProgrammeStage& stage = programme->stages(current);
  const v1::ProgrammeStage& next = programme->stages(current + 1);
  const v1::StageCriteria& criteria = stage.next_stage_criteria();

  // Her classes in this stage, newest first.
  History in_stage;
  for (const internal::PastClass* c : newest_first) {
    if (StageIndex(*programme, c->stage_id()) == current) in_stage.push_back(c);
  }
  if (in_stage.empty()) return std::nullopt;
  std::vector<std::string> shown;

  if (criteria.in_range_classes() > 0) {
    int in_range = 0;
    const int of = std::min<int>(criteria.of_last_classes(),
                                 static_cast<int>(in_stage.size()));
    for (int i = 0; i < of; ++i) in_range += InRange(*in_stage[i], rules);
    if (in_range < criteria.in_range_classes()) return std::nullopt;
    shown.push_back(absl::StrCat(
        "every set in range and nothing too hard in ", in_range, " of ",
        of == 1 ? "your last class"
                : absl::StrCat("your last ", of, " classes")));
  }
  if (criteria.no_pelvic_symptom_classes() > 0) {
    const int n = criteria.no_pelvic_symptom_classes();
    if (static_cast<int>(in_stage.size()) < n) return std::nullopt;
    // Any class counts here, in this stage or not: a symptom is a symptom.
    for (int i = 0; i < n && i < static_cast<int>(newest_first.size()); ++i) {
      if (HasPelvicSymptom(*newest_first[i], rules)) return std::nullopt;
    }
    shown.push_back(absl::StrCat(
        "no pelvic symptom in ",
        n == 1 ? "your last class"
               : absl::StrCat("your last ", Number(n), " classes")));
  }
  const int32_t starts = StageStartWeeks(next, in.track).min_weeks();
  const int32_t weeks_needed =
      std::max(criteria.min_weeks_postpartum(), starts);
  if (weeks_needed > 0) {
    if (!in.weeks_postpartum.has_value() ||
        *in.weeks_postpartum < weeks_needed) {
      return std::nullopt;
    }
    shown.push_back(absl::StrCat(*in.weeks_postpartum,
                                 " weeks since birth (at least ", weeks_needed,
                                 " for ", next.name(), ")"));
  }
  for (const v1::StrengthMarker& m : criteria.strength_markers()) {
    std::optional<std::pair<int32_t, int32_t>> best =
        BestEachSide(newest_first, m.exercise_id());
    if (!best.has_value() || best->first < m.min_reps_each_side() ||
        best->second < m.min_reps_each_side()) {
      return std::nullopt;
    }
  }
  if (criteria.strength_markers_size() > 0) {
    std::vector<std::string> names;
    for (const v1::StrengthMarker& m : criteria.strength_markers()) {
      names.push_back(NameOf(*in.library, m.exercise_id()));
    }
    shown.push_back(absl::StrCat(
        "at least ", criteria.strength_markers(0).min_reps_each_side(),
        " reps each side on ", absl::StrJoin(names, ", ")));
  }
  std::string reason =
      absl::StrCat(stage.name(), ": ",
                   shown.empty() ? std::string("the stage's classes done")
                                 : absl::StrJoin(shown, "; "),
                   ". Your coach may move you on to ", next.name(),
                   "; it is their call, not a clearance.");
  for (const v1::StageTrackOption& o : next.track_options()) {
    if (o.track() == in.track && in.track != v1::RECOVERY_TRACK_UNSPECIFIED &&
        !o.note().empty()) {
      absl::StrAppend(&reason, " ", o.note());
    }
  }
  SuggestionToMake item = Item(v1::SUGGESTION_KIND_NEXT_STAGE, "", reason);
  item.suggested_stage_id = next.id();
  item.suggested_stage_name = next.name();
  return item;
}

}  // namespace

int StageIndex(const v1::Programme& programme, const std::string& stage_id) {
  if (stage_id.empty()) return programme.stages().empty() ? -1 : 0;
  for (int i = 0; i < programme.stages_size(); ++i) {
    if (programme.stages(i).id() == stage_id) return i;
  }
  return -1;
}

std::vector<SuggestionToMake> DerivePlan(
    const PlanInputs& inputs, const std::vector<internal::PastClass>& history) {
  std::vector<SuggestionToMake> plan;
  if (history.empty()) return plan;
  History newest_first;
  newest_first.reserve(history.size());
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    newest_first.push_back(&*it);
  }
  // Safety first: a pelvic symptom, then the hip drill, then the exercises'
  // versions, the weaker side, and last the stage.
  std::optional<SuggestionToMake> pelvic = PelvicSymptom(inputs, newest_first);
  const bool lower_load = pelvic.has_value();
  if (pelvic.has_value()) plan.push_back(std::move(*pelvic));
  if (std::optional<SuggestionToMake> drill = HipPinch(inputs, newest_first)) {
    plan.push_back(std::move(*drill));
  }
  std::set<std::string> regressed = Regressions(inputs, newest_first, &plan);
  // No harder version while a pelvic symptom is recent.
  if (!lower_load) Progressions(inputs, newest_first, regressed, &plan);
  if (std::optional<SuggestionToMake> side = WeakerSide(inputs, newest_first)) {
    plan.push_back(std::move(*side));
  }
  if (std::optional<SuggestionToMake> stage = NextStage(inputs, newest_first)) {
    plan.push_back(std::move(*stage));
  }
  return plan;
}

internal::PastClass MakePastClass(const internal::ClassRecord& record,
                                  const v1::ParticipantSummary& participant,
                                  const std::string& stage_id) {
  internal::PastClass out;
  const v1::ClassInfo& info = record.info();
  out.set_class_id(info.class_id());
  out.set_circuit_id(record.circuit().id());
  out.set_circuit_name(record.circuit().name());
  out.set_started_unix_ms(info.started_unix_ms());
  out.set_ended_unix_ms(info.ended_unix_ms());
  std::map<std::string, const v1::Exercise*> exercises;
  for (const v1::Exercise& e : record.exercises()) exercises[e.id()] = &e;
  for (const v1::Block& b : record.circuit().blocks()) {
    internal::PastBlock* block = out.add_blocks();
    block->set_exercise_id(b.exercise_id());
    auto it = exercises.find(b.exercise_id());
    const v1::Exercise* e = it == exercises.end() ? nullptr : it->second;
    if (std::optional<v1::RepRange> target = BlockTarget(b, e)) {
      *block->mutable_target() = *target;
    }
    if (e != nullptr) {
      block->set_pattern(e->pattern());
      block->set_per_side(e->per_side());
    }
  }
  *out.mutable_participant() = participant;
  out.set_stage_id(stage_id);
  return out;
}

}  // namespace circuit::engine
