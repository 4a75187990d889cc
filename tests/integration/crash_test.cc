// The real circuitd, killed with SIGKILL twenty times while twenty
// participants report through the client library and a kiosk watches,
// restarted each time on the same data directory. Nothing acknowledged may
// be lost or counted twice, no client may see a seq go backwards, and the
// kiosk never receives health data (ClassUnderLoad checks it).

#include <signal.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/class_under_load.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tcp_proxy.h"

namespace circuit {
namespace {

constexpr int kKills = 20;
constexpr char kInstructorKey[] = "crash-test-instructor";
constexpr char kKioskKey[] = "crash-test-kiosk";
constexpr absl::Duration kWait = absl::Seconds(30);

testing::Circuitd Restart(const std::vector<std::string>& flags) {
  absl::StatusOr<testing::Circuitd> circuitd =
      testing::StartCircuitd(flags, absl::Now() + kWait);
  EXPECT_TRUE(circuitd.ok()) << circuitd.status();
  return circuitd.ok() ? std::move(*circuitd) : testing::Circuitd{};
}

TEST(CrashTest, KilledTwentyTimesLosesNothingAcknowledged) {
  const std::string data_dir = testing::MakeTempDir() + "/data";
  const std::vector<std::string> flags = {
      "--data_dir=" + data_dir,
      "--journal=sqlite",
      absl::StrCat("--instructor_key=", kInstructorKey),
      absl::StrCat("--kiosk_key=", kKioskKey),
      "--stream_messages_per_second=2000",
      "--joins_per_minute_per_peer=6000"};
  testing::Circuitd circuitd = Restart(flags);
  ASSERT_GT(circuitd.port, 0);
  absl::StatusOr<std::unique_ptr<testing::TcpProxy>> proxy =
      testing::TcpProxy::Start(circuitd.port);
  ASSERT_TRUE(proxy.ok()) << proxy.status();

  testing::LoadOptions load_options;
  load_options.address = absl::StrCat("127.0.0.1:", (*proxy)->port());
  load_options.instructor_key = kInstructorKey;
  load_options.kiosk_key = kKioskKey;
  load_options.wait = kWait;
  testing::ClassUnderLoad load(load_options);
  ASSERT_NO_FATAL_FAILURE(load.Start());

  // Kill at a random amount of progress each time (seeded, so a failure
  // can be replayed by its seed).
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 random(seed);
  for (int kill = 0; kill < kKills; ++kill) {
    const int64_t target =
        load.acks().count() + std::uniform_int_distribution<int>(5, 80)(random);
    ASSERT_TRUE(load.acks().WaitForAtLeast(target, kWait))
        << "no progress before kill " << kill;
    circuitd.process->Signal(SIGKILL);
    ASSERT_TRUE(circuitd.process->Wait(absl::Now() + kWait).ok());
    circuitd = Restart(flags);
    ASSERT_GT(circuitd.port, 0) << "restart " << kill;
    (*proxy)->SetTarget(circuitd.port);
    (*proxy)->Cut();
  }
  ASSERT_TRUE(load.acks().WaitForAtLeast(load.acks().count() + 20, kWait));
  EXPECT_GT(load.StopAndCheck(), kKills * 5);
  EXPECT_GT(load.kiosk_reconnects(), 0);

  circuitd.process->Signal(SIGTERM);
  EXPECT_TRUE(circuitd.process->Wait(absl::Now() + kWait).ok());
}

}  // namespace
}  // namespace circuit
