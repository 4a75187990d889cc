#include "server/rpc/auth.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/rpc/grpc_status.h"

namespace circuit {
namespace {

constexpr absl::string_view kBearer = "Bearer ";
// Signed credentials are a few hundred bytes; anything much longer is not
// one of ours.
constexpr size_t kMaxToken = 4096;

}  // namespace

std::optional<std::string> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearer)) return std::nullopt;
  value.remove_prefix(kBearer.size());
  if (value.empty() || value.size() > kMaxToken) return std::nullopt;
  return std::string(value);
}

grpc::Status Authenticate(const grpc::ServerContextBase& context,
                          const AccessKeys& keys, Principal* who) {
  return ToGrpcStatus(
      Authenticate(BearerToken(context).value_or(""), keys, who));
}

}  // namespace circuit
