#ifndef CIRCUIT_SERVER_CLUSTER_NATS_H_
#define CIRCUIT_SERVER_CLUSTER_NATS_H_

// circuitd's connection to the cluster's NATS servers (nats.c), and the
// JetStream calls the cluster makes, as absl::Status. Internal to
// server/cluster/.

#include <nats/nats.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace circuit::cluster {

// The servers of --cluster: "nats://HOST:PORT[,nats://HOST:PORT...]".
// INVALID_ARGUMENT, saying which one, for anything else.
absl::StatusOr<std::vector<std::string>> ParseServers(absl::string_view flag);

// A nats.c status (and JetStream error code, when there is one) as an
// absl::Status naming `what` failed: UNAVAILABLE for a connection or a
// timeout (the cluster may come back), NOT_FOUND, ALREADY_EXISTS and
// FAILED_PRECONDITION (a wrong last sequence) for what they say, INTERNAL
// for the rest.
absl::Status NatsError(absl::string_view what, natsStatus status,
                       jsErrCode code = static_cast<jsErrCode>(0));

struct NatsOptions {
  std::vector<std::string> servers;
  // The connection's name in the servers' monitoring (the node's name).
  std::string name;
  // How long a JetStream request (a publish's ack, a stream or bucket call)
  // waits before it is answered UNAVAILABLE. A JetStream leader election
  // takes 4-9 s on nats-server 2.9.
  absl::Duration timeout = absl::Seconds(5);
};

// One connection to the cluster with its JetStream context. It reconnects
// on its own, for ever, to any of the servers. Thread-safe.
class Nats {
 public:
  // Connects, waiting up to `options.timeout` for a first server.
  static absl::StatusOr<std::unique_ptr<Nats>> Connect(NatsOptions options);
  ~Nats();
  Nats(const Nats&) = delete;
  Nats& operator=(const Nats&) = delete;

  natsConnection* connection() const { return connection_; }
  jsCtx* jetstream() const { return js_; }
  const NatsOptions& options() const { return options_; }

  // The stream sequence a publish landed at, or why it did not.
  using Published = absl::AnyInvocable<void(absl::StatusOr<uint64_t>)>;

  // Publishes `data` on `subject` (a stream's) without waiting. The stream
  // drops a message whose `msg_id` it has seen within its duplicate window
  // (and acks it with the first one's sequence), so a publish that timed out
  // may be made again with the same id. `done` runs on a nats.c thread once
  // the stream acked it or it failed (UNAVAILABLE after `options.timeout`:
  // it may have landed).
  void PublishAsync(const std::string& subject, const std::string& data,
                    const std::string& msg_id, Published done);

  // The same, waiting for the answer; `expect_no_message` makes it fail
  // (FAILED_PRECONDITION) when the subject has a message already: the one
  // expectation nats-server 2.9 checks safely under concurrent publishes.
  absl::StatusOr<uint64_t> Publish(const std::string& subject,
                                   const std::string& data,
                                   const std::string& msg_id,
                                   bool expect_no_message);

  // Runs `task` on the connection's timer thread after `delay` (a retry's
  // pause; nothing that blocks). Tasks still waiting when the connection is
  // destroyed are dropped.
  void After(absl::Duration delay, absl::AnyInvocable<void()> task);

 private:
  explicit Nats(NatsOptions options) : options_(std::move(options)) {}
  static void OnPubAck(jsCtx* js, natsMsg* msg, jsPubAck* ack,
                       jsPubAckErr* error, void* closure);

  NatsOptions options_;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;

  void RunTimers();

  absl::Mutex mu_;
  // Timed tasks by when they are due; the timer thread runs them.
  std::multimap<absl::Time, absl::AnyInvocable<void()>> timers_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_thread_;
  // Async publishes waiting for their ack, by message id; a second publish
  // of the same id while the first waits gets its answer too.
  absl::flat_hash_map<std::string, std::vector<Published>> pending_
      ABSL_GUARDED_BY(mu_);
};

// Creates the file-backed stream `name` on `subjects` (e.g. "circuit.class.>")
// with `replicas` copies when it is missing (at cluster set-up: on
// nats-server 2.9 an R3 stream cannot be created while a server is down),
// and a two-minute duplicate window, so a publish that timed out may be
// made again with its message id.
absl::Status EnsureStream(Nats& nats, const std::string& name,
                          const std::string& subjects, int replicas);

// One message of a stream as read back.
struct StoredMessage {
  uint64_t seq = 0;
  std::string data;
};

// Every message of `subject` on `stream`, in order, as it is now (an ordered
// consumer read to its end). Empty for a subject with none.
absl::StatusOr<std::vector<StoredMessage>> ReadSubject(
    Nats& nats, const char* stream, const std::string& subject);

// Overwrites message `seq` of `stream` on disk and removes it (health data
// erased, not only unlinked).
absl::Status EraseMessage(Nats& nats, const std::string& stream, uint64_t seq);

// A JetStream key-value bucket. Thread-safe.
class Bucket {
 public:
  // Opens `name`, creating it with `replicas` copies and `history` values
  // a key when missing (at cluster set-up).
  static absl::StatusOr<std::unique_ptr<Bucket>> Open(Nats& nats,
                                                      const std::string& name,
                                                      int replicas,
                                                      int history);
  ~Bucket();

  struct Value {
    std::string data;
    uint64_t revision = 0;
  };
  // The revision stored.
  absl::StatusOr<uint64_t> Put(const std::string& key, const std::string& data);
  // Stores `data` as `key`'s value only if the key's revision is still
  // `revision` (0: only if the key has no value): the revision stored, or
  // FAILED_PRECONDITION when it was not. (nats-server 2.9.10 checks the
  // revision unsafely under concurrent updates: two may both succeed.)
  absl::StatusOr<uint64_t> Swap(const std::string& key, const std::string& data,
                                uint64_t revision);
  // NOT_FOUND for a key never put, or deleted.
  absl::StatusOr<Value> Get(const std::string& key);
  // Every key there is (empty when none).
  absl::StatusOr<std::vector<std::string>> Keys();

  // Each key's revision, as nats.c's watcher of the bucket delivers them
  // (metadata only): every key's current one first, then each change.
  class Revisions {
   public:
    explicit Revisions(kvWatcher* watcher) : watcher_(watcher) {}
    ~Revisions() { kvWatcher_Destroy(watcher_); }
    Revisions(const Revisions&) = delete;
    Revisions& operator=(const Revisions&) = delete;

    struct Change {
      std::string key;
      uint64_t revision = 0;
    };
    // The next one; nullopt when none came within `timeout`, or for the
    // mark between the current revisions and the changes. UNAVAILABLE when
    // the watcher stopped working (watch again).
    absl::StatusOr<std::optional<Change>> Next(absl::Duration timeout);

   private:
    kvWatcher* const watcher_;
  };
  absl::StatusOr<std::unique_ptr<Revisions>> WatchRevisions();
  // Deletes `key` and overwrites its stored value (`revision`, the one Get
  // returned) on disk.
  absl::Status Erase(const std::string& key, uint64_t revision);
  // Overwrites an older value of a key on disk once a newer one is put.
  absl::Status EraseRevision(uint64_t revision);

 private:
  Bucket(Nats& nats, kvStore* kv, std::string name)
      : nats_(nats), kv_(kv), name_(std::move(name)) {}
  Nats& nats_;
  kvStore* kv_;
  const std::string name_;
};

// Keyed records on a stream (subject <prefix>.<key>) for what must be
// erasable: a key-value bucket's stream denies deleting, so a replaced or
// erased value could not be overwritten on disk. A key's value is its
// subject's last message; a Put erases the value it replaces. Thread-safe.
class RecordStream {
 public:
  // Opens the stream `name` for subjects `prefix`.>, creating it with
  // `replicas` copies when missing (at cluster set-up).
  static absl::StatusOr<std::unique_ptr<RecordStream>> Open(
      Nats& nats, const std::string& name, const std::string& prefix,
      int replicas);

  // Stores `data` as `key`'s value and erases the value it replaced.
  absl::Status Put(const std::string& key, const std::string& data);
  // NOT_FOUND for a key with no value.
  absl::StatusOr<std::string> Get(const std::string& key);
  // Every key with a value.
  absl::StatusOr<std::vector<std::string>> Keys();
  // Erases every value `key` ever had that is still stored.
  absl::Status Erase(const std::string& key);

 private:
  RecordStream(Nats& nats, std::string name, std::string prefix)
      : nats_(nats), name_(std::move(name)), prefix_(std::move(prefix)) {}
  std::string Subject(const std::string& key) const {
    return prefix_ + "." + key;
  }
  Nats& nats_;
  const std::string name_;
  const std::string prefix_;
};

// A subscription (core or JetStream); unsubscribes when destroyed.
class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(natsSubscription* sub) : sub_(sub) {}
  Subscription(Subscription&& other) noexcept : sub_(other.sub_) {
    other.sub_ = nullptr;
  }
  Subscription& operator=(Subscription&& other) noexcept;
  ~Subscription() { Reset(); }
  // Unsubscribes now; no callback runs once it returns... except one that
  // has started, which nats.c lets finish.
  void Reset();
  natsSubscription* get() const { return sub_; }

 private:
  natsSubscription* sub_ = nullptr;
};

namespace nats_internal {
template <typename T>
void DeleteShared(void* closure) {
  delete static_cast<std::shared_ptr<T>*>(closure);
}
absl::Status SubscribeWith(Nats& nats, const std::string& subject,
                           natsMsgHandler handler, void* closure,
                           void (*free_closure)(void*), Subscription* out);
}  // namespace nats_internal

// Subscribes `handler` to `subject` (core NATS). The handler's closure is a
// std::shared_ptr<T>* holding `shared`, freed once the subscription is done
// with it, so what a callback uses outlives every callback.
template <typename T>
absl::StatusOr<Subscription> SubscribeShared(Nats& nats,
                                             const std::string& subject,
                                             natsMsgHandler handler,
                                             std::shared_ptr<T> shared) {
  Subscription out;
  if (absl::Status s = nats_internal::SubscribeWith(
          nats, subject, handler, new std::shared_ptr<T>(std::move(shared)),
          &nats_internal::DeleteShared<T>, &out);
      !s.ok()) {
    return s;
  }
  return out;
}

}  // namespace circuit::cluster

#endif  // CIRCUIT_SERVER_CLUSTER_NATS_H_
