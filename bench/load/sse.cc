// `circuit-bench` over circuitd's HTTP event streams. How it measures, as
// the gRPC transport (bench/load/run.cc) does:
// - Every client is its own TCP connection (a socket of its own) to
//   circuitd's HTTP listener, with one request and one open response.
// - The connections are spread over --threads io_contexts, one thread each;
//   all of one connection's handlers run on its thread, one at a time.
// - The response is read as raw bytes: the status line and headers, then
//   text/event-stream lines (de-chunked if the server chunks them). Each
//   event's data is scanned, not parsed: for `"snapshot":{` (the stream is
//   open), and for every `"event":{"seq":"N"` with a cue or a state in it.
//   The JSON is protobuf's canonical mapping, fields in number order, no
//   whitespace; a cue's text cannot hold an unescaped quote, so the scan
//   cannot be fooled by one.
#include "bench/load/sse.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "server/common/json.h"

namespace circuit::bench {

bool ParseBenchTransport(const std::string& name, BenchTransport* transport) {
  if (name == "grpc") {
    *transport = BenchTransport::kGrpc;
  } else if (name == "sse_kiosk") {
    *transport = BenchTransport::kSseKiosk;
  } else if (name == "sse_participant") {
    *transport = BenchTransport::kSseParticipant;
  } else if (name == "sse_console") {
    *transport = BenchTransport::kSseConsole;
  } else {
    return false;
  }
  return true;
}

const char* BenchTransportName(BenchTransport transport) {
  switch (transport) {
    case BenchTransport::kGrpc:
      return "grpc";
    case BenchTransport::kSseKiosk:
      return "sse_kiosk";
    case BenchTransport::kSseParticipant:
      return "sse_participant";
    case BenchTransport::kSseConsole:
      return "sse_console";
  }
  return "?";
}

namespace {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

int64_t NowMicros() { return absl::GetCurrentTimeNanos() / 1000; }

constexpr size_t kReadBytes = 4096;
// An error answer's body is kept up to this, for the failure's text.
constexpr size_t kMaxErrorBody = 512;
constexpr absl::Duration kStopTimeout = absl::Seconds(20);

// The digits at the start of `text` (moved past them); false if none.
bool ConsumeNumber(absl::string_view* text, int64_t* value) {
  size_t n = 0;
  while (n < text->size() && absl::ascii_isdigit((*text)[n])) ++n;
  if (n == 0 || !absl::SimpleAtoi(text->substr(0, n), value)) return false;
  text->remove_prefix(n);
  return true;
}

}  // namespace

// What every client shares: the threads, the per-thread tallies, and the
// opening and cut counts.
struct SseFleet::Shared {
  struct Shard {
    absl::Mutex mu;
    CueReceipts cues ABSL_GUARDED_BY(mu);
    std::vector<std::pair<int64_t, int64_t>> changes ABSL_GUARDED_BY(mu);
    std::atomic<int64_t> reads{0};
    std::atomic<int64_t> events{0};
  };

  explicit Shared(int threads) {
    for (int i = 0; i < threads; ++i) {
      contexts.push_back(std::make_unique<net::io_context>(1));
      guards.push_back(net::make_work_guard(*contexts.back()));
      shards.push_back(std::make_unique<Shard>());
    }
    for (auto& context : contexts) {
      net::io_context* ioc = context.get();
      threads_.emplace_back([this, ioc] {
        ioc->run();
        stopped.fetch_add(1);
      });
    }
  }

  // Lets the threads end once their connections are closed (or at the
  // timeout, stops them), and joins them. Idempotent.
  void Stop() {
    if (joined) return;
    joined = true;
    for (auto& guard : guards) guard.reset();
    const absl::Time deadline = absl::Now() + kStopTimeout;
    while (stopped.load() < static_cast<int>(threads_.size()) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    for (auto& context : contexts) context->stop();
    for (auto& thread : threads_) thread.join();
  }

  void OpenStarted() {
    absl::MutexLock lock(&mu);
    ++in_flight;
  }
  void OpenSettled(int client, bool ok, const std::string& why) {
    absl::MutexLock lock(&mu);
    --in_flight;
    if (ok) {
      ++opened;
      return;
    }
    if (failed++ == 0)
      first_failure = absl::StrCat("client ", client, ": ", why);
  }
  void Cut(const std::string& why) {
    absl::MutexLock lock(&mu);
    if (cut++ == 0) first_cut = why;
  }

  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::thread> threads_;
  std::atomic<int> stopped{0};
  bool joined = false;  // the bench's thread only
  std::atomic<bool> cancelling{false};

  mutable absl::Mutex mu;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  int opened ABSL_GUARDED_BY(mu) = 0;
  int failed ABSL_GUARDED_BY(mu) = 0;
  std::string first_failure ABSL_GUARDED_BY(mu);
  int cut ABSL_GUARDED_BY(mu) = 0;
  std::string first_cut ABSL_GUARDED_BY(mu);
};

// One connection and its event stream. Start and Close are posted to its
// io_context; everything else runs there too. The atomics are read by the
// bench's thread.
class SseFleet::Client {
 public:
  Client(const SseFleetOptions& options, Shared* shared, int index)
      : options_(options),
        shared_(shared),
        index_(index),
        ioc_(
            shared
                ->contexts[static_cast<size_t>(index) % shared->contexts.size()]
                .get()),
        shard_(
            shared->shards[static_cast<size_t>(index) % shared->shards.size()]
                .get()),
        socket_(*ioc_),
        cue_seen_(static_cast<size_t>(std::max(0, options.max_cues)), false) {}

  void Start() {
    open_started_ = NowMicros();
    shared_->OpenStarted();
    net::post(*ioc_, [this] { Connect(); });
  }

  void Close() {
    net::post(*ioc_, [this] {
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
    });
  }

  bool CaughtUp(int64_t seq) const {
    return ended_.load(std::memory_order_acquire) ||
           last_seq_.load(std::memory_order_acquire) >= seq;
  }
  bool opened() const { return opened_.load(std::memory_order_acquire); }
  int64_t open_latency() const {
    return opened_at_.load(std::memory_order_relaxed) - open_started_;
  }
  int64_t opened_at() const {
    return opened_at_.load(std::memory_order_relaxed);
  }

 private:
  enum class Chunked { kNo, kSize, kData, kDataEnd, kDone };

  void Connect() {
    boost::system::error_code ec;
    const net::ip::address address = net::ip::make_address(options_.host, ec);
    if (ec) return End(absl::StrCat("bad host ", options_.host));
    socket_.async_connect(
        tcp::endpoint(address, static_cast<unsigned short>(options_.port)),
        [this](boost::system::error_code connect_ec) {
          if (connect_ec) {
            return End(absl::StrCat("cannot connect to ", options_.host, ":",
                                    options_.port, ": ", connect_ec.message()));
          }
          WriteRequest();
        });
  }

  void WriteRequest() {
    const std::string host = absl::StrCat(options_.host, ":", options_.port);
    if (options_.transport == BenchTransport::kSseKiosk ||
        options_.transport == BenchTransport::kSseConsole) {
      request_ = absl::StrCat(
          "GET /v1/classes/", options_.class_id,
          options_.transport == BenchTransport::kSseKiosk ? ":watch" : ":run",
          " HTTP/1.1\r\nHost: ", host, "\r\nAuthorization: Bearer ",
          options_.key, "\r\nAccept: text/event-stream\r\n\r\n");
    } else {
      const std::string body = absl::StrCat(
          "{\"joinCode\":", JsonString(options_.join_code),
          ",\"checkIn\":{\"displayName\":\"Bench ", index_, "\"}}");
      request_ = absl::StrCat("POST /v1/classes:join HTTP/1.1\r\nHost: ", host,
                              "\r\nContent-Type: application/json\r\nAccept: "
                              "text/event-stream\r\nContent-Length: ",
                              body.size(), "\r\n\r\n", body);
    }
    net::async_write(
        socket_, net::buffer(request_),
        [this](boost::system::error_code ec, size_t) {
          if (ec) {
            return End(absl::StrCat("cannot send the request: ", ec.message()));
          }
          std::string().swap(request_);
          Read();
        });
  }

  void Read() {
    socket_.async_read_some(
        net::buffer(buffer_), [this](boost::system::error_code ec, size_t n) {
          if (ec) {
            return End(ec == net::error::eof
                           ? "the server closed the connection"
                           : absl::StrCat("read failed: ", ec.message()));
          }
          shard_->reads.fetch_add(1, std::memory_order_relaxed);
          now_ = NowMicros();
          OnBytes(absl::string_view(buffer_.data(), n));
          if (!ended_.load(std::memory_order_relaxed)) Read();
        });
  }

  void OnBytes(absl::string_view bytes) {
    if (status_ == 0) {
      head_.append(bytes.data(), bytes.size());
      const size_t end = head_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head_.size() > 64 * 1024) End("response headers too long");
        return;
      }
      if (!ParseHead(absl::string_view(head_).substr(0, end))) return;
      std::string rest = head_.substr(end + 4);
      std::string().swap(head_);
      bytes = rest;
      if (status_ != 200) return ErrorBody(bytes);
      return Body(bytes);
    }
    if (status_ != 200) return ErrorBody(bytes);
    Body(bytes);
  }

  bool ParseHead(absl::string_view head) {
    absl::string_view line = head.substr(0, head.find("\r\n"));
    int64_t status = 0;
    const bool http = absl::ConsumePrefix(&line, "HTTP/1.") && line.size() > 2;
    if (http) line.remove_prefix(2);  // "1 "
    if (!http || !ConsumeNumber(&line, &status) || status < 100) {
      End(absl::StrCat("not an HTTP answer: ",
                       head.substr(0, std::min<size_t>(head.size(), 80))));
      return false;
    }
    status_ = static_cast<int>(status);
    size_t at = head.find("\r\n");
    while (at != absl::string_view::npos) {
      absl::string_view header = head.substr(at + 2);
      const size_t next = header.find("\r\n");
      header = header.substr(0, next);
      at = next == absl::string_view::npos ? next : at + 2 + next;
      const size_t colon = header.find(':');
      if (colon == absl::string_view::npos) continue;
      const std::string name = absl::AsciiStrToLower(header.substr(0, colon));
      const absl::string_view value =
          absl::StripAsciiWhitespace(header.substr(colon + 1));
      if (name == "transfer-encoding" &&
          absl::StrContains(absl::AsciiStrToLower(value), "chunked")) {
        chunked_ = Chunked::kSize;
      } else if (name == "content-length") {
        if (!absl::SimpleAtoi(value, &content_length_)) content_length_ = -1;
      } else if (name == "content-type" && status_ == 200 &&
                 !absl::StartsWithIgnoreCase(value, "text/event-stream")) {
        End(absl::StrCat("answered ", value, ", not text/event-stream"));
        return false;
      }
    }
    return true;
  }

  // A refused open: keep the body (the JSON error) for the failure's text.
  void ErrorBody(absl::string_view bytes) {
    error_body_.append(bytes.data(), std::min(bytes.size(), kMaxErrorBody + 1));
    if (content_length_ >= 0 &&
        static_cast<int64_t>(error_body_.size()) >= content_length_) {
      End(ErrorText());
    }
  }

  std::string ErrorText() const {
    return absl::StrCat("HTTP ", status_, " ",
                        error_body_.substr(0, kMaxErrorBody));
  }

  // The response body: de-chunked if chunked, then event-stream lines.
  void Body(absl::string_view bytes) {
    while (!bytes.empty()) {
      switch (chunked_) {
        case Chunked::kNo:
          Lines(bytes);
          return;
        case Chunked::kSize: {
          const size_t nl = bytes.find('\n');
          size_line_.append(bytes.data(), std::min(nl, bytes.size()));
          if (nl == absl::string_view::npos) return;
          bytes.remove_prefix(nl + 1);
          absl::string_view size = size_line_;
          size = absl::StripAsciiWhitespace(size.substr(0, size.find(';')));
          uint64_t value = 0;
          if (!absl::SimpleHexAtoi(size, &value)) {
            return End("a bad chunk size in the response");
          }
          size_line_.clear();
          chunk_left_ = value;
          chunked_ = value == 0 ? Chunked::kDone : Chunked::kData;
          break;
        }
        case Chunked::kData: {
          const size_t take = static_cast<size_t>(
              std::min<uint64_t>(chunk_left_, bytes.size()));
          Lines(bytes.substr(0, take));
          bytes.remove_prefix(take);
          chunk_left_ -= take;
          if (chunk_left_ == 0) chunked_ = Chunked::kDataEnd;
          break;
        }
        case Chunked::kDataEnd: {
          const size_t nl = bytes.find('\n');
          if (nl == absl::string_view::npos) return;
          bytes.remove_prefix(nl + 1);
          chunked_ = Chunked::kSize;
          break;
        }
        case Chunked::kDone:
          return;
      }
    }
  }

  // Splits event-stream text into lines (LF or CRLF); only a partial last
  // line is copied.
  void Lines(absl::string_view text) {
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      if (nl == absl::string_view::npos) {
        line_.append(text.data(), text.size());
        return;
      }
      if (line_.empty()) {
        Line(text.substr(0, nl));
      } else {
        line_.append(text.data(), nl);
        Line(line_);
        line_.clear();
      }
      text.remove_prefix(nl + 1);
    }
  }

  void Line(absl::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return Dispatch();
    if (line.front() == ':') return;  // a comment (keep-alive)
    absl::string_view field = line.substr(0, line.find(':'));
    absl::string_view value = field.size() < line.size()
                                  ? line.substr(field.size() + 1)
                                  : absl::string_view();
    absl::ConsumePrefix(&value, " ");
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value.data(), value.size());
      has_data_ = true;
    } else if (field == "event") {
      event_type_ = std::string(value);
    }
  }

  // One whole event.
  void Dispatch() {
    if (has_data_ || !event_type_.empty()) {
      shard_->events.fetch_add(1, std::memory_order_relaxed);
      if (event_type_.empty() || event_type_ == "message") {
        Message(data_);
      } else if (event_type_ == "end" || event_type_ == "error") {
        end_reason_ = absl::StrCat("the server ended the stream (event ",
                                   event_type_, "): ", data_);
      }
    }
    data_.clear();
    has_data_ = false;
    event_type_.clear();
  }

  // One message's JSON.
  void Message(absl::string_view json) {
    constexpr absl::string_view kSnapshot = "\"snapshot\":{";
    constexpr absl::string_view kEvent = "\"event\":{\"seq\":\"";
    if (const size_t at = json.find(kSnapshot); at != absl::string_view::npos) {
      absl::string_view rest = json.substr(at + kSnapshot.size());
      int64_t seq = 0;
      if (absl::ConsumePrefix(&rest, "\"seq\":\"")) ConsumeNumber(&rest, &seq);
      NoteSeq(seq);
      if (!opened()) {
        opened_at_.store(now_, std::memory_order_relaxed);
        opened_.store(true, std::memory_order_release);
        shared_->OpenSettled(index_, true, "");
      }
    }
    for (size_t at = json.find(kEvent); at != absl::string_view::npos;
         at = json.find(kEvent, at + kEvent.size())) {
      absl::string_view rest = json.substr(at + kEvent.size());
      int64_t seq = 0;
      if (!ConsumeNumber(&rest, &seq) || !absl::ConsumePrefix(&rest, "\"")) {
        continue;
      }
      if (absl::ConsumePrefix(&rest, ",\"atUnixMs\":\"")) {
        int64_t ignored = 0;
        ConsumeNumber(&rest, &ignored);
        absl::ConsumePrefix(&rest, "\"");
      }
      if (absl::ConsumePrefix(&rest, ",\"cue\":{\"text\":\"")) {
        Cue(rest);
      } else if (absl::StartsWith(rest, ",\"state\":")) {
        absl::MutexLock lock(&shard_->mu);
        shard_->changes.emplace_back(seq, now_);
      }
      NoteSeq(seq);
    }
  }

  // "<prefix>NNNNNN at MICROS us ...": the send stamp in the text.
  void Cue(absl::string_view text) {
    int64_t index = -1, sent = 0;
    if (!absl::ConsumePrefix(&text, options_.cue_prefix) ||
        !ConsumeNumber(&text, &index) || !absl::ConsumePrefix(&text, " at ") ||
        !ConsumeNumber(&text, &sent)) {
      return;
    }
    absl::MutexLock lock(&shard_->mu);
    shard_->cues.Record(&cue_seen_, index, sent, now_);
  }

  void NoteSeq(int64_t seq) {
    if (seq > last_seq_.load(std::memory_order_relaxed)) {
      last_seq_.store(seq, std::memory_order_release);
    }
  }

  // The stream is over (the server closed it, or the bench did).
  void End(const std::string& why) {
    if (ended_.load(std::memory_order_relaxed)) return;
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (!opened()) {
      std::string reason = why;
      if (status_ != 0 && status_ != 200) reason = ErrorText();
      if (!end_reason_.empty()) reason = end_reason_;
      shared_->OpenSettled(index_, false, reason);
    } else if (!shared_->cancelling.load()) {
      shared_->Cut(end_reason_.empty() ? why : end_reason_);
    }
    ended_.store(true, std::memory_order_release);
  }

  const SseFleetOptions& options_;
  Shared* const shared_;
  const int index_;
  net::io_context* const ioc_;
  Shared::Shard* const shard_;
  tcp::socket socket_;
  int64_t open_started_ = 0;
  std::atomic<bool> opened_{false};
  std::atomic<int64_t> opened_at_{0};
  std::atomic<bool> ended_{false};
  std::atomic<int64_t> last_seq_{0};

  // The io thread's only.
  std::string request_;
  std::array<char, kReadBytes> buffer_;
  int64_t now_ = 0;  // when the bytes being handled were read
  std::string head_;
  int status_ = 0;
  int64_t content_length_ = -1;
  std::string error_body_;
  Chunked chunked_ = Chunked::kNo;
  std::string size_line_;
  uint64_t chunk_left_ = 0;
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  std::string event_type_;
  std::string end_reason_;
  std::vector<bool> cue_seen_;
};

SseFleet::SseFleet(SseFleetOptions options)
    : options_(std::move(options)),
      shared_(std::make_unique<Shared>(std::max(1, options_.threads))) {}

SseFleet::~SseFleet() { Close(); }

absl::Status SseFleet::Open(int n) {
  clients_.reserve(static_cast<size_t>(n));
  const int limit = std::max(1, options_.opens_in_flight);
  for (int i = 0; i < n; ++i) {
    {
      absl::MutexLock lock(&shared_->mu);
      auto free = [this, limit]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
        return shared_->in_flight < limit || shared_->failed > 0;
      };
      if (!shared_->mu.AwaitWithTimeout(absl::Condition(&free),
                                        options_.open_timeout)) {
        return absl::DeadlineExceededError(absl::StrFormat(
            "no stream opened in %s (%d of %d open)",
            absl::FormatDuration(options_.open_timeout), shared_->opened, n));
      }
      if (shared_->failed > 0) {
        return absl::UnavailableError(shared_->first_failure);
      }
    }
    clients_.push_back(std::make_unique<Client>(options_, shared_.get(), i));
    clients_.back()->Start();
  }
  absl::MutexLock lock(&shared_->mu);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared_->mu) {
    return shared_->in_flight == 0 || shared_->failed > 0;
  };
  if (!shared_->mu.AwaitWithTimeout(absl::Condition(&settled),
                                    options_.open_timeout)) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "streams not opened in %s (%d of %d open)",
        absl::FormatDuration(options_.open_timeout), shared_->opened, n));
  }
  if (shared_->failed > 0) {
    return absl::UnavailableError(shared_->first_failure);
  }
  return absl::OkStatus();
}

bool SseFleet::CaughtUp(int64_t seq) const {
  for (const auto& client : clients_) {
    if (!client->CaughtUp(seq)) return false;
  }
  return true;
}

std::vector<int64_t> SseFleet::OpenLatencies() const {
  std::vector<int64_t> latencies;
  for (const auto& client : clients_) {
    if (client->opened()) latencies.push_back(client->open_latency());
  }
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

int64_t SseFleet::LastOpened() const {
  int64_t last = 0;
  for (const auto& client : clients_) {
    if (client->opened()) last = std::max(last, client->opened_at());
  }
  return last;
}

std::pair<int64_t, int64_t> SseFleet::ReadsAndEvents() const {
  int64_t reads = 0, events = 0;
  for (const auto& shard : shared_->shards) {
    reads += shard->reads.load(std::memory_order_relaxed);
    events += shard->events.load(std::memory_order_relaxed);
  }
  return {reads, events};
}

SseTally SseFleet::Collect() {
  SseTally tally;
  for (const auto& shard : shared_->shards) {
    absl::MutexLock lock(&shard->mu);
    tally.cues.Add(shard->cues);
    tally.changes.insert(tally.changes.end(), shard->changes.begin(),
                         shard->changes.end());
  }
  return tally;
}

int SseFleet::cut() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->cut;
}

std::string SseFleet::first_cut() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->first_cut;
}

void SseFleet::Cancelling() { shared_->cancelling.store(true); }

void SseFleet::Close() {
  if (closed_) return;
  closed_ = true;
  Cancelling();
  for (auto& client : clients_) client->Close();
  shared_->Stop();
  clients_.clear();
}

}  // namespace circuit::bench
