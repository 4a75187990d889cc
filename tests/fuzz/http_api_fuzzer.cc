// Fuzzes the HTTP JSON API (HttpApi::Handle) without sockets: method,
// target, Authorization, Last-Event-ID and JSON body, against a registry
// with one class in its lobby (in-memory journal, fake clock).
//
// Input: records, each an op byte and an arg byte, then for op % 4 == 0
// four chunks (2-byte little-endian length, then bytes): target,
// Authorization, body, Last-Event-ID.
//   op % 4 == 0  a request; method by arg % 8 (GET, POST, HEAD, PUT,
//                DELETE, OPTIONS, PATCH, "G\0T"), peer by arg / 8
//             1  time passes: arg seconds, and every class ticks
//             2  every open event stream's pending writes complete
//             3  the oldest open event stream's connection goes away
// In every chunk, {class}, {code}, {pid}, {token}, {kiosk} and {pairing}
// stand for the class's id and join code, the latest joined seat's
// participant id and resume token, the kiosk key, and the latest pairing's
// code and secret ({secret}), so the fuzzer reaches past authentication.
//
// Invariants: every request is answered exactly once (or opens an event
// stream), with an HTTP status 100..599; an error's body is JSON
// {"code", "message"} with <, > and & escaped; nothing crashes, and the
// server side comes down cleanly with streams still open.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/auth/kiosks.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/common/rate_limit.h"
#include "server/http/http_api.h"
#include "server/http/metrics.h"
#include "server/journal/journal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"
#include "server/live/executor.h"
#include "tests/fuzz/fuzz_input.h"

namespace circuit::fuzz {
namespace {

constexpr char kKioskKey[] = "kiosk-key-0123456789";
constexpr char kInstructorKey[] = "instructor-key-0123456789";

const CircuitLibrary& Library() {
  static const CircuitLibrary* library = [] {
    absl::StatusOr<CircuitLibrary> loaded = CircuitLibrary::LoadEmbedded();
    FUZZ_CHECK(loaded.ok(), "embedded library: %s",
               loaded.status().ToString().c_str());
    return new CircuitLibrary(*std::move(loaded));
  }();
  return *library;
}

// An event stream's connection: keeps what is sent; the writes complete
// when the harness says so, on its own thread (never inline, as the
// EventSink contract wants). Thread-safe.
class FakeSink : public EventSink {
 public:
  void Send(std::string chunk, absl::AnyInvocable<void()> written) override {
    absl::MutexLock lock(&mu_);
    text_ += chunk;
    if (text_.size() > 1 << 20) text_.erase(0, text_.size() - (1 << 19));
    pending_.push_back(std::move(written));
  }
  void End() override {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }

  // Completes the writes queued so far; true when there were any.
  bool CompleteWrites() {
    std::deque<absl::AnyInvocable<void()>> pending;
    {
      absl::MutexLock lock(&mu_);
      pending.swap(pending_);
    }
    for (auto& written : pending) written();
    return !pending.empty();
  }

  std::string text() const {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::AnyInvocable<void()>> pending_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

struct OpenStream {
  std::shared_ptr<EventSource> source;
  std::shared_ptr<FakeSink> sink;
};

// The JSON string value after `"key":` in `text` (the latest one), or "".
std::string LatestJsonString(const std::string& text, absl::string_view key) {
  const std::string needle = absl::StrCat("\"", key, "\":\"");
  const size_t at = text.rfind(needle);
  if (at == std::string::npos) return "";
  const size_t start = at + needle.size();
  const size_t end = text.find('"', start);
  if (end == std::string::npos) return "";
  return text.substr(start, end - start);
}

class Harness {
 public:
  Harness()
      : pool_(1),
        registry_(&Library(), &journal_, &clock_, &pool_, RegistryOptions()),
        metrics_(&registry_, {}),
        join_limiter_(1, 5) {
    absl::StatusOr<std::unique_ptr<KioskPairings>> kiosks =
        KioskPairings::Open({}, &clock_);
    FUZZ_CHECK(kiosks.ok(), "kiosks: %s", kiosks.status().ToString().c_str());
    kiosks_ = *std::move(kiosks);
    HttpApiOptions options;
    options.registry = &registry_;
    options.clock = &clock_;
    options.metrics = &metrics_;
    options.keys.instructor_key = kInstructorKey;
    options.keys.kiosk_key = kKioskKey;
    options.keys.kiosks = kiosks_.get();
    options.join_limiter = &join_limiter_;
    options.max_queued_per_stream = 16;
    api_ = std::make_unique<HttpApi>(std::move(options));

    absl::Notification created;
    registry_.Create("kickback-trio", "Fuzzed class", "main", "bootstrap",
                     [&](absl::StatusOr<v1::ClassInfo> info) {
                       FUZZ_CHECK(info.ok(), "create: %s",
                                  info.status().ToString().c_str());
                       class_id_ = info->class_id();
                       join_code_ = info->join_code();
                       created.Notify();
                     });
    created.WaitForNotification();
  }

  ~Harness() {
    // The connections go away, then the server stops, as circuitd does.
    for (OpenStream& open : streams_) open.source->Stop();
    streams_.clear();
    registry_.Close();
    pool_.WaitIdle();
  }

  void Request(uint8_t arg, FuzzInput& in) {
    static constexpr absl::string_view kMethods[] = {
        "GET",    "POST",    "HEAD",  "PUT",
        "DELETE", "OPTIONS", "PATCH", absl::string_view("G\0T", 3)};
    HttpRequest request;
    request.method = std::string(kMethods[arg % 8]);
    request.peer = absl::StrCat("ipv4:10.0.0.", arg / 8, ":41234");
    request.target = Expand(in.Chunk());
    request.authorization = Expand(in.Chunk());
    request.body = Expand(in.Chunk());
    request.last_event_id = Expand(in.Chunk());

    auto answer = std::make_shared<Answer>();
    api_->Handle(request, [answer](HttpResponse response) {
      absl::MutexLock lock(&answer->mu);
      FUZZ_CHECK(!answer->answered, "a request was answered twice");
      answer->answered = true;
      answer->response = std::move(response);
    });
    Settle();
    absl::MutexLock lock(&answer->mu);
    FUZZ_CHECK(answer->answered, "%s %s was never answered",
               request.method.c_str(), request.target.c_str());
    Check(answer->response);
    if (answer->response.events != nullptr) {
      OpenStream open{answer->response.events, std::make_shared<FakeSink>()};
      open.source->Start(open.sink);
      streams_.push_back(std::move(open));
      Settle();
    }
    // A new pairing's code and secret, for {pairing} and {secret}.
    if (std::string secret = LatestJsonString(answer->response.body, "secret");
        !secret.empty()) {
      pairing_ = LatestJsonString(answer->response.body, "code");
      secret_ = secret;
    }
  }

  void Advance(uint8_t seconds) {
    clock_.Advance(absl::Seconds(seconds));
    registry_.TickAll();
    Settle();
  }

  void CompleteWrites() { Settle(); }

  void CloseOldestStream() {
    if (streams_.empty()) return;
    streams_.front().source->Stop();
    streams_.pop_front();
    Settle();
  }

 private:
  struct Answer {
    absl::Mutex mu;
    bool answered ABSL_GUARDED_BY(mu) = false;
    HttpResponse response ABSL_GUARDED_BY(mu);
  };

  std::string Expand(absl::string_view chunk) const {
    return absl::StrReplaceAll(chunk, {{"{class}", class_id_},
                                       {"{code}", join_code_},
                                       {"{pid}", participant_id_},
                                       {"{token}", resume_token_},
                                       {"{kiosk}", kKioskKey},
                                       {"{pairing}", pairing_},
                                       {"{secret}", secret_}});
  }

  // Runs everything the request set going: the actors' tasks, and the
  // streams' writes, until nothing is left to do.
  void Settle() {
    bool more = true;
    while (more) {
      pool_.WaitIdle();
      more = false;
      for (OpenStream& open : streams_) more |= open.sink->CompleteWrites();
    }
    // The latest joined seat, for {pid} and {token}.
    for (const OpenStream& open : streams_) {
      const std::string text = open.sink->text();
      std::string token = LatestJsonString(text, "resumeToken");
      if (!token.empty()) {
        resume_token_ = token;
        participant_id_ = LatestJsonString(text, "participantId");
      }
    }
  }

  static void Check(const HttpResponse& response) {
    FUZZ_CHECK(response.status >= 100 && response.status <= 599,
               "HTTP status %d", response.status);
    if (response.events != nullptr) return;
    if (response.status < 400) {
      // An answer in JSON is JSON.
      if (response.content_type == "application/json") {
        google::protobuf::Struct answer;
        FUZZ_CHECK(
            google::protobuf::util::JsonStringToMessage(response.body, &answer)
                .ok(),
            "an answer is not JSON: %s", response.body.c_str());
      }
      return;
    }
    google::protobuf::Struct error;
    const bool parsed =
        google::protobuf::util::JsonStringToMessage(response.body, &error).ok();
    FUZZ_CHECK(parsed, "an error's body is not JSON: %s",
               response.body.c_str());
    FUZZ_CHECK(error.fields().count("code") == 1 &&
                   error.fields().count("message") == 1,
               "an error without code and message: %s", response.body.c_str());
    FUZZ_CHECK(response.body.find_first_of("<>") == std::string::npos,
               "an error's message is not escaped: %s", response.body.c_str());
  }

  FakeClock clock_;
  InMemoryJournal journal_;
  ThreadPool pool_;
  ClassRegistry registry_;
  Metrics metrics_;
  PeerRateLimiter join_limiter_;
  std::unique_ptr<KioskPairings> kiosks_;
  std::unique_ptr<HttpApi> api_;
  std::deque<OpenStream> streams_;
  std::string class_id_, join_code_, participant_id_, resume_token_, pairing_,
      secret_;
};

}  // namespace
}  // namespace circuit::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  circuit::SetLogQuiet(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  circuit::fuzz::FuzzInput in(data, size);
  circuit::fuzz::Harness harness;
  int steps = 0;
  while (!in.empty() && steps++ < 64) {
    const uint8_t op = in.Byte();
    const uint8_t arg = in.Byte();
    switch (op % 4) {
      case 0:
        harness.Request(arg, in);
        break;
      case 1:
        harness.Advance(arg);
        break;
      case 2:
        harness.CompleteWrites();
        break;
      default:
        harness.CloseOldestStream();
        break;
    }
  }
  return 0;
}
