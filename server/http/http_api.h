#ifndef CIRCUIT_SERVER_HTTP_HTTP_API_H_
#define CIRCUIT_SERVER_HTTP_HTTP_API_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "grpcpp/support/status.h"
#include "server/common/clock.h"
#include "server/http/metrics.h"
#include "server/live/class_registry.h"

namespace circuit {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A gRPC status as an HTTP answer, the way grpc-gateway maps it: the status
// code grpc-gateway gives that code, and a JSON body
// {"code": "NOT_FOUND", "message": "..."} with the gRPC code's name.
HttpResponse ErrorResponse(const grpc::Status& status);
// The HTTP status grpc-gateway maps `code` to.
int HttpStatusFor(grpc::StatusCode code);
// "NOT_FOUND", "INVALID_ARGUMENT", ...
const char* StatusCodeName(grpc::StatusCode code);

// circuitd's HTTP API: an adapter over the same class registry and actors as
// the gRPC service (no second engine, no second set of rules). JSON is
// protobuf's canonical JSON mapping of the circuit.v1 messages; URLs follow
// grpc-gateway's shapes:
//   GET /v1/classes/{class_id}       GetClass by id
//   GET /v1/classes:byJoinCode/{code}  GetClass by join code
//   GET /metrics                     Prometheus text format
//   GET /healthz                     "ok" while serving
// Thread-safe; `done` may run on another thread (a class actor's).
class HttpApi {
 public:
  HttpApi(ClassRegistry* registry, const Clock* clock, Metrics* metrics);
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void Handle(const HttpRequest& request,
              absl::AnyInvocable<void(HttpResponse)> done);

 private:
  void GetClass(const std::string& class_id, const std::string& join_code,
                absl::AnyInvocable<void(HttpResponse)> done);

  ClassRegistry* const registry_;
  const Clock* const clock_;
  Metrics* const metrics_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_HTTP_API_H_
