#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/journal/journal.h"

namespace circuit {

bool IsHealthEntry(const internal::Entry& entry) {
  return entry.has_report() &&
         (entry.report().has_effort() || entry.report().has_symptom());
}

void InMemoryJournal::FailWritesWith(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_with_ = std::move(status);
}

void InMemoryJournal::CreateClass(const internal::ClassRecord& record,
                                  JournalDone done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (!fail_with_.ok()) {
      status = fail_with_;
    } else if (auto [it, inserted] =
                   classes_.try_emplace(record.info().class_id());
               !inserted) {
      status = absl::AlreadyExistsError(absl::StrCat(
          "class ", record.info().class_id(), " is already journaled"));
    } else {
      it->second.stored.record = record;
      it->second.created_order = next_order_++;
    }
  }
  done(status);
}

void InMemoryJournal::Append(const std::string& class_id, internal::Entry entry,
                             JournalDone done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    auto it = classes_.find(class_id);
    if (!fail_with_.ok()) {
      status = fail_with_;
    } else if (it == classes_.end()) {
      status = absl::NotFoundError(
          absl::StrCat("class ", class_id, " was never journaled"));
    } else {
      it->second.entries.push_back(std::move(entry));
    }
  }
  done(status);
}

void InMemoryJournal::EndClass(const v1::ClassSummary& summary,
                               JournalDone done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    auto it = classes_.find(summary.class_info().class_id());
    if (!fail_with_.ok()) {
      status = fail_with_;
    } else if (it == classes_.end()) {
      status = absl::NotFoundError(absl::StrCat(
          "class ", summary.class_info().class_id(), " was never journaled"));
    } else {
      *it->second.stored.record.mutable_info() = summary.class_info();
      it->second.ended = true;
      it->second.summary = summary;
    }
  }
  done(status);
}

void InMemoryJournal::ReadSummary(
    const std::string& class_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) {
  absl::StatusOr<v1::ClassSummary> result;
  {
    absl::MutexLock lock(&mu_);
    auto it = classes_.find(class_id);
    if (it == classes_.end() || !it->second.ended) {
      result = absl::NotFoundError(
          absl::StrCat("no stored summary for class ", class_id));
    } else {
      result = it->second.summary;
    }
  }
  done(std::move(result));
}

void InMemoryJournal::EraseHealthData(const v1::ClassSummary& scrubbed,
                                      const std::string& participant_id,
                                      JournalDone done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    auto it = classes_.find(scrubbed.class_info().class_id());
    if (!fail_with_.ok()) {
      status = fail_with_;
    } else if (it == classes_.end()) {
      status = absl::NotFoundError(absl::StrCat(
          "class ", scrubbed.class_info().class_id(), " was never journaled"));
    } else if (!it->second.ended) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "class ", scrubbed.class_info().class_id(), " has not ended"));
    } else {
      std::vector<internal::Entry>& entries = it->second.entries;
      entries.erase(std::remove_if(entries.begin(), entries.end(),
                                   [&](const internal::Entry& e) {
                                     return IsHealthEntry(e) &&
                                            (participant_id.empty() ||
                                             e.report().participant_id() ==
                                                 participant_id);
                                   }),
                    entries.end());
      it->second.summary = scrubbed;
      if (participant_id.empty()) it->second.stored.health_purged = true;
    }
  }
  done(status);
}

absl::StatusOr<std::vector<StoredClass>> InMemoryJournal::LoadClasses() {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, const StoredClass*>> ordered;
  for (const auto& [id, log] : classes_) {
    ordered.emplace_back(log.created_order, &log.stored);
  }
  std::sort(ordered.begin(), ordered.end());
  std::vector<StoredClass> out;
  out.reserve(ordered.size());
  for (const auto& [order, stored] : ordered) {
    if (stored->record.info().phase() == v1::CLASS_PHASE_ENDED) {
      StoredClass listed;
      *listed.record.mutable_info() = stored->record.info();
      listed.health_purged = stored->health_purged;
      out.push_back(std::move(listed));
    } else {
      out.push_back(*stored);
    }
  }
  return out;
}

absl::StatusOr<std::vector<internal::Entry>> InMemoryJournal::LoadEntries(
    const std::string& class_id) {
  absl::MutexLock lock(&mu_);
  auto it = classes_.find(class_id);
  if (it == classes_.end()) {
    return absl::NotFoundError(
        absl::StrCat("class ", class_id, " was never journaled"));
  }
  return it->second.entries;
}

}  // namespace circuit
