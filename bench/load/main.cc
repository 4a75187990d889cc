// circuit-bench: the operator's load tool (bench/load/load.h), a binary of
// its own so the user's CLI carries none of its clients.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bench/load/load.h"
#include "client/lib/connection.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051",
          "without --spawn_server: circuitd's host:port");
ABSL_FLAG(std::string, participant_addresses, "",
          "without --spawn_server: where participants connect instead of "
          "--address, a comma list taken in turn (participant i to the i-th "
          "modulo its length): the nodes of a cluster, the instructor staying "
          "on --address");
ABSL_FLAG(std::string, key, "",
          "without --spawn_server: the instructor key; default: env "
          "CIRCUIT_INSTRUCTOR_KEY, else <data_dir>/instructor.key");
ABSL_FLAG(std::string, data_dir, "var",
          "without --spawn_server: circuitd's data directory, where it keeps "
          "generated keys");
ABSL_FLAG(bool, json, false,
          "one JSON object per run instead of a markdown table row");
ABSL_FLAG(bool, spawn_server, false,
          "start a circuitd of its own on a free port, one per run, with the "
          "per-address limits lifted by its flags");
ABSL_FLAG(std::string, participants, "",
          "a comma list, one run each, e.g. 2000,5000 (default 200)");
ABSL_FLAG(std::string, mode, "cues",
          "cues, next, joins, reports, idle or class");
ABSL_FLAG(int, messages, 100,
          "per participant, the cues (cues) or interval changes (next) it "
          "receives, or the reports it sends (reports)");
ABSL_FLAG(double, rate, 20,
          "per second, the instructor's cues or nexts (cues, next), or each "
          "participant's reports (reports)");
ABSL_FLAG(int, seconds, 60, "how long idle and class runs last");
ABSL_FLAG(int, joins_in_flight, 64,
          "joins started and not yet answered, at most");
ABSL_FLAG(int, threads, 2,
          "completion-queue threads serving every participant");
ABSL_FLAG(int, server_pid, 0,
          "without --spawn_server: circuitd's process id, to read its CPU and "
          "RSS from /proc");
ABSL_FLAG(bool, accept_batches, true,
          "every stream asks for batches (several messages in one response) "
          "when the contract has them; false: one at a time");
ABSL_FLAG(std::string, transport, "grpc",
          "how the simulated clients connect: grpc (participants' JoinClass "
          "streams), sse_kiosk (kiosks: GET /v1/classes/ID:watch server-sent "
          "events) or sse_participant (participants: POST /v1/classes:join "
          "server-sent events); SSE: one HTTP connection per client, the "
          "instructor still on gRPC, modes cues, next, joins and idle");
ABSL_FLAG(int, consoles, 0,
          "instructor consoles attached to the class for the whole run, each "
          "on its own connection, besides the instructor (they send "
          "nothing): what their streams cost");
ABSL_FLAG(std::string, console_transport, "grpc",
          "--consoles over grpc (RunClass) or sse (HTTP GET "
          "/v1/classes/ID:run, server-sent events)");
ABSL_FLAG(std::string, http_address, "",
          "--transport=sse_* without --spawn_server: circuitd's HTTP "
          "listener, IP:PORT (e.g. 127.0.0.1:8080)");
ABSL_FLAG(std::string, attack, "",
          "hostile traffic during the measured phase, from another address "
          "(--attack_from): joins (join attempts spread over the phase), "
          "idle_tcp (gRPC connections that never send a byte), slowloris "
          "(HTTP connections trickling a request), report_flood (one "
          "participant reporting --attack_size times a second), or none (the "
          "same set-up without an attack, to compare); every participant "
          "then connects from an address of its own");
ABSL_FLAG(int, attack_size, 0,
          "--attack: join attempts, connections, or reports a second (0: "
          "10000 joins, 5000 idle_tcp, 1000 slowloris, 1000 report_flood)");
ABSL_FLAG(std::string, attack_from, "127.0.0.2",
          "--attack: the attacker's source address");
ABSL_FLAG(bool, attack_reopen, true,
          "--attack=idle_tcp or slowloris: reopen each connection the server "
          "closes, keeping --attack_size open; false: open each once");
ABSL_FLAG(std::string, server_flags, "",
          "--spawn_server: more circuitd flags, space-separated, e.g. "
          "\"--journal=memory\"");

namespace circuit::bench {
namespace {

constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: circuit-bench [--spawn_server | --server_pid=PID] "
    "[--mode=cues|next|joins|reports|idle|class] "
    "[--transport=grpc|sse_kiosk|sse_participant] [--participants=N,N...] "
    "[--messages=M] [--rate=R] [--seconds=S] "
    "[--consoles=N --console_transport=grpc|sse] "
    "[--attack=none|joins|idle_tcp|slowloris|report_flood] [--json]";

constexpr char kHelp[] =
    "Simulates a room: N participants, each on a TCP connection of its\n"
    "own, join one kickback-trio class (at most --joins_in_flight joins\n"
    "at a time); the instructor starts it; then, by --mode:\n"
    "  cues     --messages cues at --rate a second, each 64 bytes with its\n"
    "           send time; every participant's receipt is timed\n"
    "  next     --messages interval changes (next; previous near the end\n"
    "           of the plan) at --rate a second, timed the same way\n"
    "  joins    the joins only: per-join latency, joins a second, server\n"
    "           CPU per join\n"
    "  reports  each participant sends --messages completion reports at\n"
    "           --rate a second; ack latency from when each was due\n"
    "  idle     nothing for --seconds (class in the lobby): server CPU\n"
    "  class    a real class for --seconds: a cue every 5 s, a next every\n"
    "           45 s, every participant reporting a set every 45 s\n"
    "           (spread), the server's own progress and timer\n"
    "Prints one markdown table row per entry of --participants (header\n"
    "once), or one JSON object with --json: delivered/expected, latency\n"
    "p50/p90/p99/max, drain (last send to last delivery), kept up (all\n"
    "delivered and drain <= 0.5 s), server CPU per delivered message, RSS\n"
    "per participant ((RSS after joins - before) / N), server RSS, and the\n"
    "load tool's own CPU; notes hold joins, split figures and errors.\n"
    "\n"
    "--spawn_server starts a fresh circuitd next to this binary for each\n"
    "run (127.0.0.1, a free port, a temporary data directory, new keys)\n"
    "and reads its CPU and RSS from /proc; that circuitd and its directory\n"
    "go with the run, or with this process however it ends. circuitd\n"
    "limits joins a minute and messages a second per client address, and\n"
    "here one address plays every phone: the spawned server is started\n"
    "with --joins_per_minute_per_peer and --stream_messages_per_second\n"
    "raised (and --max_reports_per_participant when --messages needs it).\n"
    "That is the only way through: the limits have no exemption, so\n"
    "against a server you run (--address, --key or the usual key\n"
    "discovery), start it with those flags yourself, and pass --server_pid\n"
    "for CPU and RSS. Keep the load tool on the machine it measures in\n"
    "mind: it uses CPU too (its own column).\n"
    "\n"
    "--attack=joins|idle_tcp|slowloris|report_flood plays hostile traffic\n"
    "from --attack_from (127.0.0.2) during the measured phase; every\n"
    "participant then connects from an address of its own (127.1.x.y)\n"
    "and a spawned server keeps its per-address limits. --attack=none is\n"
    "the same set-up without the attack, to compare. The notes say what\n"
    "the attack did and the server's RSS before, at peak and after.";

constexpr const char* kFlags[] = {"spawn_server",
                                  "mode",
                                  "participants",
                                  "messages",
                                  "rate",
                                  "seconds",
                                  "joins_in_flight",
                                  "threads",
                                  "accept_batches",
                                  "transport",
                                  "http_address",
                                  "server_pid",
                                  "server_flags",
                                  "attack",
                                  "attack_size",
                                  "attack_from",
                                  "consoles",
                                  "console_transport",
                                  "attack_reopen",
                                  "json",
                                  "address",
                                  "key",
                                  "data_dir"};

// What --help prints: the usage, what it does, and every flag with its
// default.
std::string HelpText() {
  std::string text = absl::StrCat(kUsage, "\n\n", kHelp, "\n\nFlags:\n");
  for (const char* name : kFlags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::string default_value = flag->DefaultValue();
    if (flag->IsOfType<std::string>()) {
      default_value = absl::StrCat("\"", default_value, "\"");
    }
    absl::StrAppend(&text, "  --", name, "  ", flag->Help(),
                    " (default: ", default_value, ")\n");
  }
  absl::StrAppend(&text, "\nExit codes: 0 ok, 1 failure, 2 usage.\n");
  return text;
}

int BadFlag(const std::string& reason) {
  std::fprintf(stderr, "circuit-bench: %s\n", reason.c_str());
  return kExitUsage;
}

// The key for `role` ("instructor" or "kiosk"): the flag (the instructor's
// only), the environment, then the file circuitd generated in its data
// directory.
std::string Key(const std::string& role) {
  return client::FindKey(role,
                         role == "instructor" ? absl::GetFlag(FLAGS_key) : "",
                         absl::GetFlag(FLAGS_data_dir));
}

int Bench(const std::vector<char*>& args) {
  if (args.size() > 1) {
    std::fprintf(stderr, "%s\n", kUsage);
    return kExitUsage;
  }
  BenchOptions options;
  if (!ParseBenchMode(absl::GetFlag(FLAGS_mode), &options.mode)) {
    return BadFlag("--mode is cues, next, joins, reports, idle or class");
  }
  if (!ParseBenchTransport(absl::GetFlag(FLAGS_transport),
                           &options.transport)) {
    return BadFlag("--transport is grpc, sse_kiosk or sse_participant");
  }
  options.consoles = std::max(0, absl::GetFlag(FLAGS_consoles));
  if (const std::string consoles = absl::GetFlag(FLAGS_console_transport);
      consoles == "sse") {
    options.consoles_over_http = true;
  } else if (consoles != "grpc") {
    return BadFlag("--console_transport is grpc or sse");
  }
  if (const std::string attack = absl::GetFlag(FLAGS_attack);
      !attack.empty() && !ParseBenchAttack(attack, &options.attack)) {
    return BadFlag(
        "--attack is none, joins, idle_tcp, slowloris or report_flood");
  }
  options.attack_size = absl::GetFlag(FLAGS_attack_size);
  options.attack_from = absl::GetFlag(FLAGS_attack_from);
  options.attack_reopen = absl::GetFlag(FLAGS_attack_reopen);
  if (const std::string list = absl::GetFlag(FLAGS_participants);
      !list.empty()) {
    options.participants.clear();
    for (absl::string_view item : absl::StrSplit(list, ',')) {
      int n = 0;
      if (!absl::SimpleAtoi(item, &n)) {
        return BadFlag("--participants is a comma list of numbers");
      }
      options.participants.push_back(n);
    }
  }
  options.messages = absl::GetFlag(FLAGS_messages);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.seconds = absl::GetFlag(FLAGS_seconds);
  options.joins_in_flight = absl::GetFlag(FLAGS_joins_in_flight);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.spawn_server = absl::GetFlag(FLAGS_spawn_server);
  options.server_flags =
      absl::StrSplit(absl::GetFlag(FLAGS_server_flags), ' ', absl::SkipEmpty());
  options.json = absl::GetFlag(FLAGS_json);
  options.accept_batches = absl::GetFlag(FLAGS_accept_batches);
  if (!options.spawn_server) {
    options.address = absl::GetFlag(FLAGS_address);
    options.participant_addresses = absl::StrSplit(
        absl::GetFlag(FLAGS_participant_addresses), ',', absl::SkipEmpty());
    options.instructor_key = Key("instructor");
    options.server_pid = absl::GetFlag(FLAGS_server_pid);
    options.http_address = absl::GetFlag(FLAGS_http_address);
    options.kiosk_key = Key("kiosk");
  } else if (!options.server_flags.empty() &&
             !absl::StartsWith(options.server_flags[0], "--")) {
    return BadFlag("--server_flags are circuitd flags, e.g. --journal=memory");
  }
  return RunBench(options);
}

}  // namespace
}  // namespace circuit::bench

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "-help") == 0) {
      std::printf("%s", circuit::bench::HelpText().c_str());
      return 0;
    }
  }
  absl::SetProgramUsageMessage(circuit::bench::kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  return circuit::bench::Bench(args);
}
