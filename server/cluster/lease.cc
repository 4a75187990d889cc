#include "server/cluster/lease.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace circuit::cluster {

absl::StatusOr<std::unique_ptr<LeaseBucket>> LeaseBucket::Open(
    Nats& nats, absl::Duration lease, int replicas) {
  kvStore* kv = nullptr;
  // Created when missing (a bucket made with the same settings before is
  // no error); nats.c tells "no such bucket" apart from nothing else.
  if (js_KeyValue(&kv, nats.jetstream(), kLeaseBucket) != NATS_OK) {
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = kLeaseBucket;
    config.History = 1;
    // A stream's MaxAge, in nanoseconds.
    config.TTL = absl::ToInt64Nanoseconds(lease);
    config.Replicas = replicas;
    config.StorageType = js_FileStorage;
    natsStatus s = js_CreateKeyValue(&kv, nats.jetstream(), &config);
    if (s != NATS_OK) {
      return NatsError("creating the lease bucket", s,
                       static_cast<jsErrCode>(0));
    }
  }
  return std::unique_ptr<LeaseBucket>(new LeaseBucket(kv, lease));
}

LeaseBucket::~LeaseBucket() { kvStore_Destroy(kv_); }

absl::StatusOr<Held> LeaseBucket::Take(const std::string& class_id,
                                       const std::string& node) {
  const absl::Time sent = absl::Now();
  uint64_t revision = 0;
  natsStatus s =
      kvStore_CreateString(&revision, kv_, class_id.c_str(), node.c_str());
  if (s != NATS_OK) {
    absl::Status status =
        NatsError(absl::StrCat("taking the lease of class ", class_id), s,
                  static_cast<jsErrCode>(0));
    if (s == NATS_ERR) {
      absl::StatusOr<std::string> holder = Holder(class_id);
      if (holder.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("class ", class_id, " is owned by node ", *holder));
      }
    }
    return status;
  }
  Held held;
  held.term = static_cast<int64_t>(revision);
  held.revision = revision;
  held.act_until = sent + lease_ - margin();
  return held;
}

absl::StatusOr<Held> LeaseBucket::Renew(const std::string& class_id,
                                        const std::string& node,
                                        const Held& held) {
  const absl::Time sent = absl::Now();
  uint64_t revision = 0;
  natsStatus s = kvStore_UpdateString(&revision, kv_, class_id.c_str(),
                                      node.c_str(), held.revision);
  if (s != NATS_OK) {
    absl::Status status =
        NatsError(absl::StrCat("renewing the lease of class ", class_id), s);
    if (absl::IsUnavailable(status)) return status;
    return absl::FailedPreconditionError(status.message());
  }
  Held renewed = held;
  renewed.revision = revision;
  renewed.act_until = sent + lease_ - margin();
  return renewed;
}

absl::StatusOr<std::string> LeaseBucket::Holder(const std::string& class_id) {
  kvEntry* entry = nullptr;
  natsStatus s = kvStore_Get(&entry, kv_, class_id.c_str());
  if (s == NATS_NOT_FOUND) {
    return absl::NotFoundError(
        absl::StrCat("class ", class_id, " has no owner"));
  }
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("reading the lease of class ", class_id), s);
  }
  std::string node = kvEntry_ValueString(entry);
  kvEntry_Destroy(entry);
  return node;
}

void LeaseBucket::Release(const std::string& class_id, const Held& held) {
  // Deleting only if it is still ours: an update on our revision first
  // (fails if someone else holds it), then the delete.
  uint64_t revision = 0;
  if (kvStore_UpdateString(&revision, kv_, class_id.c_str(), "",
                           held.revision) == NATS_OK) {
    kvStore_Delete(kv_, class_id.c_str());
  }
}

}  // namespace circuit::cluster
