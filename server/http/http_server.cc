#include "server/http/http_server.h"

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace circuit {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

// What answers still owed by the API and the server's stopping share; it
// outlives the server, as an answer may come after it is gone.
struct Owed {
  absl::Mutex mu;
  int count ABSL_GUARDED_BY(mu) = 0;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  class Session;

  Impl(const HttpServerOptions& options, HttpApi* api, Metrics* metrics)
      : options_(options), api_(api), metrics_(metrics) {}

  absl::StatusOr<int> Listen();
  void Run() {
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void Shutdown(absl::Time deadline);

 private:
  void Accept();
  // Every `event_heartbeat`: a comment on each event stream that sent
  // nothing for that long.
  void Heartbeat();

  // Declared first: destroyed last, after everything that uses it.
  net::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  net::steady_timer accept_retry_{ioc_};
  net::steady_timer heartbeat_{ioc_};
  const HttpServerOptions options_;
  HttpApi* const api_;
  Metrics* const metrics_;
  const std::shared_ptr<Owed> owed_ = std::make_shared<Owed>();
  // Every open connection; the io thread only.
  std::set<std::shared_ptr<Session>> sessions_;
  std::thread thread_;
  bool shut_down_ = false;  // the caller's thread only
};

// One connection: read a request, hand it to the API, write its answer,
// and again while the client keeps the connection alive. Runs on the io
// thread; owned by the server's set while open.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server)
      : stream_(std::move(socket)), server_(server) {}

  // An event stream that wrote nothing since the last heartbeat gets a
  // comment line: proxies keep the connection, and a client can tell a
  // quiet class from a dead connection.
  void Heartbeat() {
    if (events_ == nullptr || events_ending_) return;
    if (!sent_since_heartbeat_ && !writing_chunk_ && chunks_.empty()) {
      QueueChunk(": ping\n\n", [] {});
    }
    sent_since_heartbeat_ = false;
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options_.max_body_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::milliseconds(
        absl::ToInt64Milliseconds(server_->options_.read_timeout)));
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void Close() {
    if (events_ != nullptr) {
      std::shared_ptr<EventSource> events = std::move(events_);
      events_ = nullptr;
      events->Stop();
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    server_->sessions_.erase(shared_from_this());
  }

 private:
  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::body_limit) {
      Reply(ErrorResponse(grpc::Status(
                grpc::StatusCode::RESOURCE_EXHAUSTED,
                absl::StrCat("the request body is over ",
                             server_->options_.max_body_bytes, " bytes"))),
            /*keep_alive=*/false);
      return;
    }
    if (ec == http::error::header_limit) {
      Reply(ErrorResponse(
                grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "the request headers are over 16384 bytes")),
            /*keep_alive=*/false);
      return;
    }
    if (ec &&
        ec.category() ==
            http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      Reply(ErrorResponse(
                grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                             absl::StrCat("the request is not valid HTTP/1.1: ",
                                          ec.message()))),
            /*keep_alive=*/false);
      return;
    }
    if (ec) {  // the client left, or took too long
      Close();
      return;
    }
    stream_.expires_never();
    http::request<http::string_body> request = parser_->release();
    version_ = request.version();
    keep_alive_ = request.keep_alive();
    head_ = request.method() == http::verb::head;
    HttpRequest api_request;
    beast::error_code peer_error;
    const auto remote = stream_.socket().remote_endpoint(peer_error);
    if (!peer_error) {
      api_request.peer =
          remote.address().is_v6()
              ? absl::StrCat("ipv6:[", remote.address().to_string(),
                             "]:", remote.port())
              : absl::StrCat("ipv4:", remote.address().to_string(), ":",
                             remote.port());
    }
    api_request.method = std::string(request.method_string());
    api_request.target = std::string(request.target());
    api_request.body = std::move(request.body());
    api_request.authorization =
        std::string(request[http::field::authorization]);
    api_request.last_event_id = std::string(request["Last-Event-ID"]);
    {
      absl::MutexLock lock(&server_->owed_->mu);
      if (server_->owed_->stopped) {
        Close();
        return;
      }
      ++server_->owed_->count;
    }
    server_->api_->Handle(
        api_request, [owed = server_->owed_,
                      weak = weak_from_this()](HttpResponse response) mutable {
          absl::MutexLock lock(&owed->mu);
          --owed->count;
          if (owed->stopped) return;
          std::shared_ptr<Session> self = weak.lock();
          if (self == nullptr) return;
          net::post(self->stream_.get_executor(),
                    [self, response = std::move(response)]() mutable {
                      self->Reply(std::move(response), self->keep_alive_);
                    });
        });
  }

  void Reply(HttpResponse answer, bool keep_alive) {
    if (answer.events != nullptr) {
      StartEvents(std::move(answer.events));
      return;
    }
    server_->metrics_->CountHttpResponse(answer.status);
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(version_);
    response->result(static_cast<unsigned>(answer.status));
    response->set(http::field::server, "circuitd");
    response->set(http::field::content_type, answer.content_type);
    response->set(http::field::cache_control, "no-store");
    response->set("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : answer.headers) response->set(name, value);
    const size_t length = answer.body.size();
    if (!head_) response->body() = std::move(answer.body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    if (head_) response->content_length(length);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](
                          beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        if (!response->keep_alive()) {
                          self->Linger();
                          return;
                        }
                        self->Read();
                      });
  }

  // After the last answer: stop sending, and read (and drop) what the client
  // still sends for a second, so closing does not reset the connection
  // before it has read the answer (a refused body may still be arriving).
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    DrainUntilClosed();
  }

  // Reads and drops whatever comes until the connection ends (or its timer
  // runs out), then closes.
  void DrainUntilClosed() {
    stream_.async_read_some(
        net::buffer(drain_),
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) {
            self->Close();
            return;
          }
          self->DrainUntilClosed();
        });
  }

  // What an event source sends, posted to the connection's thread.
  class Sink final : public EventSink {
   public:
    Sink(std::shared_ptr<Owed> owed, std::weak_ptr<Session> session)
        : owed_(std::move(owed)), session_(std::move(session)) {}
    void Send(std::string chunk, absl::AnyInvocable<void()> written) override {
      Post([chunk = std::move(chunk),
            written = std::move(written)](Session* session) mutable {
        session->QueueChunk(std::move(chunk), std::move(written));
      });
    }
    void End() override {
      Post([](Session* session) { session->EndEvents(); });
    }

   private:
    template <typename Fn>
    void Post(Fn fn) {
      absl::MutexLock lock(&owed_->mu);
      if (owed_->stopped) return;
      std::shared_ptr<Session> session = session_.lock();
      if (session == nullptr) return;
      net::post(session->stream_.get_executor(),
                [session, fn = std::move(fn)]() mutable { fn(session.get()); });
    }

    const std::shared_ptr<Owed> owed_;
    const std::weak_ptr<Session> session_;
  };

  // The response stays open: headers now, then what the source sends. A
  // read stays in flight to notice the client going away.
  void StartEvents(std::shared_ptr<EventSource> events) {
    server_->metrics_->CountHttpResponse(200);
    events_ = std::move(events);
    auto header = std::make_shared<http::response<http::empty_body>>();
    header->version(version_);
    header->result(http::status::ok);
    header->set(http::field::server, "circuitd");
    header->set(http::field::content_type, "text/event-stream");
    header->set(http::field::cache_control, "no-store");
    header->set("X-Content-Type-Options", "nosniff");
    header->keep_alive(false);  // the body ends when the connection does
    auto serializer =
        std::make_shared<http::response_serializer<http::empty_body>>(*header);
    stream_.expires_never();
    http::async_write_header(
        stream_, *serializer,
        [self = shared_from_this(), header, serializer](beast::error_code ec,
                                                        std::size_t) {
          if (ec || self->events_ == nullptr) {
            self->Close();
            return;
          }
          self->events_->Start(std::make_shared<Sink>(self->server_->owed_,
                                                      self->weak_from_this()));
          self->DrainUntilClosed();  // notices the client going away
        });
  }

  void QueueChunk(std::string chunk, absl::AnyInvocable<void()> written) {
    if (events_ == nullptr) return;
    sent_since_heartbeat_ = true;
    chunks_.push_back({std::move(chunk), std::move(written)});
    WriteNextChunk();
  }

  void EndEvents() {
    events_ending_ = true;
    if (!writing_chunk_ && chunks_.empty()) Close();
  }

  void WriteNextChunk() {
    if (writing_chunk_ || chunks_.empty()) return;
    writing_chunk_ = true;
    net::async_write(
        stream_, net::buffer(chunks_.front().text),
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          self->writing_chunk_ = false;
          if (ec || self->events_ == nullptr) {
            self->Close();
            return;
          }
          Chunk done = std::move(self->chunks_.front());
          self->chunks_.pop_front();
          done.written();
          if (self->events_ending_ && self->chunks_.empty()) {
            self->Close();
            return;
          }
          self->WriteNextChunk();
        });
  }

  struct Chunk {
    std::string text;
    absl::AnyInvocable<void()> written;
  };

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  char drain_[4096];
  std::shared_ptr<EventSource> events_;
  std::deque<Chunk> chunks_;
  bool writing_chunk_ = false;
  bool events_ending_ = false;
  bool sent_since_heartbeat_ = false;
  std::optional<http::request_parser<http::string_body>> parser_;
  Impl* const server_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
};

absl::StatusOr<int> HttpServer::Impl::Listen() {
  const size_t colon = options_.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(options_.listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_listen is host:port, not \"", options_.listen, "\""));
  }
  std::string host = options_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_listen: \"", host, "\" is not an IP address: ", ec.message()));
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for HTTP on ", options_.listen, ": ", ec.message()));
  }
  const int bound = acceptor_.local_endpoint(ec).port();
  Accept();
  Heartbeat();
  return bound;
}

void HttpServer::Impl::Heartbeat() {
  heartbeat_.expires_after(std::chrono::milliseconds(
      absl::ToInt64Milliseconds(options_.event_heartbeat)));
  heartbeat_.async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: stopping
    for (const std::shared_ptr<Session>& session : sessions_) {
      session->Heartbeat();
    }
    Heartbeat();
  });
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors, say: try again shortly rather than spin.
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    auto session = std::make_shared<Session>(std::move(socket), this);
    sessions_.insert(session);
    session->Read();
    Accept();
  });
}

void HttpServer::Impl::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  net::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    heartbeat_.cancel();
  });
  {
    absl::MutexLock lock(&owed_->mu);
    auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(owed_->mu) {
      return owed_->count == 0;
    };
    owed_->mu.AwaitWithDeadline(absl::Condition(&none), deadline);
    owed_->stopped = true;
  }
  net::post(ioc_, [this] {
    std::vector<std::shared_ptr<Session>> open(sessions_.begin(),
                                               sessions_.end());
    for (const std::shared_ptr<Session>& session : open) session->Close();
    ioc_.stop();
  });
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, HttpApi* api, Metrics* metrics) {
  auto impl = std::make_unique<Impl>(options, api, metrics);
  absl::StatusOr<int> port = impl->Listen();
  if (!port.ok()) return port.status();
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), *port));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

HttpServer::~HttpServer() { Shutdown(absl::Now()); }

void HttpServer::Shutdown(absl::Time deadline) { impl_->Shutdown(deadline); }

}  // namespace circuit
