// `circuit demo` end to end: the real binary starts its own circuitd, runs
// a whole class with simulated participants and exits when it ends.

#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::Subprocess;

TEST(CircuitDemoTest, RunsTheKickbackTrioToTheEnd) {
  auto demo =
      Subprocess::Start({BinaryPath("circuit"), "demo", "--spawn_server",
                         "--speed=200", "--participants=6", "--seed=7"});
  ASSERT_TRUE(demo.ok()) << demo.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  std::string out = demo->ReadAll(deadline);
  auto rc = demo->Wait(deadline);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0) << out << demo->stderr_text();
  // Without a terminal: plain lines, no escape codes.
  EXPECT_FALSE(absl::StrContains(out, "\x1b")) << out;
  EXPECT_THAT(out, HasSubstr("Glute minimus kickback"));
  EXPECT_THAT(out, HasSubstr("Demo class complete: 6 participants"));
  // The simulated room includes someone who rates "too hard" repeatedly and
  // someone whose hip pinches: the instructor got alerts and suggestions.
  EXPECT_THAT(out, ::testing::Not(HasSubstr(" 0 alerts")));
  EXPECT_THAT(out, ::testing::Not(HasSubstr(" 0 suggestions")));
}

TEST(CircuitDemoTest, RefusesNonsenseFlags) {
  for (const char* flag : {"--participants=0", "--speed=0"}) {
    auto demo = Subprocess::Start({BinaryPath("circuit"), "demo", flag});
    ASSERT_TRUE(demo.ok()) << demo.status();
    auto rc = demo->Wait(absl::Now() + absl::Seconds(20));
    ASSERT_TRUE(rc.ok());
    EXPECT_EQ(*rc, 2) << flag;
  }
}

}  // namespace
}  // namespace circuit
