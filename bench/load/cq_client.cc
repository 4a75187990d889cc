#include "bench/load/cq_client.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/load/attack.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace circuit::bench {

std::string StatusText(const grpc::Status& status) {
  static const char* const kCodes[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  const int code = static_cast<int>(status.error_code());
  std::string name =
      code >= 0 && code <= 16 ? kCodes[code] : absl::StrCat("code ", code);
  if (status.error_message().empty()) return name;
  return absl::StrCat(name, ": ", status.error_message());
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address, int salt,
                                          const std::string& source) {
  if (!source.empty()) {
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon != std::string::npos &&
        absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      std::shared_ptr<grpc::Channel> channel =
          ChannelFrom(source, address.substr(0, colon), port);
      // A failed connection: a channel that fails its calls, so the join
      // fails as any other would.
      if (channel != nullptr) return channel;
    }
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("circuit.bench.connection", salt);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

}  // namespace circuit::bench
