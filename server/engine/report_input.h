#ifndef CIRCUIT_SERVER_ENGINE_REPORT_INPUT_H_
#define CIRCUIT_SERVER_ENGINE_REPORT_INPUT_H_

#include <string>

#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"

namespace circuit::engine {

// Moves the report a participant sent (a completion, effort or symptom) into
// `report`, as `participant_id`'s, as every adapter hands it to the class
// actor. False, and `report` untouched, for any other kind of message.
bool TakeReport(v1::JoinClassRequest* request,
                const std::string& participant_id,
                internal::ReportInput* report);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_REPORT_INPUT_H_
