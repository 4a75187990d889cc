#include "server/http/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "server/common/log.h"
#include "server/common/stats.h"

namespace circuit {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// What answers still owed by the API and the server's stopping share; it
// outlives the server, as an answer may come after it is gone.
struct Owed {
  absl::Mutex mu;
  int count ABSL_GUARDED_BY(mu) = 0;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

// A connection's byte stream: plain TCP, or TLS over it. Both are one type
// so a connection's state machine is written once; each read and write goes
// to the layer chosen when the connection was accepted. Timeouts, close and
// the socket are always the TCP layer's.
class ByteStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;

  // TLS with `tls` (kept alive by the stream: a reload may replace the
  // server's while this connection still uses it); plain TCP when null.
  ByteStream(tcp::socket socket, std::shared_ptr<ssl::context> tls)
      : tcp_(std::move(socket)), context_(std::move(tls)) {
    if (context_ != nullptr) tls_.emplace(tcp_, *context_);
  }

  bool tls() const { return tls_.has_value(); }
  executor_type get_executor() { return tcp_.get_executor(); }
  tcp::socket& socket() { return tcp_.socket(); }
  void close() { tcp_.close(); }
  template <typename Duration>
  void expires_after(Duration duration) {
    tcp_.expires_after(duration);
  }
  void expires_never() { tcp_.expires_never(); }

  // The server's side of the TLS handshake; only when tls().
  template <typename Handler>
  void async_handshake(Handler&& handler) {
    tls_->async_handshake(ssl::stream_base::server,
                          std::forward<Handler>(handler));
  }

  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_.has_value()) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      tcp_.async_read_some(buffers, std::forward<Handler>(handler));
    }
  }
  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (tls_.has_value()) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      tcp_.async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  beast::tcp_stream tcp_;
  const std::shared_ptr<ssl::context> context_;
  std::optional<beast::ssl_stream<beast::tcp_stream&>> tls_;
};

// Over TLS every answer tells browsers to come back to this host only over
// TLS for a year (HSTS), so a phone that once loaded the page over https
// cannot be talked down to plain http by someone on the studio's Wi-Fi. Not
// includeSubDomains: the certificate names circuitd's host, and the
// studio's other hosts may not serve TLS. Never over plain HTTP, where it
// would mean nothing.
constexpr char kHsts[] = "max-age=31536000";

// A server context serving `identity`: the gRPC listener's versions and
// suites (TLS 1.2 with ECDHE and AES-GCM, or TLS 1.3; server/common/tls.h),
// where OpenSSL's defaults would also take static RSA and CBC; with a
// client CA, a client certificate is asked for and must be signed by it
// when given, and a client without one is still served.
absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(
    const TlsIdentity& identity) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  beast::error_code ec;
  context->set_options(
      ssl::context::default_workarounds | ssl::context::single_dh_use, ec);
  SSL_CTX* native = context->native_handle();
  if (!ec && (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
              SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
              SSL_CTX_set_ciphersuites(native, kTls13CipherSuites) != 1)) {
    ERR_clear_error();
    return absl::InternalError(
        "this OpenSSL does not take the TLS versions and suites circuitd "
        "serves (TLS 1.2 with ECDHE and AES-GCM, or TLS 1.3)");
  }
  if (!ec) {
    context->use_certificate_chain(net::buffer(identity.cert_pem), ec);
  }
  if (!ec) {
    context->use_private_key(net::buffer(identity.key_pem), ssl::context::pem,
                             ec);
  }
  if (!ec && !identity.client_ca_pem.empty()) {
    context->add_certificate_authority(net::buffer(identity.client_ca_pem), ec);
    if (!ec) context->set_verify_mode(ssl::verify_peer, ec);
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("the TLS certificate does not load: ", ec.message()));
  }
  return context;
}

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

  bool CrossOriginAllowed(absl::string_view origin) const {
    return std::find(options_.cross_origins.begin(),
                     options_.cross_origins.end(),
                     origin) != options_.cross_origins.end();
  }

 private:
  void Accept();
  // Every `event_heartbeat`: a comment on each event stream that sent
  // nothing for that long.
  void Heartbeat();
  // Loads the TLS files into a new context for the connections accepted
  // from now on; the current one stays when they do not load.
  absl::Status LoadTls();
  // Every `tls_refresh`: LoadTls when the files' metadata changed.
  void WatchTls();
  // How long a connection has to send a request (or finish its TLS
  // handshake): options_.read_timeout plus up to a quarter more, at random.
  // Connections a slow loris opened together then time out spread over a
  // few seconds, not in one burst of closes (and of its reconnects) that
  // would stall everything else on the machine. The io thread only.
  std::chrono::milliseconds ReadTimeout() {
    const int64_t base = absl::ToInt64Milliseconds(options_.read_timeout);
    std::uniform_int_distribution<int64_t> extra(
        0, std::max<int64_t>(0, base / 4));
    return std::chrono::milliseconds(base + extra(jitter_));
  }

  // Declared first: destroyed last, after everything that uses it.
  net::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  net::steady_timer accept_retry_{ioc_};
  net::steady_timer heartbeat_{ioc_};
  net::steady_timer tls_refresh_{ioc_};
  const HttpServerOptions options_;
  HttpApi* const api_;
  Metrics* const metrics_;
  const std::shared_ptr<Owed> owed_ = std::make_shared<Owed>();
  // Every open connection; the io thread only.
  std::set<std::shared_ptr<Session>> sessions_;
  // Open connections by remote address; the io thread only.
  std::map<std::string, size_t> per_address_;
  std::minstd_rand jitter_{std::random_device{}()};  // the io thread only
  // What new connections are served with (null: plain HTTP), and the files'
  // metadata when last loaded; before Run(), then the io thread only.
  std::shared_ptr<ssl::context> tls_context_;
  std::string tls_signature_;
  std::thread thread_;
  bool shut_down_ = false;  // the caller's thread only
};

// One connection: read a request, hand it to the API, write its answer,
// and again while the client keeps the connection alive. Runs on the io
// thread; owned by the server's set while open.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server, std::string address)
      : stream_(std::move(socket), server->tls_context_),
        server_(server),
        address_(std::move(address)) {}

  // Over TLS the handshake comes first, within the read timeout (a client
  // that stalls in it holds nothing for long); then the first request.
  void Start() {
    if (!stream_.tls()) {
      Read();
      return;
    }
    stream_.expires_after(server_->ReadTimeout());
    stream_.async_handshake([self = shared_from_this()](beast::error_code ec) {
      if (ec) {  // not TLS, an untrusted client certificate, a timeout
        self->Close();
        return;
      }
      self->Read();
    });
  }

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
    stream_.expires_after(server_->ReadTimeout());
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
    if (server_->sessions_.erase(shared_from_this()) > 0) {
      auto it = server_->per_address_.find(address_);
      if (it != server_->per_address_.end() && --it->second == 0) {
        server_->per_address_.erase(it);
      }
    }
  }

 private:
  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::body_limit) {
      Reply(ErrorResponse(absl::ResourceExhaustedError(
                absl::StrCat("the request body is over ",
                             server_->options_.max_body_bytes, " bytes"))),
            /*keep_alive=*/false);
      return;
    }
    if (ec == http::error::header_limit) {
      Reply(ErrorResponse(absl::ResourceExhaustedError(
                "the request headers are over 16384 bytes")),
            /*keep_alive=*/false);
      return;
    }
    if (ec &&
        ec.category() ==
            http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      Reply(ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
                "the request is not valid HTTP/1.1: ", ec.message()))),
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
    const std::string origin(request[http::field::origin]);
    cross_origin_.clear();
    if (!origin.empty() && server_->CrossOriginAllowed(origin)) {
      cross_origin_ = origin;
    }
    if (request.method() == http::verb::options &&
        request.count(http::field::access_control_request_method) > 0) {
      Reply(Preflight(origin), keep_alive_);
      return;
    }
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

  // The answer to a CORS preflight from `origin`: what a page of an allowed
  // origin may send, or why not.
  HttpResponse Preflight(absl::string_view origin) const {
    if (cross_origin_.empty()) {
      return ErrorResponse(absl::PermissionDeniedError(absl::StrCat(
          "pages from ", origin.empty() ? "no origin" : origin,
          " may not call this server: cross-origin calls are answered only "
          "for the other nodes of its cluster (circuitd "
          "--cluster_http_urls)")));
    }
    HttpResponse response;
    response.status = 204;
    response.headers = {{"Access-Control-Allow-Methods", "GET, POST"},
                        {"Access-Control-Allow-Headers",
                         "Authorization, Content-Type, Last-Event-ID"},
                        {"Access-Control-Max-Age", "600"}};
    return response;
  }

  // With a request from an allowed other origin: the headers that let its
  // page read the answer.
  template <typename Fields>
  void AddCrossOriginHeaders(Fields& fields) const {
    if (cross_origin_.empty()) return;
    fields.set(http::field::access_control_allow_origin, cross_origin_);
    fields.set(http::field::access_control_expose_headers,
               "Content-Disposition");
    fields.set(http::field::vary, "Origin");
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
    if (stream_.tls()) {
      response->set(http::field::strict_transport_security, kHsts);
    }
    for (auto& [name, value] : answer.headers) response->set(name, value);
    AddCrossOriginHeaders(*response);
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
    if (stream_.tls()) {
      header->set(http::field::strict_transport_security, kHsts);
    }
    AddCrossOriginHeaders(*header);
    header->keep_alive(false);  // the body ends when the connection does
    auto serializer =
        std::make_shared<http::response_serializer<http::empty_body>>(*header);
    stream_.expires_never();
    // The header is a write in flight too: a heartbeat due before it is
    // written must not start a second write on the stream (Beast allows one
    // at a time; the ping could land before the header).
    writing_chunk_ = true;
    http::async_write_header(
        stream_, *serializer,
        [self = shared_from_this(), header, serializer](beast::error_code ec,
                                                        std::size_t) {
          self->writing_chunk_ = false;
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

  ByteStream stream_;
  beast::flat_buffer buffer_;
  char drain_[4096];
  std::shared_ptr<EventSource> events_;
  std::deque<Chunk> chunks_;
  bool writing_chunk_ = false;
  bool events_ending_ = false;
  bool sent_since_heartbeat_ = false;
  std::optional<http::request_parser<http::string_body>> parser_;
  Impl* const server_;
  const std::string address_;  // the remote IP, for the per-address limit
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  // The request's Origin when it is one of options_.cross_origins, else
  // empty.
  std::string cross_origin_;
};

absl::StatusOr<int> HttpServer::Impl::Listen() {
  // A certificate that does not load stops the start, before the port is
  // taken.
  if (options_.tls.enabled()) {
    if (absl::Status loaded = LoadTls(); !loaded.ok()) return loaded;
  }
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
  if (options_.tls.enabled()) WatchTls();
  return bound;
}

absl::Status HttpServer::Impl::LoadTls() {
  // The metadata before the contents: a change made while they are read
  // shows as another change next time. A pair that fails is not tried again
  // until the files change again (one log line, not one a check).
  tls_signature_ = TlsFilesSignature(options_.tls);
  absl::StatusOr<TlsIdentity> identity = LoadTlsIdentity(options_.tls);
  if (!identity.ok()) return identity.status();
  absl::StatusOr<std::shared_ptr<ssl::context>> context =
      MakeTlsContext(*identity);
  if (!context.ok()) return context.status();
  const bool reload = tls_context_ != nullptr;
  tls_context_ = std::move(*context);
  LogInfo("HTTP TLS: %s %s%s", reload ? "reloaded, now serving" : "serving",
          identity->description,
          identity->client_ca_pem.empty()
              ? ""
              : " (client certificates checked against --tls_client_ca)");
  return absl::OkStatus();
}

void HttpServer::Impl::WatchTls() {
  tls_refresh_.expires_after(std::chrono::milliseconds(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.tls_refresh))));
  tls_refresh_.async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: stopping
    // A few stat calls; the files are read only when they changed.
    if (TlsFilesSignature(options_.tls) != tls_signature_) {
      if (absl::Status loaded = LoadTls(); !loaded.ok()) {
        LogError(
            "HTTP TLS: the changed files do not load, so new "
            "connections keep the certificate in use: %s",
            std::string(loaded.message()));
      }
    }
    WatchTls();
  });
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
    // Over a connection limit: closed at once, holding nothing.
    beast::error_code peer_error;
    std::string address =
        socket.remote_endpoint(peer_error).address().to_string();
    const size_t from_address = per_address_[address];
    if (peer_error ||
        (options_.max_connections > 0 &&
         sessions_.size() >= options_.max_connections) ||
        (options_.max_connections_per_address > 0 &&
         from_address >= options_.max_connections_per_address)) {
      if (from_address == 0) per_address_.erase(address);
      ProcessStats().refused_http_connections.fetch_add(
          1, std::memory_order_relaxed);
      beast::error_code ignored;
      socket.close(ignored);
      Accept();
      return;
    }
    ++per_address_[address];
    auto session =
        std::make_shared<Session>(std::move(socket), this, std::move(address));
    sessions_.insert(session);
    session->Start();
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
    tls_refresh_.cancel();
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
