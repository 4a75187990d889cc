// `circuit-bench` end to end: the real binary runs small loads against a
// circuitd of its own (or one the test started) and reports that every
// message was delivered. Nothing here asserts a duration: the figures are
// the tool's output, not the test's.

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace circuit {
namespace {

using testing::BinaryPath;
using testing::Subprocess;

struct BenchResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

BenchResult RunBench(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {BinaryPath("circuit-bench")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  BenchResult result;
  auto bench = Subprocess::Start(argv);
  if (!bench.ok()) {
    result.err = std::string(bench.status().message());
    return result;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(100);
  result.out = bench->ReadAll(deadline);
  auto rc = bench->Wait(deadline);
  result.exit_code = rc.ok() ? *rc : -1;
  result.err = bench->stderr_text();
  return result;
}

// The table's data rows (not the header or its rule), split into cells.
std::vector<std::vector<std::string>> TableRows(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "| ") || absl::StartsWith(line, "| mode ")) {
      continue;
    }
    std::vector<std::string> cells;
    for (absl::string_view cell : absl::StrSplit(line, '|')) {
      cells.emplace_back(absl::StripAsciiWhitespace(cell));
    }
    // Drop the empty cells before the first and after the last '|'.
    cells.erase(cells.begin());
    cells.pop_back();
    rows.push_back(cells);
  }
  return rows;
}

// Checks a table row: mode, N, and delivered == expected (column 5).
void ExpectAllDelivered(const std::vector<std::string>& row,
                        const std::string& mode, int participants) {
  ASSERT_GE(row.size(), 16u);
  EXPECT_EQ(row[0], mode);
  EXPECT_EQ(row[1], absl::StrCat(participants));
  std::vector<std::string> counts = absl::StrSplit(row[4], '/');
  ASSERT_EQ(counts.size(), 2u) << row[4];
  int64_t delivered = -1, expected = -2;
  ASSERT_TRUE(absl::SimpleAtoi(counts[0], &delivered)) << row[4];
  ASSERT_TRUE(absl::SimpleAtoi(counts[1], &expected)) << row[4];
  EXPECT_GT(expected, 0);
  EXPECT_EQ(delivered, expected) << absl::StrJoin(row, " | ");
}

// The integer after "\"key\": " in a JSON line.
int64_t JsonInt(const std::string& line, const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\": ");
  const size_t at = line.find(needle);
  if (at == std::string::npos) return -1;
  absl::string_view rest = absl::string_view(line).substr(at + needle.size());
  rest = rest.substr(0, rest.find_first_of(",}"));
  int64_t value = -1;
  return absl::SimpleAtoi(rest, &value) ? value : -1;
}

TEST(CircuitBenchTest, CuesReachEveryParticipant) {
  BenchResult result = RunBench({"--spawn_server", "--participants=20",
                                 "--mode=cues", "--messages=10", "--rate=50"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::vector<std::string>> rows = TableRows(result.out);
  ASSERT_EQ(rows.size(), 1u) << result.out;
  ExpectAllDelivered(rows[0], "cues", 20);
  EXPECT_EQ(rows[0][4], "200/200");
}

// With a write interval, messages that come sooner wait for the next write
// and share it: nothing is lost or repeated, and reads carry batches.
TEST(CircuitBenchTest, CuesSharingWritesReachEveryParticipantOnce) {
  BenchResult result = RunBench({"--spawn_server", "--participants=20",
                                 "--mode=cues", "--messages=20", "--rate=100",
                                 "--server_flags=--write_interval_ms=100"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::vector<std::string>> rows = TableRows(result.out);
  ASSERT_EQ(rows.size(), 1u) << result.out;
  ExpectAllDelivered(rows[0], "cues", 20);
  EXPECT_EQ(rows[0][4], "400/400");
}

// Kiosks on server-sent events over HTTP (GET /v1/classes/{id}:watch), each
// on a connection of its own; the instructor's cues still go over gRPC.
TEST(CircuitBenchTest, CuesReachEveryKioskOverServerSentEvents) {
  BenchResult result =
      RunBench({"--spawn_server", "--transport=sse_kiosk", "--participants=8",
                "--mode=cues", "--messages=10", "--rate=50"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::vector<std::string>> rows = TableRows(result.out);
  ASSERT_EQ(rows.size(), 1u) << result.out;
  ExpectAllDelivered(rows[0], "cues", 8);
  EXPECT_EQ(rows[0][4], "80/80");
  EXPECT_THAT(rows[0][15], ::testing::HasSubstr("transport sse_kiosk"));
  EXPECT_THAT(rows[0][15], ::testing::Not(::testing::HasSubstr("cut")));
}

// Participants joining over HTTP (POST /v1/classes:join), each its own
// connection and event stream; interval changes too, as JSON.
TEST(CircuitBenchTest, CuesAndChangesReachEveryParticipantOverSse) {
  BenchResult cues = RunBench({"--spawn_server", "--transport=sse_participant",
                               "--participants=8", "--mode=cues",
                               "--messages=10", "--rate=50"});
  ASSERT_EQ(cues.exit_code, 0) << cues.out << cues.err;
  std::vector<std::vector<std::string>> rows = TableRows(cues.out);
  ASSERT_EQ(rows.size(), 1u) << cues.out;
  ExpectAllDelivered(rows[0], "cues", 8);
  EXPECT_EQ(rows[0][4], "80/80");
  EXPECT_THAT(rows[0][15], ::testing::HasSubstr("transport sse_participant"));

  BenchResult next = RunBench({"--spawn_server", "--transport=sse_participant",
                               "--participants=8", "--mode=next",
                               "--messages=12", "--rate=50", "--json"});
  ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
  std::vector<std::string> lines =
      absl::StrSplit(next.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << next.out;
  EXPECT_THAT(lines[0],
              ::testing::HasSubstr("\"transport\": \"sse_participant\""));
  EXPECT_EQ(JsonInt(lines[0], "expected"), 8 * 12) << lines[0];
  EXPECT_EQ(JsonInt(lines[0], "delivered"), 8 * 12) << lines[0];
  EXPECT_EQ(JsonInt(lines[0], "streams_cut"), 0) << lines[0];
}

TEST(CircuitBenchTest, EveryReportIsAcked) {
  BenchResult result =
      RunBench({"--spawn_server", "--participants=20", "--mode=reports",
                "--messages=5", "--rate=10"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::vector<std::string>> rows = TableRows(result.out);
  ASSERT_EQ(rows.size(), 1u) << result.out;
  ExpectAllDelivered(rows[0], "reports", 20);
  EXPECT_EQ(rows[0][4], "100/100");
}

TEST(CircuitBenchTest, ConsolesOverEitherDoorStayAttachedThroughAReportsRun) {
  for (const std::string transport : {"grpc", "sse"}) {
    BenchResult result =
        RunBench({"--spawn_server", "--participants=10", "--mode=reports",
                  "--messages=3", "--rate=5", "--consoles=2",
                  "--console_transport=" + transport, "--json"});
    ASSERT_EQ(result.exit_code, 0) << transport << result.out << result.err;
    EXPECT_EQ(JsonInt(result.out, "consoles"), 2) << result.out;
    EXPECT_THAT(result.out, ::testing::HasSubstr("\"console_transport\": \"" +
                                                 transport + "\""));
    EXPECT_THAT(result.out, ::testing::HasSubstr("\"instructor\": \"up\""));
    EXPECT_EQ(JsonInt(result.out, "delivered"), 30) << result.out;
  }
}

TEST(CircuitBenchTest, IntervalChangesReachEveryParticipantAsJson) {
  BenchResult result =
      RunBench({"--spawn_server", "--participants=20", "--mode=next",
                "--messages=30", "--rate=50", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::string> lines =
      absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << result.out;
  EXPECT_THAT(lines[0], ::testing::HasSubstr("\"mode\": \"next\""));
  // 30 changes go past the end of the plan and back: none may end the
  // class or be refused.
  EXPECT_EQ(JsonInt(lines[0], "expected"), 20 * 30) << lines[0];
  EXPECT_EQ(JsonInt(lines[0], "delivered"), 20 * 30) << lines[0];
  EXPECT_EQ(JsonInt(lines[0], "commands_refused"), 0) << lines[0];
  EXPECT_EQ(JsonInt(lines[0], "streams_cut"), 0) << lines[0];
}

TEST(CircuitBenchTest, OneRowPerParticipantCount) {
  BenchResult result =
      RunBench({"--spawn_server", "--participants=5,12", "--mode=joins"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::vector<std::string>> rows = TableRows(result.out);
  ASSERT_EQ(rows.size(), 2u) << result.out;
  ExpectAllDelivered(rows[0], "joins", 5);
  ExpectAllDelivered(rows[1], "joins", 12);
  // One header for both rows.
  EXPECT_EQ(result.out.find("| mode |"), result.out.rfind("| mode |"));
}

TEST(CircuitBenchTest, RunsAgainstAServerItDidNotStart) {
  // The operator's way through the per-address limits: the server's flags.
  auto circuitd = testing::StartCircuitd(
      {"--journal=memory", "--instructor_key=bench-test-key",
       "--joins_per_minute_per_peer=100000",
       "--stream_messages_per_second=100000"},
      absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(circuitd.ok()) << circuitd.status();
  BenchResult result = RunBench(
      {absl::StrCat("--address=", circuitd->address), "--key=bench-test-key",
       absl::StrCat("--server_pid=", circuitd->process->pid()),
       "--participants=10", "--mode=cues", "--messages=5", "--rate=50"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::vector<std::string>> rows = TableRows(result.out);
  ASSERT_EQ(rows.size(), 1u) << result.out;
  ExpectAllDelivered(rows[0], "cues", 10);
  // With its pid the server's RSS is read from /proc.
  EXPECT_NE(rows[0][13], "-") << result.out;
  circuitd->process->Signal(SIGTERM);
  auto rc = circuitd->process->Wait(absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << circuitd->process->stderr_text();
}

TEST(CircuitBenchTest, RefusesNonsenseFlags) {
  for (const char* flag :
       {"--mode=nonsense", "--participants=0", "--participants=2,x",
        "--messages=0", "--rate=0", "--joins_in_flight=0",
        "--transport=nonsense", "--console_transport=nonsense"}) {
    BenchResult result = RunBench({"--spawn_server", flag});
    EXPECT_EQ(result.exit_code, 2) << flag << result.out << result.err;
    EXPECT_EQ(result.out, "") << flag;
  }
}

TEST(CircuitBenchTest, SseTransportsRefuseModesTheyCannotRun) {
  // Reports over HTTP are not played by the bench (yet): a usage error, not
  // a run that measures nothing.
  BenchResult result =
      RunBench({"--spawn_server", "--transport=sse_kiosk", "--mode=reports"});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_EQ(result.out, "");
  // Without a spawned server, the HTTP listener must be named.
  result = RunBench({"--address=127.0.0.1:1", "--key=k",
                     "--transport=sse_participant", "--mode=joins"});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_THAT(result.err, ::testing::HasSubstr("--http_address"));
}

// --attack: a small attack of each kind from 127.0.0.2 while 20
// participants (each from an address of its own) get every cue, and the
// server refuses or cuts the attacker. The spawned server keeps its limits;
// its timeouts are shortened by --server_flags so they act within the run.
struct AttackCase {
  std::string attack;
  std::vector<std::string> flags;
  std::string counter;  // in the JSON line, must be above 0
};

// How ctest and gtest name a case: by its attack.
void PrintTo(const AttackCase& c, std::ostream* out) { *out << c.attack; }

class CircuitBenchAttackTest : public ::testing::TestWithParam<AttackCase> {};

TEST_P(CircuitBenchAttackTest, ClassGetsEveryCueWhileTheAttackerIsStopped) {
  const AttackCase& attack = GetParam();
  std::vector<std::string> flags = {"--spawn_server",
                                    "--participants=20",
                                    "--mode=cues",
                                    "--messages=60",
                                    "--rate=20",
                                    "--json",
                                    absl::StrCat("--attack=", attack.attack)};
  flags.insert(flags.end(), attack.flags.begin(), attack.flags.end());
  BenchResult result = RunBench(flags);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::string> lines =
      absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << result.out;
  EXPECT_EQ(JsonInt(lines[0], "delivered"), 20 * 60) << lines[0];
  EXPECT_EQ(JsonInt(lines[0], "streams_cut"), 0) << lines[0];
  EXPECT_THAT(lines[0], ::testing::HasSubstr(
                            absl::StrCat("\"attack\": \"", attack.attack)));
  if (!attack.counter.empty()) {
    EXPECT_GT(JsonInt(lines[0], attack.counter), 0) << lines[0];
  }
  // The slow loris holds nothing another client needs: every GET /healthz
  // made meanwhile was answered.
  if (attack.attack == "slowloris") {
    EXPECT_GT(JsonInt(lines[0], "attack_probes"), 0) << lines[0];
    EXPECT_EQ(JsonInt(lines[0], "attack_probes_ok"),
              JsonInt(lines[0], "attack_probes"))
        << lines[0];
  }
}

INSTANTIATE_TEST_SUITE_P(
    Attacks, CircuitBenchAttackTest,
    ::testing::Values(
        AttackCase{"none", {}, ""},
        AttackCase{"joins", {"--attack_size=500"}, "attack_joins_refused"},
        AttackCase{"idle_tcp",
                   {"--attack_size=200",
                    "--server_flags=--handshake_timeout_seconds=1"},
                   "attack_closed_by_server"},
        AttackCase{"slowloris",
                   {"--attack_size=100",
                    "--server_flags=--http_read_timeout_seconds=1"},
                   "attack_closed_by_server"},
        AttackCase{
            "report_flood", {"--attack_size=500"}, "attack_streams_cut"}),
    [](const ::testing::TestParamInfo<AttackCase>& param) {
      return param.param.attack;
    });

TEST(CircuitBenchTest, HelpListsItsFlags) {
  BenchResult result = RunBench({"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("usage: circuit-bench"));
  for (const char* flag : {"--spawn_server", "--mode", "--participants",
                           "--transport", "--attack", "--server_flags"}) {
    EXPECT_THAT(result.out, ::testing::HasSubstr(flag));
  }
}

TEST(CircuitBenchTest, FailsWithAReasonWhenNoServerAnswers) {
  // Port 1 on loopback: nothing listens there.
  BenchResult result = RunBench(
      {"--address=127.0.0.1:1", "--key=k", "--participants=2", "--mode=joins"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_THAT(result.err, ::testing::HasSubstr("circuit-bench: joins N=2:"));
}

int MillisUntil(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(
      0, absl::ToInt64Milliseconds(deadline - absl::Now()) + 1));
}

// "circuit-bench: MODE N=2: circuitd pid PID in DIR": PID and DIR.
bool ParseSpawned(absl::string_view line, int* pid, std::string* dir) {
  const size_t at = line.find(": circuitd pid ");
  if (!absl::StartsWith(line, "circuit-bench: ") || at == line.npos) {
    return false;
  }
  std::vector<std::string> words = absl::StrSplit(line.substr(at + 15), ' ');
  if (words.size() != 3 || words[1] != "in") return false;
  *dir = words[2];
  return absl::SimpleAtoi(words[0], pid);
}

// The process's name, from /proc ("" once it is gone).
std::string ProcessName(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/comm"));
  std::string name;
  std::getline(in, name);
  return name;
}

TEST(CircuitBenchTest, ItsCircuitdAndDataDieWithIt) {
  // kill -9 of the bench: nothing of its runs may stay behind. Its stderr
  // is joined to stdout to read where its circuitd runs.
  auto bench = Subprocess::Start(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", BinaryPath("circuit-bench"),
       "--spawn_server", "--mode=idle", "--participants=2", "--seconds=600"});
  ASSERT_TRUE(bench.ok()) << bench.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int pid = 0;
  std::string dir;
  std::string said;
  while (pid == 0) {
    absl::StatusOr<std::string> line = bench->ReadLine(deadline);
    ASSERT_TRUE(line.ok()) << line.status() << said;
    absl::StrAppend(&said, *line, "\n");
    ParseSpawned(*line, &pid, &dir);
  }
  // It is up: the bench printed that line once circuitd listened.
  ASSERT_EQ(ProcessName(pid), "circuitd") << said;
  ASSERT_TRUE(std::filesystem::exists(dir + "/data")) << dir;
  // Told when circuitd exits and when its directory is deleted.
  const int exited = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(exited, 0);
  const int deleted = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ASSERT_GE(deleted, 0);
  ASSERT_GE(inotify_add_watch(deleted, dir.c_str(), IN_DELETE_SELF), 0);

  bench->Signal(SIGKILL);
  absl::StatusOr<int> rc = bench->Wait(deadline);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 128 + SIGKILL);

  pollfd gone{exited, POLLIN, 0};
  EXPECT_EQ(poll(&gone, 1, MillisUntil(deadline)), 1)
      << "circuitd " << pid << " outlived the bench";
  while (std::filesystem::exists(dir) && absl::Now() < deadline) {
    pollfd event{deleted, POLLIN, 0};
    poll(&event, 1, MillisUntil(deadline));
    char events[4096];
    while (read(deleted, events, sizeof events) > 0) {
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived the bench";
  close(exited);
  close(deleted);
}

}  // namespace
}  // namespace circuit
