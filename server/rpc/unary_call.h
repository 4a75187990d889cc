#ifndef CIRCUIT_SERVER_RPC_UNARY_CALL_H_
#define CIRCUIT_SERVER_RPC_UNARY_CALL_H_

// The unary RPCs on the completion-queue shards (server/rpc/cq_call.h), raw:
// each call's request is parsed here, so that bytes which are not the
// method's request message get INVALID_ARGUMENT saying so (gRPC's typed
// handlers answer them with a bare UNIMPLEMENTED), and its response is
// serialized here.

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/status.h"
#include "server/fanout/wire.h"
#include "server/rpc/cq_call.h"

namespace circuit {

class CqUnaryCall;

// One unary method of a service, served raw on any number of shards.
struct UnaryMethod {
  using Responder = grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>;
  // Asks gRPC for the method's next call: the service's RequestX(context,
  // request, responder, cq, cq, tag).
  std::function<void(grpc::ServerContext*, grpc::ByteBuffer*, Responder*,
                     grpc::ServerCompletionQueue*, void*)>
      request;
  // Serves a call that arrived, on its shard's thread: answers it through
  // CqUnaryCall::Finish, at once or later from any thread, exactly once.
  std::function<void(CqUnaryCall*)> serve;
  // The call objects alive, waiting for a call or serving one (shutdown
  // waits for none to be left before it stops the shards).
  Outstanding* calls = nullptr;
};

// One call of a unary method on a shard. When it arrives, the next call of
// the method is asked for at once, so calls are served concurrently.
class CqUnaryCall final {
 public:
  // Asks for the next call of `method` on `shard`. Both must outlive it.
  static void Listen(const UnaryMethod* method, CqShard* shard) {
    new CqUnaryCall(method, shard);
  }

  grpc::ServerContext* context() { return &context_; }
  // The request's bytes; not valid when the message is empty.
  grpc::ByteBuffer* request() { return &request_; }

  // Answers the call: `response` when `status` is OK. Any thread, once.
  void Finish(const grpc::ByteBuffer& response, const grpc::Status& status) {
    if (status.ok()) {
      responder_.Finish(response, status, &finished_);
    } else {
      responder_.FinishWithError(status, &finished_);
    }
  }
  void Fail(const grpc::Status& status) { Finish(grpc::ByteBuffer(), status); }

 private:
  class Op final : public CqTag {
   public:
    Op(CqUnaryCall* call, void (CqUnaryCall::*fn)(bool))
        : call_(call), fn_(fn) {}
    void Proceed(bool ok) override { (call_->*fn_)(ok); }

   private:
    CqUnaryCall* const call_;
    void (CqUnaryCall::*const fn_)(bool);
  };

  CqUnaryCall(const UnaryMethod* method, CqShard* shard)
      : method_(method), shard_(shard), responder_(&context_) {
    method_->calls->Add();
    method_->request(&context_, &request_, &responder_, shard_->cq(),
                     &started_);
  }
  ~CqUnaryCall() { method_->calls->Done(); }

  void Started(bool ok) {
    if (!ok) {  // the server is shutting down: no call comes
      delete this;
      return;
    }
    Listen(method_, shard_);
    method_->serve(this);
  }
  void Finished(bool /*ok*/) { delete this; }

  const UnaryMethod* const method_;
  CqShard* const shard_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_;
  UnaryMethod::Responder responder_;
  Op started_{this, &CqUnaryCall::Started};
  Op finished_{this, &CqUnaryCall::Finished};
};

// The answer to one unary call, for a handler that works with typed
// messages. Copyable (a pointer), so it can ride in a callback that answers
// later from a class actor. Exactly one of Ok or Fail is called, once.
template <class Response>
class UnaryReply {
 public:
  explicit UnaryReply(CqUnaryCall* call) : call_(call) {}

  void Ok(const Response& response) const {
    call_->Finish(ToByteBuffer(response), grpc::Status::OK);
  }
  // `status` is not OK.
  void Fail(const grpc::Status& status) const { call_->Fail(status); }
  // Ok(response) when `status` is OK, Fail(status) otherwise.
  void Finish(const grpc::Status& status, const Response& response) const {
    if (status.ok()) {
      Ok(response);
    } else {
      Fail(status);
    }
  }

 private:
  CqUnaryCall* call_;
};

// Parses `call`'s request as a `Request`, or answers INVALID_ARGUMENT saying
// what was wrong and returns false.
template <class Request>
bool ParseUnaryRequest(CqUnaryCall* call, Request* request) {
  grpc::ByteBuffer* bytes = call->request();
  // An empty message may come as no buffer at all.
  if (!bytes->Valid()) return true;
  grpc::ProtoBufferReader reader(bytes);
  if (request->ParseFromZeroCopyStream(&reader)) return true;
  call->Fail(grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      absl::StrCat(
          "the request (", bytes->Length(), " bytes) does not parse as a ",
          Request::descriptor()->full_name(), "; is the client built from ",
          Request::descriptor()->file()->name(), "?")));
  return false;
}

// A UnaryMethod that parses the request and calls `(service->*handler)(
// context, request, reply)`. `request` is the service's RequestX (a member
// of the raw async method mix-in `Base` that `Service` derives from).
template <class Service, class Base, class Request, class Response>
UnaryMethod ServeRaw(
    Service* service,
    void (Base::*request)(grpc::ServerContext*, grpc::ByteBuffer*,
                          UnaryMethod::Responder*, grpc::CompletionQueue*,
                          grpc::ServerCompletionQueue*, void*),
    void (Service::*handler)(grpc::ServerContext*, const Request&,
                             UnaryReply<Response>),
    Outstanding* calls) {
  UnaryMethod method;
  method.request = [service, request](
                       grpc::ServerContext* context, grpc::ByteBuffer* bytes,
                       UnaryMethod::Responder* responder,
                       grpc::ServerCompletionQueue* cq, void* tag) {
    (static_cast<Base*>(service)->*request)(context, bytes, responder, cq, cq,
                                            tag);
  };
  method.serve = [service, handler](CqUnaryCall* call) {
    Request parsed;
    if (!ParseUnaryRequest(call, &parsed)) return;
    (service->*handler)(call->context(), parsed, UnaryReply<Response>(call));
  };
  method.calls = calls;
  return method;
}

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_UNARY_CALL_H_
