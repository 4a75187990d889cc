// circuitd: the Circuit live class server. Flags, wiring and signals only.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/app/server.h"
#include "server/cluster/nats.h"
#include "server/common/clock.h"
#include "server/common/data_cipher.h"
#include "server/common/log.h"
#include "server/journal/sqlite_journal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve on; port 0 picks a free port, printed at start");
ABSL_FLAG(std::string, data_dir, "var",
          "directory for the server's data; created when missing");
ABSL_FLAG(std::string, circuits_dir, "",
          "directory of .textproto library files (exercises.textproto, an "
          "optional rules.textproto, *.programme.textproto programmes and one "
          "file per circuit); empty uses the library built into circuitd");
ABSL_FLAG(bool, check, false,
          "validate the circuit library, print a summary and exit (1 when it "
          "is invalid)");
ABSL_FLAG(int, shutdown_grace_seconds, 5,
          "on SIGTERM or SIGINT, how long open streams get to finish");
ABSL_FLAG(std::string, instructor_key, "",
          "the instructor's secret (or env CIRCUIT_INSTRUCTOR_KEY); when both "
          "are empty, one is generated once and kept in "
          "<data_dir>/instructor.key");
ABSL_FLAG(std::string, kiosk_key, "",
          "the studio kiosks' secret (or env CIRCUIT_KIOSK_KEY); when both are "
          "empty, one is generated once and kept in <data_dir>/kiosk.key");
ABSL_FLAG(int, hold_seconds, 600,
          "how long a dropped participant's seat and progress are held");
ABSL_FLAG(int, retention_events, 4096,
          "events kept per class for resuming clients; older gaps get a "
          "fresh snapshot");
ABSL_FLAG(int, max_queued_per_stream, 512,
          "messages that may wait for a slow reader before it is "
          "disconnected");
ABSL_FLAG(int, max_queued_per_console, 16384,
          "the same for an instructor's console, which every join, report "
          "and plan item of its class reaches");
ABSL_FLAG(double, stream_messages_per_second, 20,
          "messages per second a participant may send, whichever of its "
          "streams it uses (an instructor: per stream); burst 3x");
ABSL_FLAG(double, joins_per_minute_per_peer, 120,
          "join and resume attempts per minute from one address (burst 40)");
ABSL_FLAG(int, refusal_delay_ms, 1000,
          "a join or resume refused for coming too fast from its address is "
          "answered this long after it came, so a client retrying in a loop "
          "waits instead of costing circuitd (0: at once)");
ABSL_FLAG(std::string, journal, "sqlite",
          "where classes are kept: sqlite (<data_dir>/circuit.db; survives "
          "crashes and power loss) or memory (lost at exit; for tests)");
ABSL_FLAG(int, max_reports_per_participant, 5000,
          "most reports one participant may make in one class (a memory "
          "bound)");
ABSL_FLAG(int, keepalive_seconds, 30,
          "a connection idle this long is pinged, and closed when it does "
          "not answer within 10 s (its participant then shows dropped); "
          "longer saves CPU in big idle rooms, shorter notices dead phones "
          "sooner; 0: never ping (dead phones are then noticed only when "
          "writes to them fail)");
ABSL_FLAG(std::string, write_interval_ms, "auto",
          "a stream whose app accepts batches is written at most once per "
          "this many milliseconds, and what comes meanwhile shares the next "
          "write: less CPU per message in big rooms, for up to this much "
          "more latency. 0: write as soon as possible; auto: as soon as "
          "possible until circuitd writes more than 12,500 messages a second "
          "per stream thread, then at most once per (streams / that rate) "
          "seconds, up to 250 ms");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8080",
          "host:port of the HTTP listener (JSON API at /v1/..., Prometheus "
          "metrics at /metrics); port 0 picks a free port, printed at start; "
          "empty: no HTTP listener");
ABSL_FLAG(std::string, public_http_url, "",
          "where users reach --http_listen, e.g. https://studio.example:8080 "
          "(behind a proxy or on a wildcard address): the browser console's "
          "sign-in links point there; empty: the listen address");
ABSL_FLAG(std::string, http_static_dir, "",
          "serve the web pages from this directory (server/http/static) "
          "instead of the copies compiled in, to work on them without "
          "rebuilding");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain (leaf first) to serve gRPC and HTTP over "
          "TLS with; needs --tls_key. Reloaded without a restart when the "
          "file changes (see --tls_reload_seconds)");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls_cert (unencrypted; keep it mode 0600)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificate(s) that sign studio devices' client "
          "certificates: a client that presents a certificate must present "
          "one these signed (the handshake fails otherwise); clients without "
          "one (phones) are still served");
ABSL_FLAG(int, tls_reload_seconds, 60,
          "how often the TLS files are checked; a changed certificate and "
          "key serve new connections from then on (open ones keep theirs), "
          "and a pair that does not load is logged and not used");
ABSL_FLAG(bool, insecure, false,
          "allow plain text (no TLS) on a non-loopback --listen or "
          "--http_listen; without TLS every key, token and health report "
          "crosses the network readable. Logged as a warning");
ABSL_FLAG(int, stream_threads, 0,
          "threads that poll gRPC's completion queues: each owns a share of "
          "the calls and runs the class actors whose work it starts (0: one "
          "per core)");
ABSL_FLAG(int, journal_max_batch, 10000,
          "most inputs in one journal commit; 1 commits each on its own "
          "(slower, for comparison)");
ABSL_FLAG(int, handshake_timeout_seconds, 10,
          "a gRPC connection that has not completed its handshake (sent "
          "HTTP/2's preface and settings) within this is closed, so "
          "connections that never send a byte hold nothing for long");
ABSL_FLAG(int, grpc_timer_nice, 10,
          "nice value of gRPC's timer threads (connection timeouts, "
          "keepalive): when thousands of idle connections time out at once, "
          "tearing them down yields to live classes (0: unchanged)");
ABSL_FLAG(int, max_connection_idle_seconds, 300,
          "a gRPC connection with no call open for this long is closed "
          "(GOAWAY; clients reconnect when they next call); an open stream, "
          "however quiet, keeps its connection; 0: never");
ABSL_FLAG(int, max_streams_per_connection, 100,
          "gRPC calls open at once on one connection");
ABSL_FLAG(int, http_read_timeout_seconds, 15,
          "an HTTP request's headers and body must arrive within this (plus "
          "up to a quarter more at random, so connections opened together "
          "do not all close together), or the connection is closed (slow "
          "clients hold nothing for long)");
ABSL_FLAG(int, http_max_connections, 10000,
          "HTTP connections open at once; more are closed when accepted "
          "(0: no limit)");
ABSL_FLAG(int, http_max_connections_per_address, 1000,
          "HTTP connections open at once from one address (a studio's "
          "phones may share one behind its router); more are closed when "
          "accepted (0: no limit)");
ABSL_FLAG(std::string, data_key_file, "",
          "a file (mode 0600) with the data keys that seal health data in "
          "the journal: ID:KEY items (KEY: 64 hex digits or base64 of 32 "
          "bytes), the highest id seals; the CIRCUIT_DATA_KEY environment "
          "variable, in the same form, comes first; neither: "
          "<data_dir>/keys/ (created, with a first key, when missing)");
ABSL_FLAG(bool, rotate_data_key, false,
          "with circuitd stopped: add a new data key to <data_dir>/keys/ "
          "(or use the highest given key), seal every health record of the "
          "journal under it in one transaction, and exit; older keys may be "
          "deleted afterwards");
ABSL_FLAG(std::string, cluster, "",
          "nats://HOST:PORT[,nats://HOST:PORT...]: run as a node of a "
          "cluster on these NATS JetStream servers (classes, profiles and "
          "summaries are kept there, each class owned by one node at a "
          "time); empty: a single node on <data_dir>/circuit.db");
ABSL_FLAG(std::string, cluster_http_urls, "",
          "with --cluster: every node's --public_http_url, this one's too "
          "(https://a.example:8443,https://b.example:8443,...), the same on "
          "every node. A web page loaded from one node moves its calls to "
          "the next when its node stops answering, and the nodes answer each "
          "other's pages (CORS). Empty: pages call only the node they came "
          "from (enough behind one name: a load balancer, or a DNS name with "
          "every node)");
ABSL_FLAG(std::string, node_name, "",
          "this node's name in the cluster (leases, logs); empty: the host "
          "name");
ABSL_FLAG(int, lease_seconds, 10,
          "how long a node owns a class without renewing (the cluster's "
          "failover time is about this long)");
ABSL_FLAG(int, cluster_replicas, 3,
          "copies of each cluster stream and bucket, when this node is the "
          "first to set the cluster up (1 on a single NATS server)");
ABSL_FLAG(int, health_retention_days, 30,
          "effort and symptom details of classes that ended more than this "
          "many days ago are removed (reps and attendance stay)");

namespace {

bool IsOurFlagFile(absl::string_view file) {
  return absl::StrContains(file, "server/main.cc");
}

// The secret from the flag, else the environment, else the file in the data
// directory, else a new random one written there (owner-only).
absl::StatusOr<std::string> LoadKey(const std::string& flag_value,
                                    const char* env_name,
                                    const std::string& path) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv(env_name); env != nullptr && *env) {
    return std::string(env);
  }
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buffer[257] = {};
    size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
    std::fclose(f);
    std::string key(buffer, n);
    while (!key.empty() && (key.back() == '\n' || key.back() == ' ')) {
      key.pop_back();
    }
    if (!key.empty()) return key;
  }
  std::string key = circuit::RandomHex(16);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  std::string line = key + "\n";
  bool ok =
      write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return key;
}

// --rotate_data_key: seals every health record under a new data key.
int RotateDataKey(const circuit::ServerOptions& options) {
  auto fail = [](const char* what, const absl::Status& status) {
    std::fprintf(stderr, "circuitd: %s%s\n", what,
                 std::string(status.message()).c_str());
    return 1;
  };
  const circuit::DataKeyOptions sources = circuit::DataKeysFor(options);
  circuit::SqliteJournalOptions journal_options;
  journal_options.path = options.data_dir + "/circuit.db";
  absl::StatusOr<std::shared_ptr<const circuit::KeyRing>> keys =
      circuit::LoadDataKeys(sources);
  if (!keys.ok()) return fail("", keys.status());
  journal_options.keys = *keys;
  // The journal is opened first, so no key is added while a running
  // circuitd holds it.
  auto journal = circuit::SqliteJournal::Open(journal_options);
  if (!journal.ok()) return fail("", journal.status());
  if (sources.key_text.empty() && sources.key_file.empty()) {
    absl::StatusOr<uint32_t> added = circuit::AddDataKey(sources.key_dir);
    if (!added.ok()) return fail("", added.status());
    std::printf("added data key %u in %s\n", *added, sources.key_dir.c_str());
    keys = circuit::LoadDataKeys(sources);
    if (!keys.ok()) return fail("", keys.status());
    (*journal)->Close();
    journal_options.keys = *keys;
    journal = circuit::SqliteJournal::Open(journal_options);
    if (!journal.ok()) return fail("", journal.status());
  }
  absl::StatusOr<circuit::SqliteJournal::ResealCounts> counts =
      (*journal)->Reseal();
  (*journal)->Close();
  if (!counts.ok()) {
    return fail("cannot rotate the data key: ", counts.status());
  }
  std::printf(
      "health data of %s sealed under data key %u: %lld records moved from "
      "older keys, %lld plain records sealed\n",
      journal_options.path.c_str(), (*keys)->current_id(),
      static_cast<long long>(counts->resealed),
      static_cast<long long>(counts->sealed));
  if (counts->unreadable > 0) {
    std::fprintf(stderr,
                 "circuitd: %lld sealed records did not open with the keys "
                 "given and stay as they were (see the log above); keep "
                 "their keys\n",
                 static_cast<long long>(counts->unreadable));
    return 1;
  }
  std::printf("older data keys may now be deleted\n");
  return 0;
}

int MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) return errno;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = IsOurFlagFile;
  usage.contains_helpshort_flags = IsOurFlagFile;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "circuitd serves live group fitness classes over gRPC "
      "(circuit.v1.CircuitService, grpc.health.v1, server reflection).\n"
      "Usage: circuitd [--listen=HOST:PORT] [--data_dir=DIR] "
      "[--circuits_dir=DIR] [--check]");
  absl::ParseCommandLine(argc, argv);
  // Everything circuitd writes (the database and its WAL, backups, keys,
  // accounts) is its own alone: health data and secrets are never readable
  // by other users of the machine, whatever the operator's umask.
  umask(077);
  // Debian's Abseil is built without NDEBUG, so every mutex would run
  // deadlock detection (measured: 11% of server CPU in fan-out). The
  // -Wthread-safety build and the sanitizer runs cover lock order instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const std::string circuits_dir = absl::GetFlag(FLAGS_circuits_dir);
  absl::StatusOr<circuit::CircuitLibrary> library =
      circuits_dir.empty()
          ? circuit::CircuitLibrary::LoadEmbedded()
          : circuit::CircuitLibrary::LoadDirectory(circuits_dir);
  if (!library.ok()) {
    std::fprintf(stderr, "circuitd: invalid circuit library: %s\n",
                 std::string(library.status().message()).c_str());
    return 1;
  }
  const std::string source =
      circuits_dir.empty() ? "built-in library" : circuits_dir;
  if (absl::GetFlag(FLAGS_check)) {
    std::printf("circuit library OK (%s): %zu circuits, %zu exercises\n",
                source.c_str(), library->circuits().size(),
                library->exercises().size());
    for (const auto& c : library->circuits()) {
      std::printf("  %-20s %2d blocks  ~%d min  %s\n", c.id().c_str(),
                  c.blocks_size(), (c.estimated_seconds() + 59) / 60,
                  c.name().c_str());
    }
    for (const auto& p : library->programmes()) {
      std::printf("  programme %-20s %d stages  %s\n", p.id().c_str(),
                  p.stages_size(), p.name().c_str());
    }
    return 0;
  }

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (int err = MakeDirs(data_dir); err != 0) {
    std::fprintf(stderr, "circuitd: cannot create --data_dir %s: %s\n",
                 data_dir.c_str(), std::strerror(err));
    return 1;
  }

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  circuit::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.journal = absl::GetFlag(FLAGS_journal);
  options.data_dir = data_dir;
  options.data_keys.key_file = absl::GetFlag(FLAGS_data_key_file);
  if (const char* text = std::getenv("CIRCUIT_DATA_KEY"); text != nullptr) {
    options.data_keys.key_text = text;
    // Nothing this process starts needs to inherit it.
    unsetenv("CIRCUIT_DATA_KEY");
  }
  if (absl::GetFlag(FLAGS_rotate_data_key)) return RotateDataKey(options);
  options.stream_threads = std::max(0, absl::GetFlag(FLAGS_stream_threads));
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.http_static_dir = absl::GetFlag(FLAGS_http_static_dir);
  options.public_http_url = absl::GetFlag(FLAGS_public_http_url);
  options.tls.cert_path = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_path = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_path = absl::GetFlag(FLAGS_tls_client_ca);
  if (!options.tls.enabled() &&
      (!options.tls.key_path.empty() || !options.tls.client_ca_path.empty())) {
    std::fprintf(stderr,
                 "circuitd: --tls_key and --tls_client_ca need --tls_cert\n");
    return 1;
  }
  options.tls_refresh =
      absl::Seconds(std::max(1, absl::GetFlag(FLAGS_tls_reload_seconds)));
  options.insecure = absl::GetFlag(FLAGS_insecure);
  if (const std::string interval = absl::GetFlag(FLAGS_write_interval_ms);
      interval != "auto") {
    int ms = 0;
    if (!absl::SimpleAtoi(interval, &ms) || ms < 0 || ms > 10'000) {
      std::fprintf(stderr,
                   "circuitd: --write_interval_ms is auto or 0 to 10000, not "
                   "\"%s\"\n",
                   interval.c_str());
      return 1;
    }
    options.service.write_interval = absl::Milliseconds(ms);
  }
  options.keepalive_seconds =
      std::max(0, absl::GetFlag(FLAGS_keepalive_seconds));
  options.handshake_timeout_ms =
      1000 * std::max(1, absl::GetFlag(FLAGS_handshake_timeout_seconds));
  options.grpc_timer_nice =
      std::clamp(absl::GetFlag(FLAGS_grpc_timer_nice), 0, 19);
  options.max_connection_idle_seconds =
      std::max(0, absl::GetFlag(FLAGS_max_connection_idle_seconds));
  options.max_streams_per_connection =
      std::max(1, absl::GetFlag(FLAGS_max_streams_per_connection));
  options.http_read_timeout = absl::Seconds(
      std::max(1, absl::GetFlag(FLAGS_http_read_timeout_seconds)));
  options.http_max_connections = static_cast<size_t>(
      std::max(0, absl::GetFlag(FLAGS_http_max_connections)));
  options.http_max_connections_per_address = static_cast<size_t>(
      std::max(0, absl::GetFlag(FLAGS_http_max_connections_per_address)));
  options.journal_max_batch =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_journal_max_batch)));
  if (const std::string servers = absl::GetFlag(FLAGS_cluster);
      !servers.empty()) {
    absl::StatusOr<std::vector<std::string>> parsed =
        circuit::cluster::ParseServers(servers);
    if (!parsed.ok()) {
      std::fprintf(stderr, "circuitd: %s\n",
                   std::string(parsed.status().message()).c_str());
      return 1;
    }
    options.cluster.servers = *std::move(parsed);
    options.cluster.node = absl::GetFlag(FLAGS_node_name);
    if (options.cluster.node.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      options.cluster.node = host;
    }
    options.cluster.lease =
        absl::Seconds(std::max(2, absl::GetFlag(FLAGS_lease_seconds)));
    options.cluster.replicas =
        std::clamp(absl::GetFlag(FLAGS_cluster_replicas), 1, 5);
  }
  if (const std::string urls = absl::GetFlag(FLAGS_cluster_http_urls);
      !urls.empty()) {
    if (options.cluster.servers.empty()) {
      std::fprintf(stderr,
                   "circuitd: --cluster_http_urls lists the nodes of a "
                   "cluster: it needs --cluster\n");
      return 1;
    }
    options.cluster_http_urls =
        absl::StrSplit(urls, ',', absl::SkipWhitespace());
  }
  options.registry.health_retention =
      absl::Hours(24) * std::max(0, absl::GetFlag(FLAGS_health_retention_days));
  const std::string instructor_key_path = data_dir + "/instructor.key";
  const std::string kiosk_key_path = data_dir + "/kiosk.key";
  absl::StatusOr<std::string> instructor_key =
      LoadKey(absl::GetFlag(FLAGS_instructor_key), "CIRCUIT_INSTRUCTOR_KEY",
              instructor_key_path);
  absl::StatusOr<std::string> kiosk_key = LoadKey(
      absl::GetFlag(FLAGS_kiosk_key), "CIRCUIT_KIOSK_KEY", kiosk_key_path);
  if (!instructor_key.ok() || !kiosk_key.ok()) {
    std::fprintf(
        stderr, "circuitd: %s\n",
        std::string(instructor_key.ok() ? kiosk_key.status().message()
                                        : instructor_key.status().message())
            .c_str());
    return 1;
  }
  options.service.keys.instructor_key = *instructor_key;
  options.service.keys.kiosk_key = *kiosk_key;
  options.service.max_queued_per_stream = static_cast<size_t>(
      std::max(8, absl::GetFlag(FLAGS_max_queued_per_stream)));
  options.service.max_queued_per_console = static_cast<size_t>(
      std::max(8, absl::GetFlag(FLAGS_max_queued_per_console)));
  options.service.stream_messages_per_second =
      absl::GetFlag(FLAGS_stream_messages_per_second);
  options.service.stream_message_burst =
      3 * absl::GetFlag(FLAGS_stream_messages_per_second);
  options.service.joins_per_second_per_peer =
      absl::GetFlag(FLAGS_joins_per_minute_per_peer) / 60.0;
  options.service.refusal_delay =
      absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_refusal_delay_ms)));
  options.registry.session.max_reports_per_participant =
      std::max(1, absl::GetFlag(FLAGS_max_reports_per_participant));
  options.registry.session.hold =
      absl::Seconds(absl::GetFlag(FLAGS_hold_seconds));
  options.registry.session.retention_events =
      static_cast<size_t>(std::max(16, absl::GetFlag(FLAGS_retention_events)));
  auto server =
      circuit::CircuitServer::Start(options, &*library, circuit::Clock::Real());
  if (!server.ok()) {
    std::fprintf(stderr, "circuitd: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  const char* transport = options.tls.enabled() ? "TLS, " : "";
  std::printf(
      "circuitd listening on %s:%d (%s%s, data in %s, journal %s)\n",
      host.c_str(), (*server)->port(), transport, source.c_str(),
      data_dir.c_str(),
      !options.cluster.servers.empty()
          ? absl::StrCat("on the cluster as node ", options.cluster.node)
                .c_str()
      : options.journal == "sqlite" ? (data_dir + "/circuit.db").c_str()
                                    : options.journal.c_str());
  if ((*server)->http_port() != 0) {
    const std::string http_host =
        options.http_listen.substr(0, options.http_listen.rfind(':'));
    std::printf("circuitd http on %s:%d (%smetrics at /metrics)\n",
                http_host.c_str(), (*server)->http_port(), transport);
  }
  if (absl::GetFlag(FLAGS_instructor_key).empty() &&
      std::getenv("CIRCUIT_INSTRUCTOR_KEY") == nullptr) {
    std::printf("instructor key in %s, kiosk key in %s\n",
                instructor_key_path.c_str(), kiosk_key_path.c_str());
  }
  // The keys are read; nothing circuitd starts later inherits them.
  unsetenv("CIRCUIT_INSTRUCTOR_KEY");
  unsetenv("CIRCUIT_KIOSK_KEY");
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  circuit::LogInfo("%s: draining for up to %ds",
                   signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
                   absl::GetFlag(FLAGS_shutdown_grace_seconds));
  (*server)->Shutdown(
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  circuit::LogInfo("stopped");
  return 0;
}
