#include "server/fanout/wire.h"

#include <grpc/slice.h>

#include "grpcpp/support/slice.h"

namespace circuit {

grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message) {
  size_t size = message.ByteSizeLong();
  grpc_slice raw = grpc_slice_malloc(size);
  message.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(raw));
  grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer EncodeEvent(const v1::ClassEvent& event, int64_t now_unix_ms) {
  v1::JoinClassResponse response;
  response.set_server_time_unix_ms(now_unix_ms);
  *response.mutable_event() = event;
  return ToByteBuffer(response);
}

grpc::ByteBuffer EncodeProgress(const v1::ClassProgress& progress,
                                int64_t now_unix_ms) {
  v1::JoinClassResponse response;
  response.set_server_time_unix_ms(now_unix_ms);
  *response.mutable_progress() = progress;
  return ToByteBuffer(response);
}

grpc::ByteBuffer EncodeGoingAway(const v1::GoingAway& going_away,
                                 int64_t now_unix_ms) {
  v1::JoinClassResponse response;
  response.set_server_time_unix_ms(now_unix_ms);
  *response.mutable_going_away() = going_away;
  return ToByteBuffer(response);
}

}  // namespace circuit
