#include "server/rpc/auth.h"

#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace circuit {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

bool SameSecret(const std::string& given, const std::string& expected) {
  if (expected.empty() || given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

}  // namespace

std::optional<std::string> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearer)) return std::nullopt;
  value.remove_prefix(kBearer.size());
  if (value.empty() || value.size() > 256) return std::nullopt;
  return std::string(value);
}

Credential IdentifyToken(const std::string& token, const AccessKeys& keys) {
  if (token.empty()) return Credential::kNone;
  if (SameSecret(token, keys.instructor_key)) return Credential::kInstructor;
  if (SameSecret(token, keys.kiosk_key)) return Credential::kKiosk;
  if (keys.kiosks != nullptr && keys.kiosks->IsKiosk(token)) {
    return Credential::kKiosk;
  }
  return Credential::kOther;
}

Credential Identify(const grpc::ServerContextBase& context,
                    const AccessKeys& keys) {
  std::optional<std::string> token = BearerToken(context);
  if (!token.has_value()) return Credential::kNone;
  return IdentifyToken(*token, keys);
}

grpc::Status RequireInstructor(const grpc::ServerContextBase& context,
                               const AccessKeys& keys) {
  switch (Identify(context, keys)) {
    case Credential::kInstructor:
      return grpc::Status::OK;
    case Credential::kKiosk:
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "a kiosk key cannot do this; it needs the "
                          "instructor key");
    case Credential::kNone:
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "send the instructor key as `authorization: "
                          "Bearer <key>` metadata");
    case Credential::kOther:
      break;
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "the credential is not the instructor key");
}

grpc::Status RequireInstructorOrKiosk(const grpc::ServerContextBase& context,
                                      const AccessKeys& keys) {
  switch (Identify(context, keys)) {
    case Credential::kInstructor:
    case Credential::kKiosk:
      return grpc::Status::OK;
    case Credential::kNone:
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "send the kiosk or instructor key as "
                          "`authorization: Bearer <key>` metadata");
    case Credential::kOther:
      break;
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "the credential is neither the kiosk nor the "
                      "instructor key");
}

}  // namespace circuit
