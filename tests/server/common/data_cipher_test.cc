#include "server/common/data_cipher.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string KeyBytes(char fill) {
  return std::string(KeyRing::kKeyBytes, fill);
}

std::shared_ptr<const KeyRing> Ring(std::vector<DataKey> keys) {
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring =
      KeyRing::Make(std::move(keys));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *ring : nullptr;
}

constexpr char kPlain[] = "symptom: zq-leak-marker-7";
constexpr char kIdentity[] = "entry:1:c:42";

TEST(KeyRingTest, SealedOpensWithTheSameIdentity) {
  auto ring = Ring({{1, KeyBytes('k')}});
  ASSERT_NE(ring, nullptr);
  for (const std::string& plain :
       {std::string(kPlain), std::string(), std::string(70'000, '\x7f')}) {
    absl::StatusOr<std::string> sealed = ring->Seal(plain, kIdentity);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_TRUE(KeyRing::IsSealed(*sealed));
    EXPECT_EQ(sealed->size(),
              KeyRing::kHeaderBytes + plain.size() + KeyRing::kTagBytes);
    if (!plain.empty()) {
      EXPECT_EQ(sealed->find(plain), std::string::npos);
    }
    absl::StatusOr<std::string> opened = ring->Open(*sealed, kIdentity);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plain);
  }
}

TEST(KeyRingTest, EverySealHasAFreshNonce) {
  auto ring = Ring({{1, KeyBytes('k')}});
  ASSERT_NE(ring, nullptr);
  std::set<std::string> nonces, sealed_records;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<std::string> sealed = ring->Seal(kPlain, kIdentity);
    ASSERT_TRUE(sealed.ok());
    nonces.insert(sealed->substr(6, KeyRing::kNonceBytes));
    sealed_records.insert(*sealed);
  }
  EXPECT_EQ(nonces.size(), 1000u);
  EXPECT_EQ(sealed_records.size(), 1000u);
}

TEST(KeyRingTest, TheFormatIsMarkerVersionKeyIdNonceCiphertextTag) {
  auto ring = Ring({{1, KeyBytes('k')}, {258, KeyBytes('m')}});
  ASSERT_NE(ring, nullptr);
  absl::StatusOr<std::string> sealed = ring->Seal(kPlain, kIdentity);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ((*sealed)[0], '\0');
  EXPECT_EQ((*sealed)[1], '\1');
  EXPECT_EQ(sealed->substr(2, 4), std::string("\0\0\1\2", 4));
  EXPECT_EQ(KeyRing::KeyIdOf(*sealed).value_or(0), 258u);
}

TEST(KeyRingTest, AnUnknownKeyIdIsNotFoundAndNamesTheKey) {
  auto writer = Ring({{1, KeyBytes('k')}});
  auto reader = Ring({{2, KeyBytes('k')}, {3, KeyBytes('x')}});
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::string> sealed = writer->Seal(kPlain, kIdentity);
  ASSERT_TRUE(sealed.ok());
  absl::StatusOr<std::string> opened = reader->Open(*sealed, kIdentity);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(opened.status().message(), HasSubstr("data key 1"));
  EXPECT_THAT(opened.status().message(), HasSubstr("(2, 3)"));
}

TEST(KeyRingTest, AnotherKeyUnderTheSameIdDoesNotOpen) {
  auto writer = Ring({{1, KeyBytes('k')}});
  auto reader = Ring({{1, KeyBytes('j')}});
  absl::StatusOr<std::string> sealed = writer->Seal(kPlain, kIdentity);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(reader->Open(*sealed, kIdentity).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(KeyRingTest, EveryChangedByteIsRefused) {
  auto ring = Ring({{1, KeyBytes('k')}});
  absl::StatusOr<std::string> sealed = ring->Seal(kPlain, kIdentity);
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string changed = *sealed;
      changed[i] = static_cast<char>(changed[i] ^ flip);
      absl::StatusOr<std::string> opened = ring->Open(changed, kIdentity);
      EXPECT_FALSE(opened.ok()) << "byte " << i << " ^ " << int{flip};
    }
  }
  // Cut short, or longer.
  for (size_t n = 0; n < sealed->size(); ++n) {
    EXPECT_FALSE(ring->Open(sealed->substr(0, n), kIdentity).ok()) << n;
  }
  EXPECT_FALSE(ring->Open(*sealed + "x", kIdentity).ok());
}

TEST(KeyRingTest, OtherAssociatedDataIsRefused) {
  auto ring = Ring({{1, KeyBytes('k')}});
  absl::StatusOr<std::string> sealed = ring->Seal(kPlain, "entry:1:c:42");
  ASSERT_TRUE(sealed.ok());
  for (const char* other :
       {"entry:1:c:43", "entry:1:d:42", "summary:1:c", "", "entry:1:c:42 "}) {
    absl::StatusOr<std::string> opened = ring->Open(*sealed, other);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << other;
    EXPECT_THAT(opened.status().message(), Not(HasSubstr(kPlain)));
  }
}

TEST(KeyRingTest, TheNewestKeySealsAndOlderOnesStillOpen) {
  auto old_ring = Ring({{1, KeyBytes('k')}});
  auto rotated = Ring({{2, KeyBytes('n')}, {1, KeyBytes('k')}});
  auto only_new = Ring({{2, KeyBytes('n')}});
  ASSERT_NE(rotated, nullptr);
  EXPECT_EQ(rotated->current_id(), 2u);
  EXPECT_THAT(rotated->ids(), ElementsAre(1, 2));
  absl::StatusOr<std::string> before = old_ring->Seal(kPlain, kIdentity);
  ASSERT_TRUE(before.ok());
  absl::StatusOr<std::string> opened = rotated->Open(*before, kIdentity);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kPlain);
  absl::StatusOr<std::string> after = rotated->Seal(kPlain, kIdentity);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(KeyRing::KeyIdOf(*after).value_or(0), 2u);
  EXPECT_TRUE(only_new->Open(*after, kIdentity).ok());
  EXPECT_EQ(only_new->Open(*before, kIdentity).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(KeyRingTest, BadKeySetsAreRefused) {
  EXPECT_FALSE(KeyRing::Make({}).ok());
  EXPECT_FALSE(KeyRing::Make({{0, KeyBytes('k')}}).ok());
  EXPECT_FALSE(KeyRing::Make({{1, std::string(31, 'k')}}).ok());
  EXPECT_FALSE(KeyRing::Make({{1, KeyBytes('k')}, {1, KeyBytes('j')}}).ok());
}

TEST(KeyRingTest, PlainProtobufBytesAreNeverTakenForSealed) {
  // Any serialized message starts with a tag of field 1 or more: never 0.
  for (int first = 1; first < 256; ++first) {
    EXPECT_FALSE(KeyRing::IsSealed(std::string(1, static_cast<char>(first))));
  }
  EXPECT_FALSE(KeyRing::IsSealed(""));
}

// --- Keys given by the operator ---------------------------------------------

TEST(ParseDataKeysTest, HexBase64AndIds) {
  const std::string key(KeyRing::kKeyBytes, '\x5a');
  const std::string hex = absl::BytesToHexString(key);
  const std::string base64 = absl::Base64Escape(key);
  for (const std::string& text :
       {hex, base64, absl::StrCat("  ", hex, "\n"), absl::StrCat("1:", hex)}) {
    absl::StatusOr<std::vector<DataKey>> keys = ParseDataKeys(text);
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_EQ((*keys)[0].id, 1u);
    EXPECT_EQ((*keys)[0].bytes, key);
  }
  absl::StatusOr<std::vector<DataKey>> two =
      ParseDataKeys(absl::StrCat("1:", hex, ",7:", base64));
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].id, 7u);
}

TEST(ParseDataKeysTest, WhatDoesNotParseIsNamedButNeverEchoed) {
  const std::string secretish = std::string(63, 'c');  // one digit short
  for (const std::string& text : {std::string(), std::string(" , "), secretish,
                                  absl::StrCat("x:", std::string(64, 'c')),
                                  absl::StrCat("0:", std::string(64, 'c'))}) {
    absl::StatusOr<std::vector<DataKey>> keys = ParseDataKeys(text);
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(keys.status().message(), Not(HasSubstr("ccccccc")));
  }
}

// --- The key directory ------------------------------------------------------

class KeyDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "data_cipher_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  std::string keys_dir() const { return root_ + "/keys"; }

  static mode_t Mode(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return 0;
    return st.st_mode & 0777;
  }

  std::string root_;
};

TEST_F(KeyDirTest, TheFirstStartMakesAPrivateDirectoryWithOneKey) {
  DataKeyOptions options;
  options.key_dir = keys_dir();
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = LoadDataKeys(options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_THAT((*ring)->ids(), ElementsAre(1));
  EXPECT_EQ(Mode(keys_dir()), 0700u);
  EXPECT_EQ(Mode(keys_dir() + "/data-1.key"), 0600u);

  // The same key next time: what it sealed opens.
  absl::StatusOr<std::string> sealed = (*ring)->Seal(kPlain, kIdentity);
  ASSERT_TRUE(sealed.ok());
  absl::StatusOr<std::shared_ptr<const KeyRing>> again = LoadDataKeys(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)->Open(*sealed, kIdentity).ok());
}

TEST_F(KeyDirTest, AddingAKeyRotatesAndKeepsTheOldOne) {
  DataKeyOptions options;
  options.key_dir = keys_dir();
  absl::StatusOr<std::shared_ptr<const KeyRing>> first = LoadDataKeys(options);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<uint32_t> added = AddDataKey(keys_dir());
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 2u);
  EXPECT_EQ(Mode(keys_dir() + "/data-2.key"), 0600u);
  absl::StatusOr<std::shared_ptr<const KeyRing>> both = LoadDataKeys(options);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_THAT((*both)->ids(), ElementsAre(1, 2));
  EXPECT_EQ((*both)->current_id(), 2u);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(keys_dir())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST_F(KeyDirTest, AKeyFileOthersMayReadIsRefused) {
  DataKeyOptions options;
  options.key_dir = keys_dir();
  ASSERT_TRUE(LoadDataKeys(options).ok());
  for (const mode_t mode : {0640, 0604, 0644}) {
    ASSERT_EQ(chmod((keys_dir() + "/data-1.key").c_str(), mode), 0);
    absl::StatusOr<std::shared_ptr<const KeyRing>> ring = LoadDataKeys(options);
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(ring.status().message(), HasSubstr("data-1.key"));
    EXPECT_THAT(ring.status().message(), HasSubstr("chmod 600"));
  }
}

TEST_F(KeyDirTest, ADirectoryOthersMayReadIsRefused) {
  ASSERT_EQ(mkdir(keys_dir().c_str(), 0755), 0);
  ASSERT_EQ(chmod(keys_dir().c_str(), 0755), 0);  // whatever the umask
  DataKeyOptions options;
  options.key_dir = keys_dir();
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = LoadDataKeys(options);
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ring.status().message(), HasSubstr("chmod 700"));
  // Nothing was written into it.
  EXPECT_TRUE(std::filesystem::is_empty(keys_dir()));
}

TEST_F(KeyDirTest, AKeyFileThatHoldsNoKeyIsRefused) {
  ASSERT_EQ(mkdir(keys_dir().c_str(), 0700), 0);
  const std::string path = keys_dir() + "/data-1.key";
  std::ofstream(path) << "not a key\n";
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  DataKeyOptions options;
  options.key_dir = keys_dir();
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = LoadDataKeys(options);
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ring.status().message(), HasSubstr(path));
}

TEST_F(KeyDirTest, TheOperatorsFileAndTextComeBeforeTheDirectory) {
  const std::string hex1 = std::string(64, 'a');
  const std::string hex2 = std::string(64, 'b');
  const std::string file = root_ + "/operator.keys";
  std::ofstream(file) << "1:" << hex1 << "\n2:" << hex2 << "\n";
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  DataKeyOptions options;
  options.key_dir = keys_dir();
  options.key_file = file;
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = LoadDataKeys(options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_THAT((*ring)->ids(), ElementsAre(1, 2));
  EXPECT_FALSE(std::filesystem::exists(keys_dir()));

  options.key_text = absl::StrCat("5:", hex1);
  ring = LoadDataKeys(options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_THAT((*ring)->ids(), ElementsAre(5));

  options.key_text.clear();
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  EXPECT_EQ(LoadDataKeys(options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  options.key_file = root_ + "/missing.keys";
  EXPECT_EQ(LoadDataKeys(options).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(KeyDirTest, AnOperatorsBadKeyNamesItsSourceButNotTheKey) {
  DataKeyOptions options;
  options.key_text = std::string(63, 'd');
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = LoadDataKeys(options);
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ring.status().message(), HasSubstr("CIRCUIT_DATA_KEY"));
  EXPECT_THAT(ring.status().message(), Not(HasSubstr("dddddd")));
}

}  // namespace
}  // namespace circuit
