#ifndef CIRCUIT_CLIENT_LIB_CONNECTION_H_
#define CIRCUIT_CLIENT_LIB_CONNECTION_H_

// A connection to circuitd: one channel with keepalive, and the unary calls
// with a deadline and the right credential.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "server/common/clock.h"

namespace circuit::client {

// TLS to circuitd (circuitd --tls_cert): whom to trust, and optionally a
// certificate of this client's own (a studio device's, for a circuitd with
// --tls_client_ca).
struct ClientTls {
  // PEM of the CA(s) that sign circuitd's certificate; empty: the system's
  // trusted roots.
  std::string ca_pem;
  // This client's certificate chain and key (PEM); both or neither.
  std::string cert_pem;
  std::string key_pem;
  // The name circuitd's certificate must carry, when it is not the host of
  // the address (an IP address the certificate does not list, say).
  std::string server_name;
};

// Reads the PEM files for ClientTls (empty paths are left out), and checks
// that the CA and certificate parse and the key is the certificate's.
// INVALID_ARGUMENT naming the flag (--tls_ca, --tls_cert, --tls_key) and
// the file.
absl::StatusOr<ClientTls> LoadClientTls(const std::string& ca_path,
                                        const std::string& cert_path,
                                        const std::string& key_path,
                                        const std::string& server_name);

struct ConnectOptions {
  // circuitd's host:port; for the nodes of a cluster, several IP addresses
  // ("10.0.0.1:50051,10.0.0.2:50051") or a DNS name with several records.
  // A connection uses one and moves to the next when it fails.
  std::string address = "127.0.0.1:50051";
  // TLS; none: plaintext (circuitd on loopback, or one run with --insecure).
  std::optional<ClientTls> tls;
  // The deadline of each unary call, and of opening a stream.
  absl::Duration call_timeout = absl::Seconds(5);
  // How often an idle connection is pinged; a peer that does not answer
  // within keepalive_timeout is taken as gone and the streams reconnect.
  // circuitd accepts pings every 10 s or more.
  absl::Duration keepalive = absl::Seconds(15);
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // This machine's clock. Tests inject a FakeClock.
  const Clock* clock = Clock::Real();
};

// The gRPC target for an --address: itself for one host:port or DNS name,
// "ipv4:a,b" (or "ipv6:") for several IP addresses; for several names, the
// first (gRPC resolves one name to several addresses, not several names).
std::string ChannelTarget(const std::string& address);

// A channel to `options.address` with keepalive and reconnect backoff set.
std::shared_ptr<grpc::Channel> MakeChannel(const ConnectOptions& options);

// grpc::Status to absl::Status; the codes share numbering. A connection
// that failed in its TLS handshake (gRPC says only that it could not
// connect, with the TLS detail at the end) keeps its UNAVAILABLE, with a
// message that says it is the certificate and what to check.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Adds `authorization: Bearer <secret>` when `secret` is not empty.
void Authorize(grpc::ClientContext* context, const std::string& secret);

// One offset sample (see GetClockResponse in service.proto).
struct ClockSample {
  // What to add to this machine's clock to get the server's.
  int64_t offset_ms = 0;
  // The round trip, without the server's own time.
  int64_t delay_ms = 0;
};

// The sample from the four timestamps t0 (client send), t1 (server receive),
// t2 (server send) and t3 (client receive).
ClockSample SampleFromTimestamps(int64_t t0, int64_t t1, int64_t t2,
                                 int64_t t3);

// The unary side of the service, with deadlines and credentials. Thread-safe.
class Connection {
 public:
  explicit Connection(ConnectOptions options);

  const ConnectOptions& options() const { return options_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  v1::CircuitService::Stub* stub() const { return stub_.get(); }

  // A context with the call deadline and `secret` as credential.
  std::unique_ptr<grpc::ClientContext> NewContext(
      const std::string& secret = "") const;

  absl::StatusOr<v1::ListCircuitsResponse> ListCircuits() const;
  absl::StatusOr<v1::ClassInfo> CreateClass(const std::string& instructor_key,
                                            const std::string& circuit_id,
                                            const std::string& title) const;
  // By class id, or by join code when `ref` looks like one.
  absl::StatusOr<v1::GetClassResponse> GetClass(const std::string& ref) const;
  absl::StatusOr<std::vector<v1::ClassInfo>> ListClasses(
      const std::string& key, bool include_ended) const;

  // One clock sample: t0 and t3 are read from options().clock (the real
  // clock unless injected), t1 and t2 come from the server's clock.
  absl::StatusOr<ClockSample> SampleClock() const;
  // The offset of the least-delayed of `samples` samples.
  absl::StatusOr<ClockSample> EstimateClockOffset(int samples = 5) const;

 private:
  ConnectOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CircuitService::Stub> stub_;
};

// Join codes are six characters from the alphabet without 0, O, 1 and I.
bool LooksLikeJoinCode(const std::string& ref);

// The key for `role` ("instructor" or "kiosk") as circuitd's own tools find
// it: `given` (a flag) when not empty, else CIRCUIT_INSTRUCTOR_KEY or
// CIRCUIT_KIOSK_KEY, else the file circuitd generated, <data_dir>/<role>.key;
// empty when none is found.
std::string FindKey(const std::string& role, const std::string& given,
                    const std::string& data_dir);

// One unary call of the service: `method` with `request`, as `key` (empty:
// no credential). The response, or the call's status as an absl::Status.
template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> CallUnary(const Connection& connection,
                                   const std::string& key, Method method,
                                   const Request& request) {
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(key);
  Response response;
  grpc::Status status =
      (connection.stub()->*method)(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_CONNECTION_H_
