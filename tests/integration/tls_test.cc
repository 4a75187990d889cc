// TLS on both listeners: certificates made with the openssl command at test
// time (no keys in the repository), a class over TLS, HTTPS, a client that
// trusts the wrong CA, a certificate swapped under a running circuitd, and
// plaintext on the network refused.

#include "server/common/tls.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "client/lib/connection.h"
#include "client/lib/live_session.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/common/log.h"
#include "server/library/circuit_library.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using testing::Subprocess;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kInstructorKey[] = "tls-instructor-key";
constexpr char kKioskKey[] = "tls-kiosk-key";

// Runs the openssl command; fails the test (never skips) when it is missing
// or fails.
void OpenSsl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = Subprocess::Start(argv);
  ASSERT_TRUE(process.ok())
      << "openssl (deploy/install-deps.sh installs it): " << process.status();
  auto code = process->Wait(absl::Now() + kWait);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << "openssl " << args[0] << ": "
                      << process->stderr_text();
}

// A CA (DIR/NAME.pem, DIR/NAME.key) and certificates it signs, each for
// localhost and 127.0.0.1, on a fresh P-256 key.
class Pki {
 public:
  Pki(std::string dir, std::string name)
      : dir_(std::move(dir)), name_(std::move(name)) {
    OpenSsl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key(),
             "-out", ca_pem(), "-days", "2", "-subj", "/CN=" + name_});
    std::ofstream(dir_ + "/san.ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  }

  std::string ca_pem() const { return dir_ + "/" + name_ + ".pem"; }
  std::string ca_key() const { return dir_ + "/" + name_ + ".key"; }

  // A certificate with `common_name` and `serial` into cert_path and its key
  // into key_path: written beside them, then renamed over them, as an
  // operator (or certbot) replaces a pair.
  void Issue(const std::string& common_name, int serial,
             const std::string& cert_path, const std::string& key_path) {
    const std::string stem = absl::StrCat(dir_, "/", common_name, "-", serial);
    OpenSsl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", stem + ".key", "-out", stem + ".csr", "-subj",
             "/CN=" + common_name});
    OpenSsl({"x509", "-req", "-in", stem + ".csr", "-CA", ca_pem(), "-CAkey",
             ca_key(), "-set_serial", absl::StrCat(serial), "-days", "2",
             "-extfile", dir_ + "/san.ext", "-out", stem + ".pem"});
    ASSERT_EQ(std::rename((stem + ".key").c_str(), key_path.c_str()), 0);
    ASSERT_EQ(std::rename((stem + ".pem").c_str(), cert_path.c_str()), 0);
  }

 private:
  const std::string dir_;
  const std::string name_;
};

// The subject CN of the certificate a TLS peer presented.
std::string CommonName(X509* cert) {
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                            sizeof cn);
  return cn;
}

struct HttpsReply {
  bool handshake_ok = false;
  std::string handshake_error;
  std::string server_cn;
  int status = 0;
  std::string body;
};

// GET `target` over a new TLS connection trusting `ca_path`.
HttpsReply HttpsGet(int port, const std::string& ca_path,
                    const std::string& target) {
  HttpsReply reply;
  net::io_context ioc;
  ssl::context context(ssl::context::tls_client);
  beast::error_code ec;
  context.load_verify_file(ca_path, ec);
  EXPECT_FALSE(ec) << ec.message();
  context.set_verify_mode(ssl::verify_peer, ec);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(20));
  beast::get_lowest_layer(stream).connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"),
                    static_cast<unsigned short>(port)),
      ec);
  if (ec) {
    reply.handshake_error = ec.message();
    return reply;
  }
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) {
    reply.handshake_error = ec.message();
    return reply;
  }
  reply.handshake_ok = true;
  X509* peer = SSL_get1_peer_certificate(stream.native_handle());
  reply.server_cn = CommonName(peer);
  X509_free(peer);
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "localhost");
  http::write(stream, request, ec);
  EXPECT_FALSE(ec) << ec.message();
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, ec);
  EXPECT_FALSE(ec) << ec.message();
  reply.status = static_cast<int>(response.result_int());
  reply.body = response.body();
  return reply;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    dir_ = MakeTempDir();
    server_ca_ = std::make_unique<Pki>(dir_, "server-ca");
    device_ca_ = std::make_unique<Pki>(dir_, "device-ca");
    other_ca_ = std::make_unique<Pki>(dir_, "other-ca");
    cert_ = dir_ + "/circuitd.pem";
    key_ = dir_ + "/circuitd.key";
    server_ca_->Issue("circuitd-1", 1, cert_, key_);
    auto library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.service.keys.instructor_key = kInstructorKey;
    options.service.keys.kiosk_key = kKioskKey;
    options.tls.cert_path = cert_;
    options.tls.key_path = key_;
    options.tls.client_ca_path = device_ca_->ca_pem();
    options.tls_refresh = absl::Seconds(1);
    auto server = CircuitServer::Start(options, library_.get(), Clock::Real());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // A connection over TLS trusting `ca_path`, with a client certificate
  // when `client_cert` is given.
  std::shared_ptr<client::Connection> Connect(
      const std::string& ca_path, const std::string& client_cert = "",
      const std::string& client_key = "") {
    auto tls = client::LoadClientTls(ca_path, client_cert, client_key, "");
    EXPECT_TRUE(tls.ok()) << tls.status();
    client::ConnectOptions options;
    options.address = absl::StrCat("127.0.0.1:", server_->port());
    options.tls = *tls;
    return std::make_shared<client::Connection>(options);
  }

  // The CN of the certificate a new gRPC connection is served; empty when
  // the call fails.
  std::string GrpcServerCn() {
    auto connection = Connect(server_ca_->ca_pem());
    auto context = connection->NewContext();
    v1::GetClockRequest request;
    v1::GetClockResponse response;
    grpc::Status status =
        connection->stub()->GetClock(context.get(), request, &response);
    if (!status.ok()) return "";
    std::vector<grpc::string_ref> cn =
        context->auth_context()->FindPropertyValues("x509_common_name");
    return cn.empty() ? "" : std::string(cn.front().data(), cn.front().size());
  }

  static client::SessionOptions FastRetry() {
    client::SessionOptions options;
    options.backoff_initial = absl::Milliseconds(20);
    options.backoff_max = absl::Milliseconds(200);
    options.clock_samples = 1;
    return options;
  }

  std::string dir_;
  std::unique_ptr<Pki> server_ca_;
  std::unique_ptr<Pki> device_ca_;
  std::unique_ptr<Pki> other_ca_;
  std::string cert_;
  std::string key_;
  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<CircuitServer> server_;
};

TEST_F(TlsTest, AClassRunsEndToEndOverTls) {
  // The studio's console presents a device certificate; the phone has none.
  const std::string device_cert = dir_ + "/console.pem";
  const std::string device_key = dir_ + "/console.key";
  device_ca_->Issue("studio-console", 7, device_cert, device_key);
  auto console = Connect(server_ca_->ca_pem(), device_cert, device_key);
  auto phone = Connect(server_ca_->ca_pem());
  auto info = console->CreateClass(kInstructorKey, "kickback-trio", "");
  ASSERT_TRUE(info.ok()) << info.status();

  client::InstructorSession instructor(console, kInstructorKey,
                                       info->class_id(), FastRetry());
  instructor.Start();
  v1::CheckIn check_in;
  check_in.set_display_name("Ana");
  client::ParticipantSession participant(phone, info->join_code(), check_in,
                                         FastRetry());
  participant.Start();
  ASSERT_TRUE(participant.WaitFor(
      [](const client::ClassMirror& m) { return m.has_snapshot(); }, kWait));
  ASSERT_TRUE(instructor.WaitFor(
      [](const client::ClassMirror& m) { return m.has_snapshot(); }, kWait));
  v1::InstructorCommand start;
  start.mutable_start();
  auto started = instructor.SendAndWait(start, kWait);
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(participant.WaitFor(
      [](const client::ClassMirror& m) {
        return m.state().current().kind() == v1::INTERVAL_KIND_WORK;
      },
      kWait));
  auto reps = participant.ReportReps(9);
  ASSERT_TRUE(reps.ok()) << reps.status();
  auto ack = participant.WaitForAck(*reps, kWait);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->code(), 0) << ack->message();
  EXPECT_TRUE(instructor.WaitFor(
      [](const client::ClassMirror& m) {
        return m.roster().size() == 1 &&
               m.roster().front().progress().total_reps() == 9;
      },
      kWait));
  participant.Stop();
  instructor.Stop();
}

TEST_F(TlsTest, AClientCertificateFromAnotherCaIsRefused) {
  const std::string cert = dir_ + "/stranger.pem";
  const std::string key = dir_ + "/stranger.key";
  other_ca_->Issue("stranger", 9, cert, key);
  auto stranger = Connect(server_ca_->ca_pem(), cert, key);
  auto circuits = stranger->ListCircuits();
  ASSERT_FALSE(circuits.ok());
  EXPECT_EQ(circuits.status().code(), absl::StatusCode::kUnavailable);
  // TLS 1.3 refuses a client certificate after the client's side of the
  // handshake is done, so gRPC may see the handshake fail or the connection
  // close; the message names the certificate either way.
  EXPECT_THAT(std::string(circuits.status().message()),
              HasSubstr("this client's certificate"));
}

TEST_F(TlsTest, TheHttpListenerServesOverTls) {
  HttpsReply reply =
      HttpsGet(server_->http_port(), server_ca_->ca_pem(), "/v1/clock");
  ASSERT_TRUE(reply.handshake_ok) << reply.handshake_error;
  EXPECT_EQ(reply.server_cn, "circuitd-1");
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(reply.body, HasSubstr("serverReceiveUnixMs"));
}

TEST_F(TlsTest, AClientTrustingAnotherCaFailsWithAClearMessage) {
  auto connection = Connect(other_ca_->ca_pem());
  auto circuits = connection->ListCircuits();
  ASSERT_FALSE(circuits.ok());
  EXPECT_EQ(circuits.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(circuits.status().message());
  EXPECT_THAT(message, HasSubstr("TLS handshake with circuitd failed"));
  EXPECT_THAT(message, HasSubstr("not signed by a CA this client trusts"));

  HttpsReply reply =
      HttpsGet(server_->http_port(), other_ca_->ca_pem(), "/v1/clock");
  EXPECT_FALSE(reply.handshake_ok);
  EXPECT_THAT(reply.handshake_error, HasSubstr("certificate verify failed"));
}

TEST_F(TlsTest, ASwappedCertificateServesNewConnectionsWithoutARestart) {
  // A connection made before the swap keeps working after it.
  auto before = Connect(server_ca_->ca_pem());
  ASSERT_TRUE(before->ListCircuits().ok());
  ASSERT_EQ(GrpcServerCn(), "circuitd-1");

  server_ca_->Issue("circuitd-2", 2, cert_, key_);
  const absl::Time deadline = absl::Now() + kWait;
  std::string grpc_cn;
  std::string http_cn;
  while ((grpc_cn != "circuitd-2" || http_cn != "circuitd-2") &&
         absl::Now() < deadline) {
    grpc_cn = GrpcServerCn();
    HttpsReply reply =
        HttpsGet(server_->http_port(), server_ca_->ca_pem(), "/v1/clock");
    http_cn = reply.server_cn;
    // Every new handshake succeeds, with the old pair or the new one.
    ASSERT_TRUE(reply.handshake_ok) << reply.handshake_error;
    ASSERT_EQ(reply.status, 200);
    // The pace of the polling, not a wait for anything: the loop ends on
    // what the handshakes show, or at the deadline.
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(grpc_cn, "circuitd-2");
  EXPECT_EQ(http_cn, "circuitd-2");
  EXPECT_TRUE(before->ListCircuits().ok());
}

// What this process writes to stderr (the in-process server's log) goes to
// a file while this lives.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = dup(2);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
  }
  std::string Text() const {
    std::ifstream in(path_);
    return std::string(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }

 private:
  const std::string path_;
  int saved_ = -1;
};

TEST_F(TlsTest, APairThatDoesNotLoadKeepsTheCertificateInUse) {
  StderrCapture log(dir_ + "/log.txt");
  // A new certificate over the old one, and the old key: not a pair (an
  // operator who copied one file of two).
  server_ca_->Issue("circuitd-bad", 3, dir_ + "/bad.pem", dir_ + "/bad.key");
  ASSERT_EQ(std::rename((dir_ + "/bad.pem").c_str(), cert_.c_str()), 0);
  const absl::Time deadline = absl::Now() + kWait;
  auto both_refused = [&] {
    const std::string text = log.Text();
    return absl::StrContains(text, "HTTP TLS: the changed files do not load") &&
           absl::StrContains(text, "gRPC TLS: the changed files do not load");
  };
  while (!both_refused() && absl::Now() < deadline) {
    // Every new handshake meanwhile gets the pair in use.
    ASSERT_EQ(GrpcServerCn(), "circuitd-1");
    HttpsReply reply =
        HttpsGet(server_->http_port(), server_ca_->ca_pem(), "/v1/clock");
    ASSERT_TRUE(reply.handshake_ok) << reply.handshake_error;
    ASSERT_EQ(reply.server_cn, "circuitd-1");
    absl::SleepFor(absl::Milliseconds(20));  // the polling's pace
  }
  ASSERT_TRUE(both_refused()) << log.Text();
  EXPECT_THAT(log.Text(), HasSubstr("is not the private key of"));
  // After both watchers looked at it, still the old pair.
  EXPECT_EQ(GrpcServerCn(), "circuitd-1");
  EXPECT_EQ(HttpsGet(server_->http_port(), server_ca_->ca_pem(), "/v1/clock")
                .server_cn,
            "circuitd-1");
}

TEST(TlsFilesTest, AKeyThatIsNotTheCertificatesIsRefused) {
  const std::string dir = MakeTempDir();
  Pki pki(dir, "ca");
  pki.Issue("one", 1, dir + "/one.pem", dir + "/one.key");
  pki.Issue("two", 2, dir + "/two.pem", dir + "/two.key");
  TlsFiles files;
  files.cert_path = dir + "/one.pem";
  files.key_path = dir + "/two.key";
  auto identity = LoadTlsIdentity(files);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(identity.status().message()),
              HasSubstr("is not the private key of"));
  files.key_path = dir + "/one.key";
  files.client_ca_path = dir + "/one.key";  // a key is not a CA certificate
  identity = LoadTlsIdentity(files);
  ASSERT_FALSE(identity.ok());
  EXPECT_THAT(std::string(identity.status().message()),
              HasSubstr("--tls_client_ca"));
  files.client_ca_path = pki.ca_pem();
  identity = LoadTlsIdentity(files);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_THAT(identity->description, HasSubstr("CN=one"));
}

TEST(TlsFilesTest, OnlyLoopbackAddressesAreLoopback) {
  for (const char* local :
       {"127.0.0.1:50051", "127.0.0.1:0", "127.9.8.7:80", "localhost:8080",
        "[::1]:50051", "[::ffff:127.0.0.1]:1", "unix:/tmp/circuit.sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(local)) << local;
  }
  for (const char* network :
       {"0.0.0.0:50051", "[::]:50051", ":50051", "192.168.1.20:8080",
        "10.0.0.1:1", "studio.example:443", "[2001:db8::1]:50051",
        "nonsense"}) {
    EXPECT_FALSE(IsLoopbackAddress(network)) << network;
  }
}

// circuitd as a process: what an operator sees.
constexpr absl::Duration kStartTimeout = absl::Seconds(20);

TEST(CircuitdTlsCommandLineTest, PlaintextOnTheNetworkIsRefused) {
  struct Case {
    const char* grpc;
    const char* http;
    const char* named;
  };
  for (const Case& c :
       {Case{"0.0.0.0:0", "127.0.0.1:0", "--listen=0.0.0.0:0"},
        Case{"127.0.0.1:0", "0.0.0.0:0", "--http_listen=0.0.0.0:0"}}) {
    auto process = Subprocess::Start(
        {BinaryPath("circuitd"), absl::StrCat("--listen=", c.grpc),
         absl::StrCat("--http_listen=", c.http), "--journal=memory",
         "--data_dir=" + MakeTempDir()});
    ASSERT_TRUE(process.ok()) << process.status();
    auto code = process->Wait(absl::Now() + kStartTimeout);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 1) << c.named;
    EXPECT_THAT(process->stderr_text(),
                HasSubstr(absl::StrCat(c.named,
                                       " is reachable from the "
                                       "network")));
    EXPECT_THAT(process->stderr_text(), HasSubstr("--tls_cert"));
    EXPECT_THAT(process->stderr_text(), HasSubstr("--insecure"));
  }
}

TEST(CircuitdTlsCommandLineTest, InsecureServesPlaintextOnTheNetworkAndSaysSo) {
  auto circuitd = testing::StartCircuitd(
      {"--listen=0.0.0.0:0", "--journal=memory", "--insecure"},
      absl::Now() + kStartTimeout);
  ASSERT_TRUE(circuitd.ok()) << circuitd.status();
  circuitd->process->Signal(SIGTERM);
  auto code = circuitd->process->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(circuitd->process->stderr_text(),
              HasSubstr("W --insecure: serving plain text on 0.0.0.0:0"));
}

TEST(CircuitdTlsCommandLineTest, TheCliConnectsOverTlsAndExplainsAWrongCa) {
  const std::string dir = MakeTempDir();
  Pki pki(dir, "ca");
  Pki other(dir, "other");
  pki.Issue("circuitd", 1, dir + "/circuitd.pem", dir + "/circuitd.key");
  auto circuitd = testing::StartCircuitd(
      {"--listen=0.0.0.0:0", "--http_listen=0.0.0.0:0", "--journal=memory",
       "--tls_cert=" + dir + "/circuitd.pem",
       "--tls_key=" + dir + "/circuitd.key"},
      absl::Now() + kStartTimeout);
  ASSERT_TRUE(circuitd.ok()) << circuitd.status();
  HttpsReply reply = HttpsGet(circuitd->http_port, pki.ca_pem(), "/healthz");
  EXPECT_TRUE(reply.handshake_ok) << reply.handshake_error;
  EXPECT_EQ(reply.status, 200);

  auto good = Subprocess::Start({BinaryPath("circuit"), "circuits",
                                 "--address=" + circuitd->address,
                                 "--tls_ca=" + pki.ca_pem()});
  ASSERT_TRUE(good.ok());
  const std::string listed = good->ReadAll(absl::Now() + kStartTimeout);
  auto good_code = good->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(good_code.ok());
  EXPECT_EQ(*good_code, 0) << good->stderr_text();
  EXPECT_THAT(listed, HasSubstr("kickback-trio"));

  auto bad = Subprocess::Start({BinaryPath("circuit"), "circuits",
                                "--address=" + circuitd->address,
                                "--tls_ca=" + other.ca_pem()});
  ASSERT_TRUE(bad.ok());
  auto bad_code = bad->Wait(absl::Now() + kStartTimeout);
  ASSERT_TRUE(bad_code.ok());
  EXPECT_EQ(*bad_code, 1);
  EXPECT_THAT(bad->stderr_text(),
              HasSubstr("TLS handshake with circuitd failed: circuitd's "
                        "certificate is not signed by a CA this client "
                        "trusts"));
  circuitd->process->Signal(SIGTERM);
  ASSERT_TRUE(circuitd->process->Wait(absl::Now() + kStartTimeout).ok());
}

}  // namespace
}  // namespace circuit
