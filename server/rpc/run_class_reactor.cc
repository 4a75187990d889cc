#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/auth/access.h"
#include "server/common/quote.h"
#include "server/common/rate_limit.h"
#include "server/common/stats.h"
#include "server/fanout/stream.h"
#include "server/fanout/wire.h"
#include "server/live/class_access.h"
#include "server/rpc/auth.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/stream_reactors.h"
#include "server/rpc/streaming_reactor.h"

namespace circuit {

// RunClass: attach, then commands.
class InstructorReactor : public StreamingReactor<BidiResponder> {
 public:
  void OnStarted() override {
    ListenForRunClass(service_, shard());
    CountOpen(&service_->open_instructors_);
    absl::Status allowed = Authenticate(BearerToken(*context()).value_or(""),
                                        service_->options_.keys, &who_);
    if (allowed.ok() && who_.role == Principal::Role::kKiosk) {
      allowed =
          absl::PermissionDeniedError("a kiosk credential cannot run a class");
    }
    if (!allowed.ok()) {
      Fail(allowed);
      return;
    }
    StartReading(&in_);
  }

  void OnReadDone(bool ok) override {
    v1::RunClassRequest request;
    if (!TakeRequest(ok, &in_, &request)) return;
    if (actor_ == nullptr) {
      if (!request.has_attach()) {
        return Fail(absl::FailedPreconditionError(
            "the first message must be `attach`"));
      }
      actor_ = service_->registry_->Find(request.attach().class_id());
      if (actor_ == nullptr) {
        return Fail(
            service_->registry_->NotHere(request.attach().class_id(), ""));
      }
      if (absl::Status may = MayRunClass(who_, actor_->Info()); !may.ok()) {
        actor_ = nullptr;
        return Fail(may);
      }
      if (request.attach().accept_batches()) stream_->AcceptBatches();
      service_->TrackCredential(who_, *context(), stream_);
      actor_->AttachInstructor(stream_, request.attach().last_seq());
    } else if (request.has_command()) {
      const v1::InstructorCommand& command = request.command();
      if (absl::Status checked = CheckCommandId(command); !checked.ok()) {
        stream_->Send(
            EncodeCommandResult(CommandResultFor(command.command_id().substr(
                                                     0, kMaxCommandIdLength),
                                                 checked),
                                service_->clock_->NowUnixMs()),
            Delivery::kReliable);
      } else {
        // The result comes on the stream once the command is journaled (on
        // the actor's strand, so in order with the class's events).
        actor_->Command(
            command, [stream = stream_, clock = service_->clock_,
                      id = command.command_id()](absl::StatusOr<int64_t> seq) {
              stream->Send(EncodeCommandResult(CommandResultFor(id, seq),
                                               clock->NowUnixMs()),
                           Delivery::kReliable);
            });
      }
    } else {
      return Fail(absl::FailedPreconditionError(
          "this stream is already attached; send commands"));
    }
    StartRead(&in_);
  }

  InstructorReactor(CircuitServiceImpl* service, CqShard* shard)
      : StreamingReactor(service, shard, /*console=*/true) {}

 private:
  grpc::ByteBuffer in_;
  Principal who_;  // set when the call starts
  std::shared_ptr<ClassActor> actor_;
};

void ListenForRunClass(CircuitServiceImpl* service, CqShard* shard) {
  ListenForBidi<InstructorReactor>(service, shard,
                                   &CircuitServiceImpl::RequestRunClass);
}

}  // namespace circuit
