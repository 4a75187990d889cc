// Writing a whole file atomically, with the mode asked for.

#include "client/lib/atomic_file.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::client {
namespace {

using ::testing::ElementsAre;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/atomic_file_XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    ASSERT_NE(::mkdtemp(name.data()), nullptr);
    dir_ = name.data();
    // A umask that would leave the file readable by others.
    old_umask_ = ::umask(022);
  }

  void TearDown() override {
    ::umask(old_umask_);
    for (const std::string& name : Files()) {
      const std::string path = dir_ + "/" + name;
      if (::unlink(path.c_str()) != 0) ::rmdir(path.c_str());
    }
    ::rmdir(dir_.c_str());
  }

  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    DIR* dir = ::opendir(dir_.c_str());
    if (dir == nullptr) return names;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    return names;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    return contents.str();
  }

  static mode_t Mode(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return 0;
    return info.st_mode & 07777;
  }

  std::string dir_;
  mode_t old_umask_ = 0;
};

TEST_F(AtomicFileTest, WritesTheContentsWithMode0600AndNoTemporaryLeft) {
  const std::string path = dir_ + "/class.csv";
  ASSERT_TRUE(WriteFileAtomically(path, "a,b\r\n1,2\r\n").ok());
  EXPECT_EQ(Read(path), "a,b\r\n1,2\r\n");
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_THAT(Files(), ElementsAre("class.csv"));
}

TEST_F(AtomicFileTest, ReplacesAnExistingFileAndItsMode) {
  const std::string path = dir_ + "/class.json";
  {
    std::ofstream old(path);
    old << "the old contents, longer than the new ones";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "{}\n").ok());
  EXPECT_EQ(Read(path), "{}\n");
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_THAT(Files(), ElementsAre("class.json"));
}

TEST_F(AtomicFileTest, WritesTheModeAskedFor) {
  const std::string path = dir_ + "/open.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "x", 0640).ok());
  EXPECT_EQ(Mode(path), 0640u);
}

TEST_F(AtomicFileTest, FailsInAMissingDirectoryAndLeavesNothing) {
  const absl::Status status =
      WriteFileAtomically(dir_ + "/missing/class.csv", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(status.message(), ::testing::HasSubstr("missing/class.csv"));
  EXPECT_TRUE(Files().empty());
}

TEST_F(AtomicFileTest, FailsWhenThePathIsADirectoryAndRemovesTheTemporary) {
  ASSERT_EQ(::mkdir((dir_ + "/taken").c_str(), 0700), 0);
  EXPECT_FALSE(WriteFileAtomically(dir_ + "/taken", "x").ok());
  EXPECT_THAT(Files(), ElementsAre("taken"));
}

TEST_F(AtomicFileTest, RefusesAnEmptyPath) {
  EXPECT_EQ(WriteFileAtomically("", "x").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace circuit::client
