#ifndef CIRCUIT_SERVER_AUTH_KIOSKS_H_
#define CIRCUIT_SERVER_AUTH_KIOSKS_H_

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/common/clock.h"
#include "server/common/document.h"
#include "server/fanout/stream.h"

namespace circuit {

// Studio TVs paired with this server, each with a credential of its own that
// opens what the studio's kiosk key opens, and that the instructor can
// revoke. A TV starts a pairing (a short code it shows, and a secret it
// keeps), the instructor approves the code, and the TV, asking with its
// secret, gets its credential.
//
// Pairings live in memory for `pairing_ttl`. Kiosks are kept in a file
// (`store_path`, written whole and atomically before an approval or a
// revocation is answered), so a restart neither logs TVs out nor brings a
// revoked one back; credentials are kept only as their SHA-256. On a cluster
// the kiosks are a document every node shares (server/cluster/
// shared_state.h), so a TV paired on one node is paired on all and a revoke
// on one ends its streams on all; pairings waiting for approval are a second
// shared document, so a TV may pair through one node and be approved on
// another. Thread-safe.
class KioskPairings {
 public:
  struct Options {
    // Empty: kiosks are kept in memory only (tests, --journal=memory).
    std::string store_path;
    // Where kiosks are kept instead of the file (a cluster's shared
    // document); null: the file.
    std::shared_ptr<Document> document;
    // Where pairings waiting are kept (a cluster's shared document, so a TV
    // may pair through any node); null: in memory only.
    std::shared_ptr<Document> pairings_document;
    absl::Duration pairing_ttl = absl::Minutes(10);
    // Pairings waiting at once, at most (each costs a little memory until
    // it expires).
    size_t max_pending = 1000;
  };

  // Loads the kiosks kept at `options.store_path`, if any. DATA_LOSS when
  // the file is unreadable.
  static absl::StatusOr<std::unique_ptr<KioskPairings>> Open(
      const Options& options, const Clock* clock);

  // A new pairing: code, secret, expiry. RESOURCE_EXHAUSTED when too many
  // are waiting.
  absl::StatusOr<v1::KioskPairing> Start() ABSL_LOCKS_EXCLUDED(mu_);

  // A pairing as its TV sees it (the secret proves it is the TV's): pending,
  // approved (with the kiosk's credential and id) or expired. NOT_FOUND for
  // a code never given or long forgotten; UNAUTHENTICATED for a wrong
  // secret.
  absl::StatusOr<v1::KioskPairing> Get(const std::string& code,
                                       const std::string& secret)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The instructor approves a code: a new kiosk of `studio`, kept before
  // this returns.
  // NOT_FOUND for an unknown or expired code; FAILED_PRECONDITION for one
  // already approved; INVALID_ARGUMENT for a name over 64 characters;
  // UNAVAILABLE when it could not be kept.
  absl::StatusOr<v1::Kiosk> Approve(const std::string& code,
                                    const std::string& name,
                                    const std::string& studio)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every kiosk, revoked ones included, oldest first.
  std::vector<v1::Kiosk> List() const ABSL_LOCKS_EXCLUDED(mu_);

  // Revokes a kiosk for good, kept before this returns. NOT_FOUND for an
  // unknown id; UNAVAILABLE when it could not be kept.
  absl::StatusOr<v1::Kiosk> Revoke(const std::string& kiosk_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // True when `token` is a paired kiosk's credential, not revoked.
  bool IsKiosk(const std::string& token) const ABSL_LOCKS_EXCLUDED(mu_);

  // The paired kiosk whose credential `token` is, not revoked; nullopt
  // otherwise.
  std::optional<v1::Kiosk> KioskOf(const std::string& token) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Its id.
  std::optional<std::string> KioskIdOf(const std::string& token) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // A stream opened with kiosk `kiosk_id`'s credential: revoking the kiosk
  // ends it (UNAUTHENTICATED), so a revoked TV stops showing the class at
  // once, not at its next reconnect.
  void Track(const std::string& kiosk_id, std::weak_ptr<Stream> stream)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Takes what other nodes of a cluster keep from now on (the document's
  // Watch): their pairings and revocations, which end this node's streams
  // of a revoked TV too. Once, after Open.
  void Watch() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    std::string secret_hash;
    absl::Time expires;
    // Once approved: the credential, handed to the TV until the pairing is
    // forgotten (so a lost answer can be asked again).
    std::string kiosk_token;
    std::string kiosk_id;
  };

  KioskPairings(const Options& options, const Clock* clock,
                std::shared_ptr<Document> document);
  // Reads what the document keeps into kiosks_.
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `kiosks` current and ends the streams of the revoked ones.
  void ReplaceLocked(internal::StoredKiosks kiosks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // With a pairings document: reads what it keeps into pending_.
  absl::Status LoadPairingsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes what a pairings document keeps (`bytes`) pending_.
  absl::Status ReadPairingsLocked(const std::optional<std::string>& bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes a change to pending_: with a pairings document, on what it keeps
  // now, then kept (made again on newer pairings when another node changed
  // them at the same time). `change` may run more than once; its error is
  // returned and the pairings are not written.
  absl::Status ChangePairingsLocked(absl::FunctionRef<absl::Status()> change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets pairings that expired long enough ago.
  void ForgetOldLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `kiosks` to the store; the caller then makes them current.
  absl::Status SaveLocked(const internal::StoredKiosks& kiosks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Clock* const clock_;
  const std::shared_ptr<Document> document_;  // null: memory only
  mutable absl::Mutex mu_;
  internal::StoredKiosks kiosks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  // Open streams by kiosk id; dead ones are pruned as new ones come.
  std::multimap<std::string, std::weak_ptr<Stream>> streams_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_KIOSKS_H_
