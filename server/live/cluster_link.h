#ifndef CIRCUIT_SERVER_LIVE_CLUSTER_LINK_H_
#define CIRCUIT_SERVER_LIVE_CLUSTER_LINK_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "circuit/internal/cluster.pb.h"
#include "circuit/internal/journal.pb.h"

namespace circuit {

// What a node of a cluster offers its classes (server/cluster/ implements
// it on NATS): the way to a class's owner, and the class logs of the classes
// other nodes own. A single node has none. Thread-safe.
class ClusterLink {
 public:
  virtual ~ClusterLink() = default;

  // This node's name.
  virtual const std::string& node() const = 0;

  // Where a class this node does not own is, by id (or, with an empty id,
  // by join code): its id and its owner ("" while it moves between nodes);
  // nullopt for a class that ended or that the cluster does not know.
  struct Located {
    std::string class_id;
    std::string owner;
  };
  virtual std::optional<Located> Locate(const std::string& class_id,
                                        const std::string& join_code) = 0;
  // Every class the cluster knows, ended ones included, from its directory
  // as this node last read it (every few seconds): a class is listed as it
  // was created until it ends, then with its final info. Never blocks.
  virtual std::vector<v1::ClassInfo> Listed() const = 0;

  // Sends an input to the owner of `request.class_id()` and hands its reply
  // to `done` (on a cluster thread): UNAVAILABLE when no owner answered in
  // time (the input may have been applied: a retry with the same report id
  // or client_join_id is answered as the first was).
  using Replied =
      absl::AnyInvocable<void(absl::StatusOr<internal::ForwardedReply>)>;
  virtual void Forward(internal::Forwarded request, Replied done) = 0;

  // Answers the inputs other nodes forward to this one: `serve` gets each
  // with the way to answer it. Set once, before the node serves.
  using Answer = absl::AnyInvocable<void(internal::ForwardedReply)>;
  virtual void ServeForwarded(
      std::function<void(internal::Forwarded, Answer)> serve) = 0;

  // Reads a class's log from its start and keeps reading it: `created` gets
  // the class's record first, then `taken` every entry every reader takes
  // (its fence's rules), in order, one at a time, on a cluster thread.
  // Reading stops when the handle is destroyed. Blocks for a JetStream call.
  class Following {
   public:
    virtual ~Following() = default;
    // Reads on from the last record read, on a new subscription: for a
    // reader that stopped getting records. Blocks for a JetStream call.
    virtual absl::Status Refresh() = 0;
  };
  virtual absl::StatusOr<std::unique_ptr<Following>> Follow(
      const std::string& class_id,
      absl::AnyInvocable<void(const internal::ClassRecord&)> created,
      absl::AnyInvocable<void(internal::Entry)> taken) = 0;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLUSTER_LINK_H_
