#ifndef CIRCUIT_SERVER_RPC_STREAM_REACTORS_H_
#define CIRCUIT_SERVER_RPC_STREAM_REACTORS_H_

// How CircuitServiceImpl::ServeStreamsOn reaches the three stream reactors,
// each in its own file. Internal to rpc/.

#include "server/rpc/circuit_service.h"
#include "server/rpc/cq_call.h"

namespace circuit {

// Each waits for the next call of its method on `shard`.
void ListenForRunClass(CircuitServiceImpl* service, CqShard* shard);
void ListenForJoinClass(CircuitServiceImpl* service, CqShard* shard);
void ListenForWatchClass(CircuitServiceImpl* service, CqShard* shard);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_STREAM_REACTORS_H_
