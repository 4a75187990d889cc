// circuit: the command-line client of circuitd.
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "circuitd's host:port");
ABSL_FLAG(int, timeout_seconds, 5, "deadline for each call");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Subcommand {
  const char* name;
  const char* args;
  const char* summary;
  std::function<int(const std::vector<char*>& args)> run;
};

std::unique_ptr<circuit::v1::CircuitService::Stub> Connect() {
  return circuit::v1::CircuitService::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials()));
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::seconds(absl::GetFlag(FLAGS_timeout_seconds)));
}

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "circuit: %s (%s)\n", status.error_message().c_str(),
               absl::GetFlag(FLAGS_address).c_str());
  return kExitFailure;
}

int ListCircuits(const std::vector<char*>&) {
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  circuit::v1::ListCircuitsResponse response;
  grpc::Status status = stub->ListCircuits(
      &context, circuit::v1::ListCircuitsRequest(), &response);
  if (!status.ok()) return Fail(status);
  for (const auto& c : response.circuits()) {
    std::printf("%-20s %2d blocks  ~%2d min  %s\n", c.id().c_str(),
                c.blocks_size(), (c.estimated_seconds() + 59) / 60,
                c.name().c_str());
  }
  return kExitOk;
}

int ShowClock(const std::vector<char*>&) {
  auto stub = Connect();
  grpc::ClientContext context;
  SetDeadline(&context);
  circuit::v1::GetClockRequest request;
  request.set_client_send_unix_ms(absl::ToUnixMillis(absl::Now()));
  circuit::v1::GetClockResponse response;
  grpc::Status status = stub->GetClock(&context, request, &response);
  int64_t t3 = absl::ToUnixMillis(absl::Now());
  if (!status.ok()) return Fail(status);
  int64_t t0 = response.client_send_unix_ms();
  int64_t t1 = response.server_receive_unix_ms();
  int64_t t2 = response.server_send_unix_ms();
  std::printf("offset %+lld ms, round trip %lld ms\n",
              static_cast<long long>(((t1 - t0) + (t2 - t3)) / 2),
              static_cast<long long>((t3 - t0) - (t2 - t1)));
  return kExitOk;
}

const std::vector<Subcommand>& Subcommands() {
  static const auto* const subcommands = new std::vector<Subcommand>{
      {"circuits", "", "list the circuit library", ListCircuits},
      {"clock", "", "show this machine's clock offset from circuitd's",
       ShowClock},
  };
  return *subcommands;
}

std::string Usage() {
  std::string text =
      "circuit: the command-line client of circuitd.\n"
      "Usage: circuit SUBCOMMAND [ARGS] [--address=HOST:PORT]\n\n"
      "Subcommands:\n";
  for (const Subcommand& s : Subcommands()) {
    absl::StrAppend(&text, "  ", s.name, s.args[0] ? " " : "", s.args,
                    std::string(20 - std::strlen(s.name) - std::strlen(s.args) -
                                    (s.args[0] ? 1 : 0),
                                ' '),
                    s.summary, "\n");
  }
  absl::StrAppend(&text,
                  "\n`circuit SUBCOMMAND --help` shows a subcommand's flags.\n"
                  "Exit codes: 0 ok, 1 failure, 2 usage.");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "client/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(Usage());

  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::printf("%s\n", Usage().c_str());
    return argc < 2 ? kExitUsage : kExitOk;
  }
  for (const Subcommand& s : Subcommands()) {
    if (std::strcmp(argv[1], s.name) != 0) continue;
    std::vector<char*> args = absl::ParseCommandLine(argc - 1, argv + 1);
    args.erase(args.begin());  // the subcommand's own name
    return s.run(args);
  }
  std::fprintf(stderr, "circuit: unknown subcommand \"%s\"\n\n%s\n", argv[1],
               Usage().c_str());
  return kExitUsage;
}
