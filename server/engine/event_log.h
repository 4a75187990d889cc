#ifndef CIRCUIT_SERVER_ENGINE_EVENT_LOG_H_
#define CIRCUIT_SERVER_ENGINE_EVENT_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "circuit/v1/live.pb.h"

namespace circuit::engine {

// Who may see an event.
enum class Audience {
  // Every role: instructor, every participant, kiosks.
  kPublic,
  // The instructor only.
  kInstructor,
  // The instructor and the one participant named in Event::participant_id.
  kInstructorAndParticipant,
  // The one participant named, only. The instructor learns of it from the
  // roster changes sent on the tick (a report is one of these: an event per
  // report would make the console's stream as busy as the whole room).
  kParticipant,
};

// One accepted change, numbered in its class.
struct Event {
  v1::ClassEvent event;  // seq, at_unix_ms and the change
  Audience audience = Audience::kPublic;
  std::string participant_id;  // for kInstructorAndParticipant, kParticipant
};

// The numbered events of one class: each appended event gets the next seq
// (from 1, never reused), waits in a pending list until drained (so the owner
// can publish each event once), and is retained, up to `retention` events,
// for clients that resume from a seq.
//
// An EventLog is not thread-safe; it belongs to one ClassSession and is
// called under the session's serialization.
class EventLog {
 public:
  explicit EventLog(size_t retention) : retention_(retention) {}

  // Appends `event` with seq last_seq() + 1 and at_unix_ms `now_ms`; returns
  // the seq. The oldest retained event is forgotten when more than
  // `retention` are kept.
  int64_t Append(v1::ClassEvent event, Audience audience,
                 std::string participant_id, int64_t now_ms);

  // The highest seq so far (0 before any event).
  int64_t last_seq() const { return last_seq_; }

  // Events appended since the last call, in seq order.
  std::vector<Event> Drain();

  // Retained events with seq > `after_seq`, in order, the first `max` of
  // them; nullopt when some of them were forgotten for retention (the caller
  // sends a snapshot instead). Events taken out by RemoveIf are skipped, not
  // missed: a stream's seqs may skip anyway. A seq at or beyond last_seq()
  // gets an empty list.
  std::optional<std::vector<const Event*>> After(int64_t after_seq,
                                                 size_t max = SIZE_MAX) const;

  // Every retained event, oldest first.
  const std::deque<Event>& retained() const { return retained_; }

  // Takes every retained and pending event for which `remove` is true out of
  // the log, for good (erasing health data). Seqs are not renumbered.
  void RemoveIf(absl::FunctionRef<bool(const Event&)> remove);

 private:
  size_t retention_;
  int64_t last_seq_ = 0;
  // The highest seq forgotten for retention; 0 when none was.
  int64_t forgotten_through_ = 0;
  std::deque<Event> retained_;  // increasing seq, gaps where removed
  std::vector<Event> pending_;  // not drained yet
};

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_EVENT_LOG_H_
