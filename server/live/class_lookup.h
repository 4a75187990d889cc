#ifndef CIRCUIT_SERVER_LIVE_CLASS_LOOKUP_H_
#define CIRCUIT_SERVER_LIVE_CLASS_LOOKUP_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "circuit/v1/service.pb.h"
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
    absl::AnyInvocable<void(absl::Status, v1::GetClassResponse)> done);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_LOOKUP_H_
