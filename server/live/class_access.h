#ifndef CIRCUIT_SERVER_LIVE_CLASS_ACCESS_H_
#define CIRCUIT_SERVER_LIVE_CLASS_ACCESS_H_

// The instructor's calls as every door answers them (the gRPC service and
// the HTTP API): which class a credential may use, creating a class as
// someone, checking a command before it reaches the actor, the circuit
// library's listings. Each door authenticates its own way, calls these, and
// turns the absl::Status into its transport's.

#include <cstddef>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/v1/service.pb.h"
#include "server/auth/principal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"

namespace circuit {

// One of the access rules of server/auth/access.h (MayRunClass,
// MayWatchClass).
using ClassRule = absl::Status (*)(const Principal&, const v1::ClassInfo&);

// The class `who` may use under `may`, live or stored: NOT_FOUND naming it
// when the registry knows no such class, else what `may` says.
absl::StatusOr<v1::ClassInfo> AccessClass(const ClassRegistry& registry,
                                          const Principal& who,
                                          const std::string& class_id,
                                          ClassRule may);

// Creates a class owned by `who` in their studio (MayCreateClass first);
// `done` runs once it is journaled or refused, perhaps on an actor's thread.
void CreateClassAs(
    ClassRegistry* registry, const Principal& who,
    const v1::CreateClassRequest& request,
    absl::AnyInvocable<void(absl::StatusOr<v1::CreateClassResponse>)> done);

// The longest command id a client may choose.
inline constexpr size_t kMaxCommandIdLength = 64;

// INVALID_ARGUMENT unless the command's id is 1 to kMaxCommandIdLength
// characters (the actor answers the rest).
absl::Status CheckCommandId(const v1::InstructorCommand& command);

// Erases one participant's health data of an ended class: INVALID_ARGUMENT
// without a participant id, else the registry's answer.
void EraseHealthDataOf(ClassRegistry* registry,
                       const v1::EraseHealthDataRequest& request,
                       absl::AnyInvocable<void(absl::Status)> done);

// Every circuit and exercise of the library.
v1::ListCircuitsResponse ListCircuits(const CircuitLibrary& library);
// One circuit with its exercises; NOT_FOUND naming it when unknown.
absl::StatusOr<v1::GetCircuitResponse> GetCircuit(
    const CircuitLibrary& library, const std::string& circuit_id);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_ACCESS_H_
