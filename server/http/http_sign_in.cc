// Signing in to the browser console over HTTP (server/http/API.md): a
// one-time sign-in code or an account credential answers a console
// credential; an admin issues codes. The same SignIns the gRPC door's
// SignIn and IssueSignInCode use.

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/stats.h"
#include "server/http/http_api.h"

namespace circuit {
namespace {

HttpResponse NoSignIn() {
  return ErrorResponse(
      absl::UnavailableError("this server offers no console sign-in"));
}

}  // namespace

void HttpApi::SignIn(const HttpRequest& request, Done done) {
  if (options_.sign_ins == nullptr) return done(NoSignIn());
  v1::SignInRequest sign_in;
  if (!request.body.empty()) {
    if (absl::Status parsed = ParseJsonBody(request.body, &sign_in);
        !parsed.ok()) {
      return done(ErrorResponse(parsed));
    }
  }
  // Codes are guessed no faster than join codes.
  if (options_.lookup_limiter != nullptr &&
      !options_.lookup_limiter->Allow(request.peer, options_.clock->Now())) {
    return done(ErrorResponse(absl::ResourceExhaustedError(kTooManySignIns)));
  }
  absl::StatusOr<v1::SignInResponse> signed_in = options_.sign_ins->SignIn(
      sign_in, BearerOf(request.authorization), options_.keys);
  done(signed_in.ok() ? JsonResponse(*signed_in)
                      : ErrorResponse(signed_in.status()));
}

void HttpApi::WhoAmI(const HttpRequest& request, Done done) {
  if (options_.sign_ins == nullptr) return done(NoSignIn());
  absl::StatusOr<v1::SignInResponse> who =
      options_.sign_ins->WhoIs(BearerOf(request.authorization), options_.keys);
  done(who.ok() ? JsonResponse(*who) : ErrorResponse(who.status()));
}

void HttpApi::IssueSignInCode(const std::string& account_id,
                              const HttpRequest& request, Done done) {
  Principal who;
  if (!Authenticated(request, &done, &who)) return;
  if (options_.sign_ins == nullptr) return done(NoSignIn());
  v1::IssueSignInCodeRequest issue;
  if (!request.body.empty()) {
    if (absl::Status parsed = ParseJsonBody(request.body, &issue);
        !parsed.ok()) {
      return done(ErrorResponse(parsed));
    }
  }
  if (!issue.account_id().empty() && issue.account_id() != account_id) {
    return done(ErrorResponse(absl::InvalidArgumentError(
        "the body names another account than the path")));
  }
  issue.set_account_id(account_id);
  absl::StatusOr<v1::SignInCode> code = options_.sign_ins->Issue(who, issue);
  if (!code.ok()) return done(ErrorResponse(code.status()));
  LogInfo("sign-in code for account %s issued by %s over HTTP",
          code->account_id().c_str(), who.subject.c_str());
  done(JsonResponse(*code));
}

}  // namespace circuit
