#include "client/lib/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "server/common/tls.h"

namespace circuit::client {
namespace {

// gRPC 1.51 reports a failed TLS handshake as UNAVAILABLE "failed to connect
// to all addresses", with the handshaker's words after it.
bool IsTlsHandshakeFailure(const std::string& message) {
  for (const char* mark : {"andshake", "SSL", "TLS", "ertificate"}) {
    if (absl::StrContains(message, mark)) return true;
  }
  return false;
}

}  // namespace

std::string ChannelTarget(const std::string& address) {
  if (!absl::StrContains(address, ',')) return address;
  std::vector<std::string> parts =
      absl::StrSplit(address, ',', absl::SkipWhitespace());
  for (std::string& part : parts) {
    part = std::string(absl::StripAsciiWhitespace(part));
  }
  if (parts.empty()) return address;
  auto all = [&](auto is) {
    return std::all_of(parts.begin(), parts.end(), is);
  };
  // host:port with an IPv4 literal, or [IPv6]:port.
  const bool ipv4 = all([](const std::string& p) {
    const size_t colon = p.rfind(':');
    in_addr ip;
    return colon != std::string::npos &&
           inet_pton(AF_INET, p.substr(0, colon).c_str(), &ip) == 1;
  });
  const bool ipv6 = all([](const std::string& p) {
    const size_t close = p.rfind("]:");
    in6_addr ip;
    return !p.empty() && p[0] == '[' && close != std::string::npos &&
           inet_pton(AF_INET6, p.substr(1, close - 1).c_str(), &ip) == 1;
  });
  if (ipv4) return absl::StrCat("ipv4:", absl::StrJoin(parts, ","));
  if (ipv6) return absl::StrCat("ipv6:", absl::StrJoin(parts, ","));
  return parts.front();
}

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectOptions& options) {
  const std::string target = ChannelTarget(options.address);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.keepalive)));
  args.SetInt(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Each connection its own TCP connection, as each phone has: channels in
  // one process otherwise share them.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect attempts of the channel itself; the sessions add their own
  // backoff on top for streams.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  if (!options.tls.has_value()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls->ca_pem;
  ssl.pem_private_key = options.tls->key_pem;
  ssl.pem_cert_chain = options.tls->cert_pem;
  if (!options.tls->server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls->server_name);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

absl::StatusOr<ClientTls> LoadClientTls(const std::string& ca_path,
                                        const std::string& cert_path,
                                        const std::string& key_path,
                                        const std::string& server_name) {
  ClientTls tls;
  tls.server_name = server_name;
  if (cert_path.empty() != key_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key go together (a client certificate and its "
        "key)");
  }
  if (!cert_path.empty()) {
    // The server's own checks read the same way: a chain, and its key.
    TlsFiles files;
    files.cert_path = cert_path;
    files.key_path = key_path;
    absl::StatusOr<TlsIdentity> identity = LoadTlsIdentity(files);
    if (!identity.ok()) return identity.status();
    tls.cert_pem = std::move(identity->cert_pem);
    tls.key_pem = std::move(identity->key_pem);
  }
  if (!ca_path.empty()) {
    absl::StatusOr<std::string> ca = LoadPemCertificates("--tls_ca", ca_path);
    if (!ca.ok()) return ca.status();
    tls.ca_pem = std::move(*ca);
  }
  return tls;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const std::string& message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      IsTlsHandshakeFailure(message)) {
    const char* why =
        absl::StrContains(message, "certificate verify failed")
            ? "circuitd's certificate is not signed by a CA this client "
              "trusts (--tls_ca), or it has expired"
        : absl::StrContains(message, "Peer name")
            ? "circuitd's certificate does not carry the host name in "
              "--address (--tls_server_name names the one it carries)"
            : "circuitd refused this client's certificate, or does not "
              "speak TLS";
    return absl::UnavailableError(absl::StrCat(
        "TLS handshake with circuitd failed: ", why, " (gRPC: ", message, ")"));
  }
  // A server that ends the connection while it is being set up: in TLS 1.3
  // a refused client certificate shows this way, and so does a plaintext
  // client at a TLS port.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::StrContains(message, "failed to connect to all addresses") &&
      absl::StrContains(message, "Socket closed")) {
    return absl::UnavailableError(absl::StrCat(
        "circuitd closed the connection while it was being set up, as it "
        "does in the TLS handshake when it refuses this client's certificate "
        "(--tls_cert not signed by its --tls_client_ca) or when it speaks TLS "
        "and this client does not (--tls_ca) (gRPC: ",
        message, ")"));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

void Authorize(grpc::ClientContext* context, const std::string& secret) {
  if (!secret.empty())
    context->AddMetadata("authorization", "Bearer " + secret);
}

ClockSample SampleFromTimestamps(int64_t t0, int64_t t1, int64_t t2,
                                 int64_t t3) {
  ClockSample sample;
  // Halve the sum, not each term, so odd sums round the same way.
  sample.offset_ms = ((t1 - t0) + (t2 - t3)) / 2;
  sample.delay_ms = std::max<int64_t>(0, (t3 - t0) - (t2 - t1));
  return sample;
}

Connection::Connection(ConnectOptions options)
    : options_(std::move(options)),
      channel_(MakeChannel(options_)),
      stub_(v1::CircuitService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(
    const std::string& secret) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_timeout));
  Authorize(context.get(), secret);
  return context;
}

absl::StatusOr<v1::ListCircuitsResponse> Connection::ListCircuits() const {
  auto context = NewContext();
  v1::ListCircuitsResponse response;
  grpc::Status status =
      stub_->ListCircuits(context.get(), v1::ListCircuitsRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ClassInfo> Connection::CreateClass(
    const std::string& instructor_key, const std::string& circuit_id,
    const std::string& title) const {
  auto context = NewContext(instructor_key);
  v1::CreateClassRequest request;
  request.set_circuit_id(circuit_id);
  request.set_title(title);
  v1::CreateClassResponse response;
  grpc::Status status = stub_->CreateClass(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.class_info();
}

bool LooksLikeJoinCode(const std::string& ref) {
  if (ref.size() != 6) return false;
  return std::all_of(ref.begin(), ref.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c));
  });
}

absl::StatusOr<v1::GetClassResponse> Connection::GetClass(
    const std::string& ref) const {
  auto context = NewContext();
  v1::GetClassRequest request;
  if (LooksLikeJoinCode(ref)) {
    request.set_join_code(ref);
  } else {
    request.set_class_id(ref);
  }
  v1::GetClassResponse response;
  grpc::Status status = stub_->GetClass(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<std::vector<v1::ClassInfo>> Connection::ListClasses(
    const std::string& key, bool include_ended) const {
  auto context = NewContext(key);
  v1::ListClassesRequest request;
  request.set_include_ended(include_ended);
  v1::ListClassesResponse response;
  grpc::Status status = stub_->ListClasses(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return std::vector<v1::ClassInfo>(response.classes().begin(),
                                    response.classes().end());
}

absl::StatusOr<ClockSample> Connection::SampleClock() const {
  auto context = NewContext();
  v1::GetClockRequest request;
  request.set_client_send_unix_ms(options_.clock->NowUnixMs());
  v1::GetClockResponse response;
  grpc::Status status = stub_->GetClock(context.get(), request, &response);
  int64_t t3 = options_.clock->NowUnixMs();
  if (!status.ok()) return FromGrpcStatus(status);
  return SampleFromTimestamps(response.client_send_unix_ms(),
                              response.server_receive_unix_ms(),
                              response.server_send_unix_ms(), t3);
}

absl::StatusOr<ClockSample> Connection::EstimateClockOffset(int samples) const {
  absl::StatusOr<ClockSample> best =
      absl::UnavailableError("no clock samples taken");
  for (int i = 0; i < std::max(1, samples); ++i) {
    absl::StatusOr<ClockSample> sample = SampleClock();
    if (!sample.ok()) return sample.status();
    if (!best.ok() || sample->delay_ms < best->delay_ms) best = sample;
  }
  return best;
}

std::string FindKey(const std::string& role, const std::string& given,
                    const std::string& data_dir) {
  if (!given.empty()) return given;
  const std::string env_name =
      role == "kiosk" ? "CIRCUIT_KIOSK_KEY" : "CIRCUIT_INSTRUCTOR_KEY";
  if (const char* env = std::getenv(env_name.c_str()); env && *env) return env;
  std::ifstream in(data_dir + "/" + role + ".key");
  std::string key;
  std::getline(in, key);
  return key;
}

}  // namespace circuit::client
