#ifndef CIRCUIT_SERVER_HTTP_HTTP_API_H_
#define CIRCUIT_SERVER_HTTP_HTTP_API_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/message.h"
#include "server/auth/access.h"
#include "server/auth/credential_streams.h"
#include "server/auth/kiosks.h"
#include "server/auth/sign_ins.h"
#include "server/common/clock.h"
#include "server/common/rate_limit.h"
#include "server/http/metrics.h"
#include "server/http/static_files.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"
#include "server/live/limits.h"

namespace circuit {

struct HttpRequest {
  // The client's address as gRPC names peers ("ipv4:10.0.0.5:41234"), so
  // one rate limiter counts a device's joins over both.
  std::string peer;
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

// A status as an HTTP answer, the way grpc-gateway maps it: the status code
// grpc-gateway gives that code, and a JSON body
// {"code": "NOT_FOUND", "message": "..."} with the code's gRPC name.
HttpResponse ErrorResponse(const absl::Status& status);
// The HTTP status grpc-gateway maps `code` to.
int HttpStatusFor(absl::StatusCode code);
// The code's canonical gRPC name: "NOT_FOUND", "RESOURCE_EXHAUSTED", ...
// (absl::StatusCodeToString spells some of them differently, and clients
// match on these).
const char* StatusCodeName(absl::StatusCode code);

// What the HTTP API works with. Everything must outlive the HttpApi.
struct HttpApiOptions {
  ClassRegistry* registry = nullptr;
  // The circuits classes are made of (GET /v1/circuits). Null: those calls
  // answer UNAVAILABLE.
  const CircuitLibrary* library = nullptr;
  const Clock* clock = nullptr;
  Metrics* metrics = nullptr;
  // The credentials that may list and watch classes (each its studio's):
  // kiosk keys, paired kiosks, accounts, the bootstrap key. keys.kiosks also
  // serves pairing; null: pairing is off (503).
  AccessKeys keys;
  // Joins per device, shared with the gRPC door (SharedLimits::joins()).
  PeerRateLimiter* join_limiter = nullptr;
  // Look-ups by join code per device, shared with the gRPC door
  // (SharedLimits::lookups()).
  PeerRateLimiter* lookup_limiter = nullptr;
  // Pairings started per device.
  double pairings_per_second_per_peer = 0.2;
  double pairing_burst_per_peer = 10;
  // Messages per participant seat, shared with the gRPC door
  // (SharedLimits::seat_messages()): one budget whichever transport, or
  // both, a participant uses. Null: no limit.
  KeyedTokenBuckets* seat_buckets = nullptr;
  // Messages that may wait for a slow event-stream reader (as a gRPC
  // stream's) before it is cut off; a console's (GET .../run) deeper.
  size_t max_queued_per_stream = 512;
  size_t max_queued_per_console = 16384;
  // Sign-in codes and console credentials; null: signing in answers
  // UNAVAILABLE.
  SignIns* sign_ins = nullptr;
  // Where the streams of account, console and class credentials are
  // tracked, so that a revoke ends them (shared with the gRPC door); null:
  // not tracked.
  CredentialStreams* credential_streams = nullptr;
  // Serve the pages from this directory instead of the compiled-in copies.
  std::string static_dir;
  // The web origins (WebOrigin()) of every node of the cluster, this one's
  // included (--cluster_http_urls): GET /v1/servers lists them for the
  // pages, which move their calls there when their own node stops
  // answering, and the pages' Content-Security-Policy lets them connect
  // there. Empty: a single node; pages call only where they came from.
  std::vector<std::string> cluster_http_urls;
};

// circuitd's HTTP API: an adapter over the same class registry and actors as
// the gRPC service (no second engine, no second set of rules), plus the
// pages. JSON is protobuf's canonical JSON mapping of the circuit.v1
// messages; URLs follow grpc-gateway's shapes. server/http/API.md is the
// contract. Thread-safe; `done` may run on another thread (a class
// actor's).
class HttpApi {
 public:
  explicit HttpApi(HttpApiOptions options);
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void Handle(const HttpRequest& request,
              absl::AnyInvocable<void(HttpResponse)> done);

 private:
  using Done = absl::AnyInvocable<void(HttpResponse)>;

  // Pages and their files.
  void Page(absl::string_view name, Done done);
  void Clock(const HttpRequest& request, Done done);
  void GetClass(const std::string& class_id, const std::string& join_code,
                Done done);
  void ListClasses(const HttpRequest& request, Done done);
  void Watch(const std::string& class_id, const HttpRequest& request,
             Done done);

  // http_participants.cc
  void Join(const HttpRequest& request, Done done);
  // `action` is "events", "report" or "leave".
  void Seat(const std::string& class_id, const std::string& participant_id,
            absl::string_view action, const HttpRequest& request, Done done);

  // http_kiosks.cc
  void StartPairing(const HttpRequest& request, Done done);
  void GetPairing(const std::string& code, const HttpRequest& request,
                  Done done);

  // http_instructor.cc: the instructor's console.
  void ListCircuits(Done done);
  void GetCircuit(const std::string& circuit_id, Done done);
  void CreateClass(const HttpRequest& request, Done done);
  void Run(const std::string& class_id, const HttpRequest& request, Done done);
  void Command(const std::string& class_id, const HttpRequest& request,
               Done done);
  void Summary(const std::string& class_id, const HttpRequest& request,
               Done done);
  void Export(const std::string& class_id, const HttpRequest& request,
              Done done);
  void EraseHealthData(const std::string& class_id,
                       const std::string& participant_id,
                       const HttpRequest& request, Done done);
  void ListKiosks(const HttpRequest& request, Done done);
  void ApproveKiosk(const HttpRequest& request, Done done);
  void RevokeKiosk(const std::string& kiosk_id, const HttpRequest& request,
                   Done done);
  // True when the request's credential may run `class_id` (live or
  // stored); false after answering why not.
  bool MayRun(const std::string& class_id, const HttpRequest& request,
              Done* done);

  // http_sign_in.cc
  // Kept profiles (http_profiles.cc): true when `path` is theirs and
  // `*done` was (or will be) answered.
  bool HandleProfiles(absl::string_view path, const HttpRequest& request,
                      Done* done);
  void SignIn(const HttpRequest& request, Done done);
  void WhoAmI(const HttpRequest& request, Done done);
  void IssueSignInCode(const std::string& account_id,
                       const HttpRequest& request, Done done);

  // Who the request's bearer token is, into `who`; false (after answering
  // UNAUTHENTICATED) when it opens nothing.
  bool Authenticated(const HttpRequest& request, Done* done, Principal* who);

  // The live class `class_id` when the request's credential (who it is,
  // into `who`) may use it under `may`; null after answering
  // UNAUTHENTICATED, NOT_FOUND or why not.
  std::shared_ptr<ClassActor> LiveClass(
      const std::string& class_id, const HttpRequest& request,
      absl::Status (*may)(const Principal&, const v1::ClassInfo&), Done* done,
      Principal* who);

  // False (after answering RESOURCE_EXHAUSTED) when the seat sends faster
  // than allowed, over HTTP and gRPC together.
  bool ReportWithinRate(const std::string& class_id,
                        const std::string& participant_id, Done* done);

  const HttpApiOptions options_;
  // The pages' Content-Security-Policy: connect-src names the cluster's
  // nodes.
  const std::string page_policy_;
  const StaticFiles static_files_;
  PeerRateLimiter pairing_limiter_;
};

// 501 for a method the path does not serve; 404 for a path not served.
HttpResponse Unimplemented(const HttpRequest& request);
HttpResponse NoSuchPath(absl::string_view path);

// The bearer token of an Authorization header value; empty when there is
// none.
std::string BearerOf(const std::string& authorization);

// The value of `name` in `target`'s query ("?a=1&b=2"), undecoded; nullopt
// when absent.
std::optional<std::string> QueryValue(absl::string_view target,
                                      absl::string_view name);

// Where an event stream resumes: the browser's Last-Event-ID on a reconnect,
// else ?last_seq=, else 0. INVALID_ARGUMENT when not a number.
absl::StatusOr<int64_t> ResumeFrom(const HttpRequest& request);

// A JSON answer: `message` in canonical JSON.
HttpResponse JsonResponse(const google::protobuf::Message& message);

// An answer that stays open and carries `events`.
HttpResponse EventsResponse(std::shared_ptr<EventSource> events);

// Parses `body` as `message` in canonical JSON (unknown fields refused);
// INVALID_ARGUMENT naming the message type and what was wrong otherwise.
absl::Status ParseJson(const std::string& body,
                       google::protobuf::Message* message);

// Where a class actor's answer to one request (a report, a command) goes:
// `answer` turns the actor's outcome into the HTTP answer. The actor holds
// this until it answers; an answer that never comes (the server stopping
// drops the task) is answered UNAVAILABLE, saying `unanswered`, when the
// actor lets go of it.
template <typename Outcome>
class ActorAnswer {
 public:
  using Answer = absl::AnyInvocable<HttpResponse(const Outcome&)>;
  ActorAnswer(std::string unanswered, Answer answer,
              absl::AnyInvocable<void(HttpResponse)> done)
      : unanswered_(std::move(unanswered)),
        answer_(std::move(answer)),
        done_(std::move(done)) {}
  ActorAnswer(ActorAnswer&& other)
      : unanswered_(std::move(other.unanswered_)),
        answer_(std::move(other.answer_)),
        done_(std::exchange(other.done_, nullptr)) {}
  ActorAnswer& operator=(ActorAnswer&&) = delete;
  ~ActorAnswer() {
    if (done_) done_(ErrorResponse(absl::UnavailableError(unanswered_)));
  }

  void operator()(Outcome outcome) {
    absl::AnyInvocable<void(HttpResponse)> done = std::move(done_);
    done_ = nullptr;
    done(answer_(outcome));
  }

 private:
  std::string unanswered_;
  Answer answer_;
  absl::AnyInvocable<void(HttpResponse)> done_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_HTTP_API_H_
