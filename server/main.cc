// circuitd: the Circuit live class server. Flags, wiring and signals only.
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/library/circuit_library.h"
#include "server/rpc/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve on; port 0 picks a free port, printed at start");
ABSL_FLAG(std::string, data_dir, "var",
          "directory for the server's data; created when missing");
ABSL_FLAG(std::string, circuits_dir, "",
          "directory of .textproto circuit files (exercises.textproto and one "
          "file per circuit); empty uses the library built into circuitd");
ABSL_FLAG(bool, check, false,
          "validate the circuit library, print a summary and exit (1 when it "
          "is invalid)");
ABSL_FLAG(int, shutdown_grace_seconds, 5,
          "on SIGTERM or SIGINT, how long open streams get to finish");

namespace {

bool IsOurFlagFile(absl::string_view file) {
  return absl::StrContains(file, "server/main.cc");
}

int MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) return errno;
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
  auto server =
      circuit::CircuitServer::Start(options, &*library, circuit::Clock::Real());
  if (!server.ok()) {
    std::fprintf(stderr, "circuitd: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  std::printf("circuitd listening on %s:%d (%s, data in %s)\n", host.c_str(),
              (*server)->port(), source.c_str(), data_dir.c_str());
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
