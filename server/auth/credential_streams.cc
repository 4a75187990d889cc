#include "server/auth/credential_streams.h"

#include <algorithm>

namespace circuit {

void CredentialStreams::Track(const Principal& who, const std::string& token,
                              std::weak_ptr<Stream> stream) {
  if (accounts_ == nullptr || token.empty()) return;
  if (who.role != Principal::Role::kAdmin &&
      who.role != Principal::Role::kInstructor &&
      who.role != Principal::Role::kClass) {
    return;  // the bootstrap and kiosk keys are not revoked this way
  }
  absl::MutexLock lock(&mu_);
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [](const auto& entry) {
                                  std::shared_ptr<Stream> open =
                                      entry.second.lock();
                                  return open == nullptr || open->dead();
                                }),
                 streams_.end());
  streams_.emplace_back(token, std::move(stream));
}

void CredentialStreams::EndStreamsOfDeadCredentials() {
  if (accounts_ == nullptr) return;
  absl::MutexLock lock(&mu_);
  for (auto it = streams_.begin(); it != streams_.end();) {
    std::shared_ptr<Stream> open = it->second.lock();
    if (open != nullptr && !open->dead()) {
      absl::StatusOr<Principal> still = accounts_->Verify(it->first);
      if (still.ok()) {
        ++it;
        continue;
      }
      open->Close(absl::UnauthenticatedError(still.status().message()),
                  /*after_queued=*/false);
    }
    it = streams_.erase(it);
  }
}

}  // namespace circuit
