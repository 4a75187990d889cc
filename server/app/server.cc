#include "server/app/server.h"

#include <algorithm>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server_builder.h"
#include "server/cluster/jetstream_journal.h"
#include "server/cluster/nats.h"
#include "server/cluster/node.h"
#include "server/cluster/shared_state.h"
#include "server/common/log.h"
#include "server/common/thread_priority.h"
#include "server/http/origins.h"
#include "server/journal/sqlite_journal.h"

namespace circuit {

DataKeyOptions DataKeysFor(const ServerOptions& options) {
  DataKeyOptions keys = options.data_keys;
  if (keys.key_dir.empty() && keys.key_file.empty() && keys.key_text.empty()) {
    keys.key_dir = options.data_dir + "/keys";
  }
  return keys;
}

namespace {

// Each listener on a non-loopback address needs TLS or --insecure; with
// --insecure, a warning for each.
absl::Status CheckPlaintext(const ServerOptions& options) {
  const bool tls = options.tls.enabled();
  for (const auto& [flag, listen] :
       {std::pair<const char*, const std::string*>{"--listen", &options.listen},
        {"--http_listen", &options.http_listen}}) {
    if (listen->empty()) continue;  // no HTTP listener
    if (absl::Status allowed =
            CheckPlaintextAllowed(flag, *listen, tls, options.insecure);
        !allowed.ok()) {
      return allowed;
    }
  }
  for (const std::string* listen : {&options.listen, &options.http_listen}) {
    if (!tls && !listen->empty() && !IsLoopbackAddress(*listen)) {
      LogWarning(
          "--insecure: serving plain text on %s: keys, tokens and health "
          "reports cross the network unencrypted",
          *listen);
    }
  }
  return absl::OkStatus();
}

// Where users reach the HTTP door listening on `port`, for sign-in links:
// --public_http_url, else the listen host (127.0.0.1 for a wildcard one).
std::string PublicHttpUrl(const ServerOptions& options, int port) {
  if (!options.public_http_url.empty()) {
    absl::string_view url = options.public_http_url;
    absl::ConsumeSuffix(&url, "/");
    return std::string(url);
  }
  std::string host =
      options.http_listen.substr(0, options.http_listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  return absl::StrCat(options.tls.enabled() ? "https" : "http", "://", host,
                      ":", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CircuitServer>> CircuitServer::Start(
    const ServerOptions& options, const CircuitLibrary* library,
    const Clock* clock) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  // Plaintext on the network, and TLS files that do not load, stop the
  // start before anything is opened.
  const bool tls = options.tls.enabled();
  if (absl::Status allowed = CheckPlaintext(options); !allowed.ok()) {
    return allowed;
  }
  std::vector<std::string> cluster_origins;
  for (const std::string& url : options.cluster_http_urls) {
    absl::StatusOr<std::string> origin = WebOrigin(url);
    if (!origin.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cluster_http_urls: ", origin.status().message()));
    }
    if (std::find(cluster_origins.begin(), cluster_origins.end(), *origin) ==
        cluster_origins.end()) {
      cluster_origins.push_back(*std::move(origin));
    }
  }
  std::string tls_description;
  std::string tls_signature;
  std::unique_ptr<TlsMirror> tls_mirror;
  if (tls) {
    tls_signature = TlsFilesSignature(options.tls);
    absl::StatusOr<TlsIdentity> identity = LoadTlsIdentity(options.tls);
    if (!identity.ok()) return identity.status();
    tls_description = identity->description;
    absl::StatusOr<std::unique_ptr<TlsMirror>> mirror =
        TlsMirror::Create(*identity);
    if (!mirror.ok()) return mirror.status();
    tls_mirror = std::move(*mirror);
  }
  std::unique_ptr<CircuitServer> server(new CircuitServer());
  const bool clustered = !options.cluster.servers.empty();
  // The data keys every node of a cluster shares.
  std::shared_ptr<const KeyRing> cluster_keys;
  if (options.journal_instance != nullptr) {
    server->journal_ = options.journal_instance;
  } else if (clustered) {
    cluster::NatsOptions nats_options;
    nats_options.servers = options.cluster.servers;
    nats_options.name = options.cluster.node;
    absl::StatusOr<std::unique_ptr<cluster::Nats>> nats =
        cluster::Nats::Connect(nats_options);
    if (!nats.ok()) return nats.status();
    server->nats_ = *std::move(nats);
    absl::StatusOr<std::shared_ptr<const KeyRing>> keys =
        LoadDataKeys(DataKeysFor(options));
    if (!keys.ok()) return keys.status();
    cluster::JetStreamJournalOptions journal_options;
    journal_options.node = options.cluster.node;
    journal_options.replicas = options.cluster.replicas;
    journal_options.lease = options.cluster.lease;
    cluster_keys = *std::move(keys);
    journal_options.keys = cluster_keys;
    absl::StatusOr<std::unique_ptr<cluster::JetStreamJournal>> journal =
        cluster::JetStreamJournal::Open(*server->nats_, journal_options);
    if (!journal.ok()) return journal.status();
    LogInfo("cluster: node %s on %s (lease %s, %d copies)",
            options.cluster.node, absl::StrJoin(options.cluster.servers, ","),
            absl::FormatDuration(options.cluster.lease),
            options.cluster.replicas);
    server->journal_ = std::move(*journal);
  } else if (options.journal == "memory") {
    server->journal_ = std::make_shared<InMemoryJournal>();
  } else if (options.journal == "sqlite") {
    SqliteJournalOptions journal_options;
    journal_options.path = options.data_dir + "/circuit.db";
    journal_options.max_batch = std::max<size_t>(1, options.journal_max_batch);
    journal_options.busy_timeout_ms = options.journal_busy_timeout_ms;
    const DataKeyOptions key_sources = DataKeysFor(options);
    absl::StatusOr<std::shared_ptr<const KeyRing>> keys =
        LoadDataKeys(key_sources);
    if (!keys.ok()) return keys.status();
    LogInfo("health data sealed under data key %d (from %s)",
            (*keys)->current_id(),
            !key_sources.key_text.empty()   ? "CIRCUIT_DATA_KEY"
            : !key_sources.key_file.empty() ? key_sources.key_file
                                            : key_sources.key_dir);
    journal_options.keys = std::move(*keys);
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(journal_options);
    if (!journal.ok()) return journal.status();
    server->journal_ = std::move(*journal);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown journal \"", options.journal, "\"; use sqlite or memory"));
  }
  // Paired TVs are kept next to the journal's database (and in memory with
  // a memory journal).
  // So are accounts; their signing keys sit in a directory of their own
  // (mode 0700).
  KioskPairings::Options kiosk_options;
  Accounts::Options account_options;
  if (options.journal_instance == nullptr &&
      (clustered || options.journal == "sqlite")) {
    kiosk_options.store_path = options.data_dir + "/kiosks.binpb";
    account_options.store_path = options.data_dir + "/accounts.binpb";
    account_options.keys_dir = options.data_dir + "/signing-keys";
  }
  // On a cluster they are documents every node shares instead.
  std::unique_ptr<cluster::SharedState> shared_state;
  if (server->nats_ != nullptr) {
    absl::StatusOr<std::unique_ptr<cluster::SharedState>> state =
        cluster::SharedState::Open(*server->nats_, options.cluster.replicas,
                                   cluster_keys);
    if (!state.ok()) return state.status();
    shared_state = *std::move(state);
    kiosk_options.document = shared_state->Get("kiosks");
    kiosk_options.pairings_document = shared_state->Get("kiosk-pairings");
    account_options.accounts_document = shared_state->Get("accounts");
    account_options.keys_document = shared_state->Get("signing-keys");
  }
  absl::StatusOr<std::unique_ptr<Accounts>> accounts =
      Accounts::Open(account_options, clock);
  if (!accounts.ok()) return accounts.status();
  server->accounts_ = std::move(*accounts);
  absl::StatusOr<std::unique_ptr<KioskPairings>> kiosks =
      KioskPairings::Open(kiosk_options, clock);
  if (!kiosks.ok()) return kiosks.status();
  server->kiosks_ = std::move(*kiosks);
  SignIns::Options sign_in_options;
  if (shared_state != nullptr) {
    // Read and written whole for each code: fewer wait at once.
    sign_in_options.max_pending = 1000;
    sign_in_options.document = shared_state->Get("sign-in-codes");
  }
  server->sign_ins_ = std::make_unique<SignIns>(server->accounts_.get(), clock,
                                                std::move(sign_in_options));
  server->credential_streams_ =
      std::make_unique<CredentialStreams>(server->accounts_.get());
  if (shared_state != nullptr) {
    // What another node changes ends this node's streams of the credentials
    // it ended.
    server->accounts_->Watch([streams = server->credential_streams_.get()] {
      streams->EndStreamsOfDeadCredentials();
    });
    server->kiosks_->Watch();
    if (absl::Status s = shared_state->Start(); !s.ok()) return s;
    server->shared_state_ = std::move(shared_state);
  }
  // One thread model: the completion-queue shards run every RPC and the
  // class actors. They start polling now, before the server is built, since
  // recovering the stored classes runs their actors.
  grpc::ServerBuilder builder;
  int stream_threads = options.stream_threads;
  if (stream_threads <= 0) {
    stream_threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  server->shards_ = std::make_unique<CqShards>();
  for (int i = 0; i < stream_threads; ++i) {
    server->shards_->Add(builder.AddCompletionQueue());
  }
  server->shards_->Start();
  RegistryOptions registry_options = options.registry;
  if (auto* cluster_journal =
          dynamic_cast<cluster::JetStreamJournal*>(server->journal_.get())) {
    // Classes other nodes own are followed here and their inputs forwarded
    // to their owners; a class moving between nodes is answered UNAVAILABLE,
    // not NOT_FOUND, so its clients retry.
    cluster::ClusterNode::Options node_options;
    node_options.keys = cluster_journal->keys();
    absl::StatusOr<std::unique_ptr<cluster::ClusterNode>> node =
        cluster::ClusterNode::Start(*server->nats_, *cluster_journal,
                                    node_options);
    if (!node.ok()) return node.status();
    server->cluster_node_ = *std::move(node);
    registry_options.cluster = server->cluster_node_.get();
  }
  server->registry_ =
      std::make_unique<ClassRegistry>(library, server->journal_.get(), clock,
                                      server->shards_.get(), registry_options);
  if (absl::Status recovered = server->registry_->Recover(); !recovered.ok()) {
    return recovered;
  }
  // The limits both doors count against, from the gRPC service's rates.
  LimitOptions limits;
  limits.joins_per_second = options.service.joins_per_second_per_peer;
  limits.join_burst = options.service.join_burst_per_peer;
  limits.lookups_per_second = options.service.lookups_per_second_per_peer;
  limits.lookup_burst = options.service.lookup_burst_per_peer;
  limits.seat_messages_per_second = options.service.stream_messages_per_second;
  limits.seat_message_burst = options.service.stream_message_burst;
  server->limits_ = std::make_unique<SharedLimits>(limits);
  ServiceOptions service_options = options.service;
  service_options.keys.kiosks = server->kiosks_.get();
  service_options.keys.accounts = server->accounts_.get();
  service_options.accounts = server->accounts_.get();
  service_options.sign_ins = server->sign_ins_.get();
  service_options.credential_streams = server->credential_streams_.get();
  service_options.pacing.budget =
      options.write_budget_per_thread * stream_threads;
  server->service_ = std::make_unique<CircuitServiceImpl>(
      library, server->registry_.get(), clock, server->limits_.get(),
      service_options);
  server->health_ = std::make_unique<HealthService>(
      std::vector<std::string>{v1::CircuitService::service_full_name()});

  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (tls) {
    // gRPC's watcher thread reads the files every refresh and gives new
    // connections a changed pair; connections already open keep theirs. It
    // reads the checked copies (tls_mirror_), which WatchTls updates.
    server->tls_mirror_ = std::move(tls_mirror);
    const TlsFiles checked = server->tls_mirror_->files();
    server->tls_provider_ =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            checked.key_path, checked.cert_path, checked.client_ca_path,
            static_cast<unsigned int>(std::max<int64_t>(
                1, absl::ToInt64Seconds(options.tls_refresh))));
    grpc::experimental::TlsServerCredentialsOptions tls_options(
        server->tls_provider_);
    tls_options.watch_identity_key_cert_pairs();
    if (!options.tls.client_ca_path.empty()) {
      // Asked for, checked when given, not required: phones have none.
      tls_options.watch_root_certs();
      tls_options.set_cert_request_type(
          GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    }
    credentials = grpc::experimental::TlsServerCredentials(tls_options);
    LogInfo("gRPC TLS: serving %s%s", tls_description,
            options.tls.client_ca_path.empty()
                ? ""
                : " (client certificates checked against --tls_client_ca)");
  }
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  if (tls) {
    server->tls_watcher_ =
        std::thread([server = server.get(), files = options.tls,
                     refresh = options.tls_refresh,
                     signature = std::move(tls_signature)]() mutable {
          server->WatchTls(std::move(files), refresh, std::move(signature));
        });
  }
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->health_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  // Dead peers are noticed within a minute even when nothing is sent.
  // Off (0): gRPC then keeps no keepalive timer per connection at all. Its
  // timer list (gRPC 1.51's generic timers) is walked whole on every refill,
  // so each connection's timer costs CPU even when it is hours away
  // (BENCHMARKS.md, the idle class).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             options.keepalive_seconds > 0
                                 ? options.keepalive_seconds * 1000
                                 : std::numeric_limits<int>::max());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Per-message costs that buy nothing here (measured with `circuit-bench`,
  // BENCHMARKS.md): channelz's per-socket counters, and the bandwidth-delay
  // probe's PINGs (and their acks), a write each on thousands of
  // connections whose messages are small.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // Hostile connections: one that never completes its handshake (never
  // sends a byte) is closed after the handshake timeout; one that never
  // opens a call, after the idle time (gRPC counts open calls, so streams
  // that wait quietly keep theirs); one connection opens a bounded number
  // of streams.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             std::max(1, options.handshake_timeout_ms));
  if (options.max_connection_idle_seconds > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               options.max_connection_idle_seconds * 1000);
  }
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             std::max(1, options.max_streams_per_connection));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  if (options.grpc_timer_nice != 0) {
    // Threads they start later start with their creator's nice value.
    absl::StatusOr<int> niced = NiceThreadsNamed(
        {"grpc_global_tim", "timer_manager"}, options.grpc_timer_nice);
    if (niced.ok()) {
      LogInfo("gRPC's timer threads run at nice %d (%d now)",
              options.grpc_timer_nice, *niced);
    } else {
      LogError("gRPC's timer threads keep their priority: %s",
               std::string(niced.status().message()));
    }
  }
  // A few calls of each streaming method are asked for on every shard, so a
  // burst of joins need not wait for each to be asked for again.
  constexpr int kCallsWaiting = 8;
  for (const auto& shard : server->shards_->shards()) {
    server->service_->ServeOn(shard.get(), kCallsWaiting);
    server->health_->ServeOn(shard.get());
  }
  // Health answers for the whole server ("") and for the service by name;
  // draining turns both NOT_SERVING and ends the watches.
  server->health_->SetServing(true);
  server->registry_->StartTicker();
  if (server->cluster_node_ != nullptr) {
    // Inputs other nodes forward: applied by the class's actor when this
    // node owns it.
    ClassRegistry* registry = server->registry_.get();
    const std::string node = options.cluster.node;
    server->cluster_node_->ServeForwarded([registry, node](
                                              internal::Forwarded request,
                                              ClusterLink::Answer answer) {
      std::shared_ptr<ClassActor> actor = registry->Find(request.class_id());
      if (actor == nullptr || actor->follower()) {
        internal::ForwardedReply refused;
        refused.set_code(static_cast<int>(absl::StatusCode::kUnavailable));
        refused.set_message(absl::StrCat("node ", node, " does not own class ",
                                         request.class_id().substr(0, 64),
                                         " (any more); retry"));
        answer(std::move(refused));
        return;
      }
      actor->Serve(std::move(request), std::move(answer));
    });
  }
  if (auto* cluster_journal =
          dynamic_cast<cluster::JetStreamJournal*>(server->journal_.get())) {
    // Classes whose owner is gone are taken over here (if this node is
    // quicker than the others); classes this node loses leave it.
    ClassRegistry* registry = server->registry_.get();
    cluster::JetStreamJournal::Handoffs handoffs;
    handoffs.orphan = [registry](const internal::ClassRecord& record) {
      registry->Adopt(record);
    };
    handoffs.lost = [registry](const std::string& class_id, absl::Status why) {
      registry->Drop(class_id, std::string(why.message()));
    };
    cluster_journal->StartHandoffs(std::move(handoffs),
                                   options.cluster.lease / 4);
  }
  server->metrics_ = std::make_unique<Metrics>(
      server->registry_.get(), [service = server->service_.get()] {
        const CircuitServiceImpl::OpenStreams open = service->open_streams();
        return Metrics::StreamCounts{open.instructors, open.participants,
                                     open.kiosks};
      });
  if (!options.http_listen.empty()) {
    HttpApiOptions api;
    api.registry = server->registry_.get();
    api.library = library;
    api.clock = clock;
    api.metrics = server->metrics_.get();
    api.keys = service_options.keys;
    api.join_limiter = server->limits_->joins();
    api.lookup_limiter = server->limits_->lookups();
    api.seat_buckets = server->limits_->seat_messages();
    api.max_queued_per_stream = service_options.max_queued_per_stream;
    api.max_queued_per_console = service_options.max_queued_per_console;
    api.static_dir = options.http_static_dir;
    api.sign_ins = server->sign_ins_.get();
    api.credential_streams = server->credential_streams_.get();
    api.cluster_http_urls = cluster_origins;
    server->http_api_ = std::make_unique<HttpApi>(std::move(api));
    HttpServerOptions http_options;
    http_options.listen = options.http_listen;
    http_options.event_heartbeat = options.http_event_heartbeat;
    http_options.read_timeout = options.http_read_timeout;
    http_options.max_connections = options.http_max_connections;
    http_options.max_connections_per_address =
        options.http_max_connections_per_address;
    http_options.tls = options.tls;
    http_options.tls_refresh = options.tls_refresh;
    http_options.cross_origins = cluster_origins;
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        http_options, server->http_api_.get(), server->metrics_.get());
    if (!http.ok()) return http.status();
    server->http_ = std::move(*http);
    server->sign_ins_->SetConsoleBaseUrl(
        PublicHttpUrl(options, server->http_->port()));
  }
  return server;
}

CircuitServer::~CircuitServer() {
  Shutdown(absl::Now());
  StopTlsWatcher();
}

void CircuitServer::WatchTls(TlsFiles files, absl::Duration refresh,
                             std::string signature) {
  refresh = std::max(refresh, absl::Milliseconds(10));
  while (true) {
    {
      absl::MutexLock lock(&tls_mu_);
      if (tls_mu_.AwaitWithTimeout(absl::Condition(&tls_stopping_), refresh)) {
        return;
      }
    }
    // A few stat calls; the files are read only when they changed, and a
    // pair that fails is tried again only when they change again.
    std::string now = TlsFilesSignature(files);
    if (now == signature) continue;
    signature = std::move(now);
    absl::StatusOr<TlsIdentity> identity = LoadTlsIdentity(files);
    absl::Status published =
        identity.ok() ? tls_mirror_->Publish(*identity) : identity.status();
    if (!published.ok()) {
      LogError(
          "gRPC TLS: the changed files do not load, so new connections keep "
          "the certificate in use: %s",
          std::string(published.message()));
      continue;
    }
    LogInfo("gRPC TLS: reloaded, new connections get %s",
            identity->description);
  }
}

void CircuitServer::StopTlsWatcher() {
  {
    absl::MutexLock lock(&tls_mu_);
    tls_stopping_ = true;
  }
  if (tls_watcher_.joinable()) tls_watcher_.join();
}

void CircuitServer::Shutdown(absl::Time deadline) {
  StopTlsWatcher();
  if (shut_down_) return;
  shut_down_ = true;
  // HTTP first: its answers come from the actors, which stay until below.
  if (http_ != nullptr) http_->Shutdown(deadline);
  if (server_ != nullptr) {
    health_->Shutdown();
    service_->StartDraining();
    registry_->GoAway("the server is shutting down");
    server_->Shutdown(absl::ToChronoTime(deadline));
    server_->Wait();
    // Every call is over or cancelled. The shards run what is left of the
    // calls (and the actors their last answers) until no call object is
    // left, those that never got a call included.
    const absl::Time calls_deadline = absl::Now() + absl::Seconds(10);
    if (!service_->WaitForCallsGone(calls_deadline) ||
        !health_->WaitForCallsGone(calls_deadline)) {
      LogError("calls still open 10 s after the server shut down");
    }
  }
  if (registry_ != nullptr) {
    registry_->StopTicker();
    // What is committed is applied; nothing new is journaled.
    if (auto* cluster_journal =
            dynamic_cast<cluster::JetStreamJournal*>(journal_.get())) {
      cluster_journal->StopHandoffs();
    }
    registry_->Close();
    registry_->StopFollowing();
  }
  // Nothing is forwarded once the journal it asks is gone.
  if (cluster_node_ != nullptr) cluster_node_->Stop();
  const Stream::Totals fanout = Stream::totals();
  LogInfo("streams: %llu messages in %llu writes",
          static_cast<unsigned long long>(fanout.messages),
          static_cast<unsigned long long>(fanout.writes));
  if (auto* sqlite = dynamic_cast<SqliteJournal*>(journal_.get())) {
    SqliteJournal::Stats stats = sqlite->stats();
    LogInfo("journal: %d entries in %d commits (largest batch %d, %d failed)",
            stats.entries, stats.commits, stats.largest_batch,
            stats.failed_commits);
  }
  // Finishes its writes; their answers run on the shards.
  journal_.reset();
  if (shards_ != nullptr) {
    // The actors' last tasks run; only then may the queues shut down, since
    // a late answer may still start a read, a write or a finish.
    if (!shards_->WaitIdle(absl::Now() + absl::Seconds(10))) {
      LogError("class actors still busy 10 s after the journal closed");
    }
    shards_->Shutdown();
  }
  server_.reset();
}

}  // namespace circuit
