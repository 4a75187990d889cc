#include "server/live/class_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/common/log.h"
#include "server/common/quote.h"
#include "server/common/secrets.h"
#include "server/common/stats.h"
#include "server/engine/summary.h"
#include "server/engine/text.h"

namespace circuit {
namespace {

constexpr size_t kMaxTitle = 80;

}  // namespace

ClassRegistry::ClassRegistry(const CircuitLibrary* library, Journal* journal,
                             const Clock* clock, Executor* executor,
                             RegistryOptions options)
    : library_(library),
      journal_(journal),
      clock_(clock),
      executor_(executor),
      options_(std::move(options)),
      profiles_(journal, clock) {
  if (options_.cluster != nullptr) {
    follow_thread_ = std::thread([this] { RunFollowThread(); });
  }
}

ClassRegistry::~ClassRegistry() {
  StopTicker();
  StopFollowing();
}

ActorDeps ClassRegistry::Deps() {
  ActorDeps deps;
  deps.journal = journal_;
  deps.clock = clock_;
  deps.executor = executor_;
  deps.seats = &seats_;
  deps.session = options_.session;
  deps.profiles = &profiles_;
  deps.library = library_;
  deps.cluster = options_.cluster;
  return deps;
}

absl::Status ClassRegistry::Recover() {
  if (absl::Status loaded = profiles_.Load(); !loaded.ok()) return loaded;
  // A cluster's other nodes make and change profiles too. (The journal
  // stops before this registry goes.)
  journal_->WatchProfiles(
      ProfileBook::kRecentClasses,
      [this](const std::string& profile_id,
             absl::StatusOr<std::optional<StoredProfileHistory>> stored) {
        if (stored.ok()) profiles_.Refresh(profile_id, *std::move(stored));
      });
  absl::StatusOr<std::vector<StoredClass>> classes = journal_->LoadClasses();
  if (!classes.ok()) return classes.status();
  std::vector<std::shared_ptr<ClassActor>> open;
  int ended = 0;
  for (StoredClass& stored : *classes) {
    const v1::ClassInfo& info = stored.record.info();
    if (info.phase() == v1::CLASS_PHASE_ENDED) {
      absl::MutexLock lock(&mu_);
      stored_[info.class_id()] = Stored{info, stored.health_purged};
      ++ended;
      continue;
    }
    absl::StatusOr<std::shared_ptr<ClassActor>> actor =
        ClassActor::Create(stored.record, Deps());
    if (!actor.ok()) {
      return absl::DataLossError(absl::StrCat("stored class ", info.class_id(),
                                              ": ", actor.status().message()));
    }
    absl::StatusOr<std::vector<internal::Entry>> entries =
        journal_->LoadEntries(info.class_id());
    // In a cluster, a class another node owns is that node's to run.
    if (absl::IsFailedPrecondition(entries.status())) {
      LogInfo("class %s: %s", info.class_id(), entries.status().message());
      continue;
    }
    if (!entries.ok()) return entries.status();
    (*actor)->Replay(*entries);
    open.push_back(*actor);
    absl::MutexLock lock(&mu_);
    AddLocked(std::move(*actor));
  }
  // Every class that was open comes back paused with its seats dropped;
  // that is journaled like any input before anyone is served.
  absl::Mutex done_mu;
  size_t done = 0;
  absl::Status first_error;
  for (const auto& actor : open) {
    actor->Recover([&](absl::Status status) {
      absl::MutexLock lock(&done_mu);
      if (!status.ok() && first_error.ok()) first_error = status;
      ++done;
    });
  }
  {
    absl::MutexLock lock(&done_mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(done_mu) {
      return done == open.size();
    };
    done_mu.Await(absl::Condition(&all_done));
  }
  if (!first_error.ok()) return first_error;
  if (!classes->empty()) {
    LogInfo("recovered %d classes from the journal (%d replayed, %d ended)",
            static_cast<int>(classes->size()), static_cast<int>(open.size()),
            ended);
  }
  return absl::OkStatus();
}

void ClassRegistry::Adopt(const internal::ClassRecord& record) {
  const std::string& class_id = record.info().class_id();
  {
    absl::MutexLock lock(&mu_);
    if (by_id_.count(class_id) != 0) return;
  }
  absl::StatusOr<std::shared_ptr<ClassActor>> actor =
      ClassActor::Create(record, Deps());
  if (!actor.ok()) {
    LogError("class %s cannot be taken over: %s", class_id,
             actor.status().message());
    return;
  }
  absl::StatusOr<std::vector<internal::Entry>> entries =
      journal_->LoadEntries(class_id);
  if (!entries.ok()) {
    // Another node claimed it first (FAILED_PRECONDITION), or the cluster
    // did not answer: the next look decides.
    LogInfo("class %s not taken over: %s", class_id,
            entries.status().message());
    return;
  }
  (*actor)->Replay(*entries);
  Followed was;
  {
    absl::MutexLock lock(&mu_);
    if (by_id_.count(class_id) != 0) return;
    AddLocked(*actor);
    // This node followed it: its streams here resume on the class itself.
    if (auto it = followed_.find(class_id); it != followed_.end()) {
      was = std::move(it->second);
      followed_by_code_.erase(absl::AsciiStrToUpper(was.actor->join_code()));
      followed_.erase(it);
      CountFollowedLocked();
    }
  }
  if (was.actor != nullptr) {
    was.reading.reset();
    was.actor->Close();
    was.actor->GoAway("this node takes the class over");
  }
  absl::Notification recovered;
  absl::Status status;
  (*actor)->Recover([&](absl::Status s) {
    status = std::move(s);
    recovered.Notify();
  });
  recovered.WaitForNotification();
  if (!status.ok()) {
    LogWarning("class %s taken over, but its restart was not recorded: %s",
               class_id, status.message());
    return;
  }
  LogInfo("class %s taken over: %d inputs replayed", class_id,
          static_cast<int>(entries->size()));
}

void ClassRegistry::Drop(const std::string& class_id, const std::string& why) {
  std::shared_ptr<ClassActor> actor;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(class_id);
    if (it == by_id_.end()) return;
    actor = std::move(it->second);
    by_id_.erase(it);
    id_by_code_.erase(actor->join_code());
    seats_.ForgetClass(class_id);
  }
  actor->Close();
  actor->GoAway(why);
  LogWarning("class %s left this node: %s", class_id, why);
}

void ClassRegistry::AddLocked(std::shared_ptr<ClassActor> actor) {
  id_by_code_[actor->join_code()] = actor->class_id();
  by_id_[actor->class_id()] = std::move(actor);
}

void ClassRegistry::Create(
    const std::string& circuit_id, const std::string& title,
    const std::string& studio_id, const std::string& owner_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::ClassInfo>)> done) {
  const v1::Circuit* circuit = library_->FindCircuit(circuit_id);
  if (circuit == nullptr) {
    done(absl::NotFoundError(absl::StrCat("no circuit with id \"",
                                          circuit_id.substr(0, 64),
                                          "\"; ListCircuits lists them")));
    return;
  }
  if (absl::Status title_ok = engine::CheckText("title", title, 0, kMaxTitle);
      !title_ok.ok()) {
    done(title_ok);
    return;
  }
  internal::ClassRecord record;
  v1::ClassInfo* info = record.mutable_info();
  info->set_circuit_id(circuit->id());
  info->set_circuit_name(circuit->name());
  info->set_title(title.empty() ? circuit->name() : title);
  info->set_phase(v1::CLASS_PHASE_LOBBY);
  info->set_created_unix_ms(clock_->NowUnixMs());
  info->set_studio_id(studio_id);
  info->set_owner_id(owner_id);
  *record.mutable_circuit() = *circuit;
  for (v1::Exercise& e : library_->ExercisesFor(*circuit)) {
    *record.add_exercises() = std::move(e);
  }
  // The class keeps the rule table too: a library edited later never
  // changes how this class adapts, live or replayed.
  *record.mutable_rules() = library_->rules();
  {
    absl::MutexLock lock(&mu_);
    const size_t held = by_id_.size() + static_cast<size_t>(pending_creates_);
    if (held >= static_cast<size_t>(options_.max_classes)) {
      EvictOldestEndedLocked();
    }
    if (by_id_.size() + static_cast<size_t>(pending_creates_) >=
        static_cast<size_t>(options_.max_classes)) {
      done(absl::ResourceExhaustedError(
          absl::StrCat("this server holds its maximum of ",
                       options_.max_classes, " classes")));
      return;
    }
    do {
      info->set_class_id(absl::StrCat("c-", RandomHex(8)));
    } while (by_id_.count(info->class_id()) != 0 ||
             stored_.count(info->class_id()) != 0);
    do {
      info->set_join_code(NewJoinCode());
    } while (id_by_code_.count(info->join_code()) != 0 ||
             pending_codes_.count(info->join_code()) != 0);
    pending_codes_.insert(info->join_code());
    ++pending_creates_;
  }
  absl::StatusOr<std::shared_ptr<ClassActor>> actor =
      ClassActor::Create(record, Deps());
  journal_->CreateClass(
      record, [this, record, actor = std::move(actor),
               done = std::move(done)](absl::Status status) mutable {
        absl::MutexLock lock(&mu_);
        pending_codes_.erase(record.info().join_code());
        --pending_creates_;
        if (status.ok() && !actor.ok()) status = actor.status();
        if (!status.ok()) {
          done(status);
          return;
        }
        AddLocked(std::move(*actor));
        LogInfo("class %s created from %s", record.info().class_id(),
                record.info().circuit_id());
        done(record.info());
      });
}

std::shared_ptr<ClassActor> ClassRegistry::Find(
    const std::string& class_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(class_id);
  if (it != by_id_.end()) return it->second;
  auto followed = followed_.find(class_id);
  return followed == followed_.end() ? nullptr : followed->second.actor;
}

std::shared_ptr<ClassActor> ClassRegistry::FindByJoinCode(
    const std::string& code) const {
  std::string upper = absl::AsciiStrToUpper(code);
  absl::MutexLock lock(&mu_);
  auto code_it = id_by_code_.find(upper);
  if (code_it == id_by_code_.end()) {
    auto followed = followed_by_code_.find(upper);
    if (followed == followed_by_code_.end()) return nullptr;
    auto it = followed_.find(followed->second);
    return it == followed_.end() ? nullptr : it->second.actor;
  }
  auto it = by_id_.find(code_it->second);
  return it == by_id_.end() ? nullptr : it->second;
}

std::optional<v1::ClassInfo> ClassRegistry::FindStored(
    const std::string& class_id) const {
  absl::MutexLock lock(&mu_);
  auto it = stored_.find(class_id);
  if (it == stored_.end()) return std::nullopt;
  return it->second.info;
}

std::optional<v1::ClassInfo> ClassRegistry::Info(
    const std::string& class_id) const {
  if (std::shared_ptr<ClassActor> actor = Find(class_id)) return actor->Info();
  return FindStored(class_id);
}

absl::Status ClassRegistry::NotHere(const std::string& class_id,
                                    const std::string& join_code) const {
  if (options_.cluster != nullptr) {
    if (std::optional<ClusterLink::Located> located =
            options_.cluster->Locate(class_id, join_code);
        located.has_value()) {
      const std::string name =
          class_id.empty() ? QuoteForError(join_code) : class_id;
      if (located->owner.empty() ||
          located->owner == options_.cluster->node()) {
        return absl::UnavailableError(absl::StrCat(
            "class ", name, " is moving between nodes; retry (with backoff)"));
      }
      RequestFollow(located->class_id);
      return absl::UnavailableError(absl::StrCat(
          "class ", name, " is run by node ", located->owner,
          "; this node is catching up with it: retry (with backoff)"));
    }
  }
  return absl::NotFoundError(
      class_id.empty()
          ? absl::StrCat("no class with join code ", QuoteForError(join_code))
          : absl::StrCat("no class with id ", QuoteForError(class_id)));
}

absl::StatusOr<ClassRegistry::Seat> ClassRegistry::FindSeat(
    const std::string& resume_token) const {
  absl::StatusOr<SeatRef> seat = seats_.Find(resume_token);
  if (!seat.ok()) {
    // A seat of a class another node runs (its token names the class).
    const std::string class_id(TokenPrefix(resume_token));
    if (!class_id.empty() && options_.cluster != nullptr &&
        options_.cluster->Locate(class_id, "").has_value()) {
      return NotHere(class_id, "");
    }
    return seat.status();
  }
  std::shared_ptr<ClassActor> actor = Find(seat->class_id);
  if (actor == nullptr) {
    if (options_.cluster != nullptr &&
        options_.cluster->Locate(seat->class_id, "").has_value()) {
      return NotHere(seat->class_id, "");
    }
    return absl::NotFoundError(
        "the class of this resume token is over and no longer live");
  }
  return Seat{std::move(actor), seat->participant_id};
}

std::vector<v1::ClassInfo> ClassRegistry::List(bool include_ended) const {
  std::vector<v1::ClassInfo> out;
  // What this node runs or follows is live; the rest of a cluster's classes
  // are as its directory has them.
  absl::flat_hash_set<std::string> listed;
  auto add = [&](const v1::ClassInfo& info) {
    if (!listed.insert(info.class_id()).second) return;
    if (!include_ended && info.phase() == v1::CLASS_PHASE_ENDED) return;
    out.push_back(info);
  };
  for (const auto& actor : AllActors()) add(actor->Info());
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, stored] : stored_) add(stored.info);
  }
  if (options_.cluster != nullptr) {
    for (const v1::ClassInfo& info : options_.cluster->Listed()) add(info);
  }
  std::sort(out.begin(), out.end(),
            [](const v1::ClassInfo& a, const v1::ClassInfo& b) {
              if (a.created_unix_ms() != b.created_unix_ms()) {
                return a.created_unix_ms() > b.created_unix_ms();
              }
              return a.class_id() < b.class_id();
            });
  return out;
}

std::vector<v1::ClassInfo> ClassRegistry::ListRunHere() const {
  std::vector<v1::ClassInfo> out;
  for (const auto& actor : Actors()) {
    v1::ClassInfo info = actor->Info();
    if (info.phase() != v1::CLASS_PHASE_ENDED) out.push_back(std::move(info));
  }
  return out;
}

void ClassRegistry::Summary(
    const std::string& class_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) {
  if (std::shared_ptr<ClassActor> actor = Find(class_id)) {
    actor->Summary([done = std::move(done)](v1::ClassSummary summary) mutable {
      done(std::move(summary));
    });
    return;
  }
  if (!FindStored(class_id).has_value()) {
    done(absl::NotFoundError(
        absl::StrCat("no class with id \"", class_id.substr(0, 64), "\"")));
    return;
  }
  journal_->ReadSummary(class_id, std::move(done));
}

void ClassRegistry::EraseProfile(
    const std::string& profile_id,
    absl::AnyInvocable<void(absl::StatusOr<int>)> done) {
  std::vector<std::pair<std::string, std::string>> open =
      profiles_.OpenSeats(profile_id);
  if (!open.empty()) {
    done(absl::FailedPreconditionError(
        absl::StrCat("class ", open.front().first,
                     " has not ended; erase your data once it has")));
    return;
  }
  profiles_.History(
      profile_id,
      [this, profile_id, done = std::move(done)](
          absl::StatusOr<std::vector<internal::PastClass>> history) mutable {
        if (!history.ok()) {
          done(history.status());
          return;
        }
        // Her record in each class's summary, scrubbed; gathered from the
        // actors' strands and the journal's thread alike.
        struct Gather {
          absl::Mutex mu;
          size_t waiting ABSL_GUARDED_BY(mu) = 0;
          std::vector<ErasedSeat> seats ABSL_GUARDED_BY(mu);
          // A summary that could not be read: nothing is erased then.
          absl::Status failed ABSL_GUARDED_BY(mu);
          absl::AnyInvocable<void(absl::StatusOr<int>)> done;
        };
        auto gather = std::make_shared<Gather>();
        gather->done = std::move(done);
        std::vector<std::pair<std::string, std::string>> seats;
        for (const internal::PastClass& past : *history) {
          seats.emplace_back(past.class_id(),
                             past.participant().participant_id());
        }
        auto finish = [this, profile_id, gather] {
          std::vector<ErasedSeat> erased;
          absl::Status failed;
          {
            absl::MutexLock lock(&gather->mu);
            erased = std::move(gather->seats);
            failed = gather->failed;
          }
          if (!failed.ok()) {
            gather->done(failed);
            return;
          }
          std::vector<std::pair<std::string, std::string>> in_memory;
          for (const ErasedSeat& seat : erased) {
            in_memory.emplace_back(seat.class_id, seat.participant_id);
          }
          const int count = static_cast<int>(erased.size());
          journal_->EraseProfile(
              profile_id, std::move(erased),
              [this, profile_id, gather, in_memory = std::move(in_memory),
               count](absl::Status status) {
                if (!status.ok()) {
                  gather->done(status);
                  return;
                }
                for (const auto& [class_id, participant_id] : in_memory) {
                  if (std::shared_ptr<ClassActor> actor = Find(class_id)) {
                    actor->EraseSeat(participant_id, [](absl::Status) {});
                  }
                }
                profiles_.Forget(profile_id);
                gather->done(count);
              });
        };
        {
          absl::MutexLock lock(&gather->mu);
          gather->waiting = seats.size() + 1;
        }
        auto one_done = [gather, finish] {
          bool last = false;
          {
            absl::MutexLock lock(&gather->mu);
            last = --gather->waiting == 0;
          }
          if (last) finish();
        };
        for (const auto& [class_id, participant_id] : seats) {
          Summary(class_id,
                  [gather, class_id = class_id, participant_id = participant_id,
                   one_done](absl::StatusOr<v1::ClassSummary> summary) mutable {
                    {
                      absl::MutexLock lock(&gather->mu);
                      if (summary.ok()) {
                        engine::EraseSeat(&*summary, participant_id);
                        gather->seats.push_back(ErasedSeat{
                            class_id, participant_id, *std::move(summary)});
                      } else if (!absl::IsNotFound(summary.status())) {
                        gather->failed = summary.status();
                      }
                    }
                    one_done();
                  });
        }
        one_done();
      });
}

void ClassRegistry::EraseHealthData(
    const std::string& class_id, const std::string& participant_id,
    absl::AnyInvocable<void(absl::Status)> done) {
  if (std::shared_ptr<ClassActor> actor = Find(class_id)) {
    actor->EraseHealthData(participant_id, std::move(done));
    return;
  }
  if (!FindStored(class_id).has_value()) {
    done(absl::NotFoundError(
        absl::StrCat("no class with id \"", class_id.substr(0, 64), "\"")));
    return;
  }
  journal_->ReadSummary(
      class_id, [this, participant_id, done = std::move(done)](
                    absl::StatusOr<v1::ClassSummary> summary) mutable {
        if (!summary.ok()) {
          done(summary.status());
          return;
        }
        bool found = false;
        for (const v1::ParticipantSummary& p : summary->participants()) {
          found = found || p.participant_id() == participant_id;
        }
        if (!found) {
          done(absl::NotFoundError(absl::StrCat("participant ",
                                                participant_id.substr(0, 64),
                                                " is not in this class")));
          return;
        }
        engine::ScrubHealthData(&*summary, participant_id);
        journal_->EraseHealthData(*summary, participant_id, std::move(done));
      });
}

void ClassRegistry::PurgeExpiredHealthData(absl::AnyInvocable<void(int)> done) {
  const int64_t cutoff_ms =
      absl::ToUnixMillis(clock_->Now() - options_.health_retention);
  std::vector<std::shared_ptr<ClassActor>> live;
  std::vector<std::string> stored;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, actor] : by_id_) {
      v1::ClassInfo info = actor->Info();
      if (info.phase() == v1::CLASS_PHASE_ENDED &&
          info.ended_unix_ms() < cutoff_ms && !purged_.contains(id)) {
        live.push_back(actor);
      }
    }
    for (const auto& [id, s] : stored_) {
      if (!s.health_purged && s.info.ended_unix_ms() < cutoff_ms) {
        stored.push_back(id);
      }
    }
  }
  struct Count {
    absl::Mutex mu;
    size_t left;
    int purged = 0;
    absl::AnyInvocable<void(int)> done;
  };
  auto count = std::make_shared<Count>();
  count->left = live.size() + stored.size();
  count->done = std::move(done);
  if (count->left == 0) {
    count->done(0);
    return;
  }
  auto finish = [this, count](const std::string& class_id, bool is_stored,
                              absl::Status status) {
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      if (is_stored) {
        auto it = stored_.find(class_id);
        if (it != stored_.end()) it->second.health_purged = true;
      } else {
        purged_.insert(class_id);
      }
    } else {
      LogWarning("class %s: health data purge failed: %s", class_id,
                 std::string(status.message()));
    }
    absl::AnyInvocable<void(int)> report;
    int purged = 0;
    {
      absl::MutexLock lock(&count->mu);
      if (status.ok()) ++count->purged;
      if (--count->left > 0) return;
      purged = count->purged;
      report = std::move(count->done);
    }
    report(purged);
  };
  for (const auto& actor : live) {
    actor->PurgeHealthData(
        [finish, id = actor->class_id()](absl::Status status) {
          finish(id, false, status);
        });
  }
  for (const std::string& id : stored) {
    journal_->ReadSummary(
        id, [this, finish, id](absl::StatusOr<v1::ClassSummary> summary) {
          if (!summary.ok()) {
            finish(id, true, summary.status());
            return;
          }
          engine::ScrubHealthData(&*summary, "");
          journal_->EraseHealthData(
              *summary, "",
              [finish, id](absl::Status status) { finish(id, true, status); });
        });
  }
}

void ClassRegistry::TickAll() {
  const int64_t tick = ticks_++;
  ClassActor::ProgressPace pace;
  pace.staff_every = std::max(1, options_.progress_every_ticks);
  pace.participant_every = pace.staff_every;
  pace.participants_per_tick = std::max(1, options_.progress_per_tick);
  for (const auto& actor : AllActors()) actor->Tick(tick, pace);
  const int64_t purge_ticks = std::max<int64_t>(
      1, absl::ToInt64Milliseconds(options_.purge_every) /
             std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.tick)));
  if (tick % purge_ticks == 0) {
    PurgeExpiredHealthData([](int purged) {
      if (purged > 0) {
        LogInfo("removed health data of %d classes past retention", purged);
      }
    });
  }
}

void ClassRegistry::StartTicker() {
  absl::MutexLock lock(&ticker_mu_);
  if (ticker_.joinable()) return;
  ticker_stop_ = false;
  ticker_ = std::thread([this] {
    absl::Time next = absl::Now();
    while (true) {
      next += options_.tick;
      {
        absl::MutexLock stop_lock(&ticker_mu_);
        // Wakes at the next tick, or at once when told to stop.
        ticker_mu_.AwaitWithDeadline(
            absl::Condition(
                +[](bool* stop) { return *stop; }, &ticker_stop_),
            next);
        if (ticker_stop_) return;
      }
      TickAll();
      if (absl::Now() > next + options_.tick) next = absl::Now();
    }
  });
}

void ClassRegistry::StopTicker() {
  std::thread ticker;
  {
    absl::MutexLock lock(&ticker_mu_);
    ticker_stop_ = true;
    ticker = std::move(ticker_);
  }
  if (ticker.joinable()) ticker.join();
}

void ClassRegistry::GoAway(const std::string& reason) {
  for (const auto& actor : AllActors()) actor->GoAway(reason);
}

void ClassRegistry::Close() {
  for (const auto& actor : AllActors()) actor->Close();
}

void ClassRegistry::EvictOldestEndedLocked() {
  std::string oldest;
  v1::ClassInfo oldest_info;
  for (const auto& [id, actor] : by_id_) {
    v1::ClassInfo info = actor->Info();
    if (info.phase() != v1::CLASS_PHASE_ENDED) continue;
    if (oldest.empty() || info.ended_unix_ms() < oldest_info.ended_unix_ms()) {
      oldest = id;
      oldest_info = std::move(info);
    }
  }
  if (oldest.empty()) return;
  id_by_code_.erase(oldest_info.join_code());
  seats_.ForgetClass(oldest);
  stored_[oldest] = Stored{oldest_info, purged_.contains(oldest)};
  purged_.erase(oldest);
  by_id_.erase(oldest);
  LogInfo("class %s left memory: ended, and the server holds its maximum",
          oldest);
}

std::vector<std::shared_ptr<ClassActor>> ClassRegistry::Actors() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<ClassActor>> actors;
  actors.reserve(by_id_.size());
  for (const auto& [id, actor] : by_id_) actors.push_back(actor);
  return actors;
}

std::vector<std::shared_ptr<ClassActor>> ClassRegistry::AllActors() const {
  std::vector<std::shared_ptr<ClassActor>> actors = Actors();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, followed] : followed_) {
    actors.push_back(followed.actor);
  }
  return actors;
}

// --- Following classes other nodes own
// ------------------------------------------

void ClassRegistry::RequestFollow(const std::string& class_id) const {
  absl::MutexLock lock(&mu_);
  if (follow_stop_ || followed_.count(class_id) != 0 ||
      !follow_pending_.insert(class_id).second) {
    return;
  }
  follow_queue_.push_back(class_id);
  LogInfo("catching up with class %s (run by another node)", class_id);
}

void ClassRegistry::RunFollowThread() {
  while (true) {
    std::string class_id;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](ClassRegistry* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return self->follow_stop_ || !self->follow_queue_.empty();
              },
              this),
          options_.follow_stall / 2);
      if (follow_stop_) return;
      if (follow_queue_.empty()) {
        mu_.Unlock();
        RefreshStalled();
        mu_.Lock();
        continue;
      }
      class_id = follow_queue_.front();
      follow_queue_.erase(follow_queue_.begin());
    }
    StartFollowing(class_id);
    absl::MutexLock lock(&mu_);
    follow_pending_.erase(class_id);
  }
}

void ClassRegistry::StartFollowing(const std::string& class_id) {
  // The reader's callbacks run on a cluster thread: the actor they feed is
  // made from the log's first record.
  struct Start {
    absl::Mutex mu;
    std::shared_ptr<ClassActor> actor ABSL_GUARDED_BY(mu);
    absl::Status failed ABSL_GUARDED_BY(mu);
  };
  auto start = std::make_shared<Start>();
  const ActorDeps deps = Deps();
  absl::StatusOr<std::unique_ptr<ClusterLink::Following>> reading =
      options_.cluster->Follow(
          class_id,
          [start, deps](const internal::ClassRecord& record) {
            absl::StatusOr<std::shared_ptr<ClassActor>> actor =
                ClassActor::CreateFollower(record, deps);
            absl::MutexLock lock(&start->mu);
            if (actor.ok()) {
              start->actor = *std::move(actor);
            } else {
              start->failed = actor.status();
            }
          },
          [start](internal::Entry entry) {
            absl::MutexLock lock(&start->mu);
            if (start->actor != nullptr) {
              start->actor->FollowEntry(std::move(entry));
            }
          });
  if (!reading.ok()) {
    LogWarning("class %s cannot be followed: %s", class_id,
               reading.status().message());
    return;
  }
  const absl::Time deadline = absl::Now() + options_.follow_timeout;
  std::shared_ptr<ClassActor> actor;
  {
    absl::MutexLock lock(&start->mu);
    start->mu.AwaitWithDeadline(
        absl::Condition(
            +[](Start* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return s->actor != nullptr || !s->failed.ok();
            },
            start.get()),
        deadline);
    if (start->actor == nullptr) {
      LogWarning("class %s cannot be followed: %s", class_id,
                 start->failed.ok() ? "its log did not arrive in time"
                                    : start->failed.message());
      return;
    }
    actor = start->actor;
  }
  // Caught up once it has applied what the owner had when asked.
  struct Caught {
    absl::Notification done;
    absl::Status status;
  };
  auto caught = std::make_shared<Caught>();
  internal::Forwarded ask;
  ask.set_class_id(class_id);
  ask.set_position(true);
  options_.cluster->Forward(
      std::move(ask),
      [actor, caught](absl::StatusOr<internal::ForwardedReply> reply) {
        if (!reply.ok() || reply->code() != 0) {
          caught->status =
              reply.ok()
                  ? absl::Status(static_cast<absl::StatusCode>(reply->code()),
                                 reply->message())
                  : reply.status();
          caught->done.Notify();
          return;
        }
        actor->WhenApplied(reply->position(), [caught](bool applied) {
          if (!applied) caught->status = absl::UnavailableError("closed");
          caught->done.Notify();
        });
      });
  if (!caught->done.WaitForNotificationWithDeadline(deadline) ||
      !caught->status.ok()) {
    // A late answer finds `caught` still alive (shared) and nobody waiting.
    LogWarning("class %s cannot be followed: %s", class_id,
               caught->done.HasBeenNotified()
                   ? std::string(caught->status.message())
                   : std::string("it did not catch up in time"));
    actor->Close();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (follow_stop_ || by_id_.count(class_id) != 0) {
      actor->Close();
      return;
    }
    followed_by_code_[absl::AsciiStrToUpper(actor->join_code())] = class_id;
    followed_[class_id] = Followed{actor, *std::move(reading)};
    CountFollowedLocked();
  }
  LogInfo("following class %s (run by another node)", class_id);
}

void ClassRegistry::CountFollowedLocked() {
  ProcessStats().cluster_classes_followed.store(
      static_cast<int64_t>(followed_.size()), std::memory_order_relaxed);
}

void ClassRegistry::RefreshStalled() {
  std::vector<std::pair<std::string, std::shared_ptr<ClusterLink::Following>>>
      stalled;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, followed] : followed_) {
      if (followed.actor->Behind() > options_.follow_stall) {
        stalled.emplace_back(id, followed.reading);
      }
    }
  }
  for (const auto& [id, reading] : stalled) {
    absl::Status refreshed = reading->Refresh();
    LogWarning(
        "class %s: its log brought nothing for %s while clients "
        "waited; read again from where it stopped: %s",
        id, absl::FormatDuration(options_.follow_stall),
        refreshed.ok() ? "ok" : std::string(refreshed.message()));
  }
}

void ClassRegistry::StopFollowing() {
  std::map<std::string, Followed> followed;
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    follow_stop_ = true;
    followed.swap(followed_);
    followed_by_code_.clear();
    CountFollowedLocked();
    thread = std::move(follow_thread_);
  }
  if (thread.joinable()) thread.join();
  for (auto& [id, f] : followed) {
    f.reading.reset();
    f.actor->Close();
  }
}

std::vector<std::string> ClassRegistry::FollowedClasses() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, followed] : followed_) ids.push_back(id);
  return ids;
}

}  // namespace circuit
