#include "server/engine/adaptation.h"

#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class AdaptationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*loaded));
    circuit_ = library_->FindCircuit("kickback-trio");
    ASSERT_NE(circuit_, nullptr);
    context_ = AdaptationContext{circuit_, library_.get()};
  }

  std::unique_ptr<CircuitLibrary> library_;
  const v1::Circuit* circuit_ = nullptr;
  AdaptationContext context_;
};

v1::EffortReport Effort(v1::EffortFeel feel) {
  v1::EffortReport r;
  r.set_block_index(0);
  r.set_feel(feel);
  return r;
}

SuggestionToMake OnlySuggestion(const std::vector<Reaction>& out) {
  EXPECT_THAT(out, SizeIs(1));
  EXPECT_TRUE(std::holds_alternative<SuggestionToMake>(out.at(0)));
  return std::get<SuggestionToMake>(out.at(0));
}

TEST_F(AdaptationTest, UnderTheRangeOnceIsNothingTwiceIsTheRegression) {
  v1::CompletionReport report;
  report.set_block_index(0);
  report.set_reps(6);  // the range is 8 to 10
  EXPECT_THAT(ReactToCompletion(context_, report, {6}), IsEmpty());
  EXPECT_THAT(ReactToCompletion(context_, report, {10, 6}), IsEmpty());
  const SuggestionToMake s =
      OnlySuggestion(ReactToCompletion(context_, report, {7, 6}));
  EXPECT_EQ(s.kind, v1::SUGGESTION_KIND_REGRESSION);
  EXPECT_EQ(s.suggested_exercise_id, "kickback-glute-minimus-light");
  EXPECT_THAT(s.reason, HasSubstr("under the 8 to 10 range"));
  // A report in range never calls for it, whatever came before.
  report.set_reps(9);
  EXPECT_THAT(ReactToCompletion(context_, report, {5, 5, 9}), IsEmpty());
}

TEST_F(AdaptationTest, TooHardCountsARunAndAlertsOnItsSecond) {
  EffortReaction first =
      ReactToEffort(context_, "Ana", Effort(v1::EFFORT_FEEL_TOO_HARD), 0, {});
  EXPECT_EQ(first.too_hard_streak, 1);
  EXPECT_EQ(OnlySuggestion(first.reactions).kind,
            v1::SUGGESTION_KIND_REGRESSION);
  EffortReaction second =
      ReactToEffort(context_, "Ana", Effort(v1::EFFORT_FEEL_TOO_HARD), 1, {});
  EXPECT_EQ(second.too_hard_streak, 2);
  ASSERT_THAT(second.reactions, SizeIs(2));
  const auto& alert = std::get<AlertToRaise>(second.reactions[1]);
  EXPECT_EQ(alert.kind, v1::ALERT_KIND_REPEATED_TOO_HARD);
  EXPECT_THAT(alert.text, HasSubstr("Ana"));
  EffortReaction third =
      ReactToEffort(context_, "Ana", Effort(v1::EFFORT_FEEL_TOO_HARD), 2, {});
  EXPECT_THAT(third.reactions, SizeIs(1));  // no second alert for one run
  EXPECT_EQ(
      ReactToEffort(context_, "Ana", Effort(v1::EFFORT_FEEL_JUST_RIGHT), 2, {})
          .too_hard_streak,
      0);
}

TEST_F(AdaptationTest, TooEasyNeedsEveryReportedSetAtTheTop) {
  const v1::EffortReport easy = Effort(v1::EFFORT_FEEL_TOO_EASY);
  EXPECT_THAT(ReactToEffort(context_, "Ana", easy, 0, {}).reactions, IsEmpty());
  EXPECT_THAT(ReactToEffort(context_, "Ana", easy, 0, {10, 9}).reactions,
              IsEmpty());
  const SuggestionToMake s = OnlySuggestion(
      ReactToEffort(context_, "Ana", easy, 0, {10, 12}).reactions);
  EXPECT_EQ(s.kind, v1::SUGGESTION_KIND_PROGRESSION);
  EXPECT_EQ(s.suggested_exercise_id, "kickback-glute-minimus-heavy");
  EXPECT_FALSE(s.suggested_exercise_name.empty());
}

TEST_F(AdaptationTest, SymptomsAlertAndSomeLowerTheLoad) {
  v1::SymptomReport report;
  report.set_block_index(1);
  report.set_symptom(v1::SYMPTOM_LEAKING);
  std::vector<Reaction> out = ReactToSymptom(context_, "Bo", report, "", 1);
  ASSERT_THAT(out, SizeIs(2));
  const auto& alert = std::get<AlertToRaise>(out[0]);
  EXPECT_EQ(alert.severity, v1::ALERT_SEVERITY_PRIORITY);
  EXPECT_EQ(alert.block_index, 1);
  EXPECT_EQ(std::get<SuggestionToMake>(out[1]).kind,
            v1::SUGGESTION_KIND_LOWER_LOAD);
  EXPECT_EQ(std::get<SuggestionToMake>(out[1]).exercise_id,
            "kickback-glute-medius");
  // No exercise of the trio has a hip-pinch drill: only the alert.
  report.set_symptom(v1::SYMPTOM_HIP_PINCH);
  out = ReactToSymptom(context_, "Bo", report, "", 1);
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(std::get<AlertToRaise>(out[0]).severity,
            v1::ALERT_SEVERITY_WARNING);
}

TEST_F(AdaptationTest, ADropAlertsOnlyBeforeTheEnd) {
  std::optional<AlertToRaise> alert =
      ReactToDrop("Cy", absl::Minutes(10), 2, /*class_ended=*/false);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->kind, v1::ALERT_KIND_DROPPED);
  EXPECT_EQ(alert->severity, v1::ALERT_SEVERITY_INFO);
  EXPECT_EQ(alert->block_index, 2);
  EXPECT_THAT(alert->text, HasSubstr("10m"));
  EXPECT_FALSE(ReactToDrop("Cy", absl::Minutes(10), -1, /*class_ended=*/true));
}

// The rule table drives every threshold: a changed table changes what fires.
TEST_F(AdaptationTest, AChangedRuleTableChangesWhatFires) {
  v1::AdaptationRules rules = library_->rules();
  AdaptationContext changed = context_;
  changed.rules = &rules;
  v1::EffortReport seven;
  seven.set_block_index(0);
  seven.set_cr10(7);
  // CR-10 7 is not too hard by default; at a threshold of 7 it is.
  EXPECT_THAT(ReactToEffort(context_, "Ana", seven, 0, {}).reactions,
              IsEmpty());
  rules.set_too_hard_cr10_at_least(7);
  EXPECT_EQ(
      OnlySuggestion(ReactToEffort(changed, "Ana", seven, 0, {}).reactions)
          .kind,
      v1::SUGGESTION_KIND_REGRESSION);
  // CR-10 3 becomes too easy at a threshold of 3.
  v1::EffortReport three;
  three.set_block_index(0);
  three.set_cr10(3);
  EXPECT_THAT(ReactToEffort(context_, "Ana", three, 0, {10}).reactions,
              IsEmpty());
  rules.set_too_easy_cr10_at_most(3);
  EXPECT_EQ(
      OnlySuggestion(ReactToEffort(changed, "Ana", three, 0, {10}).reactions)
          .kind,
      v1::SUGGESTION_KIND_PROGRESSION);
  // One set under the range is enough when the table says 1.
  v1::CompletionReport under;
  under.set_block_index(0);
  under.set_reps(6);
  EXPECT_THAT(ReactToCompletion(context_, under, {6}), IsEmpty());
  rules.set_under_range_sets_for_regression(1);
  EXPECT_THAT(OnlySuggestion(ReactToCompletion(changed, under, {6})).reason,
              HasSubstr("range once"));
  // The alert comes on the third too-hard rating in a row, not the second.
  rules.set_too_hard_in_a_row_for_alert(3);
  EXPECT_THAT(
      ReactToEffort(changed, "Ana", Effort(v1::EFFORT_FEEL_TOO_HARD), 1, {})
          .reactions,
      SizeIs(1));
  EffortReaction third =
      ReactToEffort(changed, "Ana", Effort(v1::EFFORT_FEEL_TOO_HARD), 2, {});
  ASSERT_THAT(third.reactions, SizeIs(2));
  EXPECT_THAT(std::get<AlertToRaise>(third.reactions[1]).text,
              HasSubstr("3 times in a row"));
  // Low back pain lowers the load, at the table's severity.
  v1::SymptomReport back;
  back.set_block_index(1);
  back.set_symptom(v1::SYMPTOM_LOW_BACK_PAIN);
  EXPECT_THAT(ReactToSymptom(context_, "Bo", back, "", 1), SizeIs(1));
  rules.add_lower_load_symptoms(v1::SYMPTOM_LOW_BACK_PAIN);
  rules.set_lower_load_severity(v1::ALERT_SEVERITY_WARNING);
  std::vector<Reaction> out = ReactToSymptom(changed, "Bo", back, "", 1);
  ASSERT_THAT(out, SizeIs(2));
  EXPECT_EQ(std::get<AlertToRaise>(out[0]).severity,
            v1::ALERT_SEVERITY_WARNING);
  EXPECT_EQ(std::get<SuggestionToMake>(out[1]).kind,
            v1::SUGGESTION_KIND_LOWER_LOAD);
}

}  // namespace
}  // namespace circuit::engine
