#include "server/rpc/server.h"

#include <algorithm>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/common/log.h"
#include "server/journal/sqlite_journal.h"

namespace circuit {

absl::StatusOr<std::unique_ptr<CircuitServer>> CircuitServer::Start(
    const ServerOptions& options, const CircuitLibrary* library,
    const Clock* clock) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<CircuitServer> server(new CircuitServer());
  if (options.journal_instance != nullptr) {
    server->journal_ = options.journal_instance;
  } else if (options.journal == "memory") {
    server->journal_ = std::make_shared<InMemoryJournal>();
  } else if (options.journal == "sqlite") {
    SqliteJournalOptions journal_options;
    journal_options.path = options.data_dir + "/circuit.db";
    journal_options.max_batch = std::max<size_t>(1, options.journal_max_batch);
    journal_options.busy_timeout_ms = options.journal_busy_timeout_ms;
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
  KioskPairings::Options kiosk_options;
  if (options.journal_instance == nullptr && options.journal == "sqlite") {
    kiosk_options.store_path = options.data_dir + "/kiosks.binpb";
  }
  absl::StatusOr<std::unique_ptr<KioskPairings>> kiosks =
      KioskPairings::Open(kiosk_options, clock);
  if (!kiosks.ok()) return kiosks.status();
  server->kiosks_ = std::move(*kiosks);
  server->pool_ = std::make_unique<ThreadPool>(options.actor_threads);
  server->registry_ =
      std::make_unique<ClassRegistry>(library, server->journal_.get(), clock,
                                      server->pool_.get(), options.registry);
  if (absl::Status recovered = server->registry_->Recover(); !recovered.ok()) {
    return recovered;
  }
  int stream_threads = options.stream_threads;
  if (stream_threads <= 0) {
    stream_threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  ServiceOptions service_options = options.service;
  service_options.keys.kiosks = server->kiosks_.get();
  service_options.pacing.budget =
      options.write_budget_per_thread * stream_threads;
  server->service_ = std::make_unique<CircuitServiceImpl>(
      library, server->registry_.get(), clock, service_options);
  server->health_ = std::make_unique<HealthService>(
      std::vector<std::string>{v1::CircuitService::service_full_name()});

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &server->port_);
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
  // Per-message costs that buy nothing here (measured with `circuit bench`,
  // BENCHMARKS.md): channelz's per-socket counters, and the bandwidth-delay
  // probe's PINGs (and their acks), a write each on thousands of
  // connections whose messages are small.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  for (int i = 0; i < stream_threads; ++i) {
    server->shards_.push_back(
        std::make_unique<CqShard>(builder.AddCompletionQueue()));
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  // A few calls of each streaming method are asked for on every shard, so a
  // burst of joins need not wait for each to be asked for again.
  constexpr int kCallsWaiting = 8;
  for (auto& shard : server->shards_) {
    server->service_->ServeStreamsOn(shard.get(), kCallsWaiting);
    shard->Start();
  }
  // Health answers for the whole server ("") and for the service by name;
  // draining turns both NOT_SERVING and ends the watches.
  server->health_->SetServing(true);
  server->registry_->StartTicker();
  server->metrics_ = std::make_unique<Metrics>(
      server->registry_.get(), [service = server->service_.get()] {
        const CircuitServiceImpl::OpenStreams open = service->open_streams();
        return Metrics::StreamCounts{open.instructors, open.participants,
                                     open.kiosks};
      });
  if (!options.http_listen.empty()) {
    HttpApiOptions api;
    api.registry = server->registry_.get();
    api.clock = clock;
    api.metrics = server->metrics_.get();
    api.may_watch = [keys = service_options.keys](const std::string& token) {
      const Credential who = IdentifyToken(token, keys);
      return who == Credential::kKiosk || who == Credential::kInstructor;
    };
    api.kiosks = server->kiosks_.get();
    api.join_limiter = server->service_->join_limiter();
    api.reports_per_second = service_options.stream_messages_per_second;
    api.report_burst = service_options.stream_message_burst;
    api.max_queued_per_stream = service_options.max_queued_per_stream;
    api.static_dir = options.http_static_dir;
    server->http_api_ = std::make_unique<HttpApi>(std::move(api));
    HttpServerOptions http_options;
    http_options.listen = options.http_listen;
    http_options.event_heartbeat = options.http_event_heartbeat;
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        http_options, server->http_api_.get(), server->metrics_.get());
    if (!http.ok()) return http.status();
    server->http_ = std::move(*http);
  }
  return server;
}

CircuitServer::~CircuitServer() { Shutdown(absl::Now()); }

void CircuitServer::Shutdown(absl::Time deadline) {
  if (server_ == nullptr) return;
  // HTTP first: its answers come from the actors, which stay until below.
  if (http_ != nullptr) http_->Shutdown(deadline);
  health_->Shutdown();
  service_->StartDraining();
  registry_->GoAway("the server is shutting down");
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  // Every call is over or cancelled. The shards run what is left of the
  // streams (and the actors their last answers) until no stream call object
  // is left; only then may the queues shut down, since a late answer may
  // still start a read or a write.
  if (!service_->WaitForStreamsGone(absl::Now() + absl::Seconds(10))) {
    LogError("streams still open 10 s after the server shut down");
  }
  for (auto& shard : shards_) shard->Shutdown();
  server_.reset();
  registry_->StopTicker();
  // What is committed is applied; nothing new is journaled.
  registry_->Close();
  pool_->WaitIdle();
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
  journal_.reset();  // finishes its writes; their answers run on the pool
  pool_.reset();
}

}  // namespace circuit
