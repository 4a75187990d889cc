#ifndef CIRCUIT_SERVER_APP_SERVER_H_
#define CIRCUIT_SERVER_APP_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/server.h"
#include "server/auth/accounts.h"
#include "server/auth/credential_streams.h"
#include "server/auth/sign_ins.h"
#include "server/common/clock.h"
#include "server/common/data_cipher.h"
#include "server/common/tls.h"
#include "server/http/http_api.h"
#include "server/http/http_server.h"
#include "server/http/metrics.h"
#include "server/journal/journal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"
#include "server/live/limits.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/cq_call.h"
#include "server/rpc/health_service.h"

namespace circuit {

namespace cluster {
class ClusterNode;
class Nats;
class SharedState;
}  // namespace cluster

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port.
  std::string listen = "127.0.0.1:50051";
  // Where classes are kept: "sqlite" (<data_dir>/circuit.db; circuitd's
  // default) or "memory" (lost at exit; the default here, for tests).
  std::string journal = "memory";
  std::string data_dir = "var";
  // Most inputs in one SQLite commit (1: a commit per input, for
  // comparison; the default groups everything waiting).
  size_t journal_max_batch = 10000;
  // How long a commit waits for another process's lock on the database
  // before it fails (and its inputs are answered UNAVAILABLE).
  int journal_busy_timeout_ms = 2000;
  // The data keys that seal health data in the sqlite journal
  // (DataKeyOptions); all empty: <data_dir>/keys/.
  DataKeyOptions data_keys;
  // A journal to use instead (tests); shared with the caller.
  std::shared_ptr<Journal> journal_instance;
  // The NATS JetStream cluster this node is part of (--cluster): with
  // servers, the journal is the cluster's (cluster/jetstream_journal.h) and
  // `journal` is not used; without, a single node as above.
  struct Cluster {
    std::vector<std::string> servers;
    // This node's name in leases and logs.
    std::string node;
    absl::Duration lease = absl::Seconds(10);
    // Copies of each stream and bucket (set up by the first node).
    int replicas = 3;
  } cluster;
  // Completion queues, each with the one thread that polls it: every RPC
  // and every class actor runs on them; 0: one per core.
  int stream_threads = 0;
  // The HTTP listener (pages, JSON API, /metrics); empty: none.
  std::string http_listen;
  // Serve the pages from this directory instead of the compiled-in copies
  // (for working on them).
  std::string http_static_dir;
  // Where users reach the HTTP door ("https://studio.example"), for the
  // console's sign-in links; empty: its scheme, listen host and port
  // (127.0.0.1 for a wildcard host).
  std::string public_http_url;
  // Every node's public HTTP URL, this one's included (--cluster_http_urls):
  // the pages move to the next when their node stops answering, and this
  // node answers those nodes' pages (CORS, HttpServerOptions::cross_origins).
  // Each must be http[s]://host[:port] (WebOrigin()); Start refuses others.
  std::vector<std::string> cluster_http_urls;
  // An HTTP event stream quiet for this long gets a ": ping" comment.
  absl::Duration http_event_heartbeat = absl::Seconds(15);
  // With the write interval chosen from the load (ServiceOptions): the
  // messages a second each stream thread writes before batching streams
  // start to wait between writes (about a third of a core's worth of
  // writes here, leaving the rest for reads, the class actors and the
  // journal).
  double write_budget_per_thread = 12'500;
  // A connection that carried nothing for this long is pinged; one that
  // does not answer within 10 s is closed (its participant shows dropped).
  // Each ping costs the server a little on every idle connection. 0: no
  // pings.
  int keepalive_seconds = 30;
  // Messages larger than this are refused.
  int max_message_bytes = 64 * 1024;
  // Hostile connections (BENCHMARKS.md, "Hostile load"). A connection must
  // finish its handshake (plaintext: send HTTP/2's preface and settings)
  // within this, or it is closed: one that connects and sends nothing holds
  // a descriptor and its buffers only this long (gRPC's default is 120 s).
  int handshake_timeout_ms = 10'000;
  // gRPC's timer threads (handshake and idle timeouts, keepalive, alarms)
  // run at this nice value, above the class streams' 0: when 5,000 idle
  // connections time out together, gRPC tears them down on a timer thread
  // (about half a second of CPU), which then yields to live classes rather
  // than sharing the cores evenly with them. 0: unchanged.
  int grpc_timer_nice = 10;
  // A connection with no call open for this long is told GOAWAY and closed;
  // a client's channel reconnects when it next calls. An open stream keeps
  // its connection busy however quiet it is, so a waiting participant, a
  // kiosk or the console is never cut by this. 0: never.
  int max_connection_idle_seconds = 300;
  // Calls open at once on one connection (an app needs one or two; each
  // open stream holds memory).
  int max_streams_per_connection = 100;
  // The HTTP listener's limits on open connections (HttpServerOptions).
  size_t http_max_connections = 10'000;
  size_t http_max_connections_per_address = 1'000;
  // A request's headers and body must arrive within this.
  absl::Duration http_read_timeout = absl::Seconds(15);
  // TLS for both listeners (gRPC and HTTP) from these PEM files; no
  // cert_path: plaintext. With a client CA, clients may present a
  // certificate, which must then be signed by it.
  TlsFiles tls;
  // How often the TLS files are checked for a new certificate. A changed
  // pair that loads serves new connections on both listeners (gRPC's file
  // watcher picks up the checked copy within one more period); one that
  // does not is logged and both keep the pair in use. Whole seconds for
  // gRPC's watcher (at least 1).
  absl::Duration tls_refresh = absl::Seconds(60);
  // Plaintext on a non-loopback address is refused unless this is set
  // (circuitd --insecure); with it, the start logs a warning per listener.
  bool insecure = false;
  ServiceOptions service;
  RegistryOptions registry;
};

// Where the sqlite journal's data keys come from: options.data_keys, or
// <data_dir>/keys/ when that names no source.
DataKeyOptions DataKeysFor(const ServerOptions& options);

// A running circuitd, and its composition root: it builds the journal,
// accounts and kiosk pairings, the class registry and its ticker, the limits
// both doors share, the metrics, and the two doors: the Circuit service,
// grpc.health.v1 and server reflection on one port (server/rpc/), and the
// HTTP listener (server/http/). The doors are siblings: each gets what it
// needs from here and neither includes the other. Thread-safe.
class CircuitServer {
 public:
  // Opens the journal, rebuilds every stored class, then starts serving.
  // `library` and `clock` must outlive the server. UNAVAILABLE when the
  // address cannot be bound; the journal's codes when it cannot be opened
  // (FAILED_PRECONDITION: another circuitd uses the data directory, or the
  // database is from a newer version; DATA_LOSS: it is corrupt).
  static absl::StatusOr<std::unique_ptr<CircuitServer>> Start(
      const ServerOptions& options, const CircuitLibrary* library,
      const Clock* clock);

  ~CircuitServer();

  // The port actually bound.
  int port() const { return port_; }
  // The HTTP listener's port; 0 when it is off.
  int http_port() const { return http_ == nullptr ? 0 : http_->port(); }

  ClassRegistry* registry() { return registry_.get(); }
  // Paired studio TVs (a TV starts pairing with POST /v1/kioskPairings).
  KioskPairings* kiosks() { return kiosks_.get(); }
  // Sign-in codes for the browser console (circuit admin sign-in).
  SignIns* sign_ins() { return sign_ins_.get(); }

  // Drains: health turns NOT_SERVING, new streams are refused, every open
  // stream is told the server is going away and finished once its queue is
  // written; whatever is still open at `deadline` is cancelled. Then the
  // actors finish what is committed, the journal closes, and once the
  // actors' last answers have run, the shards stop. Idempotent; not
  // concurrently with itself.
  void Shutdown(absl::Time deadline);

 private:
  CircuitServer() = default;
  // Every `refresh` until stopped: when the files' metadata moved from
  // `signature`, loads them and publishes them to tls_mirror_, or logs why
  // not and keeps the pair in use.
  void WatchTls(TlsFiles files, absl::Duration refresh, std::string signature);
  void StopTlsWatcher();

  // The cluster's connection (with --cluster): outlives the journal.
  std::unique_ptr<cluster::Nats> nats_;
  std::shared_ptr<Journal> journal_;
  // Forwarding to owners and following their classes (with --cluster).
  std::unique_ptr<cluster::ClusterNode> cluster_node_;
  std::unique_ptr<KioskPairings> kiosks_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<SignIns> sign_ins_;
  std::unique_ptr<CredentialStreams> credential_streams_;
  // On a cluster: the accounts', keys' and kiosks' documents, watched;
  // destroyed (the watcher stopped) before what it updates.
  std::unique_ptr<cluster::SharedState> shared_state_;
  // The completion-queue shards: every RPC, and the class actors (their
  // Executor). Before registry_, so that it outlives the actors.
  std::unique_ptr<CqShards> shards_;
  std::unique_ptr<ClassRegistry> registry_;
  // Joins, look-ups and seats' message budgets, counted over both doors.
  std::unique_ptr<SharedLimits> limits_;
  std::unique_ptr<CircuitServiceImpl> service_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<HttpApi> http_api_;
  std::unique_ptr<HttpServer> http_;
  // gRPC's view of the TLS files (its watcher thread), while serving.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface>
      tls_provider_;
  // What gRPC's watcher reads: the operator's files once they loaded, so a
  // pair that does not (a key that is not the certificate's) never reaches
  // gRPC. Published by tls_watcher_.
  std::unique_ptr<TlsMirror> tls_mirror_;
  absl::Mutex tls_mu_;
  bool tls_stopping_ ABSL_GUARDED_BY(tls_mu_) = false;
  std::thread tls_watcher_;
  bool shut_down_ = false;
  // Last: destroyed first, so no call outlives the services.
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_APP_SERVER_H_
