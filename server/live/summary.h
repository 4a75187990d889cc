#ifndef CIRCUIT_SERVER_LIVE_SUMMARY_H_
#define CIRCUIT_SERVER_LIVE_SUMMARY_H_

#include "circuit/v1/service.pb.h"

namespace circuit {

// The studio wall's view of a class summary: totals, and the names and reps
// of those who agreed to be shown (most reps first). Never effort or
// symptoms: nothing else of the summary is copied.
v1::WallSummary WallFromSummary(const v1::ClassSummary& summary);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_SUMMARY_H_
