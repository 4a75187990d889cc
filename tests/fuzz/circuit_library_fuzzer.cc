// Fuzzes the circuit library's text loader (CircuitLibrary::Load): the
// exercise catalog and circuit files an operator writes, in protobuf text
// format.
//
// Input: text; lines "%%%" split it into files. The first file is
// exercises.textproto, the others circuit files. (The seeds are the real
// files of server/circuits/.)
//
// Invariants: Load never crashes; a refusal is INVALID_ARGUMENT with a
// message; a library it accepts is one a class can run on: every circuit,
// stored with its exercises as a class keeps it (FromParts), loads again,
// and a ClassSession on it starts, runs every interval and ends.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/engine/class_session.h"
#include "server/library/circuit_library.h"
#include "tests/fuzz/fuzz_input.h"

namespace circuit::fuzz {
namespace {

// Runs a class on `circuit` from start to end with the instructor's next.
void RunClass(const v1::Circuit& circuit, const CircuitLibrary& library) {
  v1::ClassInfo info;
  info.set_class_id("c-fuzz");
  info.set_circuit_id(circuit.id());
  engine::ClassSession session(info, circuit, &library, {});
  FUZZ_CHECK(!session.intervals().empty(), "a circuit with no intervals");
  absl::Time now = absl::FromUnixMillis(1'780'000'000'000);
  v1::InstructorCommand command;
  command.set_command_id("c");
  command.mutable_start();
  absl::Status status = session.Apply(command, now).status();
  FUZZ_CHECK(status.ok(), "start: %s", status.ToString().c_str());
  command.mutable_next();
  // One next per interval ends it.
  for (size_t i = 0; i < session.intervals().size(); ++i) {
    now += absl::Seconds(1);
    session.Tick(now);
    if (session.phase() == v1::CLASS_PHASE_ENDED) break;
    status = session.Apply(command, now).status();
    FUZZ_CHECK(status.ok(), "next: %s", status.ToString().c_str());
  }
  FUZZ_CHECK(session.phase() == v1::CLASS_PHASE_ENDED,
             "a class did not end after every interval");
  std::string bytes;
  FUZZ_CHECK(session.Summary(now).SerializeToString(&bytes),
             "the summary does not serialize");
}

}  // namespace
}  // namespace circuit::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using circuit::CircuitLibrary;
  using circuit::LibrarySource;
  // Bigger files cost time and find nothing more.
  if (size > 64 * 1024) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<LibrarySource> sources;
  for (absl::string_view part : absl::StrSplit(text, "\n%%%\n")) {
    LibrarySource& source = sources.emplace_back();
    source.name = sources.size() == 1
                      ? std::string(circuit::kCatalogFileName)
                      : absl::StrCat("circuit", sources.size(), ".textproto");
    source.text = std::string(part);
  }
  absl::StatusOr<CircuitLibrary> library = CircuitLibrary::Load(sources);
  if (!library.ok()) {
    FUZZ_CHECK(library.status().code() == absl::StatusCode::kInvalidArgument,
               "refused with %s", library.status().ToString().c_str());
    FUZZ_CHECK(!library.status().message().empty(), "a refusal, no message");
    return 0;
  }
  for (const circuit::v1::Circuit& c : library->circuits()) {
    absl::StatusOr<CircuitLibrary> stored = CircuitLibrary::FromParts(
        "c-fuzz", c, library->ExercisesFor(c), library->rules());
    FUZZ_CHECK(stored.ok(), "a loaded circuit does not load as stored: %s",
               stored.status().ToString().c_str());
    const circuit::v1::Circuit* again = stored->FindCircuit(c.id());
    FUZZ_CHECK(again != nullptr, "the stored circuit is gone");
    circuit::fuzz::RunClass(*again, *stored);
  }
  return 0;
}
