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

void Broadcaster::AddInstructor(std::shared_ptr<Stream> stream) {
  instructors_.push_back(std::move(stream));
}

void Broadcaster::AddKiosk(std::shared_ptr<Stream> stream) {
  kiosks_.push_back(std::move(stream));
}

std::shared_ptr<Stream> Broadcaster::SetParticipant(
    const std::string& participant_id, std::shared_ptr<Stream> stream) {
  std::shared_ptr<Stream>& slot = participants_[participant_id];
  return std::exchange(slot, std::move(stream));
}

std::shared_ptr<Stream> Broadcaster::RemoveParticipant(
    const std::string& participant_id, const Stream* stream) {
  auto it = participants_.find(participant_id);
  if (it == participants_.end()) return nullptr;
  if (stream != nullptr && it->second.get() != stream) return nullptr;
  std::shared_ptr<Stream> out = std::move(it->second);
  participants_.erase(it);
  return out;
}

Stream* Broadcaster::Participant(const std::string& participant_id) const {
  auto it = participants_.find(participant_id);
  return it == participants_.end() ? nullptr : it->second.get();
}

void Broadcaster::Publish(const std::vector<engine::Event>& events,
                          int64_t now_ms) {
  for (const engine::Event& e : events) {
    grpc::ByteBuffer bytes = EncodeEvent(e.event, now_ms);
    if (Visible(e, Role::kInstructor, "")) {
      for (const auto& s : instructors_) s->Send(bytes, Delivery::kReliable);
    }
    if (Visible(e, Role::kKiosk, "")) {
      for (const auto& s : kiosks_) s->Send(bytes, Delivery::kReliable);
    }
    if (e.audience == engine::Audience::kPublic) {
      for (const auto& [id, s] : participants_) {
        s->Send(bytes, Delivery::kReliable);
      }
    } else if (!e.participant_id.empty()) {
      // Only the named participant can see it: one lookup, not a walk.
      auto it = participants_.find(e.participant_id);
      if (it != participants_.end() &&
          Visible(e, Role::kParticipant, it->first)) {
        it->second->Send(bytes, Delivery::kReliable);
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

void Broadcaster::SendToInstructors(const grpc::ByteBuffer& bytes,
                                    Delivery delivery) {
  for (const auto& s : instructors_) s->Send(bytes, delivery);
}

void Broadcaster::SendToAll(const grpc::ByteBuffer& bytes, Delivery delivery) {
  for (const auto& s : instructors_) s->Send(bytes, delivery);
  for (const auto& s : kiosks_) s->Send(bytes, delivery);
  for (const auto& [id, s] : participants_) s->Send(bytes, delivery);
}

void Broadcaster::SendProgressToParticipants(const grpc::ByteBuffer& bytes,
                                             int slice, int slices) {
  const absl::Hash<std::string> hash;
  for (const auto& [id, s] : participants_) {
    if (slices <= 1 ||
        static_cast<int>(hash(id) % static_cast<size_t>(slices)) == slice) {
      s->Send(bytes, Delivery::kLatestProgress);
    }
  }
}

void Broadcaster::SendProgressToStaff(const grpc::ByteBuffer& bytes) {
  for (const auto& s : instructors_) s->Send(bytes, Delivery::kLatestProgress);
  for (const auto& s : kiosks_) s->Send(bytes, Delivery::kLatestProgress);
}

void Broadcaster::CloseAll(const grpc::ByteBuffer& bytes,
                           const grpc::Status& status) {
  auto close = [&](const std::shared_ptr<Stream>& s) {
    s->Send(bytes, Delivery::kReliable);
    s->Close(status, /*after_queued=*/true);
  };
  for (const auto& s : instructors_) close(s);
  for (const auto& s : kiosks_) close(s);
  for (const auto& [id, s] : participants_) close(s);
}

void Broadcaster::Prune() {
  auto dead = [](const std::shared_ptr<Stream>& s) { return s->dead(); };
  instructors_.erase(
      std::remove_if(instructors_.begin(), instructors_.end(), dead),
      instructors_.end());
  kiosks_.erase(std::remove_if(kiosks_.begin(), kiosks_.end(), dead),
                kiosks_.end());
}

}  // namespace circuit
