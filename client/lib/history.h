#ifndef CIRCUIT_CLIENT_LIB_HISTORY_H_
#define CIRCUIT_CLIENT_LIB_HISTORY_H_

// The after-class calls: a class's record for the instructor, the studio
// wall's summary, and erasing one participant's health data. Each is one
// unary call with the connection's deadline. Thread-safe, as Connection is.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/v1/service.pb.h"
#include "client/lib/connection.h"

namespace circuit::client {

// The record of class `class_id`, live or ended (GetClassSummary). Needs the
// instructor key: UNAUTHENTICATED or PERMISSION_DENIED otherwise, NOT_FOUND
// for an unknown class, UNAVAILABLE or DEADLINE_EXCEEDED when circuitd does
// not answer.
absl::StatusOr<v1::ClassSummary> GetClassSummary(
    const Connection& connection, const std::string& instructor_key,
    const std::string& class_id);

// The wall summary of class `class_id` (GetWallSummary): totals and the
// names of those who agreed to be shown; never health data. `key` is the
// instructor or the kiosk key. Codes as GetClassSummary.
absl::StatusOr<v1::WallSummary> GetWallSummary(const Connection& connection,
                                               const std::string& key,
                                               const std::string& class_id);

// Erases participant `participant_id`'s efforts and symptoms (and the alerts
// and suggestions drawn from them) from ended class `class_id`; reps and
// attendance stay. Needs the instructor key. NOT_FOUND for an unknown class
// or participant, FAILED_PRECONDITION while the class has not ended.
absl::Status EraseHealthData(const Connection& connection,
                             const std::string& instructor_key,
                             const std::string& class_id,
                             const std::string& participant_id);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_HISTORY_H_
