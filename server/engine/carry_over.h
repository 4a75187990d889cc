#ifndef CIRCUIT_SERVER_ENGINE_CARRY_OVER_H_
#define CIRCUIT_SERVER_ENGINE_CARRY_OVER_H_

// Carry-over between classes: a participant's plan for today, derived from
// her past classes (a kept profile) with the same rule table as the live
// adaptation (adaptation.h). Pure functions; thread-safe. The product
// suggests; the coach decides; none of this is medical advice.

#include <optional>
#include <string>
#include <vector>

#include "circuit/internal/journal.pb.h"
#include "circuit/v1/circuits.pb.h"
#include "server/engine/adaptation.h"
#include "server/library/circuit_library.h"

namespace circuit::engine {

// Who she is today and what today's class runs. Pointers are not null and
// outlive the call.
struct PlanInputs {
  // Today's circuit, and the library it comes from (exercises, the rule
  // table, programmes).
  const v1::Circuit* circuit = nullptr;
  const CircuitLibrary* library = nullptr;
  // From her profile.
  v1::RecoveryTrack track = v1::RECOVERY_TRACK_UNSPECIFIED;
  std::optional<int> weeks_postpartum;  // as of today
  std::string programme_id;             // empty: in no programme
  std::string stage_id;                 // empty: the programme's first stage
};

// Her plan for today from `history`, her ended classes oldest first: the
// items to show the coach (and her) before the class starts, each with its
// reason in words she can read ("last two classes: 10 of 10 reps, too
// easy"), in the order the coach should read them; from_history is set on
// each. Empty for an empty history.
std::vector<SuggestionToMake> DerivePlan(
    const PlanInputs& inputs, const std::vector<internal::PastClass>& history);

// The position of `stage_id` in `programme`; the first stage (0) for an empty
// id; -1 when the programme has no such stage.
int StageIndex(const v1::Programme& programme, const std::string& stage_id);

// Her record in an ended class as carry-over keeps it: the blocks of
// `record`'s circuit with their targets, and her summary.
internal::PastClass MakePastClass(const internal::ClassRecord& record,
                                  const v1::ParticipantSummary& participant,
                                  const std::string& stage_id);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_CARRY_OVER_H_
