#ifndef CIRCUIT_SERVER_ENGINE_SUMMARY_H_
#define CIRCUIT_SERVER_ENGINE_SUMMARY_H_

// Operations on a class's record (v1::ClassSummary) once it is stored, apart
// from any live session. Pure functions; thread-safe.

#include <string>

#include "circuit/v1/service.pb.h"

namespace circuit::engine {

// Erases health data from `summary`, for `participant_id` or, when it is
// empty, for every participant: their efforts, symptoms, alerts and
// suggestions are cleared and health_data_removed is set; their reps, sets,
// exercise totals and connection stay. The class-wide effort figures
// (median_cr10 and the too easy / just right / too hard counts) are cleared
// too: they are drawn from the erased ratings and cannot be recomputed from
// what stays. An id not in the summary changes nothing. `summary` must not be
// null.
void ScrubHealthData(v1::ClassSummary* summary,
                     const std::string& participant_id);

// Erases one participant from `summary` (she erased her kept profile): her
// record becomes a stub with only her id, connection, `erased` and
// health_data_removed; her reps leave the class total, and the class-wide
// effort figures are cleared as ScrubHealthData clears them. An id not in the
// summary changes nothing. `summary` must not be null.
void EraseSeat(v1::ClassSummary* summary, const std::string& participant_id);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_SUMMARY_H_
