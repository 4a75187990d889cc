#ifndef CIRCUIT_SERVER_FANOUT_WIRE_H_
#define CIRCUIT_SERVER_FANOUT_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "circuit/v1/live.pb.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/engine/class_session.h"

namespace circuit {

// Serializes `message` once into a ByteBuffer whose copies share the bytes.
grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message);

// Messages every role's stream carries, serialized once for all of them.
// RunClassResponse, JoinClassResponse and WatchClassResponse give
// server_time_unix_ms, event, progress and going_away the same field numbers
// (1, 3, 4, 6), so the same bytes parse as any of the three.
grpc::ByteBuffer EncodeEvent(const v1::ClassEvent& event, int64_t now_unix_ms);
grpc::ByteBuffer EncodeProgress(const v1::ClassProgress& progress,
                                int64_t now_unix_ms);
grpc::ByteBuffer EncodeGoingAway(const v1::GoingAway& going_away,
                                 int64_t now_unix_ms);

// The answers a class actor gives (ClassActor::Command and Report), as the
// contract carries them: the command's or report's seq, or the refusal's
// code and message. Every door builds them here, so they read the same over
// gRPC and HTTP.
v1::CommandResult CommandResultFor(const std::string& command_id,
                                   const absl::StatusOr<int64_t>& seq);
v1::ReportAck ReportAckFor(const std::string& report_id,
                           const absl::StatusOr<engine::ReportResult>& outcome);
// The same, as a RunClassResponse or JoinClassResponse's bytes.
grpc::ByteBuffer EncodeCommandResult(const v1::CommandResult& result,
                                     int64_t now_unix_ms);
grpc::ByteBuffer EncodeReportAck(const v1::ReportAck& ack, int64_t now_unix_ms);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_FANOUT_WIRE_H_
