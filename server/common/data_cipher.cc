#include "server/common/data_cipher.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace circuit {
namespace {

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

void PutId(uint32_t id, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((id >> shift) & 0xff));
  }
}

// Key material is wiped when it is dropped.
void Wipe(std::string* s) {
  OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

// Decodes the key in `text` (64 hex digits or base64 of 32 bytes).
bool DecodeKey(absl::string_view text, std::string* key) {
  if (text.size() == 2 * KeyRing::kKeyBytes &&
      std::all_of(text.begin(), text.end(),
                  [](char c) { return absl::ascii_isxdigit(c); })) {
    *key = absl::HexStringToBytes(text);
    return true;
  }
  std::string decoded;
  if (absl::Base64Unescape(text, &decoded) &&
      decoded.size() == KeyRing::kKeyBytes) {
    *key = std::move(decoded);
    return true;
  }
  Wipe(&decoded);
  return false;
}

std::string OctalMode(mode_t mode) {
  return absl::StrCat((mode >> 6) & 7, (mode >> 3) & 7, mode & 7);
}

// A file's whole contents; UNAVAILABLE when it cannot be read.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", path, ": ", ErrnoMessage(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot read ", path, ": ", ErrnoMessage(err)));
  }
  // Group or world access to a key defeats keeping it apart: refuse rather
  // than use it, so the operator notices.
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "data key file ", path, " may be read by others (mode ",
        OctalMode(st.st_mode), "); run chmod 600 ", path, " and start again"));
  }
  std::string contents;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      OPENSSL_cleanse(buf, sizeof(buf));
      Wipe(&contents);
      return absl::UnavailableError(
          absl::StrCat("cannot read ", path, ": ", ErrnoMessage(err)));
    }
    if (n == 0) break;
    contents.append(buf, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  close(fd);
  return contents;
}

// Makes `dir` with mode 0700 if missing; refuses one others may enter.
absl::Status EnsurePrivateDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create data key directory ", dir, ": ", ErrnoMessage(errno)));
  }
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", dir, ": ", ErrnoMessage(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data key directory ", dir, " is not a directory"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data key directory ", dir, " may be read by others (mode ",
        OctalMode(st.st_mode), "); run chmod 700 ", dir, " and start again"));
  }
  return absl::OkStatus();
}

// The ids of the `data-<id>.key` files in `dir`, in no order.
absl::StatusOr<std::vector<uint32_t>> ListKeyIds(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot list ", dir, ": ", ErrnoMessage(errno)));
  }
  std::vector<uint32_t> ids;
  while (struct dirent* e = readdir(d)) {
    absl::string_view name(e->d_name);
    uint32_t id = 0;
    if (absl::ConsumePrefix(&name, "data-") &&
        absl::ConsumeSuffix(&name, ".key") && absl::SimpleAtoi(name, &id) &&
        id != 0) {
      ids.push_back(id);
    }
  }
  closedir(d);
  return ids;
}

std::string KeyPath(const std::string& dir, uint32_t id) {
  return absl::StrCat(dir, "/data-", id, ".key");
}

absl::StatusOr<std::shared_ptr<const KeyRing>> LoadKeyDir(
    const std::string& dir) {
  if (absl::Status ok = EnsurePrivateDir(dir); !ok.ok()) return ok;
  absl::StatusOr<std::vector<uint32_t>> ids = ListKeyIds(dir);
  if (!ids.ok()) return ids.status();
  if (ids->empty()) {
    absl::StatusOr<uint32_t> first = AddDataKey(dir);
    if (!first.ok()) return first.status();
    ids->push_back(*first);
  }
  std::vector<DataKey> keys;
  for (uint32_t id : *ids) {
    const std::string path = KeyPath(dir, id);
    absl::StatusOr<std::string> text = ReadSecretFile(path);
    if (!text.ok()) return text.status();
    DataKey key;
    key.id = id;
    const bool parsed =
        DecodeKey(absl::StripAsciiWhitespace(*text), &key.bytes);
    Wipe(&*text);
    if (!parsed) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data key file ", path,
          " does not hold a key (64 hex digits or base64 of 32 bytes)"));
    }
    keys.push_back(std::move(key));
  }
  return KeyRing::Make(std::move(keys));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const KeyRing>> KeyRing::Make(
    std::vector<DataKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no data key given");
  std::map<uint32_t, std::string> by_id;
  for (DataKey& key : keys) {
    if (key.id == 0) {
      return absl::InvalidArgumentError("data key ids start at 1");
    }
    if (key.bytes.size() != kKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data key ", key.id, " is not ", kKeyBytes, " bytes long"));
    }
    if (!by_id.emplace(key.id, std::move(key.bytes)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("data key id ", key.id, " is given twice"));
    }
  }
  return std::shared_ptr<const KeyRing>(new KeyRing(std::move(by_id)));
}

std::vector<uint32_t> KeyRing::ids() const {
  std::vector<uint32_t> ids;
  for (const auto& [id, key] : keys_) ids.push_back(id);
  return ids;
}

absl::StatusOr<std::string> KeyRing::Seal(
    absl::string_view plaintext, absl::string_view associated_data) const {
  const uint32_t id = current_id();
  const std::string& key = keys_.rbegin()->second;
  std::string out;
  out.reserve(kHeaderBytes + plaintext.size() + kTagBytes);
  out.push_back(kMarker);
  out.push_back(kVersion);
  PutId(id, &out);
  out.resize(kHeaderBytes + plaintext.size() + kTagBytes);
  auto* nonce = reinterpret_cast<unsigned char*>(&out[6]);
  auto* body = reinterpret_cast<unsigned char*>(&out[kHeaderBytes]);
  if (RAND_bytes(nonce, kNonceBytes) != 1) {
    return absl::InternalError("no randomness for a nonce");
  }
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         nonce) == 1 &&
      EVP_EncryptUpdate(
          ctx.get(), nullptr, &len,
          reinterpret_cast<const unsigned char*>(associated_data.data()),
          static_cast<int>(associated_data.size())) == 1 &&
      EVP_EncryptUpdate(
          ctx.get(), body, &len,
          reinterpret_cast<const unsigned char*>(plaintext.data()),
          static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), body + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          body + plaintext.size()) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM sealing failed");
  return out;
}

absl::StatusOr<uint32_t> KeyRing::KeyIdOf(absl::string_view sealed) {
  if (sealed.size() < kHeaderBytes + kTagBytes || sealed[0] != kMarker) {
    return absl::DataLossError("not a sealed record (too short)");
  }
  if (sealed[1] != kVersion) {
    return absl::DataLossError(
        absl::StrCat("sealed record of unknown format version ",
                     static_cast<int>(static_cast<unsigned char>(sealed[1]))));
  }
  uint32_t id = 0;
  for (int i = 2; i < 6; ++i) {
    id = (id << 8) | static_cast<unsigned char>(sealed[i]);
  }
  return id;
}

absl::StatusOr<std::string> KeyRing::Open(
    absl::string_view sealed, absl::string_view associated_data) const {
  absl::StatusOr<uint32_t> id = KeyIdOf(sealed);
  if (!id.ok()) return id.status();
  const auto key = keys_.find(*id);
  if (key == keys_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "sealed under data key ", *id, ", which is not among the keys given (",
        absl::StrJoin(ids(), ", "), ")"));
  }
  const size_t size = sealed.size() - kHeaderBytes - kTagBytes;
  const auto* nonce = reinterpret_cast<const unsigned char*>(&sealed[6]);
  const auto* body =
      reinterpret_cast<const unsigned char*>(&sealed[kHeaderBytes]);
  std::string plain(size, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  // GCM's final call checks the tag; on failure the decrypted bytes are
  // wiped and never returned.
  unsigned char tag[kTagBytes];
  std::memcpy(tag, body + size, kTagBytes);
  const bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex(
          ctx.get(), EVP_aes_256_gcm(), nullptr,
          reinterpret_cast<const unsigned char*>(key->second.data()),
          nonce) == 1 &&
      EVP_DecryptUpdate(
          ctx.get(), nullptr, &len,
          reinterpret_cast<const unsigned char*>(associated_data.data()),
          static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(),
                        reinterpret_cast<unsigned char*>(plain.data()), &len,
                        body, static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) ==
          1 &&
      EVP_DecryptFinal_ex(ctx.get(),
                          reinterpret_cast<unsigned char*>(plain.data()) + len,
                          &len) == 1;
  if (!ok) {
    Wipe(&plain);
    return absl::DataLossError(absl::StrCat(
        "sealed record does not authenticate under data key ", *id,
        " (changed bytes, moved from another record, or another key with "
        "that id)"));
  }
  return plain;
}

absl::StatusOr<std::vector<DataKey>> ParseDataKeys(absl::string_view text) {
  std::vector<DataKey> keys;
  int position = 0;
  for (absl::string_view item :
       absl::StrSplit(text, absl::ByAnyChar(" \t\r\n,"), absl::SkipEmpty())) {
    ++position;
    DataKey key;
    key.id = 1;
    if (const size_t colon = item.find(':'); colon != absl::string_view::npos) {
      if (!absl::SimpleAtoi(item.substr(0, colon), &key.id) || key.id == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("data key ", position,
                         ": the id before ':' is not a number ", "from 1"));
      }
      item.remove_prefix(colon + 1);
    }
    if (!DecodeKey(item, &key.bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("data key ", position,
                       " is neither 64 hex digits nor the base64 of 32 bytes"));
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return absl::InvalidArgumentError("no data key given");
  return keys;
}

absl::StatusOr<std::shared_ptr<const KeyRing>> LoadDataKeys(
    const DataKeyOptions& options) {
  if (!options.key_text.empty() || !options.key_file.empty()) {
    std::string text = options.key_text;
    std::string source = "CIRCUIT_DATA_KEY";
    if (text.empty()) {
      absl::StatusOr<std::string> file = ReadSecretFile(options.key_file);
      if (!file.ok()) return file.status();
      text = std::move(*file);
      source = absl::StrCat("--data_key_file ", options.key_file);
    }
    absl::StatusOr<std::vector<DataKey>> keys = ParseDataKeys(text);
    Wipe(&text);
    if (!keys.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", keys.status().message()));
    }
    absl::StatusOr<std::shared_ptr<const KeyRing>> ring =
        KeyRing::Make(std::move(*keys));
    if (!ring.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", ring.status().message()));
    }
    return ring;
  }
  if (options.key_dir.empty()) {
    return absl::InvalidArgumentError("no data key source given");
  }
  return LoadKeyDir(options.key_dir);
}

absl::StatusOr<uint32_t> AddDataKey(const std::string& key_dir) {
  if (absl::Status ok = EnsurePrivateDir(key_dir); !ok.ok()) return ok;
  absl::StatusOr<std::vector<uint32_t>> ids = ListKeyIds(key_dir);
  if (!ids.ok()) return ids.status();
  uint32_t id = 1;
  for (uint32_t existing : *ids) id = std::max(id, existing + 1);

  unsigned char raw[KeyRing::kKeyBytes];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    return absl::InternalError("no randomness for a data key");
  }
  std::string text =
      absl::StrCat(absl::BytesToHexString(absl::string_view(
                       reinterpret_cast<const char*>(raw), sizeof(raw))),
                   "\n");
  OPENSSL_cleanse(raw, sizeof(raw));
  const std::string path = KeyPath(key_dir, id);
  const std::string temp = absl::StrCat(key_dir, "/.data-", id, ".key.tmp");
  auto fail = [&](const std::string& what) {
    const int err = errno;
    Wipe(&text);
    unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot ", what, " ", path, ": ", ErrnoMessage(err)));
  };
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("write");
  const bool written = write(fd, text.data(), text.size()) ==
                           static_cast<ssize_t>(text.size()) &&
                       fsync(fd) == 0;
  close(fd);
  if (!written) return fail("write");
  // link() rather than rename(): it fails if another process took the id
  // meanwhile, instead of replacing that key.
  if (link(temp.c_str(), path.c_str()) != 0) return fail("name");
  unlink(temp.c_str());
  Wipe(&text);
  const int dir_fd = open(key_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return id;
}

}  // namespace circuit
