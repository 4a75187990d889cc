#include "absl/strings/str_cat.h"
#include "server/journal/journal.h"

namespace circuit {

absl::Status InMemoryJournal::CreateClass(const v1::ClassInfo& info) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = classes_.try_emplace(info.class_id());
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("class ", info.class_id(), " is already journaled"));
  }
  it->second.info = info;
  return absl::OkStatus();
}

absl::Status InMemoryJournal::Append(
    const std::string& class_id, const std::vector<v1::ClassEvent>& events) {
  absl::MutexLock lock(&mu_);
  auto it = classes_.find(class_id);
  if (it == classes_.end()) {
    return absl::NotFoundError(
        absl::StrCat("class ", class_id, " was never journaled"));
  }
  std::vector<v1::ClassEvent>& log = it->second.events;
  int64_t last = log.empty() ? 0 : log.back().seq();
  for (const v1::ClassEvent& e : events) {
    if (e.seq() <= last) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event seq ", e.seq(), " is not after ", last, " in ", class_id));
    }
    last = e.seq();
  }
  log.insert(log.end(), events.begin(), events.end());
  return absl::OkStatus();
}

std::vector<v1::ClassEvent> InMemoryJournal::Events(
    const std::string& class_id) const {
  absl::MutexLock lock(&mu_);
  auto it = classes_.find(class_id);
  if (it == classes_.end()) return {};
  return it->second.events;
}

}  // namespace circuit
