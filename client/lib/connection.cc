#include "client/lib/connection.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace circuit::client {

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectOptions& options) {
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
  return grpc::CreateCustomChannel(options.address,
                                   grpc::InsecureChannelCredentials(), args);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
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

}  // namespace circuit::client
