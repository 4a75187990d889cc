#include "server/engine/summary.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::engine {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(ScrubHealthDataTest, ClearsHealthDataOfOneOrEveryParticipant) {
  v1::ClassSummary summary;
  for (const char* id : {"p1", "p2"}) {
    v1::ParticipantSummary* p = summary.add_participants();
    p->set_participant_id(id);
    p->set_connection(v1::CONNECTION_STATE_LEFT);
    p->add_sets()->set_reps(10);
    p->add_exercises()->set_both_reps(10);
    p->set_total_reps(10);
    p->add_efforts()->set_cr10(7);
    p->add_symptoms()->set_symptom(v1::SYMPTOM_LEAKING);
    p->add_alerts()->set_alert_id("a");
    p->add_suggestions()->set_suggestion_id("s");
  }
  summary.mutable_aggregates()->set_median_cr10(7);
  summary.mutable_aggregates()->set_too_hard_count(2);
  summary.mutable_aggregates()->set_connected_count(2);
  summary.set_total_reps(20);

  v1::ClassSummary unknown = summary;
  ScrubHealthData(&unknown, "p9");
  EXPECT_EQ(unknown.SerializeAsString(), summary.SerializeAsString());

  v1::ClassSummary one = summary;
  ScrubHealthData(&one, "p2");
  EXPECT_EQ(one.participants(0).SerializeAsString(),
            summary.participants(0).SerializeAsString());
  const v1::ParticipantSummary& p2 = one.participants(1);
  EXPECT_TRUE(p2.health_data_removed());
  EXPECT_THAT(p2.efforts(), IsEmpty());
  EXPECT_THAT(p2.symptoms(), IsEmpty());
  EXPECT_THAT(p2.alerts(), IsEmpty());
  EXPECT_THAT(p2.suggestions(), IsEmpty());
  EXPECT_THAT(p2.sets(), SizeIs(1));
  EXPECT_THAT(p2.exercises(), SizeIs(1));
  EXPECT_EQ(p2.total_reps(), 10);
  EXPECT_EQ(p2.connection(), v1::CONNECTION_STATE_LEFT);
  EXPECT_FALSE(one.aggregates().has_median_cr10());
  EXPECT_EQ(one.aggregates().too_hard_count(), 0);
  EXPECT_EQ(one.aggregates().connected_count(), 2);
  EXPECT_EQ(one.total_reps(), 20);

  v1::ClassSummary all = summary;
  ScrubHealthData(&all, "");
  for (const v1::ParticipantSummary& p : all.participants()) {
    EXPECT_TRUE(p.health_data_removed());
    EXPECT_THAT(p.efforts(), IsEmpty());
    EXPECT_THAT(p.symptoms(), IsEmpty());
    EXPECT_EQ(p.total_reps(), 10);
  }
}

}  // namespace
}  // namespace circuit::engine
