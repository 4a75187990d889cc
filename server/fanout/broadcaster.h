#ifndef CIRCUIT_SERVER_FANOUT_BROADCASTER_H_
#define CIRCUIT_SERVER_FANOUT_BROADCASTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/engine/class_session.h"
#include "server/fanout/stream.h"

namespace circuit {

// Who a subscriber is.
enum class Role { kInstructor, kParticipant, kKiosk };

// The one visibility rule: may a subscriber of `role` (with
// `participant_id`, for participants) see `event`? Public events go to
// everyone; instructor events to instructors; a participant's own events to
// instructors and that participant, or (reports) to that participant only.
// Kiosks never see health data because every event carrying it has a
// narrower audience.
bool Visible(const engine::Event& event, Role role,
             const std::string& participant_id);

// The streams of one class, by role. Publishing serializes each event once
// and hands the same bytes to every stream that may see it; streams queue
// without blocking, so no stream waits for another.
//
// Not thread-safe: the class's actor calls it from its strand only.
class Broadcaster {
 public:
  // A stream added with `live` false is still catching up (its class actor
  // feeds it the missed events from a cursor): it gets nothing this class
  // sends to its role until GoLive, so a live event can never overtake, or
  // repeat, one that is still to be replayed. It is closed and pruned like
  // any other.
  void AddInstructor(std::shared_ptr<Stream> stream, bool live = true);
  void AddKiosk(std::shared_ptr<Stream> stream, bool live = true);
  // Makes `stream` the participant's; returns the stream it replaces, if any.
  std::shared_ptr<Stream> SetParticipant(const std::string& participant_id,
                                         std::shared_ptr<Stream> stream,
                                         bool live = true);
  // `stream`, added for `role` (and `participant_id`) with `live` false, now
  // gets what its role gets.
  void GoLive(const Stream* stream, Role role,
              const std::string& participant_id);
  // Forgets the participant's stream if it is `stream` (any stream when
  // null); returns it, or null when it was not there.
  std::shared_ptr<Stream> RemoveParticipant(const std::string& participant_id,
                                            const Stream* stream = nullptr);
  // The participant's current stream, or null.
  Stream* Participant(const std::string& participant_id) const;

  // Sends each event to every stream that may see it.
  void Publish(const std::vector<engine::Event>& events, int64_t now_ms);
  // Sends `events` that `role` may see to one stream (a resuming client).
  static void SendVisible(const std::vector<const engine::Event*>& events,
                          Role role, const std::string& participant_id,
                          Stream* stream, int64_t now_ms);

  // Sends the same bytes to every stream of the roles given.
  void SendToInstructors(const grpc::ByteBuffer& bytes, Delivery delivery);
  void SendToAll(const grpc::ByteBuffer& bytes, Delivery delivery);
  // Sends class-wide progress to the participants whose id falls in slice
  // `slice` of `slices`. Sent one slice a tick, every participant gets it
  // once per `slices` ticks, and a class's progress writes are spread over
  // those ticks instead of one burst to every stream (which delayed every
  // ack behind it: 2,000 writes take the transport tens of milliseconds).
  void SendProgressToParticipants(const grpc::ByteBuffer& bytes, int slice,
                                  int slices);
  // Sends class-wide progress to every instructor and kiosk.
  void SendProgressToStaff(const grpc::ByteBuffer& bytes);
  size_t participant_count() const { return participants_.size(); }
  // Sends `bytes` to every stream, then finishes each with `status` once
  // its queue is written.
  void CloseAll(const grpc::ByteBuffer& bytes, const absl::Status& status);

  // Forgets instructor and kiosk streams that are done. (Participants leave
  // through RemoveParticipant, which also records the connection change.)
  void Prune();

  bool has_instructors() const { return !instructors_.empty(); }
  size_t size() const {
    return instructors_.size() + kiosks_.size() + participants_.size();
  }

 private:
  struct Member {
    std::shared_ptr<Stream> stream;
    bool live = true;  // false while it catches up
  };
  static void SendTo(const std::vector<Member>& members,
                     const grpc::ByteBuffer& bytes, Delivery delivery);

  std::vector<Member> instructors_;
  std::vector<Member> kiosks_;
  absl::flat_hash_map<std::string, Member> participants_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_FANOUT_BROADCASTER_H_
