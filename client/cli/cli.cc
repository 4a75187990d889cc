#include "client/cli/cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/lib/connection.h"
#include "client/tui/plain.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "circuitd's host:port");
ABSL_FLAG(std::string, tls_ca, "",
          "connect over TLS, trusting circuitd's certificate when this PEM "
          "CA signed it (circuitd --tls_cert); without it and --tls: "
          "plaintext, for a circuitd on loopback");
ABSL_FLAG(bool, tls, false,
          "connect over TLS trusting the system's CAs (implied by --tls_ca)");
ABSL_FLAG(std::string, tls_cert, "",
          "with TLS: this device's client certificate (PEM), for a circuitd "
          "with --tls_client_ca; needs --tls_key");
ABSL_FLAG(std::string, tls_key, "", "with TLS: the key of --tls_cert (PEM)");
ABSL_FLAG(std::string, tls_server_name, "",
          "with TLS: the name circuitd's certificate must carry, when it is "
          "not the host in --address");
ABSL_FLAG(int, timeout_seconds, 5, "deadline for each call");
ABSL_FLAG(std::string, key, "",
          "the instructor or kiosk key, or an account or class credential; "
          "default: env CIRCUIT_INSTRUCTOR_KEY or "
          "CIRCUIT_KIOSK_KEY, else <data_dir>/instructor.key or kiosk.key");
ABSL_FLAG(std::string, data_dir, "var",
          "circuitd's data directory, where it keeps generated keys");
ABSL_FLAG(bool, json, false,
          "print JSON (one object per line) instead of text, for scripts");
ABSL_FLAG(bool, plain, false,
          "instruct, join, kiosk: plain lines even on a terminal");
ABSL_FLAG(std::string, name, "",
          "join: your display name; kiosk pair: what to call the TV");
ABSL_FLAG(int64_t, ttl_seconds, 0,
          "admin add/reissue: how long the credential works (default 90 "
          "days, at most 400); class credential: (default 12 hours, at most "
          "24)");
ABSL_FLAG(bool, exit_at_end, false,
          "instruct, join, kiosk: exit when the class ends");

namespace circuit::client::cli {

// TLS from the flags, read once before a subcommand runs; none: plaintext.
namespace {

std::optional<ClientTls>& FlagTls() {
  static auto* const tls = new std::optional<ClientTls>();
  return *tls;
}

}  // namespace

// Reads the --tls_* flags' files into FlagTls(); the reason when they do not
// load.
absl::Status LoadTlsFlags() {
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string name = absl::GetFlag(FLAGS_tls_server_name);
  const bool tls = absl::GetFlag(FLAGS_tls) || !ca.empty();
  if (!tls) {
    if (!cert.empty() || !key.empty() || !name.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert, --tls_key and --tls_server_name need TLS: add "
          "--tls_ca=CA.pem (or --tls for the system's CAs)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<ClientTls> loaded = LoadClientTls(ca, cert, key, name);
  if (!loaded.ok()) return loaded.status();
  FlagTls() = std::move(*loaded);
  return absl::OkStatus();
}

std::shared_ptr<Connection> Connect() {
  ConnectOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.call_timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  options.tls = FlagTls();
  return std::make_shared<Connection>(options);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "circuit: %s (%s)\n",
               std::string(status.message()).c_str(),
               absl::GetFlag(FLAGS_address).c_str());
  return kExitFailure;
}

// "usage: circuit LINE" for each line of `usage`, then kExitUsage.
int Usage(absl::string_view usage) {
  const char* lead = "usage:";
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    std::fprintf(stderr, "%s circuit %s\n", lead, std::string(line).c_str());
    lead = "      ";
  }
  return kExitUsage;
}

// A usage error about the flags: one line, then kExitUsage.
int BadFlag(const std::string& reason) {
  std::fprintf(stderr, "circuit: %s\n", reason.c_str());
  return kExitUsage;
}

// The local date and time of `unix_ms`.
std::string LocalTime(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixMillis(unix_ms),
                          absl::LocalTimeZone());
}

void PrintJson(const google::protobuf::Message& message) {
  std::printf("%s\n", tui::JsonLine(message).c_str());
}

// The key for `role` ("instructor" or "kiosk"): the flag, the environment,
// then the file circuitd generated in its data directory.
std::string Key(const std::string& role, bool use_flag) {
  return client::FindKey(role, use_flag ? absl::GetFlag(FLAGS_key) : "",
                         absl::GetFlag(FLAGS_data_dir));
}

AppOptions MakeAppOptions() {
  AppOptions options;
  options.connection = Connect();
  options.mode = absl::GetFlag(FLAGS_json)    ? OutputMode::kJson
                 : absl::GetFlag(FLAGS_plain) ? OutputMode::kPlain
                                              : OutputMode::kAuto;
  options.exit_at_end = absl::GetFlag(FLAGS_exit_at_end);
  return options;
}

}  // namespace circuit::client::cli
