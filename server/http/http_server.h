#ifndef CIRCUIT_SERVER_HTTP_HTTP_SERVER_H_
#define CIRCUIT_SERVER_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/tls.h"
#include "server/http/http_api.h"

namespace circuit {

struct HttpServerOptions {
  // host:port; port 0 picks a free one (HttpServer::port()).
  std::string listen = "127.0.0.1:8080";
  // Larger request bodies are refused (RESOURCE_EXHAUSTED, 429).
  size_t max_body_bytes = 64 * 1024;
  // A request's headers and body must arrive within this, plus up to a
  // quarter more at random, or the connection is closed (a client that
  // trickles bytes holds nothing for long).
  absl::Duration read_timeout = absl::Seconds(15);
  // An event stream that sent nothing for this long gets a comment line
  // (": ping"), so proxies keep it and clients can tell it is alive.
  absl::Duration event_heartbeat = absl::Seconds(15);
  // Most connections open at once, in all and from one address (a studio's
  // phones may share one behind its router); a connection over either is
  // closed as soon as it is accepted, so slow or idle clients cannot take
  // every descriptor. 0: no limit.
  size_t max_connections = 10'000;
  size_t max_connections_per_address = 1'000;
  // HTTPS with these files; no cert_path: plain HTTP. Every `tls_refresh`
  // the files' metadata is checked on the io thread; when it changed, the
  // pair is read and checked again and new connections get it, while a pair
  // that does not load keeps the one in use (the log says why).
  TlsFiles tls;
  absl::Duration tls_refresh = absl::Seconds(60);
  // Web origins (WebOrigin(), "https://b.example:8080") whose pages may call
  // this listener: the other nodes of a cluster, whose pages move here when
  // their own node stops answering. A request from one of them is answered
  // with CORS headers for it, and its preflight (OPTIONS) with the methods
  // and headers the API takes; a preflight from any other origin is refused
  // (403 PERMISSION_DENIED). Same-origin pages need nothing here.
  std::vector<std::string> cross_origins;
};

// circuitd's HTTP listener: Boost.Beast on one io_context thread, every
// connection an asynchronous state machine on it, so an open connection
// costs no thread (a class may have thousands of phones on it). Requests go
// to an HttpApi; its answers, which may come from a class actor's thread,
// are posted back to the connection. Thread-safe.
class HttpServer {
 public:
  // Listens and starts serving; an error says what could not be listened on
  // (UNAVAILABLE), or which TLS file is wrong (INVALID_ARGUMENT).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, HttpApi* api, Metrics* metrics);
  ~HttpServer();  // Shutdown(now) if not done

  // The port listened on.
  int port() const { return port_; }

  // Stops accepting, waits until `deadline` for answers the API still owes,
  // closes every connection and joins the thread. Idempotent.
  void Shutdown(absl::Time deadline);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  const int port_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_HTTP_SERVER_H_
