#ifndef CIRCUIT_SERVER_COMMON_TLS_H_
#define CIRCUIT_SERVER_COMMON_TLS_H_

// TLS files and listen addresses: what both of circuitd's listeners (gRPC
// and HTTP) check before they serve, and what they reload. Plain functions
// over OpenSSL; thread-safe.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace circuit {

// The suites both listeners offer. gRPC 1.51 takes its suites only from the
// environment (GRPC_SSL_CIPHER_SUITES) and by default offers these, so the
// HTTP listener is set to the same: on TLS 1.2, ECDHE key exchange only
// (forward secrecy; no static RSA, no finite-field DHE) with AES-GCM only
// (AEAD; no CBC, which LUCKY13 attacks), for ECDSA and RSA certificates. No
// ChaCha20-Poly1305 on TLS 1.2, as gRPC's list has none.
inline constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
// TLS 1.3's (all AEAD, and forward secret by the protocol): OpenSSL's default
// three, which gRPC keeps.
inline constexpr char kTls13CipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
    "TLS_CHACHA20_POLY1305_SHA256";

// Where a listener's certificate comes from (PEM files). Empty cert_path:
// no TLS.
struct TlsFiles {
  // The server's certificate chain (leaf first) and its private key.
  std::string cert_path;
  std::string key_path;
  // Optional: the CA that signs studio devices' client certificates. A
  // client that presents a certificate must present one this CA signed; a
  // client without one (a phone) is still served.
  std::string client_ca_path;

  bool enabled() const { return !cert_path.empty(); }
};

// A certificate chain and key read from TlsFiles and checked: every PEM
// block parses, and the key is the certificate's.
struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // empty without a client CA
  // For the log: the leaf's subject and expiry ("CN=..., expires ...").
  std::string description;
};

// Reads and checks the files. INVALID_ARGUMENT naming the file and what is
// wrong (missing, not PEM, no certificate, a key that is not the
// certificate's); nothing about the key's contents is in the message.
absl::StatusOr<TlsIdentity> LoadTlsIdentity(const TlsFiles& files);

// Reads a PEM file of one or more certificates (a CA bundle) and checks each
// parses; its contents. INVALID_ARGUMENT naming `flag` and the file.
absl::StatusOr<std::string> LoadPemCertificates(absl::string_view flag,
                                                const std::string& path);

// Checked TLS files in memory (memfd), under paths that name them
// (/proc/self/fd/N), for readers that take paths, such as gRPC's file
// watcher: they only ever see a pair that loaded. A Publish is atomic per
// file (the descriptor is replaced with dup3) and moves each file's
// modification time forward by at least a second, so a reader that checks
// the times around its reads (gRPC's does) notices a Publish in between and
// reads again. Thread-compatible: one thread publishes.
class TlsMirror {
 public:
  // INTERNAL when the memory files cannot be made.
  static absl::StatusOr<std::unique_ptr<TlsMirror>> Create(
      const TlsIdentity& identity);
  ~TlsMirror();
  TlsMirror(const TlsMirror&) = delete;
  TlsMirror& operator=(const TlsMirror&) = delete;

  // The files for `identity`'s parts; the CA's is empty without one.
  TlsFiles files() const;

  // Replaces the contents with `identity`'s.
  absl::Status Publish(const TlsIdentity& identity);

 private:
  TlsMirror() = default;

  int cert_fd_ = -1;
  int key_fd_ = -1;
  int ca_fd_ = -1;
  bool has_ca_ = false;
  int64_t mtime_ = 0;  // seconds; the last one published
};

// A cheap fingerprint of the files' metadata (inode, size, modification
// time in nanoseconds), to notice a change without reading them.
std::string TlsFilesSignature(const TlsFiles& files);

// Whether `listen` (a gRPC or HTTP listen address: host:port, [v6]:port,
// unix:path) reaches this machine only: 127.0.0.0/8, ::1, "localhost" or a
// Unix socket. An empty host, 0.0.0.0, [::] and every other name are not.
bool IsLoopbackAddress(absl::string_view listen);

// The rule for plaintext: a listener on a non-loopback address needs TLS,
// unless the operator said --insecure. FAILED_PRECONDITION naming `flag`
// and the way out; OK otherwise (the caller logs the --insecure warning).
absl::Status CheckPlaintextAllowed(absl::string_view flag,
                                   absl::string_view listen, bool tls,
                                   bool insecure);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_TLS_H_
