#include "server/common/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace circuit {
namespace {

// PEM files are a few KiB; anything near this is not one.
constexpr long kMaxPemBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The oldest OpenSSL error on this thread's queue, and the queue emptied (a
// stale error would confuse the next TLS user on the thread).
std::string TakeOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

absl::StatusOr<std::string> ReadPemFile(const std::string& flag,
                                        const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string contents;
  char buffer[8192];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    contents.append(buffer, n);
    if (contents.size() > static_cast<size_t>(kMaxPemBytes)) break;
  }
  std::fclose(f);
  if (contents.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " is over ", kMaxPemBytes, " bytes; not a PEM file"));
  }
  return contents;
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order; INVALID_ARGUMENT when there is none
// or a block does not parse.
absl::StatusOr<std::vector<Cert>> ParseCertificates(const std::string& flag,
                                                    const std::string& path,
                                                    const std::string& pem) {
  std::vector<Cert> certs;
  Bio bio = MemoryBio(pem);
  while (true) {
    Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a block
  // that does not parse; only the first is fine.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM &&
                         ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!certs.empty() && (last == 0 || clean_end)) {
    ERR_clear_error();
    return certs;
  }
  const std::string detail = TakeOpenSslError();
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path,
                     " holds no PEM certificate (\"-----BEGIN CERTIFICATE"
                     "-----\"): ",
                     detail));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", path, ": certificate ", certs.size() + 1,
                   " does not parse: ", detail));
}

std::string Describe(X509* cert) {
  std::string subject = "?";
  if (Bio bio(BIO_new(BIO_s_mem())); bio != nullptr) {
    X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                       XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    if (n > 0) subject.assign(data, static_cast<size_t>(n));
  }
  std::string expires = "?";
  if (Bio bio(BIO_new(BIO_s_mem())); bio != nullptr) {
    ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert));
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    if (n > 0) expires.assign(data, static_cast<size_t>(n));
  }
  const bool expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
  ERR_clear_error();
  return absl::StrCat(subject, ", expires ", expires,
                      expired ? " (EXPIRED)" : "");
}

}  // namespace

absl::StatusOr<TlsIdentity> LoadTlsIdentity(const TlsFiles& files) {
  if (files.key_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert needs --tls_key (the certificate's private key)");
  }
  TlsIdentity identity;
  absl::StatusOr<std::string> cert_pem =
      ReadPemFile("--tls_cert", files.cert_path);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem =
      ReadPemFile("--tls_key", files.key_path);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::vector<Cert>> chain =
      ParseCertificates("--tls_cert", files.cert_path, *cert_pem);
  if (!chain.ok()) return chain.status();
  Bio key_bio = MemoryBio(*key_pem);
  Pkey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key: ", files.key_path,
        " holds no unencrypted PEM private key: ", TakeOpenSslError()));
  }
  if (X509_check_private_key(chain->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: ", files.key_path,
                     " is not the private key of ", files.cert_path,
                     "'s certificate (", Describe(chain->front().get()), ")"));
  }
  identity.description = Describe(chain->front().get());
  if (!files.client_ca_path.empty()) {
    absl::StatusOr<std::string> ca_pem =
        LoadPemCertificates("--tls_client_ca", files.client_ca_path);
    if (!ca_pem.ok()) return ca_pem.status();
    identity.client_ca_pem = std::move(*ca_pem);
  }
  identity.cert_pem = std::move(*cert_pem);
  identity.key_pem = std::move(*key_pem);
  return identity;
}

absl::StatusOr<std::string> LoadPemCertificates(absl::string_view flag,
                                                const std::string& path) {
  const std::string flag_text(flag);
  absl::StatusOr<std::string> pem = ReadPemFile(flag_text, path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::vector<Cert>> certs =
      ParseCertificates(flag_text, path, *pem);
  if (!certs.ok()) return certs.status();
  return pem;
}

namespace {

// A memory file holding `contents`, modified at `mtime` (seconds); -1 on
// failure.
int MemoryFile(const char* name, const std::string& contents, int64_t mtime) {
  const int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n =
        write(fd, contents.data() + written, contents.size() - written);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    written += static_cast<size_t>(n);
  }
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(mtime);
  times[0].tv_nsec = 0;
  times[1] = times[0];
  if (futimens(fd, times) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Puts a new memory file with `contents` at descriptor `*fd` (a new
// descriptor when it is -1).
absl::Status Replace(const char* name, const std::string& contents,
                     int64_t mtime, int* fd) {
  const int fresh = MemoryFile(name, contents, mtime);
  if (fresh < 0) {
    return absl::InternalError(
        absl::StrCat("cannot make an in-memory copy of the TLS ", name, ": ",
                     std::strerror(errno)));
  }
  if (*fd < 0) {
    *fd = fresh;
    return absl::OkStatus();
  }
  const bool ok = dup3(fresh, *fd, O_CLOEXEC) >= 0;
  const int saved = errno;
  close(fresh);
  if (!ok) {
    return absl::InternalError(absl::StrCat("cannot replace the in-memory TLS ",
                                            name, ": ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsMirror>> TlsMirror::Create(
    const TlsIdentity& identity) {
  std::unique_ptr<TlsMirror> mirror(new TlsMirror());
  if (absl::Status published = mirror->Publish(identity); !published.ok()) {
    return published;
  }
  return mirror;
}

TlsMirror::~TlsMirror() {
  for (int fd : {cert_fd_, key_fd_, ca_fd_}) {
    if (fd >= 0) close(fd);
  }
}

TlsFiles TlsMirror::files() const {
  TlsFiles files;
  files.cert_path = absl::StrCat("/proc/self/fd/", cert_fd_);
  files.key_path = absl::StrCat("/proc/self/fd/", key_fd_);
  if (has_ca_) files.client_ca_path = absl::StrCat("/proc/self/fd/", ca_fd_);
  return files;
}

absl::Status TlsMirror::Publish(const TlsIdentity& identity) {
  mtime_ = std::max<int64_t>(mtime_ + 1, absl::ToUnixSeconds(absl::Now()));
  // The CA keeps its descriptor even when a later identity has none: the
  // reader was given its path once. An empty file then means no CA.
  if (absl::Status s = Replace("tls-key", identity.key_pem, mtime_, &key_fd_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          Replace("tls-cert", identity.cert_pem, mtime_, &cert_fd_);
      !s.ok()) {
    return s;
  }
  if (!identity.client_ca_pem.empty() || ca_fd_ >= 0) {
    if (absl::Status s =
            Replace("tls-client-ca", identity.client_ca_pem, mtime_, &ca_fd_);
        !s.ok()) {
      return s;
    }
    has_ca_ = true;
  }
  return absl::OkStatus();
}

std::string TlsFilesSignature(const TlsFiles& files) {
  std::string signature;
  for (const std::string* path :
       {&files.cert_path, &files.key_path, &files.client_ca_path}) {
    struct stat st;
    if (path->empty() || stat(path->c_str(), &st) != 0) {
      absl::StrAppend(&signature, "-;");
      continue;
    }
    absl::StrAppend(&signature, st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                    st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ";");
  }
  return signature;
}

bool IsLoopbackAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:") ||
      absl::StartsWith(listen, "unix-abstract:")) {
    return true;
  }
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  const std::string host_text(host);
  in_addr v4;
  if (inet_pton(AF_INET, host_text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host_text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

absl::Status CheckPlaintextAllowed(absl::string_view flag,
                                   absl::string_view listen, bool tls,
                                   bool insecure) {
  if (tls || insecure || IsLoopbackAddress(listen)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      flag, "=", listen,
      " is reachable from the network, and without TLS every key, token and "
      "health report would cross it in plain text: give --tls_cert and "
      "--tls_key, listen on 127.0.0.1, or pass --insecure to serve plain "
      "text anyway"));
}

}  // namespace circuit
