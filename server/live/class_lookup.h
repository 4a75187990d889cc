#ifndef CIRCUIT_SERVER_LIVE_CLASS_LOOKUP_H_
#define CIRCUIT_SERVER_LIVE_CLASS_LOOKUP_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "grpcpp/support/status.h"
#include "server/common/clock.h"
#include "server/live/class_registry.h"

namespace circuit {

// GetClass, as every adapter answers it (the gRPC service and the HTTP API):
// a live class from its actor, an ended one from the stored history, by id
// or join code. NOT_FOUND names what was asked for; INVALID_ARGUMENT when
// neither is given. `done` runs once, on this thread or an actor's.
void DescribeClass(
    ClassRegistry* registry, const Clock* clock,
    const v1::GetClassRequest& request,
    absl::AnyInvocable<void(grpc::Status, v1::GetClassResponse)> done);

// Moves the report a participant sent (a completion, effort or symptom) into
// `report`, as `participant_id`'s, as every adapter hands it to the class
// actor. False, and `report` untouched, for any other kind of message.
bool TakeReport(v1::JoinClassRequest* request,
                const std::string& participant_id,
                internal::ReportInput* report);

// `text` quoted for an error message, cut at 64 characters.
std::string QuoteForError(const std::string& text);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_LOOKUP_H_
