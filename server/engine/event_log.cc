#include "server/engine/event_log.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace circuit::engine {

int64_t EventLog::Append(v1::ClassEvent event, Audience audience,
                         std::string participant_id, int64_t now_ms) {
  event.set_seq(++last_seq_);
  event.set_at_unix_ms(now_ms);
  Event e{std::move(event), audience, std::move(participant_id)};
  pending_.push_back(e);
  retained_.push_back(std::move(e));
  while (retained_.size() > retention_) {
    forgotten_through_ = retained_.front().event.seq();
    retained_.pop_front();
  }
  return last_seq_;
}

std::vector<Event> EventLog::Drain() {
  std::vector<Event> out;
  out.swap(pending_);
  return out;
}

std::optional<std::vector<const Event*>> EventLog::After(int64_t after_seq,
                                                         size_t max) const {
  std::vector<const Event*> out;
  // A client ahead of us (confused, or from another run) has nothing to get.
  if (after_seq >= last_seq_) return out;
  if (after_seq < 0) after_seq = 0;
  if (after_seq < forgotten_through_) return std::nullopt;
  auto first = std::upper_bound(
      retained_.begin(), retained_.end(), after_seq,
      [](int64_t seq, const Event& e) { return seq < e.event.seq(); });
  out.reserve(std::min(
      max, static_cast<size_t>(std::distance(first, retained_.end()))));
  for (auto it = first; it != retained_.end() && out.size() < max; ++it) {
    out.push_back(&*it);
  }
  return out;
}

void EventLog::RemoveIf(absl::FunctionRef<bool(const Event&)> remove) {
  retained_.erase(std::remove_if(retained_.begin(), retained_.end(),
                                 [&](const Event& e) { return remove(e); }),
                  retained_.end());
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Event& e) { return remove(e); }),
                 pending_.end());
}

}  // namespace circuit::engine
