// Pairing studio TVs over HTTP (server/http/API.md): the TV starts a
// pairing and asks after it with its secret; the instructor approves the
// code over gRPC (ApproveKioskPairing).

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/stats.h"
#include "server/http/http_api.h"

namespace circuit {
namespace {

HttpResponse PairingOff() {
  return ErrorResponse(
      absl::UnavailableError("kiosk pairing is not available on this "
                             "server"));
}

}  // namespace

void HttpApi::StartPairing(const HttpRequest& request, Done done) {
  if (options_.keys.kiosks == nullptr) {
    done(PairingOff());
    return;
  }
  if (!pairing_limiter_.Allow(request.peer, options_.clock->Now())) {
    ProcessStats().rate_limited_joins.fetch_add(1, std::memory_order_relaxed);
    done(ErrorResponse(absl::ResourceExhaustedError(
        "too many pairings started from this address; try "
        "again in a minute")));
    return;
  }
  absl::StatusOr<v1::KioskPairing> pairing = options_.keys.kiosks->Start();
  done(pairing.ok() ? JsonResponse(*pairing) : ErrorResponse(pairing.status()));
}

void HttpApi::GetPairing(const std::string& code, const HttpRequest& request,
                         Done done) {
  if (options_.keys.kiosks == nullptr) {
    done(PairingOff());
    return;
  }
  const std::string secret = BearerOf(request.authorization);
  if (secret.empty()) {
    done(ErrorResponse(absl::UnauthenticatedError(
        "send the pairing secret: Authorization: Bearer <secret>")));
    return;
  }
  absl::StatusOr<v1::KioskPairing> pairing =
      options_.keys.kiosks->Get(code, secret);
  done(pairing.ok() ? JsonResponse(*pairing) : ErrorResponse(pairing.status()));
}

}  // namespace circuit
