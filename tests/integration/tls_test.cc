// TLS on both listeners: certificates made with the openssl command at test
// time (no keys in the repository), a class over TLS, HTTPS, a client that
// trusts the wrong CA, a certificate swapped under a running circuitd, the
// versions and suites both listeners accept (the same on both), HSTS over
// HTTPS, and plaintext on the network refused.

#include "server/common/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

// A certificate's key: which TLS 1.2 suites can use it (ECDSA or RSA
// authentication; only RSA allows static RSA key exchange).
enum class KeyType { kEc, kRsa };

void PrintTo(KeyType key_type, std::ostream* out) {
  *out << (key_type == KeyType::kRsa ? "RSA" : "P-256");
}

// A CA (DIR/NAME.pem, DIR/NAME.key) and certificates it signs, each for
// localhost and 127.0.0.1, on a fresh key (P-256 unless told RSA).
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
             const std::string& cert_path, const std::string& key_path,
             KeyType key_type = KeyType::kEc) {
    const std::string stem = absl::StrCat(dir_, "/", common_name, "-", serial);
    std::vector<std::string> new_key = {"-newkey", "ec", "-pkeyopt",
                                        "ec_paramgen_curve:prime256v1"};
    if (key_type == KeyType::kRsa) new_key = {"-newkey", "rsa:2048"};
    std::vector<std::string> request = {"req"};
    request.insert(request.end(), new_key.begin(), new_key.end());
    request.insert(request.end(),
                   {"-nodes", "-keyout", stem + ".key", "-out", stem + ".csr",
                    "-subj", "/CN=" + common_name});
    OpenSsl(request);
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

// What both doors accept, probed as a TLS scanner (testssl.sh) probes them:
// one handshake at a time, each client limited with OpenSSL's C API to one
// range of versions and one list of suites, so a test says exactly what the
// ClientHello offered.

struct SslCtxFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// What a probe's ClientHello offers.
struct Offer {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  // TLS 1.2 and older suites (SSL_CTX_set_cipher_list); empty: OpenSSL's.
  std::string ciphers;
  // TLS 1.3 suites (SSL_CTX_set_ciphersuites); empty: OpenSSL's.
  std::string ciphersuites;
  // ALPN "h2", as gRPC clients ask.
  bool h2 = false;
  // Sent once the handshake is done; the answer's head is read.
  std::string request;
};

struct Probe {
  // A ClientHello left the client, so a failed handshake is the server's
  // refusal, not the client finding nothing it may offer.
  bool hello_sent = false;
  // The ClientHello's legacy_version field: 0x0301 for a TLS 1.0 client,
  // 0x0302 for 1.1, 0x0303 for 1.2 and 1.3.
  int hello_version = 0;
  bool handshake_ok = false;
  std::string error;    // OpenSSL's, when the handshake failed
  std::string version;  // negotiated: "TLSv1.2", "TLSv1.3"
  std::string cipher;   // negotiated, OpenSSL's name
  std::string head;     // the answer's status line and headers
};

void NoteClientHello(int write_p, int /*version*/, int content_type,
                     const void* buf, size_t len, SSL* /*ssl*/, void* arg) {
  const auto* bytes = static_cast<const unsigned char*>(buf);
  if (write_p != 1 || content_type != SSL3_RT_HANDSHAKE || len < 6 ||
      bytes[0] != SSL3_MT_CLIENT_HELLO) {
    return;
  }
  auto* probe = static_cast<Probe*>(arg);
  probe->hello_sent = true;
  probe->hello_version = (bytes[4] << 8) | bytes[5];
}

std::string TakeSslErrors() {
  std::string errors;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", text);
  }
  return errors.empty() ? "the connection closed" : errors;
}

// A TCP connection to 127.0.0.1:`port`, each read and write limited to 20 s
// (a server that stops answering fails the test, not hangs it); -1 when it
// cannot be made.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const timeval limit{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until the end of an HTTP answer's head (or the connection's); the
// head without its blank line.
template <typename ReadFn>
std::string ReadHead(ReadFn read) {
  std::string text;
  char buffer[4096];
  while (text.find("\r\n\r\n") == std::string::npos) {
    const int n = read(buffer, static_cast<int>(sizeof buffer));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text.substr(0, text.find("\r\n\r\n"));
}

// One handshake with `offer` against 127.0.0.1:`port`; the certificate is
// not checked (what is accepted is the question here, not whose it is).
Probe TlsProbe(int port, const Offer& offer) {
  Probe probe;
  std::unique_ptr<SSL_CTX, SslCtxFree> context(
      SSL_CTX_new(TLS_client_method()));
  // Security level 0: the client may offer what OpenSSL 3 no longer offers
  // by default (TLS 1.0 and 1.1, SHA-1, static RSA), as a scanner does, so
  // what is refused is the server's doing.
  SSL_CTX_set_security_level(context.get(), 0);
  EXPECT_EQ(SSL_CTX_set_min_proto_version(context.get(), offer.min_version), 1);
  EXPECT_EQ(SSL_CTX_set_max_proto_version(context.get(), offer.max_version), 1);
  if (!offer.ciphers.empty()) {
    EXPECT_EQ(SSL_CTX_set_cipher_list(context.get(), offer.ciphers.c_str()), 1)
        << offer.ciphers;
  }
  if (!offer.ciphersuites.empty()) {
    EXPECT_EQ(
        SSL_CTX_set_ciphersuites(context.get(), offer.ciphersuites.c_str()), 1)
        << offer.ciphersuites;
  }
  if (offer.h2) {
    static constexpr unsigned char kH2[] = {2, 'h', '2'};
    EXPECT_EQ(SSL_CTX_set_alpn_protos(context.get(), kH2, sizeof kH2), 0);
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  SSL_set_msg_callback(ssl.get(), NoteClientHello);
  SSL_set_msg_callback_arg(ssl.get(), &probe);
  const int fd = ConnectLoopback(port);
  if (fd < 0) {
    probe.error = absl::StrCat("connect: ", std::strerror(errno));
    return probe;
  }
  SSL_set_fd(ssl.get(), fd);
  ERR_clear_error();
  if (SSL_connect(ssl.get()) == 1) {
    probe.handshake_ok = true;
    probe.version = SSL_get_version(ssl.get());
    probe.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));
    if (!offer.request.empty()) {
      EXPECT_EQ(SSL_write(ssl.get(), offer.request.data(),
                          static_cast<int>(offer.request.size())),
                static_cast<int>(offer.request.size()));
      probe.head = ReadHead([&ssl](char* buffer, int size) {
        return SSL_read(ssl.get(), buffer, size);
      });
    }
    SSL_shutdown(ssl.get());
  } else {
    probe.error = TakeSslErrors();
  }
  ERR_clear_error();
  ssl.reset();
  close(fd);
  return probe;
}

// The head of the answer to `request` over plain TCP.
std::string PlainHead(int port, const std::string& request) {
  const int fd = ConnectLoopback(port);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  if (fd < 0) return "";
  EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string head = ReadHead([fd](char* buffer, int size) {
    return static_cast<int>(recv(fd, buffer, static_cast<size_t>(size), 0));
  });
  close(fd);
  return head;
}

std::string Get(const std::string& target, const std::string& bearer = "") {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: localhost\r\n",
                      bearer.empty() ? "" : "Authorization: Bearer ", bearer,
                      bearer.empty() ? "" : "\r\n",
                      "Connection: close\r\n\r\n");
}

// Every TLS 1.2 (and older) suite this OpenSSL knows, by name.
std::vector<std::string> EveryTls12Suite() {
  std::unique_ptr<SSL_CTX, SslCtxFree> context(
      SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(
      SSL_CTX_set_cipher_list(context.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0"),
      1);
  std::vector<std::string> names;
  STACK_OF(SSL_CIPHER)* suites = SSL_CTX_get_ciphers(context.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(suites); ++i) {
    const SSL_CIPHER* suite = sk_SSL_CIPHER_value(suites, i);
    if (absl::string_view(SSL_CIPHER_get_version(suite)) == "TLSv1.3") {
      continue;
    }
    names.push_back(SSL_CIPHER_get_name(suite));
  }
  return names;
}

// Both doors of an in-process circuitd over TLS, on 127.0.0.1 port 0.
class TlsDoorsTest : public ::testing::Test {
 protected:
  struct Door {
    const char* name;
    int port;
    bool grpc;
  };

  void SetUp() override {
    SetLogQuiet(true);
    // A probe's write to a connection the server already closed then fails
    // instead of ending the test binary.
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = MakeTempDir();
    ca_ = std::make_unique<Pki>(dir_, "ca");
    auto library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));
  }

  // A circuitd; over TLS with a certificate on a `key_type` key unless
  // `plaintext`.
  std::unique_ptr<CircuitServer> StartServer(KeyType key_type,
                                             bool plaintext = false) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.service.keys.instructor_key = kInstructorKey;
    options.service.keys.kiosk_key = kKioskKey;
    if (!plaintext) {
      const std::string cert = dir_ + "/circuitd.pem";
      const std::string key = dir_ + "/circuitd.key";
      ca_->Issue("circuitd", 1, cert, key, key_type);
      options.tls.cert_path = cert;
      options.tls.key_path = key;
    }
    auto server = CircuitServer::Start(options, library_.get(), Clock::Real());
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static std::vector<Door> Doors(const CircuitServer& server) {
    return {{"gRPC", server.port(), true}, {"HTTP", server.http_port(), false}};
  }

  std::string dir_;
  std::unique_ptr<Pki> ca_;
  std::unique_ptr<CircuitLibrary> library_;
};

class TlsSuitesTest : public TlsDoorsTest,
                      public ::testing::WithParamInterface<KeyType> {
 protected:
  void SetUp() override {
    TlsDoorsTest::SetUp();
    server_ = StartServer(GetParam());
    ASSERT_NE(server_, nullptr);
  }

  // The TLS 1.2 suites both doors accept with this certificate: ECDHE key
  // exchange (forward secrecy) and AES-GCM, the certificate's signature
  // kind; the same list as gRPC 1.51's own.
  std::set<std::string> Tls12Accepted() const {
    if (GetParam() == KeyType::kRsa) {
      return {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"};
    }
    return {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"};
  }

  std::unique_ptr<CircuitServer> server_;
};

TEST_P(TlsSuitesTest, BothDoorsAcceptEcdheWithAesGcmOnTls12AndTls13) {
  for (const Door& door : Doors(*server_)) {
    SCOPED_TRACE(door.name);
    Offer tls12;
    tls12.max_version = TLS1_2_VERSION;
    tls12.ciphers = "ECDHE+AESGCM";
    tls12.h2 = door.grpc;
    if (!door.grpc) tls12.request = Get("/healthz");
    Probe probe = TlsProbe(door.port, tls12);
    ASSERT_TRUE(probe.handshake_ok) << probe.error;
    EXPECT_EQ(probe.version, "TLSv1.2");
    EXPECT_THAT(Tls12Accepted(), ::testing::Contains(probe.cipher));
    if (!door.grpc) {
      EXPECT_THAT(probe.head, HasSubstr("HTTP/1.1 200"));
    }

    Offer tls13;
    tls13.min_version = TLS1_3_VERSION;
    tls13.h2 = door.grpc;
    if (!door.grpc) tls13.request = Get("/healthz");
    probe = TlsProbe(door.port, tls13);
    ASSERT_TRUE(probe.handshake_ok) << probe.error;
    EXPECT_EQ(probe.version, "TLSv1.3");
    if (!door.grpc) {
      EXPECT_THAT(probe.head, HasSubstr("HTTP/1.1 200"));
    }
  }
}

TEST_P(TlsSuitesTest, BothDoorsRefuseStaticRsaCbcAndFiniteFieldDhe) {
  for (const Door& door : Doors(*server_)) {
    for (const char* suite :
         {// Static RSA key exchange: no forward secrecy.
          "AES256-GCM-SHA384", "AES128-GCM-SHA256", "AES128-SHA",
          "AES256-SHA256",
          // CBC (LUCKY13), with ECDHE.
          "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
          "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
          // Finite-field Diffie-Hellman.
          "DHE-RSA-AES128-GCM-SHA256"}) {
      SCOPED_TRACE(absl::StrCat(door.name, " ", suite));
      Offer offer;
      offer.max_version = TLS1_2_VERSION;
      offer.ciphers = suite;
      offer.h2 = door.grpc;
      const Probe probe = TlsProbe(door.port, offer);
      EXPECT_TRUE(probe.hello_sent) << probe.error;
      EXPECT_FALSE(probe.handshake_ok) << probe.cipher;
    }
  }
}

TEST_P(TlsSuitesTest, BothDoorsRefuseTls10AndTls11) {
  for (const Door& door : Doors(*server_)) {
    for (const int version : {TLS1_VERSION, TLS1_1_VERSION}) {
      SCOPED_TRACE(absl::StrCat(door.name, " ", absl::Hex(version)));
      Offer offer;
      offer.min_version = version;
      offer.max_version = version;
      offer.ciphers = "ALL:@SECLEVEL=0";
      offer.h2 = door.grpc;
      const Probe probe = TlsProbe(door.port, offer);
      EXPECT_TRUE(probe.hello_sent) << probe.error;
      EXPECT_EQ(probe.hello_version, version);
      EXPECT_FALSE(probe.handshake_ok) << probe.version;
    }
  }
}

// As a scanner sweeps: every suite this OpenSSL knows, one per handshake.
TEST_P(TlsSuitesTest, BothDoorsAcceptTheSameSuitesAndNoOthers) {
  const std::vector<std::string> every_tls12 = EveryTls12Suite();
  const std::vector<std::string> every_tls13 = {
      "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
      "TLS_AES_128_CCM_8_SHA256"};
  const std::set<std::string> tls13_accepted = {"TLS_AES_128_GCM_SHA256",
                                                "TLS_AES_256_GCM_SHA384",
                                                "TLS_CHACHA20_POLY1305_SHA256"};
  for (const Door& door : Doors(*server_)) {
    SCOPED_TRACE(door.name);
    std::set<std::string> accepted;
    int offered = 0;
    for (const std::string& suite : every_tls12) {
      Offer offer;
      offer.max_version = TLS1_2_VERSION;
      offer.ciphers = suite;
      offer.h2 = door.grpc;
      const Probe probe = TlsProbe(door.port, offer);
      // PSK and SRP suites are not offered by a client without a PSK or
      // SRP secret; every other one is.
      if (probe.hello_sent) ++offered;
      if (probe.handshake_ok) {
        EXPECT_EQ(probe.cipher, suite);
        accepted.insert(suite);
      }
    }
    EXPECT_EQ(accepted, Tls12Accepted());
    // The sweep offered most of what OpenSSL has, not one suite.
    EXPECT_GT(offered, 40);

    accepted.clear();
    for (const std::string& suite : every_tls13) {
      Offer offer;
      offer.min_version = TLS1_3_VERSION;
      offer.ciphersuites = suite;
      offer.h2 = door.grpc;
      const Probe probe = TlsProbe(door.port, offer);
      EXPECT_TRUE(probe.hello_sent) << suite << ": " << probe.error;
      if (probe.handshake_ok) {
        EXPECT_EQ(probe.cipher, suite);
        accepted.insert(suite);
      }
    }
    EXPECT_EQ(accepted, tls13_accepted);
  }
}

std::string KeyName(const ::testing::TestParamInfo<KeyType>& key) {
  return key.param == KeyType::kRsa ? "Rsa" : "Ec";
}

INSTANTIATE_TEST_SUITE_P(Keys, TlsSuitesTest,
                         ::testing::Values(KeyType::kEc, KeyType::kRsa),
                         KeyName);

TEST_F(TlsDoorsTest, EveryHttpsAnswerCarriesHstsAndNoPlainAnswerDoes) {
  constexpr char kHsts[] = "\r\nStrict-Transport-Security: max-age=31536000";
  std::unique_ptr<CircuitServer> tls = StartServer(KeyType::kEc);
  ASSERT_NE(tls, nullptr);
  std::unique_ptr<CircuitServer> plain =
      StartServer(KeyType::kEc, /*plaintext=*/true);
  ASSERT_NE(plain, nullptr);

  // A class on each, for an event stream (a TV's watch).
  auto tls_client = client::LoadClientTls(ca_->ca_pem(), "", "", "");
  ASSERT_TRUE(tls_client.ok()) << tls_client.status();
  client::ConnectOptions tls_options;
  tls_options.address = absl::StrCat("127.0.0.1:", tls->port());
  tls_options.tls = *tls_client;
  auto tls_class = client::Connection(tls_options)
                       .CreateClass(kInstructorKey, "kickback-trio", "");
  ASSERT_TRUE(tls_class.ok()) << tls_class.status();
  client::ConnectOptions plain_options;
  plain_options.address = absl::StrCat("127.0.0.1:", plain->port());
  auto plain_class = client::Connection(plain_options)
                         .CreateClass(kInstructorKey, "kickback-trio", "");
  ASSERT_TRUE(plain_class.ok()) << plain_class.status();

  struct Ask {
    std::string request;
    std::string status;
  };
  auto asks = [](const std::string& class_id) {
    return std::vector<Ask>{
        {Get("/healthz"), "HTTP/1.1 200"},
        {Get("/no-such-page"), "HTTP/1.1 404"},
        {Get("/v1/classes/" + class_id), "HTTP/1.1 200"},
        {"NOT HTTP\r\n\r\n", "HTTP/1.1 400"},
        {Get(absl::StrCat("/v1/classes/", class_id, ":watch"), kKioskKey),
         "HTTP/1.1 200"}};
  };
  for (const Ask& ask : asks(tls_class->class_id())) {
    SCOPED_TRACE(ask.request);
    Offer offer;
    offer.request = ask.request;
    const Probe probe = TlsProbe(tls->http_port(), offer);
    ASSERT_TRUE(probe.handshake_ok) << probe.error;
    EXPECT_THAT(probe.head, ::testing::StartsWith(ask.status));
    EXPECT_THAT(probe.head, HasSubstr(kHsts));
  }
  for (const Ask& ask : asks(plain_class->class_id())) {
    SCOPED_TRACE(ask.request);
    const std::string head = PlainHead(plain->http_port(), ask.request);
    EXPECT_THAT(head, ::testing::StartsWith(ask.status));
    EXPECT_THAT(head, ::testing::Not(HasSubstr("Strict-Transport-Security")));
  }
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
