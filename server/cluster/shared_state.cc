#include "server/cluster/shared_state.h"

#include <algorithm>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "circuit/internal/cluster.pb.h"
#include "server/common/log.h"

namespace circuit::cluster {

namespace {

// How long a save goes on through a JetStream leader election.
constexpr absl::Duration kSaveTimeout = absl::Seconds(20);
// How often a change the watcher saw is read again while the server that
// answers has not applied it yet (about 2 s in all).
constexpr int kReloadAttempts = 12;

bool ValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_';
  });
}

}  // namespace

class SharedState::Doc : public Document {
 public:
  Doc(Bucket& bucket, const KeyRing* keys, std::string name)
      : bucket_(bucket), keys_(keys), name_(std::move(name)) {}

  absl::StatusOr<std::optional<std::string>> Load() override {
    absl::StatusOr<Bucket::Value> value = bucket_.Get(name_);
    if (absl::IsNotFound(value.status())) {
      absl::MutexLock lock(&mu_);
      revision_ = 0;
      return std::nullopt;
    }
    if (!value.ok()) return value.status();
    absl::StatusOr<internal::SharedDocument> doc = Opened(value->data);
    if (!doc.ok()) return doc.status();
    absl::MutexLock lock(&mu_);
    revision_ = value->revision;
    return std::move(*doc->mutable_body());
  }

  absl::Status Save(const std::string& bytes) override {
    uint64_t base = 0;
    {
      absl::MutexLock lock(&mu_);
      base = revision_;
    }
    internal::SharedDocument doc;
    doc.set_based_on(base);
    doc.set_body(bytes);
    std::string sealed = doc.SerializeAsString();
    if (keys_ != nullptr) {
      absl::StatusOr<std::string> s = keys_->Seal(sealed, Identity());
      if (!s.ok()) return s.status();
      sealed = *std::move(s);
    }
    const absl::Time deadline = absl::Now() + kSaveTimeout;
    absl::Duration pause = absl::Milliseconds(50);
    while (true) {
      absl::StatusOr<uint64_t> swapped = bucket_.Swap(name_, sealed, base);
      if (swapped.ok()) return ReadBack(*swapped);
      if (!absl::IsFailedPrecondition(swapped.status()) &&
          !absl::IsUnavailable(swapped.status())) {
        return swapped.status();
      }
      // Refused, or no answer: the value there says whether this save (an
      // earlier try of it) landed.
      absl::StatusOr<Bucket::Value> there = bucket_.Get(name_);
      if (there.ok() && there->data == sealed) {
        absl::MutexLock lock(&mu_);
        revision_ = there->revision;
        return absl::OkStatus();
      }
      if (absl::IsFailedPrecondition(swapped.status()) ||
          (there.ok() && there->revision != base)) {
        return Conflict();
      }
      if (absl::Now() + pause > deadline) {
        return absl::UnavailableError(
            absl::StrCat("the cluster did not keep the ", name_, ": ",
                         swapped.status().message()));
      }
      absl::SleepFor(pause);
      pause = std::min(pause * 2, absl::Seconds(2));
    }
  }

  void Watch(absl::AnyInvocable<void(const std::string&)> changed) override {
    absl::MutexLock lock(&mu_);
    changed_ = std::move(changed);
  }

  const std::string& name() const { return name_; }

  // The watcher saw `revision`: a newer one than this node has is told,
  // and told again until its reload read that revision. A KV bucket serves
  // gets from any of its servers (nats.c makes buckets with direct gets),
  // and one that has not applied the revision yet answers with the value
  // before it: without reading again, this node would keep the old one
  // until the watcher's next pass (seconds in which, say, a TV paired on
  // another node would be refused here).
  void Saw(uint64_t revision) {
    absl::AnyInvocable<void(const std::string&)>* changed = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (revision <= revision_ || !changed_) return;
      changed = &changed_;
    }
    absl::Duration pause = absl::Milliseconds(20);
    for (int attempt = 0; attempt < kReloadAttempts; ++attempt) {
      // Set once, before the watcher starts; the watcher's thread alone
      // calls it.
      (*changed)(name_);
      {
        absl::MutexLock lock(&mu_);
        if (revision_ >= revision) return;
      }
      absl::SleepFor(pause);
      pause = std::min(pause * 2, absl::Milliseconds(200));
    }
    LogWarning(
        "cluster state: the %s read here is older than revision %d; "
        "reading it again on the next pass",
        name_, static_cast<int64_t>(revision));
  }

 private:
  std::string Identity() const {
    return absl::StrCat(kStateBucket, "/", name_);
  }

  absl::StatusOr<internal::SharedDocument> Opened(const std::string& stored) {
    std::string plain = stored;
    if (keys_ != nullptr) {
      absl::StatusOr<std::string> opened = keys_->Open(stored, Identity());
      if (!opened.ok()) {
        return absl::DataLossError(
            absl::StrCat("the cluster's ", name_,
                         " does not open: ", opened.status().message()));
      }
      plain = *std::move(opened);
    }
    internal::SharedDocument doc;
    if (!doc.ParseFromString(plain)) {
      return absl::DataLossError(
          absl::StrCat("the cluster's ", name_, " does not parse"));
    }
    return doc;
  }

  // After an update landed at `revision`: a value after it that was not
  // based on it raced this save and replaced it (nats-server 2.9.10 lets
  // two updates on one revision both land).
  absl::Status ReadBack(uint64_t revision) {
    absl::StatusOr<Bucket::Value> there = bucket_.Get(name_);
    if (there.ok() && there->revision > revision) {
      absl::StatusOr<internal::SharedDocument> doc = Opened(there->data);
      if (doc.ok() && doc->based_on() < revision) return Conflict();
    }
    absl::MutexLock lock(&mu_);
    revision_ = std::max(revision_, revision);
    return absl::OkStatus();
  }

  absl::Status Conflict() const {
    return absl::AbortedError(absl::StrCat(
        "the ", name_,
        " changed on another node of the cluster at the same time: "
        "nothing was changed here, try again"));
  }

  Bucket& bucket_;
  const KeyRing* const keys_;
  const std::string name_;
  absl::Mutex mu_;
  // The revision this node last loaded or saved.
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  absl::AnyInvocable<void(const std::string&)> changed_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<SharedState>> SharedState::Open(
    Nats& nats, int replicas, std::shared_ptr<const KeyRing> keys,
    absl::Duration poll) {
  absl::StatusOr<std::unique_ptr<Bucket>> bucket =
      Bucket::Open(nats, kStateBucket, replicas, /*history=*/1);
  if (!bucket.ok()) return bucket.status();
  return std::unique_ptr<SharedState>(
      new SharedState(*std::move(bucket), std::move(keys), poll));
}

SharedState::~SharedState() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

std::shared_ptr<Document> SharedState::Get(const std::string& name) {
  if (!ValidName(name)) return nullptr;
  for (const auto& doc : docs_) {
    if (doc->name() == name) return nullptr;
  }
  docs_.push_back(std::make_shared<Doc>(*bucket_, keys_.get(), name));
  return docs_.back();
}

absl::Status SharedState::Start() {
  watcher_ = std::thread([this] { Watch(); });
  return absl::OkStatus();
}

bool SharedState::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void SharedState::Watch() {
  while (!Stopping()) {
    absl::StatusOr<std::unique_ptr<Bucket::Revisions>> revisions =
        bucket_->WatchRevisions();
    const absl::Time renew = absl::Now() + poll_;
    if (!revisions.ok()) {
      LogWarning("cluster state: %s; watching again",
                 std::string(revisions.status().message()));
    }
    while (revisions.ok() && !Stopping() && absl::Now() < renew) {
      absl::StatusOr<std::optional<Bucket::Revisions::Change>> change =
          (*revisions)->Next(absl::Milliseconds(200));
      if (!change.ok()) break;
      if (!change->has_value()) continue;
      for (const auto& doc : docs_) {
        if (doc->name() == (*change)->key) doc->Saw((*change)->revision);
      }
    }
    if (!revisions.ok()) {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Seconds(1));
    }
  }
}

}  // namespace circuit::cluster
