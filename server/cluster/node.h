#ifndef CIRCUIT_SERVER_CLUSTER_NODE_H_
#define CIRCUIT_SERVER_CLUSTER_NODE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/cluster/jetstream_journal.h"
#include "server/cluster/nats.h"
#include "server/common/data_cipher.h"
#include "server/live/cluster_link.h"

namespace circuit::cluster {

// The subject a node answers forwarded inputs on.
std::string NodeSubject(const std::string& node);

// A node's link to the rest of the cluster (ClusterLink), on NATS:
//   - forwarding: a request on circuit.node.<owner> to the node that owns the
//     class (as the journal's last look saw it), answered on an inbox of the
//     sender's; both sealed with the data keys, since a report carries
//     health data and NATS links are not encrypted;
//   - following: the class's log read through the journal's fence rules.
// Thread-safe.
class ClusterNode : public ClusterLink {
 public:
  struct Options {
    // How long a forwarded input waits for its owner's answer. An owner
    // answers once the input is durable, which a JetStream election (4-9 s)
    // can hold up.
    absl::Duration timeout = absl::Seconds(12);
    // Null: nothing is sealed (tests of other things).
    std::shared_ptr<const KeyRing> keys;
  };

  // Subscribes the node's inbox. `nats` and `journal` must outlive it.
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Start(
      Nats& nats, JetStreamJournal& journal, Options options);
  ~ClusterNode() override;

  // Stops forwarding and answering (before the journal closes): what waits
  // for an answer, and every later Forward, gets UNAVAILABLE. Idempotent.
  void Stop();

  const std::string& node() const override { return journal_.node(); }
  std::optional<Located> Locate(const std::string& class_id,
                                const std::string& join_code) override;
  std::vector<v1::ClassInfo> Listed() const override {
    return journal_.Listed();
  }
  void Forward(internal::Forwarded request, Replied done) override;
  void ServeForwarded(
      std::function<void(internal::Forwarded, Answer)> serve) override;
  absl::StatusOr<std::unique_ptr<Following>> Follow(
      const std::string& class_id,
      absl::AnyInvocable<void(const internal::ClassRecord&)> created,
      absl::AnyInvocable<void(internal::Entry)> taken) override;

  // What nats.c's callbacks hold (shared, so the last one frees it).
  struct Core;

 private:
  ClusterNode(Nats& nats, JetStreamJournal& journal, std::shared_ptr<Core> core)
      : nats_(nats), journal_(journal), core_(std::move(core)) {}

  Nats& nats_;
  JetStreamJournal& journal_;
  const std::shared_ptr<Core> core_;
  Subscription replies_;
  Subscription requests_;
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_NODE_H_
