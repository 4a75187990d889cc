#include "server/live/class_registry.h"

#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace circuit {
namespace {

constexpr char kJoinCodeAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
constexpr size_t kMaxTitle = 80;

std::string RandomBytes(int n) {
  std::string out(static_cast<size_t>(n), '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), n) != 1) {
    // OpenSSL's generator does not fail on a working Linux system; a server
    // that cannot make secrets must not run.
    LogError("RAND_bytes failed");
    std::abort();
  }
  return out;
}

}  // namespace

std::string JoinCodeFromBytes(absl::string_view random) {
  std::string code;
  code.reserve(random.size());
  for (char c : random) {
    // 32 symbols: the low five bits pick one without bias.
    code.push_back(kJoinCodeAlphabet[static_cast<unsigned char>(c) & 31]);
  }
  return code;
}

std::string NewJoinCode() { return JoinCodeFromBytes(RandomBytes(6)); }

std::string RandomHex(int bytes) {
  return absl::BytesToHexString(RandomBytes(bytes));
}

ClassRegistry::ClassRegistry(const CircuitLibrary* library, Journal* journal,
                             const Clock* clock, RegistryOptions options)
    : library_(library),
      journal_(journal),
      clock_(clock),
      options_(std::move(options)) {}

ClassRegistry::~ClassRegistry() { StopTicker(); }

absl::StatusOr<v1::ClassInfo> ClassRegistry::Create(
    const std::string& circuit_id, const std::string& title) {
  const v1::Circuit* circuit = library_->FindCircuit(circuit_id);
  if (circuit == nullptr) {
    return absl::NotFoundError(absl::StrCat("no circuit with id \"",
                                            circuit_id.substr(0, 64),
                                            "\"; ListCircuits lists them"));
  }
  if (title.size() > kMaxTitle) {
    return absl::InvalidArgumentError(
        absl::StrCat("title must be at most ", kMaxTitle, " characters, got ",
                     title.size()));
  }
  v1::ClassInfo info;
  info.set_circuit_id(circuit->id());
  info.set_circuit_name(circuit->name());
  info.set_title(title.empty() ? circuit->name() : title);
  info.set_phase(v1::CLASS_PHASE_LOBBY);
  info.set_created_unix_ms(clock_->NowUnixMs());

  absl::MutexLock lock(&mu_);
  if (by_id_.size() >= static_cast<size_t>(options_.max_classes)) {
    EvictOldestEndedLocked();
  }
  if (by_id_.size() >= static_cast<size_t>(options_.max_classes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this server holds its maximum of ", options_.max_classes, " classes"));
  }
  do {
    info.set_class_id(absl::StrCat("c-", RandomHex(8)));
  } while (by_id_.count(info.class_id()) != 0);
  do {
    info.set_join_code(NewJoinCode());
  } while (id_by_code_.count(info.join_code()) != 0);

  absl::Status journaled = journal_->CreateClass(info);
  if (!journaled.ok()) return journaled;
  auto runner = std::make_shared<ClassRunner>(
      info, *circuit, library_, options_.session, journal_, clock_);
  by_id_.emplace(info.class_id(), std::move(runner));
  id_by_code_.emplace(info.join_code(), info.class_id());
  LogInfo("class %s created from %s", info.class_id(), circuit_id);
  return info;
}

std::shared_ptr<ClassRunner> ClassRegistry::Find(
    const std::string& class_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(class_id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::shared_ptr<ClassRunner> ClassRegistry::FindByJoinCode(
    const std::string& code) const {
  std::string upper = absl::AsciiStrToUpper(code);
  absl::MutexLock lock(&mu_);
  auto code_it = id_by_code_.find(upper);
  if (code_it == id_by_code_.end()) return nullptr;
  auto it = by_id_.find(code_it->second);
  return it == by_id_.end() ? nullptr : it->second;
}

ClassRegistry::Seat ClassRegistry::NewSeat(
    std::shared_ptr<ClassRunner> runner) {
  Seat seat;
  seat.resume_token = RandomHex(24);
  absl::MutexLock lock(&mu_);
  seat.participant_id = absl::StrCat("p", next_participant_++);
  seat_by_token_[seat.resume_token] = {runner->class_id(), seat.participant_id};
  seat.runner = std::move(runner);
  return seat;
}

void ClassRegistry::ForgetSeat(const std::string& resume_token) {
  absl::MutexLock lock(&mu_);
  seat_by_token_.erase(resume_token);
}

absl::StatusOr<ClassRegistry::Seat> ClassRegistry::FindSeat(
    const std::string& resume_token) const {
  absl::MutexLock lock(&mu_);
  auto it = seat_by_token_.find(resume_token);
  if (it == seat_by_token_.end()) {
    return absl::UnauthenticatedError(
        "unknown resume token; join again with the class's join code");
  }
  auto runner = by_id_.find(it->second.first);
  if (runner == by_id_.end()) {
    return absl::NotFoundError("the class of this resume token is gone");
  }
  return Seat{runner->second, it->second.second, resume_token};
}

std::vector<v1::ClassInfo> ClassRegistry::List(bool include_ended) const {
  std::vector<v1::ClassInfo> out;
  for (const auto& runner : Runners()) {
    v1::ClassInfo info = runner->Info();
    if (!include_ended && info.phase() == v1::CLASS_PHASE_ENDED) continue;
    out.push_back(std::move(info));
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

void ClassRegistry::TickAll() {
  bool progress = (ticks_++ % options_.progress_every_ticks) == 0;
  for (const auto& runner : Runners()) runner->Tick(progress);
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
  for (const auto& runner : Runners()) runner->GoAway(reason);
}

void ClassRegistry::EvictOldestEndedLocked() {
  std::string oldest;
  int64_t oldest_end = 0;
  for (const auto& [id, runner] : by_id_) {
    v1::ClassInfo info = runner->Info();
    if (info.phase() != v1::CLASS_PHASE_ENDED) continue;
    if (oldest.empty() || info.ended_unix_ms() < oldest_end) {
      oldest = id;
      oldest_end = info.ended_unix_ms();
    }
  }
  if (oldest.empty()) return;
  for (auto it = id_by_code_.begin(); it != id_by_code_.end();) {
    if (it->second == oldest) {
      id_by_code_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = seat_by_token_.begin(); it != seat_by_token_.end();) {
    if (it->second.first == oldest) {
      seat_by_token_.erase(it++);
    } else {
      ++it;
    }
  }
  by_id_.erase(oldest);
  LogInfo("class %s evicted: ended, and the server holds its maximum", oldest);
}

std::vector<std::shared_ptr<ClassRunner>> ClassRegistry::Runners() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<ClassRunner>> runners;
  runners.reserve(by_id_.size());
  for (const auto& [id, runner] : by_id_) runners.push_back(runner);
  return runners;
}

}  // namespace circuit
