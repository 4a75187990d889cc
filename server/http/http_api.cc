#include "server/http/http_api.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "server/common/json.h"
#include "server/http/kiosk_events.h"
#include "server/live/class_lookup.h"

namespace circuit {
namespace {

// Messages that may wait for a slow event-stream reader (as a gRPC stream's
// --max_queued_per_stream) before it is cut off.
constexpr size_t kMaxQueuedEvents = 512;

// The path of `target`, without its query.
absl::string_view PathOf(absl::string_view target) {
  const size_t query = target.find('?');
  return query == absl::string_view::npos ? target : target.substr(0, query);
}

HttpResponse JsonResponse(const google::protobuf::Message& message) {
  HttpResponse response;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;  // lowerCamelCase, as gateways
  const auto printed = google::protobuf::util::MessageToJsonString(
      message, &response.body, options);
  if (!printed.ok()) {
    return ErrorResponse(grpc::Status(grpc::StatusCode::INTERNAL,
                                      "the answer could not be written as "
                                      "JSON"));
  }
  return response;
}

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

HttpResponse ErrorResponse(const grpc::Status& status) {
  HttpResponse response;
  response.status = HttpStatusFor(status.error_code());
  response.body =
      absl::StrCat("{\"code\":\"", StatusCodeName(status.error_code()),
                   "\",\"message\":", JsonString(status.error_message()), "}");
  return response;
}

HttpApi::HttpApi(ClassRegistry* registry, const Clock* clock, Metrics* metrics,
                 std::function<bool(const std::string&)> may_watch)
    : registry_(registry),
      clock_(clock),
      metrics_(metrics),
      may_watch_(std::move(may_watch)) {}

void HttpApi::Handle(const HttpRequest& request,
                     absl::AnyInvocable<void(HttpResponse)> done) {
  absl::string_view path = PathOf(request.target);
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (path == "/healthz") {
    if (!get) {
      done(ErrorResponse(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                      "/healthz answers GET")));
      return;
    }
    HttpResponse response;
    response.content_type = "text/plain; charset=utf-8";
    response.body = "ok\n";
    done(std::move(response));
    return;
  }
  if (path == "/metrics") {
    if (!get) {
      done(ErrorResponse(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                      "/metrics answers GET")));
      return;
    }
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics_->Scrape();
    done(std::move(response));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/classes:byJoinCode/")) {
    if (!get) {
      done(ErrorResponse(grpc::Status(
          grpc::StatusCode::UNIMPLEMENTED,
          absl::StrCat(request.method, " is not served on this path"))));
      return;
    }
    GetClass("", std::string(path), std::move(done));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/classes/")) {
    const bool watch = absl::ConsumeSuffix(&path, ":watch");
    // `path` is now the class id: one segment, and only GET serves it.
    if (path.empty() || absl::StrContains(path, '/')) {
      done(ErrorResponse(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("no such path ", QuoteForError(request.target)))));
      return;
    }
    if (!get) {
      done(ErrorResponse(grpc::Status(
          grpc::StatusCode::UNIMPLEMENTED,
          absl::StrCat(request.method, " is not served on this path"))));
      return;
    }
    if (watch) {
      Watch(std::string(path), request, std::move(done));
    } else {
      GetClass(std::string(path), "", std::move(done));
    }
    return;
  }
  done(ErrorResponse(grpc::Status(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("no such path ", QuoteForError(std::string(path))))));
}

void HttpApi::Watch(const std::string& class_id, const HttpRequest& request,
                    absl::AnyInvocable<void(HttpResponse)> done) {
  absl::string_view token = request.authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") || token.empty()) {
    done(ErrorResponse(
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                     "watching a class needs a kiosk or instructor key: "
                     "Authorization: Bearer <key>")));
    return;
  }
  if (!may_watch_ || !may_watch_(std::string(token))) {
    done(ErrorResponse(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                    "that key opens no class")));
    return;
  }
  std::shared_ptr<ClassActor> actor = registry_->Find(class_id);
  if (actor == nullptr) {
    done(ErrorResponse(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no class with id ", QuoteForError(class_id)))));
    return;
  }
  // Where to resume: the browser's Last-Event-ID on a reconnect, else
  // ?last_seq=.
  int64_t last_seq = 0;
  absl::string_view query = request.target;
  const size_t question = query.find('?');
  query = question == absl::string_view::npos ? absl::string_view()
                                              : query.substr(question + 1);
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (absl::ConsumePrefix(&pair, "last_seq=") &&
        !absl::SimpleAtoi(pair, &last_seq)) {
      done(ErrorResponse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      "last_seq is a number")));
      return;
    }
  }
  if (!request.last_event_id.empty() &&
      !absl::SimpleAtoi(request.last_event_id, &last_seq)) {
    done(ErrorResponse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "Last-Event-ID is a seq (a number)")));
    return;
  }
  HttpResponse response;
  response.events = std::make_shared<KioskEvents>(
      std::move(actor), std::max<int64_t>(0, last_seq), kMaxQueuedEvents);
  done(std::move(response));
}

void HttpApi::GetClass(const std::string& class_id,
                       const std::string& join_code,
                       absl::AnyInvocable<void(HttpResponse)> done) {
  v1::GetClassRequest request;
  if (!join_code.empty()) {
    request.set_join_code(join_code);
  } else {
    request.set_class_id(class_id);
  }
  DescribeClass(
      registry_, clock_, request,
      [done = std::move(done)](grpc::Status status,
                               v1::GetClassResponse response) mutable {
        done(status.ok() ? JsonResponse(response) : ErrorResponse(status));
      });
}

}  // namespace circuit
