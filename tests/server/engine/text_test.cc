#include "server/engine/text.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::engine {
namespace {

using ::testing::HasSubstr;

TEST(CheckTextTest, PlainTextInAnyScriptPasses) {
  EXPECT_TRUE(CheckText("display_name", "Ana", 1, 40).ok());
  EXPECT_TRUE(CheckText("display_name", "Zoë Ødegård", 1, 40).ok());
  EXPECT_TRUE(CheckText("display_name", "陈静", 1, 40).ok());
  EXPECT_TRUE(CheckText("display_name", "Maya 💪", 1, 40).ok());
  EXPECT_TRUE(CheckText("equipment", "", 0, 64).ok());
  // Markup is text: it is escaped where it is shown, not refused.
  EXPECT_TRUE(
      CheckText("display_name", "<img src=x onerror=alert(1)>", 1, 40).ok());
}

TEST(CheckTextTest, LengthIsCountedInCharacters) {
  // 40 two-byte letters: 80 bytes, 40 characters.
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "é";
  EXPECT_TRUE(CheckText("display_name", forty, 1, 40).ok());
  const absl::Status long_name = CheckText("display_name", forty + "é", 1, 40);
  EXPECT_EQ(long_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(long_name.message(),
            "display_name must be 1 to 40 characters, got 41");
  EXPECT_EQ(CheckText("display_name", "", 1, 40).message(),
            "display_name must be 1 to 40 characters, got 0");
  EXPECT_EQ(CheckText("equipment", std::string(65, 'x'), 0, 64).message(),
            "equipment must be at most 64 characters, got 65");
}

TEST(CheckTextTest, ControlCharactersAreRefusedByName) {
  for (const std::string& bad :
       {std::string("\x1b[2J"), std::string("a\nb"), std::string("bell\a"),
        std::string("nul\0x", 5), std::string("tab\there"),
        std::string("del\x7f"), std::string("c1 \xc2\x9b"),
        std::string("rtl \xe2\x80\xae override"),
        std::string("isolate \xe2\x81\xa6"), std::string("line\xe2\x80\xa8")}) {
    const absl::Status status = CheckText("display_name", bad, 1, 40);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("display_name has a control"))
        << bad;
  }
  EXPECT_THAT(CheckText("cue text", "\x1b[2J", 1, 280).message(),
              HasSubstr("(U+001B) at character 1"));
}

TEST(CheckTextTest, MalformedUtf8IsRefused) {
  for (const std::string& bad :
       {std::string("\xff"), std::string("a\x80"), std::string("\xc3"),
        std::string("\xe2\x82"), std::string("\xc0\xaf"),  // overlong '/'
        std::string("\xed\xa0\x80"),                       // a surrogate
        std::string("\xf4\x90\x80\x80")}) {                // past U+10FFFF
    const absl::Status status = CheckText("other_text", bad, 0, 140);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("other_text is not valid UTF-8"));
  }
}

}  // namespace
}  // namespace circuit::engine
