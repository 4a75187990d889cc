// Fuzzes crash recovery from a damaged journal: ClassRegistry::Recover over
// a journal the fuzzer damaged, either
//   - its stored records and entries (what any Journal hands back: class
//     records and inputs that parse but say anything), in an
//     InMemoryJournal, or
//   - the SQLite database file itself (SqliteJournal::Open, then Recover).
//
// Input: a mode byte. Even: up to 4 classes, each a chunk (2-byte
// little-endian length, then bytes) holding a serialized
// circuit.internal.ClassRecord, a count byte, and that many chunks each
// holding a serialized circuit.internal.Entry. Odd: the rest is the
// database file (the seeds are real journals written by `circuitd`'s
// SqliteJournal).
//
// Invariants: nothing crashes or hangs; opening or recovering either fails
// with a status and a message, or gives a registry that serves: every class
// it lists can be read (info, summary), ticks, and shuts down cleanly.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "server/common/clock.h"
#include "server/common/data_cipher.h"
#include "server/common/log.h"
#include "server/journal/journal.h"
#include "server/journal/sqlite_journal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"
#include "server/live/executor.h"
#include "tests/fuzz/fuzz_input.h"

namespace circuit::fuzz {
namespace {

const CircuitLibrary& Library() {
  static const CircuitLibrary* library = [] {
    absl::StatusOr<CircuitLibrary> loaded = CircuitLibrary::LoadEmbedded();
    FUZZ_CHECK(loaded.ok(), "embedded library: %s",
               loaded.status().ToString().c_str());
    return new CircuitLibrary(*std::move(loaded));
  }();
  return *library;
}

// The data key the seed journals were sealed with (tests/fuzz/
// make_fuzz_seeds.cc), so their health rows open.
std::shared_ptr<const KeyRing> Keys() {
  static const auto* keys = [] {
    absl::StatusOr<std::shared_ptr<const KeyRing>> made =
        KeyRing::Make({DataKey{1, std::string(KeyRing::kKeyBytes, 'k')}});
    FUZZ_CHECK(made.ok(), "key ring: %s", made.status().ToString().c_str());
    return new std::shared_ptr<const KeyRing>(*std::move(made));
  }();
  return *keys;
}

// A directory of this process's own for the damaged database files.
const std::string& ScratchDir() {
  static const std::string* dir = [] {
    std::string pattern = "/tmp/circuit-journal-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp failed");
    // Left empty after every input; gone when the fuzzer exits normally.
    std::atexit([] { rmdir(ScratchDir().c_str()); });
    return new std::string(pattern);
  }();
  return *dir;
}

void RemoveDatabase(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal", ".lock"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
}

// A refusal a damaged journal may get: one with a message.
void CheckRefusal(const absl::Status& status, const char* what) {
  FUZZ_CHECK(!status.ok(), "%s", what);
  FUZZ_CHECK(!status.message().empty(), "%s refused with no message: %s", what,
             status.ToString().c_str());
  FUZZ_CHECK(status.code() != absl::StatusCode::kUnknown &&
                 status.code() != absl::StatusCode::kInternal,
             "%s refused without saying why: %s", what,
             status.ToString().c_str());
}

// Recovers from `journal` and, when that works, uses what came back. As
// circuitd shuts down: the registry closes, `close_journal` finishes the
// journal's writes (whose answers run on the pool), then the pool stops.
void RecoverAndServe(Journal* journal,
                     const std::function<void()>& close_journal) {
  FakeClock clock(absl::FromUnixMillis(1'790'000'000'000));
  ThreadPool pool(1);
  RegistryOptions options;
  options.max_classes = 8;
  ClassRegistry registry(&Library(), journal, &clock, &pool, options);
  const absl::Status recovered = registry.Recover();
  if (!recovered.ok()) {
    CheckRefusal(recovered, "Recover");
    registry.Close();
    close_journal();
    pool.WaitIdle();
    return;
  }
  for (const v1::ClassInfo& info : registry.List(/*include_ended=*/true)) {
    std::string bytes;
    FUZZ_CHECK(info.SerializeToString(&bytes), "a listed class's info");
    if (std::shared_ptr<ClassActor> actor = registry.Find(info.class_id())) {
      FUZZ_CHECK(actor->Info().SerializeToString(&bytes), "a class's info");
    }
    absl::Notification summarized;
    registry.Summary(info.class_id(),
                     [&](absl::StatusOr<v1::ClassSummary> summary) {
                       if (summary.ok()) {
                         std::string summary_bytes;
                         FUZZ_CHECK(summary->SerializeToString(&summary_bytes),
                                    "a summary does not serialize");
                       } else {
                         CheckRefusal(summary.status(), "Summary");
                       }
                       summarized.Notify();
                     });
    summarized.WaitForNotification();
  }
  // Time goes on: timers and holds of the recovered classes run out.
  for (int i = 0; i < 3; ++i) {
    clock.Advance(absl::Minutes(7));
    registry.TickAll();
    pool.WaitIdle();
  }
  registry.Close();
  close_journal();
  pool.WaitIdle();
}

void DamagedEntries(FuzzInput& in) {
  InMemoryJournal journal;
  for (int c = 0; c < 4 && !in.empty(); ++c) {
    internal::ClassRecord record;
    const absl::string_view record_bytes = in.Chunk();
    const bool parsed = record.ParseFromArray(
        record_bytes.data(), static_cast<int>(record_bytes.size()));
    bool created = false;
    if (parsed) {
      journal.CreateClass(record, [&](absl::Status s) { created = s.ok(); });
    }
    const int entries = in.Byte() % 64;
    for (int e = 0; e < entries && !in.empty(); ++e) {
      const absl::string_view entry_bytes = in.Chunk();
      internal::Entry entry;
      if (!created ||
          !entry.ParseFromArray(entry_bytes.data(),
                                static_cast<int>(entry_bytes.size()))) {
        continue;
      }
      journal.Append(record.info().class_id(), std::move(entry),
                     [](absl::Status) {});
    }
  }
  RecoverAndServe(&journal, [] {});
}

void DamagedFile(absl::string_view file) {
  const std::string path = absl::StrCat(ScratchDir(), "/circuit.db");
  RemoveDatabase(path);
  FILE* out = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(out != nullptr, "cannot write %s", path.c_str());
  FUZZ_CHECK(std::fwrite(file.data(), 1, file.size(), out) == file.size(),
             "short write");
  std::fclose(out);
  SqliteJournalOptions options;
  options.path = path;
  options.keys = Keys();
  absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
      SqliteJournal::Open(options);
  if (!journal.ok()) {
    CheckRefusal(journal.status(), "Open");
  } else {
    SqliteJournal* sqlite = journal->get();
    RecoverAndServe(sqlite, [sqlite] { sqlite->Close(); });
  }
  RemoveDatabase(path);
}

}  // namespace
}  // namespace circuit::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  circuit::SetLogQuiet(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Bigger files cost time and find nothing more.
  if (size > 256 * 1024) return 0;
  circuit::fuzz::FuzzInput in(data, size);
  if (in.Byte() % 2 == 0) {
    circuit::fuzz::DamagedEntries(in);
  } else {
    circuit::fuzz::DamagedFile(in.Rest());
  }
  return 0;
}
