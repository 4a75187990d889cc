#ifndef CIRCUIT_SERVER_ENGINE_REPORT_VALIDATION_H_
#define CIRCUIT_SERVER_ENGINE_REPORT_VALIDATION_H_

// The rules a participant's report must pass before a ClassSession records
// it, each written once: ClassSession::CheckReport and ClassSession::Record
// both go through ValidateNewReport. Pure functions of the report and what
// the caller tells them about the class; thread-safe.
//
// Status codes: INVALID_ARGUMENT for a malformed report (bad id, no such
// block, set or side, values out of range), FAILED_PRECONDITION for a valid
// one that cannot be taken now (block not reached, class not started or
// ended, participant left), RESOURCE_EXHAUSTED for too many reports.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/circuits.pb.h"
#include "circuit/v1/live.pb.h"
#include "server/library/circuit_library.h"

namespace circuit::engine {

// What the checks need to know about the class.
struct ReportContext {
  const v1::Circuit* circuit = nullptr;     // not null
  const CircuitLibrary* library = nullptr;  // not null
  v1::ClassPhase phase = v1::CLASS_PHASE_UNSPECIFIED;
  // The block of the current interval; -1 when no interval is current (in
  // the lobby and after the end).
  int32_t current_block = -1;
  int max_reports_per_participant = 0;
};

// What the checks need to know about the participant reporting.
struct ReporterState {
  std::string participant_id;
  bool left = false;
  size_t reports_made = 0;
};

// The report id and block of a report of any kind; "" and -1 when `report`
// has no kind.
const std::string& ReportId(const internal::ReportInput& report);
int32_t ReportBlock(const internal::ReportInput& report);

// The symptom's other_text as it is recorded: without surrounding spaces.
std::string RecordedOtherText(const v1::SymptomReport& report);

// A completion, effort or symptom: INVALID_ARGUMENT ("not a report")
// otherwise.
absl::Status CheckIsReport(const internal::ReportInput& report);

// 1 to 64 characters: INVALID_ARGUMENT otherwise.
absl::Status CheckReportId(const std::string& report_id);

// A block of the circuit: INVALID_ARGUMENT otherwise.
absl::Status CheckBlockIndex(const v1::Circuit& circuit, int32_t block_index);

// Completion values, for a block that exists: set 1..sets, side SIDE_BOTH
// (SIDE_LEFT or SIDE_RIGHT for a one-sided exercise), reps 0..100, load band
// at most 32 characters and kilograms 0..500. INVALID_ARGUMENT otherwise.
absl::Status CheckCompletionValues(const ReportContext& context,
                                   const v1::CompletionReport& report);

// Effort values: cr10 0..10 when present, feel a known value, at least one of
// the two. INVALID_ARGUMENT otherwise.
absl::Status CheckEffortValues(const v1::EffortReport& report);

// Symptom values: a known symptom, other_text at most 140 characters and
// required for SYMPTOM_OTHER. INVALID_ARGUMENT otherwise.
absl::Status CheckSymptomValues(const v1::SymptomReport& report);

// A completion's block must have been reached: FAILED_PRECONDITION in the
// lobby, or for a block after the current one. (After the end every block
// was reached; CheckCanReport refuses then.)
absl::Status CheckBlockReached(const ReportContext& context,
                               int32_t block_index);

// Effort is about work done: FAILED_PRECONDITION in the lobby. (Symptoms are
// welcome in the lobby: health matters before the start.)
absl::Status CheckEffortPhase(const ReportContext& context);

// Anyone may report while the class is not ENDED, they have not left, and
// they are under the report limit: FAILED_PRECONDITION, FAILED_PRECONDITION,
// RESOURCE_EXHAUSTED otherwise.
absl::Status CheckCanReport(const ReportContext& context,
                            const ReporterState& reporter);

// Every check of a report whose participant is known and whose id is valid
// and new, in the order they apply: the block, the kind's values, the phase,
// then whether this participant can report (CheckIsReport first).
absl::Status ValidateNewReport(const ReportContext& context,
                               const ReporterState& reporter,
                               const internal::ReportInput& report);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_REPORT_VALIDATION_H_
