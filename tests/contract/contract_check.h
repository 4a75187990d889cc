#ifndef CIRCUIT_TESTS_CONTRACT_CONTRACT_CHECK_H_
#define CIRCUIT_TESTS_CONTRACT_CONTRACT_CHECK_H_

// The contract guard: what a change to the protos breaks for apps already
// built against the landed contract.

#include <string>
#include <vector>

#include "google/protobuf/descriptor.pb.h"

namespace circuit::contract {

// Every way `current` breaks what `landed` promised, one line each: a
// message, field, enum, enum value, service or RPC that disappeared; a field
// whose number, name, type, cardinality, message or enum type, or oneof
// changed; an enum value renumbered; an RPC whose request, response or
// streaming changed. Additions break nothing. Empty when compatible.
std::vector<std::string> BreakingChanges(
    const google::protobuf::FileDescriptorSet& landed,
    const google::protobuf::FileDescriptorSet& current);

// The circuit.v1 files as compiled into this binary, dependencies first,
// without source locations: what the snapshot records.
google::protobuf::FileDescriptorSet CurrentContract();

}  // namespace circuit::contract

#endif  // CIRCUIT_TESTS_CONTRACT_CONTRACT_CHECK_H_
