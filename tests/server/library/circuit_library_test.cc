#include "server/library/circuit_library.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

// A small valid library; each bad-file test breaks one thing in it.
constexpr char kCatalog[] = R"text(# A tiny catalog.
exercises {
  id: "bridge"
  name: "Glute bridge"
  pattern: MOVEMENT_PATTERN_HIP_EXTENSION
  reps { min_reps: 8 max_reps: 12 }
  progression_ids: "thrust"
}
exercises {
  id: "thrust"
  name: "Hip thrust"
  pattern: MOVEMENT_PATTERN_HIP_EXTENSION
  reps { min_reps: 8 max_reps: 10 }
  regression_ids: "bridge"
  hip_pinch_drill_id: "hip-shift"
}
exercises {
  id: "hip-shift"
  name: "Hip-shift drill"
  pattern: MOVEMENT_PATTERN_MOBILITY
  per_side: true
}
)text";

constexpr char kCircuit[] = R"text(id: "tiny"
name: "Tiny"
blocks {
  id: "one"
  exercise_id: "thrust"
  sets: 2
  work_seconds: 40
  rest_between_sets_seconds: 20
}
blocks {
  id: "two"
  exercise_id: "hip-shift"
  sets: 1
  advance: ADVANCE_MODE_INSTRUCTOR
}
)text";

absl::StatusOr<CircuitLibrary> LoadTiny(const std::string& catalog,
                                        const std::string& circuit) {
  return CircuitLibrary::Load(
      {{"exercises.textproto", catalog}, {"tiny.textproto", circuit}});
}

std::string Replace(const std::string& text, const std::string& from,
                    const std::string& to) {
  std::string out = absl::StrReplaceAll(text, {{from, to}});
  EXPECT_NE(out, text) << "the test's replacement matched nothing: " << from;
  return out;
}

TEST(CircuitLibraryTest, LoadsAValidLibrary) {
  auto library = LoadTiny(kCatalog, kCircuit);
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_THAT(library->circuits(), SizeIs(1));
  EXPECT_THAT(library->exercises(), SizeIs(3));
  ASSERT_NE(library->FindCircuit("tiny"), nullptr);
  EXPECT_EQ(library->FindCircuit("nope"), nullptr);
  ASSERT_NE(library->FindExercise("thrust"), nullptr);
  EXPECT_EQ(library->FindExercise("thrust")->name(), "Hip thrust");
  // 2 sets x 40 s + 20 s rest + one untimed interval estimated at 60 s x 2
  // sides.
  EXPECT_EQ(library->FindCircuit("tiny")->estimated_seconds(),
            2 * 40 + 20 + 2 * 60);
}

// Thousands of blocks, each within the loader's bounds, add up to more
// seconds than an int32 holds: the estimate is capped, not wrapped negative.
TEST(CircuitLibraryTest, EstimateOfAHugeCircuitIsCappedNotWrapped) {
  std::string circuit = "id: \"huge\"\nname: \"Huge\"\n";
  for (int i = 0; i < 8000; ++i) {
    absl::StrAppend(&circuit, "blocks { id: \"b", i,
                    "\" exercise_id: \"hip-shift\" sets: 20 "
                    "work_seconds: 3600 rest_between_sides_seconds: 3600 "
                    "rest_between_sets_seconds: 3600 rest_after_seconds: 3600 "
                    "}\n");
  }
  auto library = LoadTiny(kCatalog, circuit);
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ(library->FindCircuit("huge")->estimated_seconds(),
            std::numeric_limits<int32_t>::max());
}

// A circuit without blocks aborted the loader (tests/fuzz/
// circuit_library_fuzzer): its error pointed at the repeated field `blocks`
// without an element, which protobuf's ParseInfoTree refuses fatally.
TEST(CircuitLibraryTest, CircuitWithoutBlocksIsRefusedAtTheCircuit) {
  auto library = LoadTiny(kCatalog, "id: \"short\"\nname: \"Short\"\n");
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(library.status().message(),
            "tiny.textproto:1:1: circuit \"short\" has no blocks");
}

TEST(CircuitLibraryTest, ExercisesForFollowsLinksTransitively) {
  auto library = LoadTiny(kCatalog, kCircuit);
  ASSERT_TRUE(library.ok()) << library.status();
  std::vector<v1::Exercise> exercises =
      library->ExercisesFor(*library->FindCircuit("tiny"));
  std::vector<std::string> ids;
  for (const auto& e : exercises) ids.push_back(e.id());
  // "bridge" is not in a block; it is the thrust's regression.
  EXPECT_THAT(ids, ::testing::ElementsAre("bridge", "hip-shift", "thrust"));
}

TEST(CircuitLibraryTest, SyntaxErrorNamesFileLineAndColumn) {
  auto library = LoadTiny(kCatalog, Replace(kCircuit, "sets: 2", "sets 2 }"));
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(library.status().message()),
              StartsWith("tiny.textproto:6:8: Expected \":\""));
}

TEST(CircuitLibraryTest, UnknownFieldIsASyntaxError) {
  auto library = LoadTiny(
      Replace(kCatalog, "per_side: true", "per_sides: true"), kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              StartsWith("exercises.textproto:21:12:"));
  EXPECT_THAT(std::string(library.status().message()), HasSubstr("per_sides"));
}

TEST(CircuitLibraryTest, UnknownExerciseIdInABlock) {
  auto library = LoadTiny(kCatalog, Replace(kCircuit, "exercise_id: \"thrust\"",
                                            "exercise_id: \"thrusts\""));
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "tiny.textproto:5:3: block \"one\" uses unknown exercise "
            "\"thrusts\"");
}

TEST(CircuitLibraryTest, MinRepsAboveMaxReps) {
  auto library = LoadTiny(Replace(kCatalog, "min_reps: 8 max_reps: 10",
                                  "min_reps: 11 max_reps: 10"),
                          kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "exercises.textproto:13:10: min_reps 11 is above max_reps 10");
}

TEST(CircuitLibraryTest, MinRepsAboveMaxRepsInABlock) {
  auto library = LoadTiny(
      kCatalog, Replace(kCircuit, "sets: 2\n",
                        "sets: 2\n  reps { min_reps: 12 max_reps: 10 }\n"));
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              StartsWith("tiny.textproto:7:"));
  EXPECT_THAT(std::string(library.status().message()),
              HasSubstr("min_reps 12 is above max_reps 10"));
}

TEST(CircuitLibraryTest, ZeroSets) {
  auto library = LoadTiny(kCatalog, Replace(kCircuit, "sets: 2", "sets: 0"));
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "tiny.textproto:6:3: block \"one\" has 0 sets; it needs 1 to 20");
}

TEST(CircuitLibraryTest, MissingSetsPointsAtTheBlock) {
  auto library = LoadTiny(kCatalog, Replace(kCircuit, "  sets: 1\n", ""));
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "tiny.textproto:10:1: block \"two\" has 0 sets; it needs 1 to 20");
}

TEST(CircuitLibraryTest, DuplicateExerciseId) {
  auto library = LoadTiny(
      Replace(kCatalog, "id: \"hip-shift\"", "id: \"bridge\""), kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "exercises.textproto:18:3: duplicate exercise id \"bridge\"");
}

TEST(CircuitLibraryTest, DuplicateBlockId) {
  auto library =
      LoadTiny(kCatalog, Replace(kCircuit, "id: \"two\"", "id: \"one\""));
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "tiny.textproto:11:3: duplicate block id \"one\" in circuit "
            "\"tiny\"");
}

TEST(CircuitLibraryTest, DuplicateCircuitId) {
  auto library = CircuitLibrary::Load({{"exercises.textproto", kCatalog},
                                       {"a.textproto", kCircuit},
                                       {"b.textproto", kCircuit}});
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "b.textproto:1:1: duplicate circuit id \"tiny\", also in "
            "a.textproto");
}

TEST(CircuitLibraryTest, RegressionLinkToNothing) {
  auto library = LoadTiny(Replace(kCatalog, "regression_ids: \"bridge\"",
                                  "regression_ids: \"brige\""),
                          kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "exercises.textproto:14:3: regression_ids of \"thrust\" links to "
            "unknown exercise \"brige\"");
}

TEST(CircuitLibraryTest, ProgressionLinkToNothing) {
  auto library = LoadTiny(
      Replace(kCatalog, "progression_ids: \"thrust\"",
              "progression_ids: \"thrust\"\n  progression_ids: \"squat\""),
      kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "exercises.textproto:8:3: progression_ids of \"bridge\" links to "
            "unknown exercise \"squat\"");
}

TEST(CircuitLibraryTest, DrillLinkToNothing) {
  auto library = LoadTiny(Replace(kCatalog, "hip_pinch_drill_id: \"hip-shift\"",
                                  "hip_pinch_drill_id: \"hip-shuffle\""),
                          kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              StartsWith("exercises.textproto:15:3: hip_pinch_drill_id"));
}

// A drill offered as the easier version would be suggested instead of the
// exercise on "too hard"; it belongs only in hip_pinch_drill_id.
TEST(CircuitLibraryTest, RegressionMustNotBeADrill) {
  auto library = LoadTiny(
      Replace(kCatalog, "regression_ids: \"bridge\"",
              "regression_ids: \"hip-shift\"\n  regression_ids: \"bridge\""),
      kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "exercises.textproto:14:3: regression_ids of \"thrust\" links to "
            "\"hip-shift\", a drill, not a version of it: a version is the "
            "same movement with more or less support, range or load (a drill "
            "for a pinch goes in hip_pinch_drill_id)");
}

TEST(CircuitLibraryTest, DrillMustNotProgressToAStrengthExercise) {
  auto library =
      LoadTiny(Replace(kCatalog, "  per_side: true\n}",
                       "  per_side: true\n  progression_ids: \"thrust\"\n}"),
               kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              StartsWith("exercises.textproto:22:3: progression_ids of "
                         "\"hip-shift\" links to \"thrust\", a strength "
                         "exercise, not a drill"));
}

// A report's reps is the first part's, so that part counts reps; parts
// are named by unique ids.
TEST(CircuitLibraryTest, PartsOfACombinationSet) {
  const std::string with_parts = Replace(
      kCatalog, "  hip_pinch_drill_id: \"hip-shift\"\n",
      "  hip_pinch_drill_id: \"hip-shift\"\n"
      "  parts { id: \"full\" name: \"Full\" unit: PART_UNIT_REPS target: 8 }\n"
      "  parts { id: \"hold\" name: \"Hold\" unit: PART_UNIT_SECONDS target: 8 "
      "}\n");
  EXPECT_TRUE(LoadTiny(with_parts, kCircuit).ok());
  auto library = LoadTiny(
      Replace(with_parts, "id: \"full\" name: \"Full\" unit: PART_UNIT_REPS",
              "id: \"full\" name: \"Full\" unit: PART_UNIT_SECONDS"),
      kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "exercises.textproto:16:35: the first part of \"thrust\" must "
            "count PART_UNIT_REPS: a report's reps is the first part's");
  library =
      LoadTiny(Replace(with_parts, "id: \"hold\"", "id: \"full\""), kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              HasSubstr("duplicate part id \"full\" in exercise \"thrust\""));
  library = LoadTiny(
      Replace(with_parts, "target: 8 }\n  parts", "target: 0 }\n  parts"),
      kCircuit);
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              HasSubstr("part \"full\" target must be 1 to 100, not 0"));
}

TEST(CircuitLibraryTest, UntimedBlockMustWaitForTheInstructor) {
  auto library = LoadTiny(
      kCatalog, Replace(kCircuit, "  advance: ADVANCE_MODE_INSTRUCTOR\n", ""));
  ASSERT_FALSE(library.ok());
  EXPECT_THAT(std::string(library.status().message()),
              HasSubstr("is untimed (work_seconds 0)"));
}

TEST(CircuitLibraryTest, BadIdsAreRefused) {
  auto library =
      LoadTiny(kCatalog, Replace(kCircuit, "id: \"tiny\"", "id: \"Tiny One\""));
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(std::string(library.status().message()),
            "tiny.textproto:1:1: circuit id \"Tiny One\" must be 1 to 64 "
            "lowercase letters, digits and dashes");
}

TEST(CircuitLibraryTest, MissingCatalogOrCircuits) {
  EXPECT_FALSE(CircuitLibrary::Load({{"tiny.textproto", kCircuit}}).ok());
  auto only_catalog = CircuitLibrary::Load({{"exercises.textproto", kCatalog}});
  ASSERT_FALSE(only_catalog.ok());
  EXPECT_THAT(std::string(only_catalog.status().message()),
              HasSubstr("no circuits"));
}

TEST(CircuitLibraryTest, MissingDirectoryIsNotFound) {
  auto library = CircuitLibrary::LoadDirectory("/nonexistent/circuits");
  EXPECT_EQ(library.status().code(), absl::StatusCode::kNotFound);
}

// The shipped library: the same files, compiled in and read from disk.
class ShippedLibraryTest : public ::testing::TestWithParam<bool> {
 protected:
  absl::StatusOr<CircuitLibrary> Load() {
    return GetParam()
               ? CircuitLibrary::LoadEmbedded()
               : CircuitLibrary::LoadDirectory(std::string(CIRCUIT_SOURCE_DIR) +
                                               "/server/circuits");
  }
};

TEST_P(ShippedLibraryTest, Loads) {
  auto library = Load();
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_GE(library->circuits().size(), 2u);
}

TEST_P(ShippedLibraryTest, KickbackTrioIsThreeKickbacksEachSide) {
  auto library = Load();
  ASSERT_TRUE(library.ok()) << library.status();
  const v1::Circuit* trio = library->FindCircuit("kickback-trio");
  ASSERT_NE(trio, nullptr);
  ASSERT_EQ(trio->blocks_size(), 3);
  std::vector<v1::Muscle> main_muscles;
  for (const v1::Block& block : trio->blocks()) {
    const v1::Exercise* e = library->FindExercise(block.exercise_id());
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(e->per_side()) << e->id();
    const v1::RepRange& reps = block.has_reps() ? block.reps() : e->reps();
    EXPECT_EQ(reps.min_reps(), 8) << e->id();
    EXPECT_EQ(reps.max_reps(), 10) << e->id();
    EXPECT_FALSE(e->cues().empty()) << e->id();
    EXPECT_FALSE(e->regression_ids().empty()) << e->id();
    EXPECT_FALSE(e->progression_ids().empty()) << e->id();
    ASSERT_FALSE(e->target_muscles().empty()) << e->id();
    main_muscles.push_back(e->target_muscles(0));
  }
  EXPECT_THAT(main_muscles, ::testing::ElementsAre(v1::MUSCLE_GLUTE_MINIMUS,
                                                   v1::MUSCLE_GLUTE_MEDIUS,
                                                   v1::MUSCLE_GLUTE_MAXIMUS));
}

TEST_P(ShippedLibraryTest, GluteFoundationsCoversEveryPattern) {
  auto library = Load();
  ASSERT_TRUE(library.ok()) << library.status();
  const v1::Circuit* foundations = library->FindCircuit("glute-foundations");
  ASSERT_NE(foundations, nullptr);
  std::set<int> patterns;
  for (const v1::Block& block : foundations->blocks()) {
    patterns.insert(library->FindExercise(block.exercise_id())->pattern());
  }
  for (v1::MovementPattern p :
       {v1::MOVEMENT_PATTERN_HIP_EXTENSION, v1::MOVEMENT_PATTERN_HINGE,
        v1::MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION,
        v1::MOVEMENT_PATTERN_SINGLE_LEG,
        v1::MOVEMENT_PATTERN_ABDUCTION_ADDUCTION}) {
    EXPECT_EQ(patterns.count(p), 1u) << v1::MovementPattern_Name(p);
  }
}

TEST_P(ShippedLibraryTest, CoversTheDomainBrief) {
  auto library = Load();
  ASSERT_TRUE(library.ok()) << library.status();
  // The hip-shift drill answers a pinch in the curtsy step-down.
  bool curtsy_has_drill = false;
  bool has_track_options[3] = {false, false, false};
  for (const v1::Exercise& e : library->exercises()) {
    if (e.pattern() == v1::MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION &&
        !e.hip_pinch_drill_id().empty()) {
      curtsy_has_drill = true;
    }
    for (const auto& option : e.track_options()) {
      has_track_options[option.track()] = true;
    }
  }
  EXPECT_TRUE(curtsy_has_drill);
  // Every easier version of the curtsy is a curtsy (the drill is not one).
  const v1::Exercise* supported =
      library->FindExercise("curtsy-step-down-supported");
  ASSERT_NE(supported, nullptr);
  std::vector<std::string> chain;
  for (const v1::Exercise* e = supported;
       e != nullptr && !e->regression_ids().empty();
       e = library->FindExercise(e->regression_ids(0))) {
    const v1::Exercise* easier = library->FindExercise(e->regression_ids(0));
    ASSERT_NE(easier, nullptr);
    EXPECT_EQ(easier->pattern(), v1::MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION)
        << easier->id();
    chain.push_back(easier->id());
    ASSERT_LT(chain.size(), 10u);
  }
  EXPECT_THAT(chain, ::testing::ElementsAre("curtsy-step-down-low-step",
                                            "curtsy-tap-back-supported"));
  EXPECT_TRUE(has_track_options[v1::RECOVERY_TRACK_VAGINAL]);
  EXPECT_TRUE(has_track_options[v1::RECOVERY_TRACK_CESAREAN]);
}

INSTANTIATE_TEST_SUITE_P(EmbeddedAndDirectory, ShippedLibraryTest,
                         ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Embedded" : "Directory";
                         });

// --- Programmes and the rule table
// --------------------------------------------

constexpr char kProgramme[] = R"text(id: "prog"
name: "Prog"
stages {
  id: "a"
  name: "A"
  circuit_ids: "tiny"
  start_weeks { min_weeks: 0 max_weeks: 5 }
  next_stage_criteria {
    strength_markers { exercise_id: "hip-shift" min_reps_each_side: 20 }
  }
}
stages {
  id: "b"
  name: "B"
  circuit_ids: "tiny"
  start_weeks { min_weeks: 6 max_weeks: 12 }
  track_options {
    track: RECOVERY_TRACK_CESAREAN
    start_weeks { min_weeks: 8 max_weeks: 14 }
    note: "Later after a cesarean birth."
  }
}
)text";

absl::StatusOr<CircuitLibrary> LoadWithProgramme(
    const std::string& programme, const std::string& rules = "") {
  std::vector<LibrarySource> sources = {
      {"exercises.textproto", kCatalog},
      {"tiny.textproto", kCircuit},
      {"prog.programme.textproto", programme}};
  if (!rules.empty()) sources.push_back({"rules.textproto", rules});
  return CircuitLibrary::Load(sources);
}

void ExpectRefused(const absl::StatusOr<CircuitLibrary>& library,
                   const std::string& message) {
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(library.status().message(), message);
}

TEST(CircuitLibraryTest, LoadsAProgrammeAndDefaultRules) {
  auto library = LoadWithProgramme(kProgramme);
  ASSERT_TRUE(library.ok()) << library.status();
  ASSERT_THAT(library->programmes(), SizeIs(1));
  const v1::Programme* p = library->FindProgramme("prog");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(library->FindProgramme("nope"), nullptr);
  // A programme file is not a circuit.
  EXPECT_THAT(library->circuits(), SizeIs(1));
  EXPECT_EQ(
      StageStartWeeks(p->stages(1), v1::RECOVERY_TRACK_CESAREAN).min_weeks(),
      8);
  EXPECT_EQ(
      StageStartWeeks(p->stages(1), v1::RECOVERY_TRACK_VAGINAL).min_weeks(), 6);
  // No rules file: the defaults, which are the thresholds from before the
  // table.
  const v1::AdaptationRules& rules = library->rules();
  EXPECT_EQ(rules.too_hard_cr10_at_least(), 9);
  EXPECT_EQ(rules.too_easy_cr10_at_most(), 2);
  EXPECT_EQ(rules.under_range_sets_for_regression(), 2);
  EXPECT_EQ(rules.too_hard_in_a_row_for_alert(), 2);
  EXPECT_THAT(
      rules.lower_load_symptoms(),
      ::testing::ElementsAre(v1::SYMPTOM_LEAKING, v1::SYMPTOM_PELVIC_HEAVINESS,
                             v1::SYMPTOM_ABDOMINAL_DOMING));
  EXPECT_EQ(rules.lower_load_severity(), v1::ALERT_SEVERITY_PRIORITY);
  EXPECT_EQ(rules.other_symptom_severity(), v1::ALERT_SEVERITY_WARNING);
  EXPECT_EQ(rules.side_gap_percent(), 20);
}

TEST(CircuitLibraryTest, RulesFileOverridesOnlyWhatItSays) {
  auto library = LoadWithProgramme(
      kProgramme,
      "too_hard_cr10_at_least: 8\npelvic_symptoms: SYMPTOM_LEAKING\n");
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ(library->rules().too_hard_cr10_at_least(), 8);
  EXPECT_EQ(library->rules().too_easy_cr10_at_most(), 2);
  EXPECT_THAT(library->rules().pelvic_symptoms(),
              ::testing::ElementsAre(v1::SYMPTOM_LEAKING));
}

TEST(CircuitLibraryTest, RulesOutOfBoundsAreRefusedAtTheField) {
  ExpectRefused(
      LoadWithProgramme(kProgramme, "\n  side_gap_percent: 0\n"),
      "rules.textproto:2:3: side_gap_percent must be 1 to 100, not 0");
  ExpectRefused(LoadWithProgramme(kProgramme, "too_easy_cr10_at_most: 9\n"),
                "rules.textproto:1:1: too_easy_cr10_at_most 9 must be below "
                "too_hard_cr10_at_least 9");
  ExpectRefused(LoadWithProgramme(kProgramme,
                                  "repeat_lookback_classes: 2\n"
                                  "repeat_classes: 3\n"),
                "rules.textproto:2:1: repeat_classes 3 is above "
                "repeat_lookback_classes 2");
  ExpectRefused(LoadWithProgramme(kProgramme, "too_hard_cr10_at_least: x\n"),
                "rules.textproto:1:25: Expected integer, got: x");
}

TEST(CircuitLibraryTest, ProgrammeWithUnknownCircuit) {
  ExpectRefused(
      LoadWithProgramme(Replace(
          kProgramme, "  id: \"b\"\n  name: \"B\"\n  circuit_ids: \"tiny\"",
          "  id: \"b\"\n  name: \"B\"\n  circuit_ids: \"nope\"")),
      "prog.programme.textproto:15:3: stage \"b\" uses unknown circuit "
      "\"nope\"");
}

TEST(CircuitLibraryTest, ProgrammeStageWithoutCircuits) {
  ExpectRefused(LoadWithProgramme(Replace(
                    kProgramme, "  name: \"B\"\n  circuit_ids: \"tiny\"\n",
                    "  name: \"B\"\n")),
                "prog.programme.textproto:12:1: stage \"b\" has no circuits");
}

TEST(CircuitLibraryTest, ProgrammeWeekRangeBackwards) {
  ExpectRefused(
      LoadWithProgramme(Replace(kProgramme, "min_weeks: 6 max_weeks: 12",
                                "min_weeks: 13 max_weeks: 12")),
      "prog.programme.textproto:16:17: the week range of stage \"b\" runs "
      "backwards: 13 to 12");
}

TEST(CircuitLibraryTest, ProgrammeWeekRangesOverlap) {
  ExpectRefused(
      LoadWithProgramme(Replace(kProgramme, "min_weeks: 6 max_weeks: 12",
                                "min_weeks: 5 max_weeks: 12")),
      "prog.programme.textproto:16:17: stage \"b\" starts at 5 weeks, which "
      "overlaps from stage \"a\" (0 to 5 weeks)");
  // A stage that starts before the one it follows goes backwards.
  ExpectRefused(
      LoadWithProgramme(Replace(Replace(kProgramme, "min_weeks: 0 max_weeks: 5",
                                        "min_weeks: 4 max_weeks: 5"),
                                "min_weeks: 6 max_weeks: 12",
                                "min_weeks: 2 max_weeks: 12")),
      "prog.programme.textproto:16:17: stage \"b\" starts at 2 weeks, which "
      "goes backwards from stage \"a\" (4 to 5 weeks)");
}

TEST(CircuitLibraryTest, ProgrammeWeekRangesOverlapOnOneTrack) {
  ExpectRefused(
      LoadWithProgramme(Replace(kProgramme, "min_weeks: 8 max_weeks: 14",
                                "min_weeks: 4 max_weeks: 14")),
      "prog.programme.textproto:19:19: stage \"b\" starts at 4 weeks on "
      "RECOVERY_TRACK_CESAREAN, which overlaps from stage \"a\" (0 to 5 "
      "weeks)");
}

TEST(CircuitLibraryTest, ProgrammeCriterionNamesUnknownExercise) {
  ExpectRefused(
      LoadWithProgramme(Replace(kProgramme, "exercise_id: \"hip-shift\"",
                                "exercise_id: \"nope\"")),
      "prog.programme.textproto:9:24: a criterion of stage \"a\" names "
      "unknown exercise \"nope\"");
  ExpectRefused(
      LoadWithProgramme(Replace(kProgramme, "exercise_id: \"hip-shift\"",
                                "exercise_id: \"bridge\"")),
      "prog.programme.textproto:9:24: a criterion of stage \"a\" counts reps "
      "each side of \"bridge\", which is not one-sided");
}

TEST(CircuitLibraryTest, ProgrammeDuplicateIds) {
  ExpectRefused(
      LoadWithProgramme(Replace(kProgramme, "id: \"b\"", "id: \"a\"")),
      "prog.programme.textproto:13:3: duplicate stage id \"a\" in "
      "programme \"prog\"");
  auto library = CircuitLibrary::Load({{"exercises.textproto", kCatalog},
                                       {"tiny.textproto", kCircuit},
                                       {"a.programme.textproto", kProgramme},
                                       {"b.programme.textproto", kProgramme}});
  ExpectRefused(library,
                "b.programme.textproto:1:1: duplicate programme id \"prog\", "
                "also in a.programme.textproto");
}

TEST(CircuitLibraryTest, FromPartsKeepsTheStoredRules) {
  auto library = LoadWithProgramme(kProgramme, "too_hard_cr10_at_least: 7\n");
  ASSERT_TRUE(library.ok()) << library.status();
  const v1::Circuit& tiny = library->circuits().front();
  auto stored = CircuitLibrary::FromParts(
      "c-1", tiny, library->ExercisesFor(tiny), library->rules());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->rules().too_hard_cr10_at_least(), 7);
  EXPECT_TRUE(stored->programmes().empty());
  // A record from before the table: today's defaults.
  auto old = CircuitLibrary::FromParts("c-2", tiny, library->ExercisesFor(tiny),
                                       v1::AdaptationRules());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->rules().SerializeAsString(),
            DefaultAdaptationRules().SerializeAsString());
}

TEST_P(ShippedLibraryTest, ReturnToStrengthFollowsThePublishedDefaults) {
  auto library = Load();
  ASSERT_TRUE(library.ok()) << library.status();
  // The shipped rules file writes out the defaults.
  EXPECT_EQ(library->rules().SerializeAsString(),
            DefaultAdaptationRules().SerializeAsString());
  const v1::Programme* p = library->FindProgramme("return-to-strength");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->stages_size(), 4);
  EXPECT_EQ(p->stages(3).id(), "return-to-impact");
  // Impact not before about 12 weeks, later after a cesarean birth.
  EXPECT_GE(
      StageStartWeeks(p->stages(3), v1::RECOVERY_TRACK_VAGINAL).min_weeks(),
      12);
  EXPECT_GT(
      StageStartWeeks(p->stages(3), v1::RECOVERY_TRACK_CESAREAN).min_weeks(),
      StageStartWeeks(p->stages(3), v1::RECOVERY_TRACK_VAGINAL).min_weeks());
  const v1::StageCriteria& before_impact = p->stages(2).next_stage_criteria();
  EXPECT_EQ(before_impact.min_weeks_postpartum(), 12);
  EXPECT_EQ(before_impact.no_pelvic_symptom_classes(), 2);
  // About 20 reps each side on each exercise of the strength check.
  const v1::Circuit* check = library->FindCircuit("strength-check");
  ASSERT_NE(check, nullptr);
  ASSERT_EQ(before_impact.strength_markers_size(), check->blocks_size());
  for (int i = 0; i < check->blocks_size(); ++i) {
    const v1::Block& b = check->blocks(i);
    EXPECT_EQ(before_impact.strength_markers(i).exercise_id(), b.exercise_id());
    EXPECT_EQ(before_impact.strength_markers(i).min_reps_each_side(), 20);
    const v1::Exercise* e = library->FindExercise(b.exercise_id());
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(e->per_side()) << e->id();
    EXPECT_FALSE(e->has_reps()) << e->id() << ": reps to fatigue, no range";
    EXPECT_EQ(b.advance(), v1::ADVANCE_MODE_INSTRUCTOR) << b.id();
  }
}

}  // namespace
}  // namespace circuit
