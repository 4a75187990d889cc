#ifndef CIRCUIT_SERVER_CLUSTER_SHARED_STATE_H_
#define CIRCUIT_SERVER_CLUSTER_SHARED_STATE_H_

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/cluster/nats.h"
#include "server/common/data_cipher.h"
#include "server/common/document.h"

namespace circuit::cluster {

inline constexpr char kStateBucket[] = "circuit_state";

// What every node of a cluster keeps the same besides the classes: the
// accounts, the signing keys and the paired TVs, each a Document kept whole
// as one key of the bucket circuit_state (history 1), sealed with the data
// key. A save is an update on the revision this node last read, read back
// before it is answered. A node learns of another's save from nats.c's
// watcher of the bucket (revisions only), which it opens again every
// `poll` in case a watcher stopped getting changes.
//
// Two saves racing on two nodes: one is ABORTED and its node reloads. On
// nats-server 2.9.10 (whose revision check is unsafe under concurrency)
// both updates can land; the read-back catches it unless the second lands
// after the first writer read back (a window of one round trip), and then
// the first writer's change is lost. Admin changes are rare and made by
// people; the class logs, which matter more, are fenced by their order
// instead (fence.h).
class SharedState {
 public:
  // Opens the bucket, creating it when missing (at cluster set-up).
  static absl::StatusOr<std::unique_ptr<SharedState>> Open(
      Nats& nats, int replicas, std::shared_ptr<const KeyRing> keys,
      absl::Duration poll = absl::Seconds(10));
  // Stops watching; the documents fail UNAVAILABLE from then on.
  ~SharedState();

  // The document kept as `name` (letters, digits, '-' and '_'). Before
  // Start; once a name.
  std::shared_ptr<Document> Get(const std::string& name);

  // Starts watching the documents (their Watch callbacks run on a thread
  // of this object's). Once, after every Get.
  absl::Status Start();

  class Doc;

 private:
  SharedState(std::unique_ptr<Bucket> bucket,
              std::shared_ptr<const KeyRing> keys, absl::Duration poll)
      : bucket_(std::move(bucket)), keys_(std::move(keys)), poll_(poll) {}
  // On the watcher's thread.
  void Watch() ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<Bucket> bucket_;
  const std::shared_ptr<const KeyRing> keys_;
  const absl::Duration poll_;
  std::vector<std::shared_ptr<Doc>> docs_;  // set before the watcher starts
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_SHARED_STATE_H_
