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
#include "server/rpc/auth.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/stream_reactors.h"
#include "server/rpc/streaming_reactor.h"

namespace circuit {

using rpc_internal::Draining;
using rpc_internal::Parse;

// WatchClass: one request, then the kiosk's view.
class KioskReactor : public StreamingReactor<WriteResponder> {
 public:
  // Waits for the next WatchClass call on `shard`.
  static void Listen(CircuitServiceImpl* service, CqShard* shard) {
    auto* reactor = new KioskReactor(service, shard);
    reactor->CqStreamCall::Listen(
        [service, reactor](grpc::ServerContext* context,
                           WriteResponder* responder,
                           grpc::ServerCompletionQueue* cq, void* tag) {
          service->RequestWatchClass(context, &reactor->request_bytes_,
                                     responder, cq, cq, tag);
        });
  }

  void OnStarted() override {
    Listen(service_, shard());
    CountOpen(&service_->open_kiosks_);
    CircuitServiceImpl* service = service_;
    Principal who;
    absl::Status allowed = Authenticate(BearerToken(*context()).value_or(""),
                                        service->options_.keys, &who);
    if (!allowed.ok()) {
      Fail(allowed);
      return;
    }
    if (service->draining_.load()) {
      Fail(Draining());
      return;
    }
    v1::WatchClassRequest request;
    if (!Parse(&request_bytes_, &request)) {
      Fail(
          absl::InvalidArgumentError("the message is not a WatchClassRequest"));
      return;
    }
    std::shared_ptr<ClassActor> actor =
        service->registry_->Find(request.class_id());
    if (actor == nullptr) {
      Fail(service->registry_->NotHere(request.class_id(), ""));
      return;
    }
    if (absl::Status may = MayWatchClass(who, actor->Info()); !may.ok()) {
      Fail(may);
      return;
    }
    if (request.accept_batches()) stream_->AcceptBatches();
    if (KioskPairings* kiosks = service->options_.keys.kiosks;
        kiosks != nullptr && who.role == Principal::Role::kKiosk &&
        who.subject != "studio-kiosk") {
      // A paired TV's stream ends when the TV is revoked.
      kiosks->Track(who.subject, stream_);
    }
    service->TrackCredential(who, *context(), stream_);
    actor->AttachKiosk(stream_, request.last_seq());
  }

 private:
  using StreamingReactor::StreamingReactor;

  grpc::ByteBuffer request_bytes_;
};

void ListenForWatchClass(CircuitServiceImpl* service, CqShard* shard) {
  KioskReactor::Listen(service, shard);
}

}  // namespace circuit
