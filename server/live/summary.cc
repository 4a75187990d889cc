#include "server/live/summary.h"

#include <algorithm>

namespace circuit {

v1::WallSummary WallFromSummary(const v1::ClassSummary& summary) {
  v1::WallSummary wall;
  const v1::ClassInfo& info = summary.class_info();
  wall.set_class_id(info.class_id());
  wall.set_title(info.title());
  wall.set_phase(info.phase());
  wall.set_participant_count(summary.participants_size());
  wall.set_total_reps(summary.total_reps());
  for (const v1::ParticipantSummary& p : summary.participants()) {
    if (!p.check_in().show_name_on_kiosk()) continue;
    v1::WallEntry* entry = wall.add_wall();
    entry->set_display_name(p.check_in().display_name());
    entry->set_total_reps(p.total_reps());
  }
  std::stable_sort(wall.mutable_wall()->begin(), wall.mutable_wall()->end(),
                   [](const v1::WallEntry& a, const v1::WallEntry& b) {
                     return a.total_reps() > b.total_reps();
                   });
  return wall;
}

}  // namespace circuit
