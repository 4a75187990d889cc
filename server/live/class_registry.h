#ifndef CIRCUIT_SERVER_LIVE_CLASS_REGISTRY_H_
#define CIRCUIT_SERVER_LIVE_CLASS_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/engine/class_session.h"
#include "server/journal/journal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_runner.h"

namespace circuit {

struct RegistryOptions {
  engine::SessionOptions session;
  // Most classes held at once (ended ones included until evicted).
  int max_classes = 1000;
  // How often timers advance and the instructor's roster is sent.
  absl::Duration tick = absl::Milliseconds(100);
  // Class-wide progress goes out every this many ticks (2 Hz at 100 ms).
  int progress_every_ticks = 5;
};

// Every class this server runs, by id, join code and resume token, and the
// ticker that drives their timers and coalesced updates. Thread-safe.
class ClassRegistry {
 public:
  // `library`, `journal` and `clock` must outlive the registry.
  ClassRegistry(const CircuitLibrary* library, Journal* journal,
                const Clock* clock, RegistryOptions options);
  ~ClassRegistry();

  // Creates a class in the lobby with a fresh id and join code. At
  // max_classes, the class that ended first is forgotten to make room.
  // NOT_FOUND for an unknown circuit; INVALID_ARGUMENT for a title over 80
  // characters; RESOURCE_EXHAUSTED when max_classes are held and none ended.
  absl::StatusOr<v1::ClassInfo> Create(const std::string& circuit_id,
                                       const std::string& title)
      ABSL_LOCKS_EXCLUDED(mu_);

  // nullptr when unknown. Join codes match regardless of case.
  std::shared_ptr<ClassRunner> Find(const std::string& class_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<ClassRunner> FindByJoinCode(const std::string& code) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // A fresh participant id and resume token for a class, remembered so the
  // token finds the seat again.
  struct Seat {
    std::shared_ptr<ClassRunner> runner;
    std::string participant_id;
    std::string resume_token;
  };
  Seat NewSeat(std::shared_ptr<ClassRunner> runner) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets a seat whose join failed.
  void ForgetSeat(const std::string& resume_token) ABSL_LOCKS_EXCLUDED(mu_);
  // The seat a resume token holds; UNAUTHENTICATED when the token is unknown.
  absl::StatusOr<Seat> FindSeat(const std::string& resume_token) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Classes, newest first.
  std::vector<v1::ClassInfo> List(bool include_ended) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs one tick on every class (the ticker calls this; tests may too).
  void TickAll() ABSL_LOCKS_EXCLUDED(mu_);

  // Starts and stops the background ticker. Stop is idempotent.
  void StartTicker() ABSL_LOCKS_EXCLUDED(ticker_mu_);
  void StopTicker() ABSL_LOCKS_EXCLUDED(ticker_mu_);

  // Tells every stream of every class that the server is going away.
  void GoAway(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::vector<std::shared_ptr<ClassRunner>> Runners() const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the class that ended first, with its join code and seats; none
  // when no class has ended.
  void EvictOldestEndedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CircuitLibrary* const library_;
  Journal* const journal_;
  const Clock* const clock_;
  const RegistryOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ClassRunner>> by_id_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> id_by_code_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>>
      seat_by_token_ ABSL_GUARDED_BY(mu_);  // token -> (class, participant)
  int64_t next_participant_ ABSL_GUARDED_BY(mu_) = 1;

  absl::Mutex ticker_mu_;
  bool ticker_stop_ ABSL_GUARDED_BY(ticker_mu_) = false;
  std::thread ticker_ ABSL_GUARDED_BY(ticker_mu_);
  int64_t ticks_ = 0;  // only the ticker thread (or a test) touches it
};

// Six characters from an alphabet without 0, O, 1 and I, easy to read
// aloud. Cryptographically random: JoinCodeFromBytes of six random bytes.
std::string NewJoinCode();

// The join code for `random`: one character per byte, from the 32 symbols
// 2-9 and A-Z without I and O, picked by the byte's low five bits, so each
// symbol is equally likely when the bytes are uniformly random. Pure.
std::string JoinCodeFromBytes(absl::string_view random);

// `bytes` random bytes, hex encoded. Cryptographically random.
std::string RandomHex(int bytes);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_REGISTRY_H_
