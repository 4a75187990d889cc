#include "server/cluster/fence.h"

#include <utility>

namespace circuit::cluster {

FenceReader::Read FenceReader::Next(internal::LogRecord record,
                                    std::vector<internal::LogRecord>* taken) {
  switch (record.body_case()) {
    case internal::LogRecord::kCreated:
      if (created_) return Read::kIgnored;
      created_ = true;
      return Read::kCreated;
    case internal::LogRecord::kTakeover:
      if (record.term() <= term_) return Read::kIgnored;
      term_ = record.term();
      last_n_ = 0;
      waiting_.clear();
      return Read::kTakeover;
    case internal::LogRecord::kEntry:
      break;
    case internal::LogRecord::BODY_NOT_SET:
      return Read::kIgnored;
  }
  if (term_ == 0 || record.term() != term_ || record.n() <= last_n_) {
    return Read::kIgnored;
  }
  if (record.n() != last_n_ + 1) {
    return waiting_.emplace(record.n(), std::move(record)).second
               ? Read::kWaiting
               : Read::kIgnored;
  }
  last_n_ = record.n();
  taken->push_back(std::move(record));
  // Whatever waited for this one follows it.
  for (auto it = waiting_.begin();
       it != waiting_.end() && it->first == last_n_ + 1;
       it = waiting_.erase(it)) {
    last_n_ = it->first;
    taken->push_back(std::move(it->second));
  }
  return Read::kTaken;
}

void FenceReader::Flush(std::vector<internal::LogRecord>* taken) {
  for (auto& [n, record] : waiting_) {
    last_n_ = n;
    taken->push_back(std::move(record));
  }
  waiting_.clear();
}

}  // namespace circuit::cluster
