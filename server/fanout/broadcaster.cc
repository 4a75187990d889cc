#include "server/fanout/broadcaster.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "server/fanout/wire.h"

namespace circuit {

bool Visible(const engine::Event& event, Role role,
             const std::string& participant_id) {
  const bool named = role == Role::kParticipant && !participant_id.empty() &&
                     event.participant_id == participant_id;
  switch (event.audience) {
    case engine::Audience::kPublic:
      return true;
    case engine::Audience::kInstructor:
      return role == Role::kInstructor;
    case engine::Audience::kInstructorAndParticipant:
      return role == Role::kInstructor || named;
    case engine::Audience::kParticipant:
      return named;
  }
  return false;
}

void Broadcaster::AddInstructor(std::shared_ptr<Stream> stream, bool live) {
  instructors_.push_back(Member{std::move(stream), live});
}

void Broadcaster::AddKiosk(std::shared_ptr<Stream> stream, bool live) {
  kiosks_.push_back(Member{std::move(stream), live});
}

std::shared_ptr<Stream> Broadcaster::SetParticipant(
    const std::string& participant_id, std::shared_ptr<Stream> stream,
    bool live) {
  Member& slot = participants_[participant_id];
  slot.live = live;
  return std::exchange(slot.stream, std::move(stream));
}

void Broadcaster::GoLive(const Stream* stream, Role role,
                         const std::string& participant_id) {
  auto go_live = [stream](Member& m) {
    if (m.stream.get() == stream) m.live = true;
  };
  switch (role) {
    case Role::kInstructor:
      for (Member& m : instructors_) go_live(m);
      return;
    case Role::kKiosk:
      for (Member& m : kiosks_) go_live(m);
      return;
    case Role::kParticipant: {
      auto it = participants_.find(participant_id);
      if (it != participants_.end()) go_live(it->second);
      return;
    }
  }
}

std::shared_ptr<Stream> Broadcaster::RemoveParticipant(
    const std::string& participant_id, const Stream* stream) {
  auto it = participants_.find(participant_id);
  if (it == participants_.end()) return nullptr;
  if (stream != nullptr && it->second.stream.get() != stream) return nullptr;
  std::shared_ptr<Stream> out = std::move(it->second.stream);
  participants_.erase(it);
  return out;
}

Stream* Broadcaster::Participant(const std::string& participant_id) const {
  auto it = participants_.find(participant_id);
  return it == participants_.end() ? nullptr : it->second.stream.get();
}

void Broadcaster::Publish(const std::vector<engine::Event>& events,
                          int64_t now_ms) {
  for (const engine::Event& e : events) {
    grpc::ByteBuffer bytes = EncodeEvent(e.event, now_ms);
    if (Visible(e, Role::kInstructor, "")) {
      SendTo(instructors_, bytes, Delivery::kReliable);
    }
    if (Visible(e, Role::kKiosk, "")) {
      SendTo(kiosks_, bytes, Delivery::kReliable);
    }
    if (e.audience == engine::Audience::kPublic) {
      for (const auto& [id, m] : participants_) {
        if (m.live) m.stream->Send(bytes, Delivery::kReliable);
      }
    } else if (!e.participant_id.empty()) {
      // Only the named participant can see it: one lookup, not a walk.
      auto it = participants_.find(e.participant_id);
      if (it != participants_.end() && it->second.live &&
          Visible(e, Role::kParticipant, it->first)) {
        it->second.stream->Send(bytes, Delivery::kReliable);
      }
    }
  }
}

void Broadcaster::SendVisible(const std::vector<const engine::Event*>& events,
                              Role role, const std::string& participant_id,
                              Stream* stream, int64_t now_ms) {
  for (const engine::Event* e : events) {
    if (Visible(*e, role, participant_id)) {
      stream->Send(EncodeEvent(e->event, now_ms), Delivery::kReliable);
    }
  }
}

void Broadcaster::SendTo(const std::vector<Member>& members,
                         const grpc::ByteBuffer& bytes, Delivery delivery) {
  for (const Member& m : members) {
    if (m.live) m.stream->Send(bytes, delivery);
  }
}

void Broadcaster::SendToInstructors(const grpc::ByteBuffer& bytes,
                                    Delivery delivery) {
  SendTo(instructors_, bytes, delivery);
}

void Broadcaster::SendToAll(const grpc::ByteBuffer& bytes, Delivery delivery) {
  SendTo(instructors_, bytes, delivery);
  SendTo(kiosks_, bytes, delivery);
  for (const auto& [id, m] : participants_) {
    if (m.live) m.stream->Send(bytes, delivery);
  }
}

void Broadcaster::SendProgressToParticipants(const grpc::ByteBuffer& bytes,
                                             int slice, int slices) {
  const absl::Hash<std::string> hash;
  for (const auto& [id, m] : participants_) {
    if (m.live &&
        (slices <= 1 ||
         static_cast<int>(hash(id) % static_cast<size_t>(slices)) == slice)) {
      m.stream->Send(bytes, Delivery::kLatestProgress);
    }
  }
}

void Broadcaster::SendProgressToStaff(const grpc::ByteBuffer& bytes) {
  SendTo(instructors_, bytes, Delivery::kLatestProgress);
  SendTo(kiosks_, bytes, Delivery::kLatestProgress);
}

void Broadcaster::CloseAll(const grpc::ByteBuffer& bytes,
                           const absl::Status& status) {
  // Catching up or not: a stream that is told the server is going away
  // resumes from the last seq it got.
  auto close = [&](const Member& m) {
    m.stream->Send(bytes, Delivery::kReliable);
    m.stream->Close(status, /*after_queued=*/true);
  };
  for (const Member& m : instructors_) close(m);
  for (const Member& m : kiosks_) close(m);
  for (const auto& [id, m] : participants_) close(m);
}

void Broadcaster::Prune() {
  auto dead = [](const Member& m) { return m.stream->dead(); };
  instructors_.erase(
      std::remove_if(instructors_.begin(), instructors_.end(), dead),
      instructors_.end());
  kiosks_.erase(std::remove_if(kiosks_.begin(), kiosks_.end(), dead),
                kiosks_.end());
}

}  // namespace circuit
