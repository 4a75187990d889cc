#include "server/auth/sign_ins.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "circuit/internal/journal.pb.h"
#include "server/common/secrets.h"

namespace circuit {
namespace {

constexpr size_t kCodeLength = 10;

absl::Status UnknownCode() {
  return absl::UnauthenticatedError(
      "this sign-in code is unknown, expired or already used; ask your admin "
      "for a new one (circuit admin sign-in ACCOUNT)");
}

}  // namespace

SignIns::SignIns(Accounts* accounts, const Clock* clock, Options options)
    : accounts_(accounts),
      clock_(clock),
      options_(std::move(options)),
      console_base_url_(options_.console_base_url) {}

void SignIns::SetConsoleBaseUrl(std::string url) {
  absl::MutexLock lock(&mu_);
  console_base_url_ = std::move(url);
}

std::string SignIns::NormalizeCode(absl::string_view code) {
  std::string normal;
  normal.reserve(code.size());
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    normal.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return normal;
}

void SignIns::ForgetExpiredLocked(absl::Time now) {
  absl::erase_if(pending_, [now](const auto& entry) {
    return entry.second.expires <= now;
  });
}

absl::Status SignIns::ChangeCodes(absl::FunctionRef<absl::Status()> change) {
  if (options_.document == nullptr) return change();
  auto read =
      [this](const std::optional<std::string>& bytes)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            internal::StoredSignInCodes stored;
            if (bytes.has_value() && !stored.ParseFromString(*bytes)) {
              return absl::DataLossError(
                  "the cluster's sign-in codes do not parse");
            }
            pending_.clear();
            for (const auto& c : stored.codes()) {
              pending_[c.code_sha256()] = {
                  c.account_id(), absl::FromUnixMillis(c.expires_unix_ms())};
            }
            return absl::OkStatus();
          };
  auto write = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ForgetExpiredLocked(clock_->Now());
    internal::StoredSignInCodes stored;
    for (const auto& [hash, pending] : pending_) {
      internal::StoredSignInCodes::Code* c = stored.add_codes();
      c->set_code_sha256(hash);
      c->set_account_id(pending.account_id);
      c->set_expires_unix_ms(absl::ToUnixMillis(pending.expires));
    }
    return stored.SerializeAsString();
  };
  return ChangeDocument(*options_.document, read, change, write);
}

absl::StatusOr<v1::SignInCode> SignIns::Issue(
    const Principal& who, const v1::IssueSignInCodeRequest& request) {
  if (absl::Status may =
          MayManageAccount(who, *accounts_, request.account_id());
      !may.ok()) {
    return may;
  }
  absl::StatusOr<v1::Account> account = accounts_->Find(request.account_id());
  if (!account.ok()) return account.status();
  if (account->revoked_unix_ms() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "account ", account->account_id(), " is revoked; it cannot sign in"));
  }
  absl::Duration ttl = options_.default_code_ttl;
  if (request.ttl_seconds() != 0) {
    ttl = absl::Seconds(request.ttl_seconds());
    if (request.ttl_seconds() < 0 || ttl > options_.max_code_ttl) {
      return absl::InvalidArgumentError(
          absl::StrCat("a sign-in code may work 1 s to ",
                       absl::ToInt64Seconds(options_.max_code_ttl),
                       " s; ttl_seconds is ", request.ttl_seconds()));
    }
  }
  const std::string code = JoinCodeFromBytes(RandomBytes(kCodeLength));
  const absl::Time now = clock_->Now();
  std::string base_url;
  {
    absl::MutexLock lock(&mu_);
    base_url = console_base_url_;
    absl::Status issued = ChangeCodes([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      ForgetExpiredLocked(now);
      if (pending_.size() >= options_.max_pending) {
        return absl::ResourceExhaustedError(
            "too many sign-in codes are waiting to be used; try again once "
            "some have expired");
      }
      pending_[Sha256(code)] = {account->account_id(), now + ttl};
      return absl::OkStatus();
    });
    if (!issued.ok()) return issued;
  }
  v1::SignInCode issued;
  issued.set_account_id(account->account_id());
  issued.set_code(absl::StrCat(code.substr(0, 5), "-", code.substr(5)));
  issued.set_expires_unix_ms(absl::ToUnixMillis(now + ttl));
  if (!base_url.empty()) {
    issued.set_console_url(absl::StrCat(base_url, "/console#code=", code));
  }
  return issued;
}

absl::StatusOr<Principal> SignIns::ConsoleUser(const std::string& bearer,
                                               const AccessKeys& keys) const {
  if (bearer.empty()) {
    return absl::UnauthenticatedError(
        "sign in with a sign-in code, or send your account credential: "
        "Authorization: Bearer <credential>");
  }
  Principal who;
  if (absl::Status known = Authenticate(bearer, keys, &who); !known.ok()) {
    return known;
  }
  switch (who.role) {
    case Principal::Role::kBootstrap:
    case Principal::Role::kAdmin:
    case Principal::Role::kInstructor:
      return who;
    case Principal::Role::kClass:
      return absl::PermissionDeniedError(
          "a class credential cannot sign in to the console; it runs its "
          "class through the API or `circuit instruct`");
    default:
      return absl::PermissionDeniedError(
          "a kiosk credential cannot sign in to the console");
  }
}

absl::StatusOr<v1::SignInResponse> SignIns::SignIn(
    const v1::SignInRequest& request, const std::string& bearer,
    const AccessKeys& keys) {
  if (!request.sign_in_code().empty()) {
    const std::string code = NormalizeCode(request.sign_in_code());
    if (code.size() != kCodeLength) return UnknownCode();
    Pending used;
    {
      absl::MutexLock lock(&mu_);
      absl::Status taken =
          ChangeCodes([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            auto it = pending_.find(Sha256(code));
            if (it == pending_.end()) return UnknownCode();
            used = it->second;
            pending_.erase(it);  // used up, whatever comes next
            return absl::OkStatus();
          });
      if (!taken.ok()) return taken;
    }
    if (used.expires <= clock_->Now()) return UnknownCode();
    return accounts_->IssueConsoleCredential(used.account_id,
                                             options_.console_ttl);
  }
  absl::StatusOr<Principal> who = ConsoleUser(bearer, keys);
  if (!who.ok()) return who.status();
  if (who->role == Principal::Role::kBootstrap) {
    v1::SignInResponse response;
    response.set_credential(bearer);
    return response;
  }
  return accounts_->IssueConsoleCredential(who->subject, options_.console_ttl);
}

absl::StatusOr<v1::SignInResponse> SignIns::WhoIs(
    const std::string& bearer, const AccessKeys& keys) const {
  absl::StatusOr<Principal> who = ConsoleUser(bearer, keys);
  if (!who.ok()) return who.status();
  v1::SignInResponse response;
  if (who->role == Principal::Role::kBootstrap) return response;
  absl::StatusOr<v1::Account> account = accounts_->Find(who->subject);
  if (!account.ok()) return account.status();
  *response.mutable_account() = *std::move(account);
  return response;
}

}  // namespace circuit
