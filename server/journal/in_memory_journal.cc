#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/journal/journal.h"

namespace circuit {

const std::string& ParticipantOf(const internal::Entry& entry) {
  switch (entry.input_case()) {
    case internal::Entry::kJoin:
      return entry.join().participant_id();
    case internal::Entry::kConnection:
      return entry.connection().participant_id();
    case internal::Entry::kReport:
      return entry.report().participant_id();
    case internal::Entry::kToken:
      return entry.token().participant_id();
    default: {
      static const std::string* const kNone = new std::string;
      return *kNone;
    }
  }
}

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
                               std::vector<internal::ProfileUpdate> profiles,
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
      for (internal::ProfileUpdate& update : profiles) {
        ProfileLog& log = profiles_[update.profile().profile().profile_id()];
        log.profile = std::move(*update.mutable_profile());
        log.past.push_back(std::move(*update.mutable_past()));
      }
    }
  }
  done(status);
}

void InMemoryJournal::PutProfile(const internal::StoredProfile& profile,
                                 JournalDone done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (!fail_with_.ok()) {
      status = fail_with_;
    } else {
      profiles_[profile.profile().profile_id()].profile = profile;
    }
  }
  done(status);
}

void InMemoryJournal::ReadHistory(const std::string& profile_id,
                                  HistoryDone done) {
  std::vector<internal::PastClass> past;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = profiles_.find(profile_id); it != profiles_.end()) {
      past = it->second.past;
    }
  }
  done(std::move(past));
}

void InMemoryJournal::EraseProfile(const std::string& profile_id,
                                   std::vector<ErasedSeat> seats,
                                   JournalDone done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    for (const ErasedSeat& seat : seats) {
      auto it = classes_.find(seat.class_id);
      if (it == classes_.end() || !it->second.ended) {
        status = absl::FailedPreconditionError(
            absl::StrCat("class ", seat.class_id, " has not ended"));
      }
    }
    if (!fail_with_.ok()) status = fail_with_;
    if (status.ok()) {
      for (ErasedSeat& seat : seats) {
        ClassLog& log = classes_[seat.class_id];
        std::vector<internal::Entry> kept;
        for (internal::Entry& entry : log.entries) {
          if (ParticipantOf(entry) != seat.participant_id) {
            kept.push_back(std::move(entry));
          }
        }
        log.entries = std::move(kept);
        log.summary = std::move(seat.scrubbed);
      }
      profiles_.erase(profile_id);
    }
  }
  done(status);
}

absl::StatusOr<std::vector<StoredProfileHistory>> InMemoryJournal::LoadProfiles(
    int recent) {
  absl::MutexLock lock(&mu_);
  std::vector<StoredProfileHistory> out;
  for (const auto& [id, log] : profiles_) {
    StoredProfileHistory stored;
    stored.profile = log.profile;
    stored.class_count = static_cast<int32_t>(log.past.size());
    const size_t first = log.past.size() > static_cast<size_t>(recent)
                             ? log.past.size() - recent
                             : 0;
    stored.recent.assign(log.past.begin() + first, log.past.end());
    out.push_back(std::move(stored));
  }
  return out;
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
