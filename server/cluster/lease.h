#ifndef CIRCUIT_SERVER_CLUSTER_LEASE_H_
#define CIRCUIT_SERVER_CLUSTER_LEASE_H_

// Class ownership leases: a JetStream key-value bucket whose TTL is the
// lease length (on nats-server 2.9 a TTL is per bucket), history 1, one key
// per class whose value is the owner's node name. Taken with create, renewed
// with update on the revision. Internal to server/cluster/.

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/cluster/nats.h"

namespace circuit::cluster {

inline constexpr char kLeaseBucket[] = "circuit_leases";

// A lease as its holder knows it.
struct Held {
  // The revision it was taken at: the owner's term for the class's log. A
  // later owner's term is higher (revisions only grow).
  int64_t term = 0;
  // The revision of the last take or renewal, for the next renewal.
  uint64_t revision = 0;
  // When the holder must stop acting as owner: the time it sent the take or
  // renewal, plus the lease, minus a margin for clocks and pauses. Anyone
  // else may take the class once the bucket lets the key expire, which is
  // no earlier than that send time plus the lease.
  absl::Time act_until;
};

class LeaseBucket {
 public:
  // Opens the bucket, creating it with `replicas` copies and the lease as
  // its TTL when missing (at cluster set-up).
  static absl::StatusOr<std::unique_ptr<LeaseBucket>> Open(Nats& nats,
                                                           absl::Duration lease,
                                                           int replicas);
  ~LeaseBucket();

  absl::Duration lease() const { return lease_; }
  // How long before the lease runs out its holder stops acting.
  absl::Duration margin() const { return lease_ / 5; }

  // Takes `class_id` for `node` when nobody holds it. FAILED_PRECONDITION
  // when someone does (the message names the node).
  absl::StatusOr<Held> Take(const std::string& class_id,
                            const std::string& node);

  // Renews a held lease. FAILED_PRECONDITION when it was lost (it expired
  // and someone else took it, or it changed); UNAVAILABLE when the cluster
  // did not answer, and then the holder keeps acting only until
  // `held.act_until`.
  absl::StatusOr<Held> Renew(const std::string& class_id,
                             const std::string& node, const Held& held);

  // The node holding `class_id`; NOT_FOUND when nobody does. As a replica
  // knows it: it may lag a take or a release by a moment.
  absl::StatusOr<std::string> Holder(const std::string& class_id);

  // Gives a held lease up (a node that drains), so another node takes the
  // class at once rather than after the lease. Best effort.
  void Release(const std::string& class_id, const Held& held);

 private:
  LeaseBucket(kvStore* kv, absl::Duration lease) : kv_(kv), lease_(lease) {}

  kvStore* kv_;
  const absl::Duration lease_;
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_LEASE_H_
