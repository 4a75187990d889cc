#include "server/auth/kiosks.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/common/files.h"
#include "server/common/secrets.h"
#include "server/engine/text.h"

namespace circuit {
namespace {

constexpr size_t kMaxName = 64;

bool SameHash(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KioskPairings>> KioskPairings::Open(
    const Options& options, const Clock* clock) {
  std::shared_ptr<Document> document = options.document;
  if (document == nullptr && !options.store_path.empty()) {
    document = std::make_shared<FileDocument>(options.store_path);
  }
  std::unique_ptr<KioskPairings> pairings(
      new KioskPairings(options, clock, std::move(document)));
  absl::MutexLock lock(&pairings->mu_);
  if (absl::Status s = pairings->LoadLocked(); !s.ok()) return s;
  return pairings;
}

KioskPairings::KioskPairings(const Options& options, const Clock* clock,
                             std::shared_ptr<Document> document)
    : options_(options), clock_(clock), document_(std::move(document)) {}

absl::Status KioskPairings::LoadLocked() {
  if (document_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::optional<std::string>> bytes = document_->Load();
  if (!bytes.ok()) return bytes.status();
  internal::StoredKiosks stored;
  if (bytes->has_value() && !stored.ParseFromString(**bytes)) {
    return absl::DataLossError(
        absl::StrCat(options_.store_path, " is not a list of paired kiosks"));
  }
  ReplaceLocked(std::move(stored));
  return absl::OkStatus();
}

void KioskPairings::Watch() {
  if (document_ == nullptr) return;
  document_->Watch([this](const std::string&) {
    absl::MutexLock lock(&mu_);
    LoadLocked().IgnoreError();  // the next change, or the next poll
  });
}

void KioskPairings::ReplaceLocked(internal::StoredKiosks kiosks) {
  kiosks_ = std::move(kiosks);
  // A revoked TV stops showing the class at once, whichever node revoked
  // it.
  for (const internal::StoredKiosk& stored : kiosks_.kiosks()) {
    if (stored.kiosk().revoked_unix_ms() == 0) continue;
    auto [first, last] = streams_.equal_range(stored.kiosk().kiosk_id());
    for (auto it = first; it != last; ++it) {
      if (std::shared_ptr<Stream> open = it->second.lock()) {
        open->Close(
            absl::UnauthenticatedError("this kiosk was revoked; pair it again"),
            /*after_queued=*/false);
      }
    }
    streams_.erase(first, last);
  }
}

void KioskPairings::ForgetOldLocked(absl::Time now) {
  // An expired pairing still answers EXPIRED for another ttl, then goes.
  absl::erase_if(pending_, [&](const auto& entry) {
    return entry.second.expires + options_.pairing_ttl < now;
  });
}

absl::StatusOr<v1::KioskPairing> KioskPairings::Start() {
  const absl::Time now = clock_->Now();
  const NewToken secret = MakeToken();
  v1::KioskPairing pairing;
  absl::MutexLock lock(&mu_);
  absl::Status started =
      ChangePairingsLocked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        ForgetOldLocked(now);
        if (pending_.size() >= options_.max_pending) {
          return absl::ResourceExhaustedError(
              "too many kiosk pairings are waiting; try again in a few "
              "minutes");
        }
        std::string code;
        do {
          code = NewJoinCode();
        } while (pending_.count(code) != 0);
        Pending& pending = pending_[code];
        pending.secret_hash = secret.hash;
        pending.expires = now + options_.pairing_ttl;
        pairing.set_pairing_code(code);
        pairing.set_pairing_secret(secret.token);
        pairing.set_expires_unix_ms(absl::ToUnixMillis(pending.expires));
        pairing.set_state(v1::KIOSK_PAIRING_STATE_PENDING);
        return absl::OkStatus();
      });
  if (!started.ok()) return started;
  return pairing;
}

absl::StatusOr<v1::KioskPairing> KioskPairings::Get(const std::string& code,
                                                    const std::string& secret) {
  const std::string key = absl::AsciiStrToUpper(code);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  // On a cluster, another node may have approved it.
  if (absl::Status loaded = LoadPairingsLocked(); !loaded.ok()) return loaded;
  ForgetOldLocked(now);
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    return absl::NotFoundError("no such pairing code; start pairing again");
  }
  const Pending& pending = it->second;
  if (!SameHash(Sha256(secret), pending.secret_hash)) {
    return absl::UnauthenticatedError(
        "that is not this pairing's secret (Authorization: Bearer "
        "<pairing secret>)");
  }
  v1::KioskPairing pairing;
  pairing.set_pairing_code(key);
  pairing.set_expires_unix_ms(absl::ToUnixMillis(pending.expires));
  if (!pending.kiosk_token.empty()) {
    pairing.set_state(v1::KIOSK_PAIRING_STATE_APPROVED);
    pairing.set_kiosk_token(pending.kiosk_token);
    pairing.set_kiosk_id(pending.kiosk_id);
  } else if (pending.expires <= now) {
    pairing.set_state(v1::KIOSK_PAIRING_STATE_EXPIRED);
  } else {
    pairing.set_state(v1::KIOSK_PAIRING_STATE_PENDING);
  }
  return pairing;
}

absl::StatusOr<v1::Kiosk> KioskPairings::Approve(const std::string& code,
                                                 const std::string& name,
                                                 const std::string& studio) {
  if (absl::Status name_ok = engine::CheckText("name", name, 0, kMaxName);
      !name_ok.ok()) {
    return name_ok;
  }
  const std::string key = absl::AsciiStrToUpper(code);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  // The kiosk is kept before the pairing says "approved"; when the pairing
  // must be written again (another node changed the pairings meanwhile),
  // the same kiosk is given.
  std::optional<v1::Kiosk> made;
  std::string made_token;
  absl::Status approved =
      ChangePairingsLocked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        ForgetOldLocked(now);
        auto it = pending_.find(key);
        if (it == pending_.end() ||
            (it->second.kiosk_token.empty() && it->second.expires <= now)) {
          return absl::NotFoundError(absl::StrCat(
              "no TV is showing pairing code ", key, " (codes expire after ",
              absl::ToInt64Minutes(options_.pairing_ttl), " minutes)"));
        }
        if (!made.has_value()) {
          if (!it->second.kiosk_token.empty()) {
            return absl::FailedPreconditionError(
                absl::StrCat("pairing code ", key, " is already approved"));
          }
          internal::StoredKiosks next = kiosks_;
          internal::StoredKiosk* stored = next.add_kiosks();
          v1::Kiosk* kiosk = stored->mutable_kiosk();
          kiosk->set_kiosk_id(absl::StrCat("k", next.kiosks_size()));
          kiosk->set_name(name.empty() ? absl::StrCat("TV ", key) : name);
          kiosk->set_paired_unix_ms(absl::ToUnixMillis(now));
          kiosk->set_studio_id(studio);
          const NewToken token = MakeToken();
          stored->set_token_hash(token.hash);
          if (absl::Status saved = SaveLocked(next); !saved.ok()) return saved;
          made = *kiosk;
          made_token = token.token;
          ReplaceLocked(std::move(next));
        }
        it->second.kiosk_token = made_token;
        it->second.kiosk_id = made->kiosk_id();
        return absl::OkStatus();
      });
  if (!approved.ok()) return approved;
  return *made;
}

absl::Status KioskPairings::LoadPairingsLocked() {
  if (options_.pairings_document == nullptr) return absl::OkStatus();
  absl::StatusOr<std::optional<std::string>> bytes =
      options_.pairings_document->Load();
  if (!bytes.ok()) return bytes.status();
  return ReadPairingsLocked(*bytes);
}

absl::Status KioskPairings::ReadPairingsLocked(
    const std::optional<std::string>& bytes) {
  internal::StoredPairings stored;
  if (bytes.has_value() && !stored.ParseFromString(*bytes)) {
    return absl::DataLossError("the cluster's kiosk pairings do not parse");
  }
  pending_.clear();
  for (const internal::StoredPairings::Pairing& p : stored.pairings()) {
    Pending& pending = pending_[p.code()];
    pending.secret_hash = p.secret_sha256();
    pending.expires = absl::FromUnixMillis(p.expires_unix_ms());
    pending.kiosk_token = p.kiosk_token();
    pending.kiosk_id = p.kiosk_id();
  }
  return absl::OkStatus();
}

absl::Status KioskPairings::ChangePairingsLocked(
    absl::FunctionRef<absl::Status()> change) {
  if (options_.pairings_document == nullptr) return change();
  auto read = [this](const std::optional<std::string>& bytes)
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                    return ReadPairingsLocked(bytes);
                  };
  auto write = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ForgetOldLocked(clock_->Now());
    internal::StoredPairings stored;
    for (const auto& [code, pending] : pending_) {
      internal::StoredPairings::Pairing* p = stored.add_pairings();
      p->set_code(code);
      p->set_secret_sha256(pending.secret_hash);
      p->set_expires_unix_ms(absl::ToUnixMillis(pending.expires));
      p->set_kiosk_token(pending.kiosk_token);
      p->set_kiosk_id(pending.kiosk_id);
    }
    return stored.SerializeAsString();
  };
  return ChangeDocument(*options_.pairings_document, read, change, write);
}

std::vector<v1::Kiosk> KioskPairings::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Kiosk> kiosks;
  for (const internal::StoredKiosk& stored : kiosks_.kiosks()) {
    kiosks.push_back(stored.kiosk());
  }
  return kiosks;
}

absl::StatusOr<v1::Kiosk> KioskPairings::Revoke(const std::string& kiosk_id) {
  const int64_t now_ms = clock_->NowUnixMs();
  absl::MutexLock lock(&mu_);
  internal::StoredKiosks next = kiosks_;
  for (internal::StoredKiosk& stored : *next.mutable_kiosks()) {
    if (stored.kiosk().kiosk_id() != kiosk_id) continue;
    if (stored.kiosk().revoked_unix_ms() == 0) {
      stored.mutable_kiosk()->set_revoked_unix_ms(now_ms);
      if (absl::Status saved = SaveLocked(next); !saved.ok()) return saved;
    }
    v1::Kiosk revoked = stored.kiosk();
    ReplaceLocked(std::move(next));
    return revoked;
  }
  return absl::NotFoundError(absl::StrCat("no kiosk with id ", kiosk_id));
}

bool KioskPairings::IsKiosk(const std::string& token) const {
  return KioskIdOf(token).has_value();
}

std::optional<v1::Kiosk> KioskPairings::KioskOf(
    const std::string& token) const {
  if (token.empty()) return std::nullopt;
  const std::string hash = Sha256(token);
  absl::MutexLock lock(&mu_);
  std::optional<v1::Kiosk> found;
  // Every entry is compared, in constant time each, whatever matches.
  for (const internal::StoredKiosk& stored : kiosks_.kiosks()) {
    if (SameHash(hash, stored.token_hash()) &&
        stored.kiosk().revoked_unix_ms() == 0) {
      found = stored.kiosk();
    }
  }
  return found;
}

std::optional<std::string> KioskPairings::KioskIdOf(
    const std::string& token) const {
  std::optional<v1::Kiosk> kiosk = KioskOf(token);
  if (!kiosk.has_value()) return std::nullopt;
  return kiosk->kiosk_id();
}

void KioskPairings::Track(const std::string& kiosk_id,
                          std::weak_ptr<Stream> stream) {
  absl::MutexLock lock(&mu_);
  for (auto it = streams_.begin(); it != streams_.end();) {
    std::shared_ptr<Stream> open = it->second.lock();
    it = open == nullptr || open->dead() ? streams_.erase(it) : std::next(it);
  }
  streams_.emplace(kiosk_id, std::move(stream));
}

absl::Status KioskPairings::SaveLocked(const internal::StoredKiosks& kiosks) {
  if (document_ == nullptr) return absl::OkStatus();
  absl::Status saved = document_->Save(kiosks.SerializeAsString());
  // Another node changed them at the same time: its list is the one kept.
  if (absl::IsAborted(saved)) LoadLocked().IgnoreError();
  return saved;
}

}  // namespace circuit
