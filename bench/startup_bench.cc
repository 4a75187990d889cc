// startup_bench: how long circuitd takes from exec to serving when its data
// directory holds many classes: ended ones (listed from their stored info,
// never replayed) and open ones (replayed through the engine, then paused).
// Prints one table row per data set. Not a test: it asserts nothing.
//
//   build/bench/startup_bench [--ended=0,1000,10000] [--open=0,10]
//                             [--entries=2000] [--runs=3]

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/journal/sqlite_journal.h"
#include "server/library/circuit_library.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(std::string, ended, "0,1000,10000", "ended classes stored");
ABSL_FLAG(std::string, open, "0,10", "open classes stored");
ABSL_FLAG(int, entries, 2000, "journal entries per open class");
ABSL_FLAG(int, runs, 3, "starts per data set (the median is printed)");

namespace circuit {
namespace {

std::vector<int> Numbers(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view n : absl::StrSplit(list, ',')) {
    int value = 0;
    if (absl::SimpleAtoi(n, &value) && value >= 0) out.push_back(value);
  }
  return out;
}

void Wait(absl::Notification& done) { done.WaitForNotification(); }

// Writes the classes straight into a journal, as circuitd would have.
absl::Status Fill(const std::string& path, const CircuitLibrary& library,
                  int ended, int open, int entries) {
  SqliteJournalOptions options;
  options.path = path;
  auto journal = SqliteJournal::Open(options);
  if (!journal.ok()) return journal.status();
  const v1::Circuit& circuit = *library.FindCircuit("kickback-trio");
  auto record_for = [&](const std::string& id) {
    internal::ClassRecord record;
    record.mutable_info()->set_class_id(id);
    record.mutable_info()->set_join_code(id.substr(id.size() - 6));
    record.mutable_info()->set_circuit_id(circuit.id());
    record.mutable_info()->set_title("Bench class");
    record.mutable_info()->set_created_unix_ms(1'780'000'000'000);
    *record.mutable_circuit() = circuit;
    for (v1::Exercise& e : library.ExercisesFor(circuit)) {
      *record.add_exercises() = std::move(e);
    }
    return record;
  };
  absl::Status failed;
  auto check = [&failed](absl::Status s) {
    if (!s.ok() && failed.ok()) failed = s;
  };
  for (int c = 0; c < ended; ++c) {
    const std::string id = absl::StrCat("c-ended", 100000 + c);
    internal::ClassRecord record = record_for(id);
    (*journal)->CreateClass(record, check);
    v1::ClassSummary summary;
    *summary.mutable_class_info() = record.info();
    summary.mutable_class_info()->set_phase(v1::CLASS_PHASE_ENDED);
    summary.mutable_class_info()->set_ended_unix_ms(1'780'000'100'000);
    for (int p = 0; p < 20; ++p) {
      v1::ParticipantSummary* ps = summary.add_participants();
      ps->set_participant_id(absl::StrCat("p", p + 1));
      ps->mutable_check_in()->set_display_name(absl::StrCat("P", p));
      ps->set_total_reps(108);
    }
    (*journal)->EndClass(summary, check);
  }
  for (int c = 0; c < open; ++c) {
    const std::string id = absl::StrCat("c-open", 100000 + c);
    (*journal)->CreateClass(record_for(id), check);
    int64_t at = 1'780'000'000'000;
    internal::Entry start;
    start.set_at_unix_ms(at);
    start.mutable_command()->set_command_id("start");
    start.mutable_command()->mutable_start();
    (*journal)->Append(id, start, check);
    constexpr int kSeats = 100;
    for (int n = 0; n < entries; ++n) {
      internal::Entry entry;
      entry.set_at_unix_ms(++at);
      if (n < kSeats) {
        entry.mutable_join()->set_participant_id(absl::StrCat("p", n + 1));
        entry.mutable_join()->mutable_check_in()->set_display_name(
            absl::StrCat("P", n));
        entry.mutable_join()->set_resume_token_sha256(
            absl::StrCat("token-hash-", n));
      } else {
        internal::ReportInput* r = entry.mutable_report();
        r->set_participant_id(absl::StrCat("p", n % kSeats + 1));
        v1::CompletionReport* c2 = r->mutable_completion();
        c2->set_report_id(absl::StrCat("r", n));
        c2->set_block_index(0);
        c2->set_set(1 + (n / kSeats) % 2);
        c2->set_side(n % 2 == 0 ? v1::SIDE_LEFT : v1::SIDE_RIGHT);
        c2->set_reps(8 + n % 3);
      }
      (*journal)->Append(id, entry, check);
    }
  }
  absl::Notification flushed;
  (*journal)->ReadSummary(
      "none", [&](absl::StatusOr<v1::ClassSummary>) { flushed.Notify(); });
  Wait(flushed);
  (*journal)->Close();
  return failed;
}

}  // namespace
}  // namespace circuit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto library = circuit::CircuitLibrary::LoadEmbedded();
  if (!library.ok()) return 1;
  std::printf(
      "| ended classes | open classes (entries each) | database | start to "
      "serving (median of %d) |\n|---|---|---|---|\n",
      absl::GetFlag(FLAGS_runs));
  for (int ended : circuit::Numbers(absl::GetFlag(FLAGS_ended))) {
    for (int open : circuit::Numbers(absl::GetFlag(FLAGS_open))) {
      const std::string dir = circuit::testing::MakeTempDir();
      absl::Status filled = circuit::Fill(dir + "/circuit.db", *library, ended,
                                          open, absl::GetFlag(FLAGS_entries));
      if (!filled.ok()) {
        std::fprintf(stderr, "cannot fill: %s\n",
                     std::string(filled.message()).c_str());
        return 1;
      }
      FILE* db = std::fopen((dir + "/circuit.db").c_str(), "rb");
      long size = 0;
      if (db != nullptr) {
        std::fseek(db, 0, SEEK_END);
        size = std::ftell(db);
        std::fclose(db);
      }
      std::vector<double> ms;
      for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
        const absl::Time t0 = absl::Now();
        auto circuitd = circuit::testing::StartCircuitd(
            {"--data_dir=" + dir}, absl::Now() + absl::Seconds(120));
        if (!circuitd.ok()) {
          std::fprintf(stderr, "circuitd did not start: %s\n",
                       std::string(circuitd.status().message()).c_str());
          return 1;
        }
        ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        circuitd->process->Signal(SIGTERM);
        circuitd->process->Wait(absl::Now() + absl::Seconds(30)).IgnoreError();
      }
      std::sort(ms.begin(), ms.end());
      std::printf("| %d | %d (%d) | %.1f MB | %.0f ms |\n", ended, open,
                  absl::GetFlag(FLAGS_entries), size / 1e6, ms[ms.size() / 2]);
      std::fflush(stdout);
    }
  }
  return 0;
}
