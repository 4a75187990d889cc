#include "server/http/http_api.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "server/common/json.h"
#include "server/common/quote.h"
#include "server/common/stats.h"
#include "server/http/event_stream.h"
#include "server/live/class_lookup.h"

namespace circuit {
namespace {

// The pages may load their own scripts, styles and images and talk to this
// server, nothing else: no inline script or style, no other origin, no
// framing.
// The pages' Content-Security-Policy: their own scripts and styles only, and
// calls to their own node and the cluster's others (`nodes`).
std::string PagePolicy(const std::vector<std::string>& nodes) {
  std::string connect = "'self'";
  for (const std::string& node : nodes) absl::StrAppend(&connect, " ", node);
  return absl::StrCat(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src ",
      connect,
      "; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
      "frame-ancestors 'none'");
}

// True when `id` is one path segment (not empty, no '/').
bool OneSegment(absl::string_view id) {
  return !id.empty() && !absl::StrContains(id, '/');
}

// The path of `target`, without its query.
absl::string_view PathOf(absl::string_view target) {
  const size_t query = target.find('?');
  return query == absl::string_view::npos ? target : target.substr(0, query);
}

}  // namespace

HttpResponse Unimplemented(const HttpRequest& request) {
  return ErrorResponse(absl::UnimplementedError(
      absl::StrCat(request.method, " is not served on this path")));
}

HttpResponse NoSuchPath(absl::string_view path) {
  return ErrorResponse(absl::NotFoundError(
      absl::StrCat("no such path ", QuoteForError(std::string(path)))));
}

HttpResponse JsonResponse(const google::protobuf::Message& message) {
  HttpResponse response;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;  // lowerCamelCase, as gateways
  const auto printed = google::protobuf::util::MessageToJsonString(
      message, &response.body, options);
  if (!printed.ok()) {
    return ErrorResponse(
        absl::InternalError("the answer could not be written as "
                            "JSON"));
  }
  return response;
}

absl::Status ParseJson(const std::string& body,
                       google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(body, message, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body is not a ", message->GetDescriptor()->name(),
                     " in JSON: ", std::string(parsed.message())));
  }
  return absl::OkStatus();
}

HttpResponse EventsResponse(std::shared_ptr<EventSource> events) {
  HttpResponse response;
  response.events = std::move(events);
  return response;
}

const char* StatusCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kUnknown:
      return "UNKNOWN";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal:
      return "INTERNAL";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpResponse ErrorResponse(const absl::Status& status) {
  HttpResponse response;
  response.status = HttpStatusFor(status.code());
  response.body =
      absl::StrCat("{\"code\":\"", StatusCodeName(status.code()),
                   "\",\"message\":", JsonString(status.message()), "}");
  return response;
}

std::string BearerOf(const std::string& authorization) {
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ")) return "";
  return std::string(absl::StripAsciiWhitespace(token));
}

std::optional<std::string> QueryValue(absl::string_view target,
                                      absl::string_view name) {
  const size_t question = target.find('?');
  if (question == absl::string_view::npos) return std::nullopt;
  for (absl::string_view pair :
       absl::StrSplit(target.substr(question + 1), '&')) {
    if (absl::ConsumePrefix(&pair, name) && absl::ConsumePrefix(&pair, "=")) {
      return std::string(pair);
    }
  }
  return std::nullopt;
}

HttpApi::HttpApi(HttpApiOptions options)
    : options_(std::move(options)),
      page_policy_(PagePolicy(options_.cluster_http_urls)),
      static_files_(options_.static_dir),
      pairing_limiter_(options_.pairings_per_second_per_peer,
                       options_.pairing_burst_per_peer) {}

absl::StatusOr<int64_t> ResumeFrom(const HttpRequest& request) {
  int64_t last_seq = 0;
  if (std::optional<std::string> given = QueryValue(request.target, "last_seq");
      given.has_value() && !absl::SimpleAtoi(*given, &last_seq)) {
    return absl::InvalidArgumentError("last_seq is a number");
  }
  if (!request.last_event_id.empty() &&
      !absl::SimpleAtoi(request.last_event_id, &last_seq)) {
    return absl::InvalidArgumentError("Last-Event-ID is a seq (a number)");
  }
  return std::max<int64_t>(0, last_seq);
}

void HttpApi::Handle(const HttpRequest& request, Done done) {
  absl::string_view path = PathOf(request.target);
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (path == "/healthz") {
    if (!get) {
      done(ErrorResponse(absl::UnimplementedError("/healthz answers GET")));
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
      done(ErrorResponse(absl::UnimplementedError("/metrics answers GET")));
      return;
    }
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = options_.metrics->Scrape();
    done(std::move(response));
    return;
  }
  if (path == "/" || path == "/index.html") {
    get ? Page("index.html", std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (path == "/kiosk" || absl::StartsWith(path, "/kiosk/")) {
    get ? Page("kiosk.html", std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (path == "/console") {
    get ? Page("console.html", std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (absl::ConsumePrefix(&path, "/static/")) {
    get ? Page(path, std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (path == "/v1/clock") {
    get ? Clock(request, std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (path == "/v1/servers") {
    if (!get) {
      done(Unimplemented(request));
      return;
    }
    v1::ListServersResponse servers;
    for (const std::string& url : options_.cluster_http_urls) {
      servers.add_http_urls(url);
    }
    done(JsonResponse(servers));
    return;
  }
  if (path == "/v1/classes") {
    if (get) {
      ListClasses(request, std::move(done));
    } else if (request.method == "POST") {
      CreateClass(request, std::move(done));
    } else {
      done(Unimplemented(request));
    }
    return;
  }
  if (path == "/v1/circuits") {
    get ? ListCircuits(std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/circuits/")) {
    if (!OneSegment(path)) return done(NoSuchPath(request.target));
    get ? GetCircuit(std::string(path), std::move(done))
        : done(Unimplemented(request));
    return;
  }
  if (path == "/v1/kiosks") {
    get ? ListKiosks(request, std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (path == "/v1/kiosks:approve") {
    request.method == "POST" ? ApproveKiosk(request, std::move(done))
                             : done(Unimplemented(request));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/kiosks/")) {
    if (!absl::ConsumeSuffix(&path, ":revoke") || !OneSegment(path)) {
      return done(NoSuchPath(request.target));
    }
    request.method == "POST"
        ? RevokeKiosk(std::string(path), request, std::move(done))
        : done(Unimplemented(request));
    return;
  }
  if (path == "/v1/classes:join") {
    request.method == "POST" ? Join(request, std::move(done))
                             : done(Unimplemented(request));
    return;
  }
  if (path == "/v1/signIn") {
    request.method == "POST" ? SignIn(request, std::move(done))
                             : done(Unimplemented(request));
    return;
  }
  if (HandleProfiles(path, request, &done)) return;
  if (path == "/v1/me") {
    get ? WhoAmI(request, std::move(done)) : done(Unimplemented(request));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/accounts/")) {
    if (!absl::ConsumeSuffix(&path, ":issueSignInCode") || path.empty() ||
        absl::StrContains(path, '/')) {
      done(NoSuchPath(request.target));
    } else {
      request.method == "POST"
          ? IssueSignInCode(std::string(path), request, std::move(done))
          : done(Unimplemented(request));
    }
    return;
  }
  if (path == "/v1/kioskPairings") {
    request.method == "POST" ? StartPairing(request, std::move(done))
                             : done(Unimplemented(request));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/kioskPairings/")) {
    if (path.empty() || absl::StrContains(path, '/')) {
      done(NoSuchPath(request.target));
    } else {
      get ? GetPairing(std::string(path), request, std::move(done))
          : done(Unimplemented(request));
    }
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/classes:byJoinCode/")) {
    if (!get) return done(Unimplemented(request));
    if (options_.lookup_limiter != nullptr &&
        !options_.lookup_limiter->Allow(request.peer, options_.clock->Now())) {
      return done(ErrorResponse(absl::ResourceExhaustedError(kTooManyLookups)));
    }
    GetClass("", std::string(path), std::move(done));
    return;
  }
  if (absl::ConsumePrefix(&path, "/v1/classes/")) {
    // {class}/participants/{participant}:{action}
    std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
    if (parts.size() == 3 && parts[1] == "participants" && !parts[0].empty()) {
      const size_t colon = parts[2].rfind(':');
      if (colon != absl::string_view::npos && colon > 0) {
        const absl::string_view action = parts[2].substr(colon + 1);
        if (action == "eraseHealthData") {
          request.method == "POST"
              ? EraseHealthData(std::string(parts[0]),
                                std::string(parts[2].substr(0, colon)), request,
                                std::move(done))
              : done(Unimplemented(request));
          return;
        }
        Seat(std::string(parts[0]), std::string(parts[2].substr(0, colon)),
             action, request, std::move(done));
        return;
      }
    }
    if (parts.size() == 2 && parts[1] == "summary" && !parts[0].empty()) {
      get ? Summary(std::string(parts[0]), request, std::move(done))
          : done(Unimplemented(request));
      return;
    }
    if (absl::ConsumeSuffix(&path, ":command")) {
      // The class id, and only POST serves it.
      if (!OneSegment(path)) return done(NoSuchPath(request.target));
      request.method == "POST"
          ? Command(std::string(path), request, std::move(done))
          : done(Unimplemented(request));
      return;
    }
    const bool watch = absl::ConsumeSuffix(&path, ":watch");
    const bool run = !watch && absl::ConsumeSuffix(&path, ":run");
    const bool exported =
        !watch && !run && absl::ConsumeSuffix(&path, ":export");
    // `path` is now the class id: one segment, and only GET serves it.
    if (path.empty() || absl::StrContains(path, '/')) {
      done(NoSuchPath(request.target));
      return;
    }
    if (!get) {
      done(Unimplemented(request));
      return;
    }
    if (watch) {
      Watch(std::string(path), request, std::move(done));
    } else if (run) {
      Run(std::string(path), request, std::move(done));
    } else if (exported) {
      Export(std::string(path), request, std::move(done));
    } else {
      GetClass(std::string(path), "", std::move(done));
    }
    return;
  }
  done(NoSuchPath(path));
}

void HttpApi::Page(absl::string_view name, Done done) {
  std::optional<std::string> bytes = static_files_.Read(name);
  if (!bytes.has_value()) {
    done(NoSuchPath(absl::StrCat("/static/", name)));
    return;
  }
  HttpResponse response;
  response.content_type = StaticFiles::ContentType(name);
  response.body = std::move(*bytes);
  response.headers = {{"Content-Security-Policy", page_policy_},
                      {"Referrer-Policy", "no-referrer"},
                      {"X-Frame-Options", "DENY"}};
  done(std::move(response));
}

void HttpApi::Clock(const HttpRequest& request, Done done) {
  v1::GetClockResponse response;
  response.set_server_receive_unix_ms(options_.clock->NowUnixMs());
  std::optional<std::string> sent =
      QueryValue(request.target, "clientSendUnixMs");
  if (!sent.has_value())
    sent = QueryValue(request.target, "client_send_unix_ms");
  if (sent.has_value()) {
    int64_t t0 = 0;
    if (!absl::SimpleAtoi(*sent, &t0)) {
      done(ErrorResponse(
          absl::InvalidArgumentError("clientSendUnixMs is a number of "
                                     "milliseconds")));
      return;
    }
    response.set_client_send_unix_ms(t0);
  }
  response.set_server_send_unix_ms(options_.clock->NowUnixMs());
  done(JsonResponse(response));
}

bool HttpApi::Authenticated(const HttpRequest& request, Done* done,
                            Principal* who) {
  const std::string token = BearerOf(request.authorization);
  if (token.empty()) {
    (*done)(ErrorResponse(absl::UnauthenticatedError(
        "this needs a kiosk credential or an instructor's: "
        "Authorization: Bearer <credential>")));
    return false;
  }
  if (absl::Status status = Authenticate(token, options_.keys, who);
      !status.ok()) {
    (*done)(ErrorResponse(status));
    return false;
  }
  return true;
}

std::shared_ptr<ClassActor> HttpApi::LiveClass(
    const std::string& class_id, const HttpRequest& request,
    absl::Status (*may)(const Principal&, const v1::ClassInfo&), Done* done,
    Principal* who) {
  if (!Authenticated(request, done, who)) return nullptr;
  std::shared_ptr<ClassActor> actor = options_.registry->Find(class_id);
  if (actor == nullptr) {
    (*done)(ErrorResponse(options_.registry->NotHere(class_id, "")));
    return nullptr;
  }
  if (absl::Status allowed = may(*who, actor->Info()); !allowed.ok()) {
    (*done)(ErrorResponse(allowed));
    return nullptr;
  }
  return actor;
}

void HttpApi::ListClasses(const HttpRequest& request, Done done) {
  Principal who;
  if (!Authenticated(request, &done, &who)) return;
  const std::optional<std::string> all =
      QueryValue(request.target, "includeEnded");
  v1::ListClassesResponse response;
  for (v1::ClassInfo& info :
       options_.registry->List(all.has_value() && *all == "true")) {
    if (MayWatchClass(who, info).ok()) {
      *response.add_classes() = std::move(info);
    }
  }
  done(JsonResponse(response));
}

void HttpApi::Watch(const std::string& class_id, const HttpRequest& request,
                    Done done) {
  Principal who;
  std::shared_ptr<ClassActor> actor =
      LiveClass(class_id, request, &MayWatchClass, &done, &who);
  if (actor == nullptr) return;
  absl::StatusOr<int64_t> last_seq = ResumeFrom(request);
  if (!last_seq.ok()) {
    done(ErrorResponse(last_seq.status()));
    return;
  }
  std::shared_ptr<EventStream> events = EventStream::Create(
      EventStream::Kind::kWatch, options_.max_queued_per_stream,
      &ProcessStats().open_http_kiosks);
  if (options_.keys.kiosks != nullptr && who.role == Principal::Role::kKiosk &&
      who.subject != "studio-kiosk") {
    // A paired TV's stream ends when the TV is revoked.
    options_.keys.kiosks->Track(who.subject, events->stream());
  }
  if (options_.credential_streams != nullptr) {
    // An account's, console's or class credential's stream ends when the
    // credential is revoked or reissued.
    options_.credential_streams->Track(who, BearerOf(request.authorization),
                                       events->stream());
  }
  actor->AttachKiosk(events->stream(), *last_seq);
  done(EventsResponse(std::move(events)));
}

void HttpApi::GetClass(const std::string& class_id,
                       const std::string& join_code, Done done) {
  v1::GetClassRequest request;
  if (!join_code.empty()) {
    request.set_join_code(join_code);
  } else {
    request.set_class_id(class_id);
  }
  DescribeClass(
      options_.registry, options_.clock, request,
      [done = std::move(done)](absl::Status status,
                               v1::GetClassResponse response) mutable {
        done(status.ok() ? JsonResponse(response) : ErrorResponse(status));
      });
}

}  // namespace circuit
