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

v1::CommandResult CommandResultFor(const std::string& command_id,
                                   const absl::StatusOr<int64_t>& seq) {
  v1::CommandResult result;
  result.set_command_id(command_id);
  if (seq.ok()) {
    result.set_seq(*seq);
  } else {
    result.set_code(static_cast<int>(seq.status().code()));
    result.set_message(std::string(seq.status().message()));
  }
  return result;
}

v1::ReportAck ReportAckFor(
    const std::string& report_id,
    const absl::StatusOr<engine::ReportResult>& outcome) {
  v1::ReportAck ack;
  ack.set_report_id(report_id);
  if (outcome.ok()) {
    ack.set_seq(outcome->seq);
    ack.set_duplicate(outcome->duplicate);
  } else {
    ack.set_code(static_cast<int>(outcome.status().code()));
    ack.set_message(std::string(outcome.status().message()));
  }
  return ack;
}

grpc::ByteBuffer EncodeCommandResult(const v1::CommandResult& result,
                                     int64_t now_unix_ms) {
  v1::RunClassResponse response;
  response.set_server_time_unix_ms(now_unix_ms);
  *response.mutable_command_result() = result;
  return ToByteBuffer(response);
}

grpc::ByteBuffer EncodeReportAck(const v1::ReportAck& ack,
                                 int64_t now_unix_ms) {
  v1::JoinClassResponse response;
  response.set_server_time_unix_ms(now_unix_ms);
  *response.mutable_ack() = ack;
  return ToByteBuffer(response);
}

}  // namespace circuit
