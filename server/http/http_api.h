#ifndef CIRCUIT_SERVER_HTTP_HTTP_API_H_
#define CIRCUIT_SERVER_HTTP_HTTP_API_H_

#include <functional>
#include <memory>
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
  std::string authorization;  // the Authorization header
  std::string last_event_id;  // the Last-Event-ID header (SSE reconnects)
};

// Where an event stream's chunks go: its connection. Thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Queues `chunk` (text/event-stream lines); `written` runs on the
  // connection's thread once it is written, never inline. When the
  // connection is gone it never runs: EventSource::Stop comes instead.
  virtual void Send(std::string chunk, absl::AnyInvocable<void()> written) = 0;
  // Ends the response once what is queued is written.
  virtual void End() = 0;
};

// A response that stays open and carries server-sent events.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // The headers are written: send to `sink` from now on.
  virtual void Start(std::shared_ptr<EventSink> sink) = 0;
  // The connection is gone or the server is stopping: stop sending and
  // let go of the sink. Called once, after Start.
  virtual void Stop() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: a text/event-stream response that stays open (status, body and
  // content type above are not used).
  std::shared_ptr<EventSource> events;
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
//   GET /v1/classes/{class_id}:watch  WatchClass as server-sent events
//                                    (kiosk or instructor key as Bearer;
//                                    ?last_seq= or Last-Event-ID resumes)
//   GET /metrics                     Prometheus text format
//   GET /healthz                     "ok" while serving
// Thread-safe; `done` may run on another thread (a class actor's).
class HttpApi {
 public:
  // `may_watch` says whether a bearer token may watch a class (a kiosk's
  // or the instructor's key).
  HttpApi(ClassRegistry* registry, const Clock* clock, Metrics* metrics,
          std::function<bool(const std::string& token)> may_watch);
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void Handle(const HttpRequest& request,
              absl::AnyInvocable<void(HttpResponse)> done);

 private:
  void GetClass(const std::string& class_id, const std::string& join_code,
                absl::AnyInvocable<void(HttpResponse)> done);

  void Watch(const std::string& class_id, const HttpRequest& request,
             absl::AnyInvocable<void(HttpResponse)> done);

  ClassRegistry* const registry_;
  const Clock* const clock_;
  Metrics* const metrics_;
  const std::function<bool(const std::string&)> may_watch_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_HTTP_API_H_
