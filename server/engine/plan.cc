// PlanIntervals: a circuit expanded into the intervals a class runs through.

#include <optional>
#include <vector>

#include "server/engine/adaptation.h"
#include "server/engine/class_session.h"

namespace circuit::engine {

std::vector<v1::Interval> PlanIntervals(const v1::Circuit& circuit,
                                        const CircuitLibrary& library) {
  std::vector<v1::Interval> plan;
  const int block_count = circuit.blocks_size();
  for (int b = 0; b < block_count; ++b) {
    const v1::Block& block = circuit.blocks(b);
    const v1::Exercise* exercise = library.FindExercise(block.exercise_id());
    const bool per_side = exercise != nullptr && exercise->per_side();
    const std::vector<v1::Side> sides =
        per_side ? std::vector<v1::Side>{v1::SIDE_LEFT, v1::SIDE_RIGHT}
                 : std::vector<v1::Side>{v1::SIDE_BOTH};
    const std::optional<v1::RepRange> target = BlockTarget(block, exercise);

    // Fields every interval of the block shares.
    v1::Interval base;
    base.set_block_index(b);
    base.set_block_id(block.id());
    base.set_exercise_id(block.exercise_id());
    base.set_exercise_name(exercise != nullptr ? exercise->name()
                                               : block.exercise_id());
    base.set_set_count(block.sets());

    auto add_rest = [&](int set, int32_t seconds) {
      if (seconds <= 0) return;
      v1::Interval rest = base;
      rest.set_index(static_cast<int32_t>(plan.size()));
      rest.set_kind(v1::INTERVAL_KIND_REST);
      rest.set_set(set);
      rest.set_duration_ms(int64_t{seconds} * 1000);
      plan.push_back(std::move(rest));
    };

    for (int set = 1; set <= block.sets(); ++set) {
      for (size_t s = 0; s < sides.size(); ++s) {
        v1::Interval work = base;
        work.set_index(static_cast<int32_t>(plan.size()));
        work.set_kind(v1::INTERVAL_KIND_WORK);
        work.set_set(set);
        work.set_side(sides[s]);
        if (target.has_value()) *work.mutable_target_reps() = *target;
        work.set_duration_ms(int64_t{block.work_seconds()} * 1000);
        work.set_waits_for_instructor(block.advance() ==
                                      v1::ADVANCE_MODE_INSTRUCTOR);
        plan.push_back(std::move(work));
        if (s + 1 < sides.size()) {
          add_rest(set, block.rest_between_sides_seconds());
        }
      }
      if (set < block.sets()) add_rest(set, block.rest_between_sets_seconds());
    }
    if (b + 1 < block_count) add_rest(block.sets(), block.rest_after_seconds());
  }
  return plan;
}

}  // namespace circuit::engine
