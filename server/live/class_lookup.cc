#include "server/live/class_lookup.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/quote.h"

namespace circuit {

void DescribeClass(
    ClassRegistry* registry, const Clock* clock,
    const v1::GetClassRequest& request,
    absl::AnyInvocable<void(absl::Status, v1::GetClassResponse)> done) {
  std::shared_ptr<ClassActor> actor;
  switch (request.class_ref_case()) {
    case v1::GetClassRequest::kClassId:
      actor = registry->Find(request.class_id());
      if (actor == nullptr) {
        std::optional<v1::ClassInfo> stored =
            registry->FindStored(request.class_id());
        if (!stored.has_value()) {
          done(registry->NotHere(request.class_id(), ""), {});
          return;
        }
        // An ended class kept only in the history.
        v1::GetClassResponse response;
        response.mutable_state()->set_class_id(stored->class_id());
        response.mutable_state()->set_phase(stored->phase());
        response.mutable_state()->set_started_unix_ms(
            stored->started_unix_ms());
        response.mutable_state()->set_ended_unix_ms(stored->ended_unix_ms());
        *response.mutable_class_info() = std::move(*stored);
        response.set_server_time_unix_ms(clock->NowUnixMs());
        done(absl::OkStatus(), std::move(response));
        return;
      }
      break;
    case v1::GetClassRequest::kJoinCode:
      actor = registry->FindByJoinCode(request.join_code());
      if (actor == nullptr) {
        done(registry->NotHere("", request.join_code()), {});
        return;
      }
      break;
    default:
      done(absl::InvalidArgumentError("give class_id or join_code"), {});
      return;
  }
  actor->Describe(
      [done = std::move(done)](v1::GetClassResponse described) mutable {
        done(absl::OkStatus(), std::move(described));
      });
}

}  // namespace circuit
