#ifndef CIRCUIT_SERVER_LIVE_CLASS_RUNNER_H_
#define CIRCUIT_SERVER_LIVE_CLASS_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "circuit/v1/service.pb.h"
#include "server/common/clock.h"
#include "server/engine/class_session.h"
#include "server/fanout/stream.h"
#include "server/journal/journal.h"
#include "server/library/circuit_library.h"

namespace circuit {

// Runs one live class: serializes every input to its ClassSession, journals
// the events each input produces, then fans them out to the class's streams
// filtered by role. Acks and command results are returned only after the
// journal append. Thread-safe: one mutex per class, held only for in-memory
// work; streams are written through their non-blocking queues, so no stream
// ever waits for another and no caller waits for a slow reader.
class ClassRunner {
 public:
  // `library`, `journal` and `clock` must outlive the runner.
  ClassRunner(const v1::ClassInfo& info, const v1::Circuit& circuit,
              const CircuitLibrary* library,
              const engine::SessionOptions& options, Journal* journal,
              const Clock* clock);

  const std::string& class_id() const { return class_id_; }
  v1::ClassInfo Info() const ABSL_LOCKS_EXCLUDED(mu_);
  v1::GetClassResponse Describe() const ABSL_LOCKS_EXCLUDED(mu_);

  // Subscribes an instructor or kiosk stream. `last_seq` 0 sends a snapshot;
  // a resume sends the missed events (or a MISSED_EVENTS snapshot when they
  // are no longer kept), then current progress (and the instructor's whole
  // roster). Atomic with respect to events: nothing is missed or sent twice.
  void AttachInstructor(std::shared_ptr<Stream> stream, int64_t last_seq)
      ABSL_LOCKS_EXCLUDED(mu_);
  void AttachKiosk(std::shared_ptr<Stream> stream, int64_t last_seq)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Checks a participant in and subscribes their stream: sends Joined, then a
  // snapshot. The session's statuses for a bad check-in.
  absl::Status Join(std::shared_ptr<Stream> stream,
                    const std::string& participant_id,
                    const std::string& resume_token,
                    const v1::CheckIn& check_in) ABSL_LOCKS_EXCLUDED(mu_);

  // Resumes a participant's seat on a new stream, as AttachInstructor does
  // for `last_seq`. A stream the participant still had open is closed
  // (ABORTED: superseded). NOT_FOUND when the participant has left.
  absl::Status Resume(std::shared_ptr<Stream> stream,
                      const std::string& participant_id, int64_t last_seq)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Applies an instructor command.
  v1::CommandResult Command(const v1::InstructorCommand& command)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Records a completion, effort or symptom report (the request's `kind`).
  v1::ReportAck Report(const std::string& participant_id,
                       const v1::JoinClassRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The participant leaves for good; their stream is closed with OK.
  void Leave(const std::string& participant_id) ABSL_LOCKS_EXCLUDED(mu_);

  // A participant's stream ended without leaving: the seat is held.
  void StreamEnded(const std::string& participant_id, const Stream* stream)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Advances timers, sends the instructor's roster changes and, when
  // `send_progress`, class-wide progress if it changed; prunes dead streams.
  void Tick(bool send_progress) ABSL_LOCKS_EXCLUDED(mu_);

  // Tells every stream the server is going away, then finishes them with
  // UNAVAILABLE once their queues are written.
  void GoAway(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);

  // Streams subscribed now (for tests and metrics).
  size_t stream_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class Role { kInstructor, kParticipant, kKiosk };

  // Journals and fans out the session's new events.
  absl::Status PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends what a (re)attaching stream needs: snapshot or missed events.
  void CatchUpLocked(Stream* stream, Role role,
                     const std::string& participant_id, int64_t last_seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendSnapshotLocked(Stream* stream, Role role,
                          const std::string& participant_id,
                          v1::SnapshotReason reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendProgressLocked(Stream* stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PruneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string class_id_;
  Journal* const journal_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  engine::ClassSession session_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Stream>> instructors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Stream>> kiosks_ ABSL_GUARDED_BY(mu_);
  // Each participant's current stream.
  absl::flat_hash_map<std::string, std::shared_ptr<Stream>> participants_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_RUNNER_H_
