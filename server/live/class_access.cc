#include "server/live/class_access.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/auth/access.h"
#include "server/common/quote.h"

namespace circuit {

absl::StatusOr<v1::ClassInfo> AccessClass(const ClassRegistry& registry,
                                          const Principal& who,
                                          const std::string& class_id,
                                          ClassRule may) {
  std::optional<v1::ClassInfo> info = registry.Info(class_id);
  if (!info.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no class with id ", QuoteForError(class_id)));
  }
  if (absl::Status allowed = may(who, *info); !allowed.ok()) return allowed;
  return *std::move(info);
}

void CreateClassAs(
    ClassRegistry* registry, const Principal& who,
    const v1::CreateClassRequest& request,
    absl::AnyInvocable<void(absl::StatusOr<v1::CreateClassResponse>)> done) {
  if (absl::Status allowed = MayCreateClass(who); !allowed.ok()) {
    done(allowed);
    return;
  }
  registry->Create(
      request.circuit_id(), request.title(), StudioOf(who), who.subject,
      [done = std::move(done)](absl::StatusOr<v1::ClassInfo> info) mutable {
        if (!info.ok()) {
          done(info.status());
          return;
        }
        v1::CreateClassResponse response;
        *response.mutable_class_info() = *std::move(info);
        done(std::move(response));
      });
}

absl::Status CheckCommandId(const v1::InstructorCommand& command) {
  if (command.command_id().empty() ||
      command.command_id().size() > kMaxCommandIdLength) {
    return absl::InvalidArgumentError("command_id must be 1 to 64 characters");
  }
  return absl::OkStatus();
}

void EraseHealthDataOf(ClassRegistry* registry,
                       const v1::EraseHealthDataRequest& request,
                       absl::AnyInvocable<void(absl::Status)> done) {
  if (request.participant_id().empty()) {
    done(absl::InvalidArgumentError(
        "give the participant_id whose health data to erase"));
    return;
  }
  registry->EraseHealthData(request.class_id(), request.participant_id(),
                            std::move(done));
}

v1::ListCircuitsResponse ListCircuits(const CircuitLibrary& library) {
  v1::ListCircuitsResponse response;
  for (const v1::Circuit& c : library.circuits()) {
    *response.add_circuits() = c;
  }
  for (const v1::Exercise& e : library.exercises()) {
    *response.add_exercises() = e;
  }
  for (const v1::Programme& p : library.programmes()) {
    *response.add_programmes() = p;
  }
  return response;
}

absl::StatusOr<v1::GetCircuitResponse> GetCircuit(
    const CircuitLibrary& library, const std::string& circuit_id) {
  const v1::Circuit* circuit = library.FindCircuit(circuit_id);
  if (circuit == nullptr) {
    return absl::NotFoundError(absl::StrCat("no circuit with id ",
                                            QuoteForError(circuit_id),
                                            "; ListCircuits lists them"));
  }
  v1::GetCircuitResponse response;
  *response.mutable_circuit() = *circuit;
  for (v1::Exercise& e : library.ExercisesFor(*circuit)) {
    *response.add_exercises() = std::move(e);
  }
  return response;
}

}  // namespace circuit
