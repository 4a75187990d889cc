#ifndef CIRCUIT_SERVER_RPC_UNARY_CALL_H_
#define CIRCUIT_SERVER_RPC_UNARY_CALL_H_

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "server/fanout/wire.h"

namespace circuit {

// The answer to one unary call that is served raw: the handler works with
// typed messages, and the response is serialized here, before the call
// finishes. Copyable (two pointers), so it can ride in a callback that
// answers later from a class actor. Exactly one of Ok or Fail is called,
// once.
template <class Response>
class UnaryReply {
 public:
  UnaryReply(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* out)
      : reactor_(reactor), out_(out) {}

  void Ok(const Response& response) const {
    *out_ = ToByteBuffer(response);
    reactor_->Finish(grpc::Status::OK);
  }
  // `status` is not OK.
  void Fail(const grpc::Status& status) const { reactor_->Finish(status); }
  // Ok(response) when `status` is OK, Fail(status) otherwise.
  void Finish(const grpc::Status& status, const Response& response) const {
    if (status.ok()) {
      Ok(response);
    } else {
      Fail(status);
    }
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  grpc::ByteBuffer* out_;
};

// Serves a unary method registered raw (WithRawCallbackMethod_*): parses the
// request itself so that bytes which are not the method's request message
// get INVALID_ARGUMENT saying so (gRPC's typed handlers answer them with a
// bare UNIMPLEMENTED), then calls `(service->*handler)(context, request,
// reply)`.
template <class Service, class Request, class Response>
grpc::ServerUnaryReactor* ServeUnary(
    Service* service,
    void (Service::*handler)(grpc::CallbackServerContext*, const Request&,
                             UnaryReply<Response>),
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  // An empty message may come as no buffer at all.
  if (request_bytes != nullptr && request_bytes->Valid()) {
    grpc::ByteBuffer bytes(*request_bytes);  // shares the slices
    grpc::ProtoBufferReader reader(&bytes);
    if (!request.ParseFromZeroCopyStream(&reader)) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat(
              "the request (", bytes.Length(), " bytes) does not parse as a ",
              Request::descriptor()->full_name(),
              "; is the client built from circuit/v1/service.proto?")));
      return reactor;
    }
  }
  (service->*handler)(context, request,
                      UnaryReply<Response>(reactor, response_bytes));
  return reactor;
}

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_UNARY_CALL_H_
