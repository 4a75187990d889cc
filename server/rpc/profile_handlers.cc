// The kept-profile calls over gRPC: live/profile_access answers them; this
// file reads the credential and turns statuses into gRPC's.

#include <string>
#include <utility>

#include "server/live/profile_access.h"
#include "server/rpc/auth.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/grpc_status.h"

namespace circuit {
namespace {

absl::StatusOr<ProfileCaller> Caller(const grpc::ServerContextBase& context,
                                     const AccessKeys& keys,
                                     const ProfileBook& book) {
  return IdentifyProfileCaller(BearerToken(context).value_or(""), keys, book);
}

// Answers `reply` with a StatusOr's value or its status.
template <class Response>
auto Answer(UnaryReply<Response> reply) {
  return [reply](absl::StatusOr<Response> result) {
    if (!result.ok()) return reply.Fail(ToGrpcStatus(result.status()));
    reply.Ok(*result);
  };
}

}  // namespace

void CircuitServiceImpl::ServeGetMyProfile(grpc::ServerContext* context,
                                           const v1::GetMyProfileRequest&,
                                           UnaryReply<v1::Profile> reply) {
  absl::StatusOr<ProfileCaller> caller =
      Caller(*context, options_.keys, *registry_->profiles());
  if (!caller.ok()) return reply.Fail(ToGrpcStatus(caller.status()));
  Answer(reply)(RequireSelf(*caller));
}

void CircuitServiceImpl::ServeUpdateMyProfile(
    grpc::ServerContext* context, const v1::UpdateMyProfileRequest& request,
    UnaryReply<v1::Profile> reply) {
  absl::StatusOr<ProfileCaller> caller =
      Caller(*context, options_.keys, *registry_->profiles());
  if (!caller.ok()) return reply.Fail(ToGrpcStatus(caller.status()));
  ::circuit::UpdateMyProfile(registry_->profiles(), *caller, request,
                             Answer(reply));
}

void CircuitServiceImpl::ServeGetMyData(grpc::ServerContext* context,
                                        const v1::GetMyDataRequest&,
                                        UnaryReply<v1::MyData> reply) {
  absl::StatusOr<ProfileCaller> caller =
      Caller(*context, options_.keys, *registry_->profiles());
  if (!caller.ok()) return reply.Fail(ToGrpcStatus(caller.status()));
  ::circuit::GetMyData(registry_->profiles(), *caller, Answer(reply));
}

void CircuitServiceImpl::ServeEraseMyData(
    grpc::ServerContext* context, const v1::EraseMyDataRequest& request,
    UnaryReply<v1::EraseMyDataResponse> reply) {
  absl::StatusOr<ProfileCaller> caller =
      Caller(*context, options_.keys, *registry_->profiles());
  if (!caller.ok()) return reply.Fail(ToGrpcStatus(caller.status()));
  ::circuit::EraseMyData(registry_, *caller, request, Answer(reply));
}

void CircuitServiceImpl::ServeRevokeProfileCredential(
    grpc::ServerContext* context,
    const v1::RevokeProfileCredentialRequest& request,
    UnaryReply<v1::Profile> reply) {
  absl::StatusOr<ProfileCaller> caller =
      Caller(*context, options_.keys, *registry_->profiles());
  if (!caller.ok()) return reply.Fail(ToGrpcStatus(caller.status()));
  ::circuit::RevokeProfileCredential(registry_->profiles(), *caller, request,
                                     Answer(reply));
}

void CircuitServiceImpl::ServeGetProgress(grpc::ServerContext* context,
                                          const v1::GetProgressRequest& request,
                                          UnaryReply<v1::Progress> reply) {
  absl::StatusOr<ProfileCaller> caller =
      Caller(*context, options_.keys, *registry_->profiles());
  if (!caller.ok()) return reply.Fail(ToGrpcStatus(caller.status()));
  ::circuit::GetProgress(registry_, *caller, request, Answer(reply));
}

}  // namespace circuit
