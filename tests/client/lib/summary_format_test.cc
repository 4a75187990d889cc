// The text, CSV and JSON forms of a class's record.

#include "client/lib/summary_format.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace circuit::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr int64_t kStart = 1778148000000;  // 2026-05-07 10:00:00 UTC

v1::SetRecord Set(int block, const std::string& exercise, int set,
                  v1::Side side, int reps) {
  v1::SetRecord record;
  record.set_block_index(block);
  record.set_exercise_id(exercise);
  record.set_exercise_name(exercise == "kickback" ? "Banded kickback"
                                                  : "Squat");
  record.set_set(set);
  record.set_side(side);
  record.set_reps(reps);
  return record;
}

v1::ExerciseTotals Totals(const std::string& id, const std::string& name,
                          int left, int right, int both, int sets) {
  v1::ExerciseTotals totals;
  totals.set_exercise_id(id);
  totals.set_exercise_name(name);
  totals.set_left_reps(left);
  totals.set_right_reps(right);
  totals.set_both_reps(both);
  totals.set_sets(sets);
  return totals;
}

// An ended class of 42 minutes: Ann did kickbacks (left 40, right 30) and
// squats and reported effort, symptoms and got a suggestion; Bea's health
// data was removed.
v1::ClassSummary MakeSummary() {
  v1::ClassSummary summary;
  v1::ClassInfo* info = summary.mutable_class_info();
  info->set_class_id("c-42");
  info->set_join_code("ABC234");
  info->set_circuit_id("kickback-trio");
  info->set_circuit_name("Kickback trio");
  info->set_title("Tuesday mums");
  info->set_phase(v1::CLASS_PHASE_ENDED);
  info->set_created_unix_ms(kStart - 300000);
  info->set_started_unix_ms(kStart);
  info->set_ended_unix_ms(kStart + 42 * 60000);

  v1::ParticipantSummary* ann = summary.add_participants();
  ann->set_participant_id("p-1");
  ann->mutable_check_in()->set_display_name("Ann");
  ann->set_connection(v1::CONNECTION_STATE_LEFT);
  *ann->add_sets() = Set(0, "kickback", 1, v1::SIDE_LEFT, 20);
  *ann->add_sets() = Set(0, "kickback", 1, v1::SIDE_RIGHT, 15);
  *ann->add_sets() = Set(0, "kickback", 2, v1::SIDE_LEFT, 20);
  *ann->add_sets() = Set(0, "kickback", 2, v1::SIDE_RIGHT, 15);
  *ann->add_sets() = Set(1, "squat", 1, v1::SIDE_BOTH, 12);
  *ann->add_exercises() = Totals("kickback", "Banded kickback", 40, 30, 0, 4);
  *ann->add_exercises() = Totals("squat", "Squat", 0, 0, 12, 1);
  ann->set_total_reps(82);
  v1::EffortRecord* effort = ann->add_efforts();
  effort->set_block_index(0);
  effort->set_cr10(7);
  effort->set_feel(v1::EFFORT_FEEL_TOO_HARD);
  effort->set_reported_unix_ms(kStart + 5 * 60000);
  v1::EffortRecord* feel_only = ann->add_efforts();
  feel_only->set_block_index(1);
  feel_only->set_feel(v1::EFFORT_FEEL_JUST_RIGHT);
  feel_only->set_reported_unix_ms(kStart + 20 * 60000);
  v1::SymptomRecord* pinch = ann->add_symptoms();
  pinch->set_block_index(0);
  pinch->set_symptom(v1::SYMPTOM_HIP_PINCH);
  pinch->set_reported_unix_ms(kStart + 6 * 60000);
  v1::SymptomRecord* other = ann->add_symptoms();
  other->set_block_index(1);
  other->set_symptom(v1::SYMPTOM_OTHER);
  other->set_other_text("knee clicks");
  other->set_reported_unix_ms(kStart + 21 * 60000);
  v1::Suggestion* drill = ann->add_suggestions();
  drill->set_suggestion_id("s-1");
  drill->set_participant_id("p-1");
  drill->set_kind(v1::SUGGESTION_KIND_DRILL);
  drill->set_exercise_id("kickback");
  drill->set_suggested_exercise_id("hip-shift");
  drill->set_suggested_exercise_name("Hip shift drill");
  drill->set_reason("the front of the hip pinched");
  drill->set_decision(v1::SUGGESTION_DECISION_ACCEPTED);
  v1::Suggestion* lower = ann->add_suggestions();
  lower->set_kind(v1::SUGGESTION_KIND_LOWER_LOAD);
  lower->set_exercise_id("squat");

  v1::ParticipantSummary* bea = summary.add_participants();
  bea->set_participant_id("p-2");
  bea->mutable_check_in()->set_display_name("Bea");
  bea->set_connection(v1::CONNECTION_STATE_CONNECTED);
  *bea->add_sets() = Set(1, "squat", 1, v1::SIDE_BOTH, 10);
  *bea->add_exercises() = Totals("squat", "Squat", 0, 0, 10, 1);
  bea->set_total_reps(10);
  bea->set_health_data_removed(true);

  summary.set_total_reps(92);
  summary.mutable_aggregates()->set_median_cr10(6.5);
  summary.mutable_aggregates()->set_too_hard_count(1);
  summary.mutable_aggregates()->set_just_right_count(1);
  summary.set_generated_unix_ms(kStart + 50 * 60000);
  return summary;
}

// The lines from the one starting with `name` up to the next blank line.
std::string ParticipantBlock(const std::string& text, const std::string& name) {
  const size_t start = text.find("\n" + name + " (");
  if (start == std::string::npos) return "";
  const size_t end = text.find("\n\n", start + 1);
  return text.substr(
      start + 1, end == std::string::npos ? std::string::npos : end - start);
}

// A strict RFC 4180 reader for checking what the writer wrote: records end
// in CRLF, quoted fields may hold anything, quotes inside are doubled.
std::vector<std::vector<std::string>> ParseCsv(const std::string& csv) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < csv.size(); ++i) {
    const char c = csv[i];
    if (quoted) {
      if (c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      record.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < csv.size() && csv[i + 1] == '\n') {
      record.push_back(field);
      field.clear();
      records.push_back(record);
      record.clear();
      ++i;
    } else {
      EXPECT_NE(c, '"') << "a quote in an unquoted field at " << i;
      EXPECT_NE(c, '\n') << "a bare LF at " << i;
      field.push_back(c);
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(field.empty() && record.empty()) << "last record without CRLF";
  return records;
}

// --- Text ----------------------------------------------------------------

TEST(SummaryTextTest, ShowsTheClassTitleIdPhaseDateAndDuration) {
  const std::string text = SummaryText(MakeSummary());
  EXPECT_THAT(text, HasSubstr("Tuesday mums (class c-42) · ENDED\n"));
  EXPECT_THAT(text, HasSubstr("Kickback trio · join code ABC234\n"));
  EXPECT_THAT(text, HasSubstr("2026-05-07 10:00–10:42 UTC (42 min)\n"));
}

TEST(SummaryTextTest, ShowsTheDateInTheGivenTimeZone) {
  SummaryTextOptions options;
  options.time_zone = absl::FixedTimeZone(2 * 3600);
  EXPECT_THAT(SummaryText(MakeSummary(), options),
              HasSubstr("2026-05-07 12:00–12:42"));
}

TEST(SummaryTextTest, ALiveClassShowsHowLongItHasRunSoFar) {
  v1::ClassSummary summary = MakeSummary();
  summary.mutable_class_info()->set_phase(v1::CLASS_PHASE_RUNNING);
  summary.mutable_class_info()->set_ended_unix_ms(0);
  summary.set_generated_unix_ms(kStart + 12 * 60000);
  const std::string text = SummaryText(summary);
  EXPECT_THAT(text, HasSubstr("· RUNNING\n"));
  EXPECT_THAT(text, HasSubstr("2026-05-07 started 10:00 UTC, 12 min so far"));
  EXPECT_THAT(text, HasSubstr("now: 0 connected"));
}

TEST(SummaryTextTest, ShowsEachParticipantsNameConnectionAndTotalReps) {
  const std::string text = SummaryText(MakeSummary());
  EXPECT_THAT(text, HasSubstr("\nAnn (p-1) · left the class · 82 reps\n"));
  EXPECT_THAT(text, HasSubstr("\nBea (p-2) · connected · 10 reps\n"));
}

TEST(SummaryTextTest, ShowsLeftAndRightTotalsOfOneSidedExercises) {
  const std::string ann = ParticipantBlock(SummaryText(MakeSummary()), "Ann");
  EXPECT_THAT(ann, HasSubstr("Banded kickback  left 40 · right 30 (4 sets)"));
  EXPECT_THAT(ann, HasSubstr("Squat            both 12 (1 set)"));
}

TEST(SummaryTextTest, NotesAsymmetryWhenSidesDifferByTwentyPercentOrMore) {
  v1::ClassSummary summary = MakeSummary();
  v1::ExerciseTotals* kickback =
      summary.mutable_participants(0)->mutable_exercises(0);
  kickback->set_left_reps(40);
  kickback->set_right_reps(32);
  EXPECT_THAT(ParticipantBlock(SummaryText(summary), "Ann"),
              HasSubstr("left 40 · right 32 (4 sets)  asymmetry: right 20% "
                        "below left\n"));
  kickback->set_left_reps(25);
  kickback->set_right_reps(40);
  EXPECT_THAT(SummaryText(summary),
              HasSubstr("asymmetry: left 38% below right"));
  kickback->set_left_reps(40);
  kickback->set_right_reps(33);
  EXPECT_THAT(SummaryText(summary), Not(HasSubstr("asymmetry")));
}

TEST(SummaryTextTest, AsymmetryIsPercentOfTheLargerSideFromTwentyPercent) {
  EXPECT_EQ(AsymmetryPercent(Totals("k", "K", 40, 32, 0, 2)), 20);
  EXPECT_EQ(AsymmetryPercent(Totals("k", "K", 32, 40, 0, 2)), 20);
  EXPECT_EQ(AsymmetryPercent(Totals("k", "K", 40, 33, 0, 2)), absl::nullopt);
  EXPECT_EQ(AsymmetryPercent(Totals("k", "K", 10, 10, 0, 2)), absl::nullopt);
  EXPECT_EQ(AsymmetryPercent(Totals("k", "K", 0, 12, 0, 1)), 100);
  EXPECT_EQ(AsymmetryPercent(Totals("k", "K", 0, 0, 0, 0)), absl::nullopt);
  EXPECT_EQ(AsymmetryPercent(Totals("s", "S", 0, 0, 60, 3)), absl::nullopt);
}

TEST(SummaryTextTest, ShowsEffortsSymptomsAndSuggestionsWithDecisions) {
  const std::string ann = ParticipantBlock(SummaryText(MakeSummary()), "Ann");
  EXPECT_THAT(ann, HasSubstr("effort      block 1: CR-10 7 · too hard\n"));
  EXPECT_THAT(ann, HasSubstr("effort      block 2: just right\n"));
  EXPECT_THAT(ann, HasSubstr("symptom     block 1: hip pinch\n"));
  EXPECT_THAT(ann, HasSubstr("symptom     block 2: other: \"knee clicks\"\n"));
  EXPECT_THAT(ann, HasSubstr("suggestion  drill for Banded kickback: Hip "
                             "shift drill — the front of the hip pinched "
                             "(coach: accepted)\n"));
  EXPECT_THAT(ann, HasSubstr("suggestion  lower load for Squat (coach: not "
                             "decided)\n"));
  EXPECT_THAT(ann, Not(HasSubstr("health data removed")));
}

TEST(SummaryTextTest, SaysWhenHealthDataWasRemoved) {
  const std::string bea = ParticipantBlock(SummaryText(MakeSummary()), "Bea");
  EXPECT_THAT(bea, HasSubstr("health data removed"));
  EXPECT_THAT(bea, Not(HasSubstr("effort ")));
  EXPECT_THAT(bea, Not(HasSubstr("symptom ")));
}

TEST(SummaryTextTest, EndsWithTheClassWideFigures) {
  const std::string text = SummaryText(MakeSummary());
  const size_t class_wide =
      text.find("\nClass-wide: 2 participants · 92 reps\n");
  ASSERT_NE(class_wide, std::string::npos) << text;
  const std::string tail = text.substr(class_wide);
  EXPECT_THAT(tail, HasSubstr("Banded kickback  left 40 · right 30 (4 sets)"));
  EXPECT_THAT(tail, HasSubstr("Squat            both 22 (2 sets)"));
  EXPECT_THAT(tail, HasSubstr("median CR-10 6.5 · latest feel: 0 too easy, 1 "
                              "just right, 1 too hard"));
  EXPECT_THAT(tail, HasSubstr("at the end: 0 connected, 0 dropped"));
}

TEST(SummaryTextTest, SaysWhenNoOneCheckedIn) {
  v1::ClassSummary summary = MakeSummary();
  summary.clear_participants();
  EXPECT_THAT(SummaryText(summary), HasSubstr("No one checked in."));
}

TEST(SummaryTextTest, StripsControlCharactersFromNamesAndFreeText) {
  v1::ClassSummary summary = MakeSummary();
  v1::ParticipantSummary* ann = summary.mutable_participants(0);
  ann->mutable_check_in()->set_display_name("Ann\x1b[2J\nEvil\r\x07");
  ann->mutable_symptoms(1)->set_other_text(
      "clicks\x1b]0;title\x07 \xc2\x9b"
      "5m");
  ann->mutable_suggestions(0)->set_reason("why\x7f\tnot");
  summary.mutable_class_info()->set_title("Tue\x1b[31m");
  const std::string text = SummaryText(summary);
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u == '\n' || (u >= 0x20 && u != 0x7f)) << "byte " << int{u};
  }
  EXPECT_THAT(text, Not(HasSubstr("\xc2\x9b")));
  EXPECT_THAT(text, HasSubstr("\nAnn [2J Evil   (p-1) · left the class"));
  EXPECT_THAT(text, HasSubstr("other: \"clicks ]0;title   5m\""));
  EXPECT_THAT(text, HasSubstr("why  not (coach: accepted)"));
  EXPECT_THAT(text, HasSubstr("Tue [31m (class c-42)"));
}

TEST(SanitizeTextTest, KeepsPrintableUtf8AndMarksInvalidBytes) {
  EXPECT_EQ(SanitizeText("Zoë · 練習 …"), "Zoë · 練習 …");
  EXPECT_EQ(SanitizeText("a\xff"
                         "b\xc3"),
            "a?b?");
  EXPECT_EQ(SanitizeText("\xe2\x82"), "??");
  EXPECT_EQ(SanitizeText(std::string("a\0b", 3)), "a b");
  EXPECT_EQ(SanitizeText("\xc2\x80\xc2\x9f\xc2\xa0"), "  \xc2\xa0");
}

TEST(EnumWordsTest, NamesValuesWithoutTheTypePrefix) {
  EXPECT_EQ(EnumWords(v1::Symptom_descriptor(), v1::SYMPTOM_HIP_PINCH),
            "hip pinch");
  EXPECT_EQ(EnumWords(v1::Symptom_descriptor(), v1::SYMPTOM_LOW_BACK_PAIN),
            "low back pain");
  EXPECT_EQ(EnumWords(v1::EffortFeel_descriptor(), v1::EFFORT_FEEL_TOO_HARD),
            "too hard");
  EXPECT_EQ(EnumWords(v1::Side_descriptor(), v1::SIDE_BOTH), "both");
  EXPECT_EQ(EnumWords(v1::Symptom_descriptor(), v1::SYMPTOM_UNSPECIFIED), "");
  EXPECT_EQ(EnumWords(v1::Symptom_descriptor(), 99), "99");
}

// --- Wall ----------------------------------------------------------------

TEST(WallTextTest, ShowsTotalsAndTheNamesAndRepsOfThoseShown) {
  v1::WallSummary wall;
  wall.set_class_id("c-42");
  wall.set_title("Tuesday mums");
  wall.set_phase(v1::CLASS_PHASE_ENDED);
  wall.set_participant_count(5);
  wall.set_total_reps(300);
  v1::WallEntry* ann = wall.add_wall();
  ann->set_display_name("Ann\x1b[H");
  ann->set_total_reps(82);
  v1::WallEntry* cleo = wall.add_wall();
  cleo->set_display_name("Cleo");
  cleo->set_total_reps(70);
  EXPECT_EQ(WallText(wall),
            "Tuesday mums (class c-42) · ENDED\n"
            "5 participants · 300 reps\n"
            "  Ann [H  82\n"
            "  Cleo    70\n"
            "  and 3 not shown by name\n");
}

// --- CSV -----------------------------------------------------------------

TEST(SummaryCsvTest, SetsTableHasTheHeaderThenOneRowPerSet) {
  const std::vector<std::vector<std::string>> rows =
      ParseCsv(SummaryCsv(MakeSummary()));
  ASSERT_THAT(rows, SizeIs(1 + 5 + 1));
  EXPECT_THAT(rows[0],
              ElementsAre("class_id", "participant_id", "display_name",
                          "block_index", "exercise_id", "exercise_name", "set",
                          "side", "reps", "parts"));
  EXPECT_THAT(rows[1], ElementsAre("c-42", "p-1", "Ann", "0", "kickback",
                                   "Banded kickback", "1", "left", "20", ""));
  EXPECT_THAT(rows[2], ElementsAre("c-42", "p-1", "Ann", "0", "kickback",
                                   "Banded kickback", "1", "right", "15", ""));
  EXPECT_THAT(rows[5], ElementsAre("c-42", "p-1", "Ann", "1", "squat", "Squat",
                                   "1", "both", "12", ""));
  EXPECT_THAT(rows[6], ElementsAre("c-42", "p-2", "Bea", "1", "squat", "Squat",
                                   "1", "both", "10", ""));
}

// A combination set logged part by part: reps is the first part's, and the
// parts column says what she did of each, in the exercise's order.
TEST(SummaryCsvTest, SetsTableHasThePartsOfACombinationSet) {
  v1::ClassSummary summary = MakeSummary();
  v1::SetRecord* set = summary.mutable_participants(1)->mutable_sets(0);
  set->set_reps(8);
  for (const auto& [id, amount] : std::vector<std::pair<std::string, int>>{
           {"full-range", 8}, {"partial-range", 6}, {"hold", 5}}) {
    v1::PartDone* done = set->add_parts();
    done->set_part_id(id);
    done->set_amount(amount);
  }
  const std::vector<std::vector<std::string>> rows =
      ParseCsv(SummaryCsv(summary));
  ASSERT_THAT(rows, SizeIs(7));
  EXPECT_THAT(rows[6],
              ElementsAre("c-42", "p-2", "Bea", "1", "squat", "Squat", "1",
                          "both", "8", "full-range=8;partial-range=6;hold=5"));
  // The JSON carries them as they are.
  EXPECT_THAT(
      SummaryJson(summary),
      HasSubstr("\"parts\":[{\"part_id\":\"full-range\",\"amount\":8}"));
}

TEST(SummaryCsvTest, RecordsEndInCrLf) {
  EXPECT_EQ(SummaryCsv(v1::ClassSummary()),
            "class_id,participant_id,display_name,block_index,exercise_id,"
            "exercise_name,set,side,reps,parts\r\n");
}

TEST(SummaryCsvTest, QuotesNamesWithCommasQuotesAndNewlines) {
  v1::ClassSummary summary = MakeSummary();
  const std::string name = "Ann \"Annie\", the\nsecond";
  summary.mutable_participants(0)->mutable_check_in()->set_display_name(name);
  const std::string csv = SummaryCsv(summary);
  EXPECT_THAT(csv, HasSubstr(",\"Ann \"\"Annie\"\", the\nsecond\","));
  const std::vector<std::vector<std::string>> rows = ParseCsv(csv);
  ASSERT_THAT(rows, SizeIs(7));
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(rows[i][2], name);
}

TEST(CsvFieldTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvField("Ann"), "Ann");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("a\r\nb"), "\"a\r\nb\"");
  EXPECT_EQ(CsvField("a\x1b[2Jb\x7f"), "a [2Jb ");
}

TEST(CsvFieldTest, PrefixesFormulasWithAQuote) {
  EXPECT_EQ(CsvField("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(CsvField("+1"), "'+1");
  EXPECT_EQ(CsvField("-2+3"), "'-2+3");
  EXPECT_EQ(CsvField("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvField("\tx"), "'\tx");
  EXPECT_EQ(CsvField("\rx"), "\"'\rx\"");
  EXPECT_EQ(CsvField("a=b"), "a=b");
  EXPECT_EQ(CsvField("0"), "0");
}

TEST(SummaryCsvTest, DefusesFormulasInNamesAndFreeText) {
  v1::ClassSummary summary = MakeSummary();
  v1::ParticipantSummary* ann = summary.mutable_participants(0);
  ann->mutable_check_in()->set_display_name("=cmd|'/c calc'!A1");
  ann->mutable_symptoms(1)->set_other_text("@SUM(1+1)");
  const auto sets = ParseCsv(SummaryCsv(summary, CsvTable::kSets));
  EXPECT_EQ(sets[1][2], "'=cmd|'/c calc'!A1");
  const auto symptoms = ParseCsv(SummaryCsv(summary, CsvTable::kSymptoms));
  EXPECT_EQ(symptoms[2][5], "'@SUM(1+1)");
}

TEST(SummaryCsvTest, TotalsTableHasOneRowPerParticipantAndExercise) {
  const auto rows = ParseCsv(SummaryCsv(MakeSummary(), CsvTable::kTotals));
  ASSERT_THAT(rows, SizeIs(4));
  EXPECT_THAT(rows[0], ElementsAre("class_id", "participant_id", "display_name",
                                   "exercise_id", "exercise_name", "left_reps",
                                   "right_reps", "both_reps", "sets"));
  EXPECT_THAT(rows[1], ElementsAre("c-42", "p-1", "Ann", "kickback",
                                   "Banded kickback", "40", "30", "0", "4"));
  EXPECT_THAT(rows[3], ElementsAre("c-42", "p-2", "Bea", "squat", "Squat", "0",
                                   "0", "10", "1"));
}

TEST(SummaryCsvTest, EffortsTableLeavesAnAbsentCr10Empty) {
  const auto rows = ParseCsv(SummaryCsv(MakeSummary(), CsvTable::kEfforts));
  ASSERT_THAT(rows, SizeIs(3));
  EXPECT_THAT(rows[0], ElementsAre("class_id", "participant_id", "display_name",
                                   "block_index", "cr10", "feel", "reported_at",
                                   "reported_unix_ms"));
  EXPECT_THAT(rows[1], ElementsAre("c-42", "p-1", "Ann", "0", "7", "too hard",
                                   "2026-05-07T10:05:00Z", "1778148300000"));
  EXPECT_THAT(rows[2], ElementsAre("c-42", "p-1", "Ann", "1", "", "just right",
                                   "2026-05-07T10:20:00Z", "1778149200000"));
}

TEST(SummaryCsvTest, SymptomsTableNamesTheSymptom) {
  const auto rows = ParseCsv(SummaryCsv(MakeSummary(), CsvTable::kSymptoms));
  ASSERT_THAT(rows, SizeIs(3));
  EXPECT_THAT(rows[0], ElementsAre("class_id", "participant_id", "display_name",
                                   "block_index", "symptom", "other_text",
                                   "reported_at", "reported_unix_ms"));
  EXPECT_THAT(rows[1], ElementsAre("c-42", "p-1", "Ann", "0", "hip pinch", "",
                                   "2026-05-07T10:06:00Z", "1778148360000"));
  EXPECT_THAT(rows[2],
              ElementsAre("c-42", "p-1", "Ann", "1", "other", "knee clicks",
                          "2026-05-07T10:21:00Z", "1778149260000"));
}

TEST(SummaryCsvTest, ParsesTableNames) {
  EXPECT_EQ(ParseCsvTable("sets"), CsvTable::kSets);
  EXPECT_EQ(ParseCsvTable("totals"), CsvTable::kTotals);
  EXPECT_EQ(ParseCsvTable("efforts"), CsvTable::kEfforts);
  EXPECT_EQ(ParseCsvTable("symptoms"), CsvTable::kSymptoms);
  EXPECT_EQ(ParseCsvTable("Sets"), absl::nullopt);
  EXPECT_EQ(ParseCsvTable(""), absl::nullopt);
}

// --- JSON ----------------------------------------------------------------

TEST(SummaryJsonTest, ParsesBackToTheSameSummary) {
  const v1::ClassSummary summary = MakeSummary();
  const std::string json = SummaryJson(summary);
  v1::ClassSummary parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok())
      << json;
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, summary))
      << json;
}

TEST(SummaryExportTest, IsTheJsonLineOrTheCsvTable) {
  const v1::ClassSummary summary = MakeSummary();
  EXPECT_EQ(SummaryExport(summary, /*json=*/true), SummaryJson(summary) + "\n");
  EXPECT_EQ(SummaryExport(summary, /*json=*/false), SummaryCsv(summary));
  EXPECT_EQ(SummaryExport(summary, /*json=*/false, CsvTable::kSymptoms),
            SummaryCsv(summary, CsvTable::kSymptoms));
  EXPECT_NE(SummaryExport(summary, /*json=*/false, CsvTable::kSymptoms),
            SummaryExport(summary, /*json=*/false, CsvTable::kSets));
}

TEST(SummaryJsonTest, UsesTheProtoFieldNamesOnOneLine) {
  const std::string json = SummaryJson(MakeSummary());
  EXPECT_THAT(json, HasSubstr("\"participant_id\":\"p-1\""));
  EXPECT_THAT(json, HasSubstr("\"health_data_removed\":true"));
  EXPECT_THAT(json, HasSubstr("\"symptom\":\"SYMPTOM_HIP_PINCH\""));
  EXPECT_THAT(json, Not(HasSubstr("participantId")));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace circuit::client
