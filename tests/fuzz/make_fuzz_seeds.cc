// Writes the binary seeds of tests/fuzz/corpus/ (the circuit library's
// seeds are the files of server/circuits/ and need no tool):
//   make_fuzz_seeds <corpus dir>
// Run it again when a fuzz target's input format or the journal's file
// format changes; the seeds are committed.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/text_format.h"
#include "server/common/data_cipher.h"
#include "server/engine/class_session.h"
#include "server/journal/sqlite_journal.h"
#include "server/library/circuit_library.h"

namespace circuit {
namespace {

// The record format of class_session_fuzzer and http_api_fuzzer.
class Seed {
 public:
  Seed& Byte(uint8_t b) {
    bytes_.push_back(static_cast<char>(b));
    return *this;
  }
  Seed& Chunk(absl::string_view chunk) {
    Byte(static_cast<uint8_t>(chunk.size() & 0xff));
    Byte(static_cast<uint8_t>(chunk.size() >> 8));
    bytes_.append(chunk.data(), chunk.size());
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

template <typename M>
std::string Encode(const std::string& text) {
  M message;
  if (!google::protobuf::TextFormat::ParseFromString(text, &message)) {
    std::fprintf(stderr, "bad seed text: %s\n", text.c_str());
    std::exit(1);
  }
  return message.SerializeAsString();
}

void Write(const std::string& path, const std::string& bytes) {
  FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr ||
      std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size()) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::fclose(out);
}

// --- class_session_fuzzer ------------------------------------------------

Seed& Participant(Seed& seed, int slot, const std::string& text) {
  return seed.Byte(0)
      .Byte(static_cast<uint8_t>(slot))
      .Chunk(Encode<v1::JoinClassRequest>(text));
}
Seed& Instructor(Seed& seed, const std::string& text) {
  return seed.Byte(1).Byte(0).Chunk(Encode<v1::RunClassRequest>(text));
}
// (arg & 0x7f) * 250 ms, 40x with 0x80.
Seed& Wait(Seed& seed, uint8_t arg) { return seed.Byte(2).Byte(arg); }

void SessionSeeds(const std::string& dir) {
  const std::string dana =
      R"(join { join_code: "FUZZ23" check_in { display_name: "Dana"
         track: RECOVERY_TRACK_CESAREAN weeks_postpartum: 10
         equipment: "medium band" show_name_on_kiosk: true } })";
  const std::string mia =
      R"(join { join_code: "FUZZ23" check_in { display_name: "Mia" } })";
  {  // A kickback trio with reports, alerts, a suggestion and a restart.
    Seed seed;
    seed.Byte(1);  // kickback-trio
    Participant(seed, 0, dana);
    Participant(seed, 1, mia);
    Instructor(seed, R"(command { command_id: "c1" start {} })");
    Wait(seed, 0x80 | 4);
    Participant(seed, 0,
                R"(completion { report_id: "r1" block_index: 0 set: 1
                   side: SIDE_LEFT reps: 9 })");
    Participant(seed, 0,
                R"(effort { report_id: "r2" block_index: 0
                   feel: EFFORT_FEEL_TOO_HARD })");
    Participant(seed, 0,
                R"(effort { report_id: "r3" block_index: 0 cr10: 9
                   feel: EFFORT_FEEL_TOO_HARD })");
    Participant(seed, 1,
                R"(symptom { report_id: "r1" symptom: SYMPTOM_HIP_PINCH
                   block_index: 0 })");
    Instructor(seed, R"(command { command_id: "c2" cue { text: "Squeeze" } })");
    Instructor(seed,
               R"(command { command_id: "c3" decide_suggestion {
                  suggestion_id: "s1" decision: SUGGESTION_DECISION_ACCEPTED
                  } })");
    seed.Byte(3).Byte(1);  // p1 drops
    Wait(seed, 0x80 | 12);
    seed.Byte(4).Byte(0);      // restart
    seed.Byte(3).Byte(8 | 1);  // p1 reconnects
    Instructor(seed, R"(command { command_id: "c4" resume {} })");
    Instructor(seed, R"(command { command_id: "c5" next {} })");
    seed.Byte(6).Byte(1);  // a resume from seq 3
    Instructor(seed, R"(attach { class_id: "c-fuzz" last_seq: 2 })");
    Instructor(seed, R"(command { command_id: "c6" end {} })");
    seed.Byte(5).Byte(0);  // p0 erases her health data
    seed.Byte(7).Byte(0);
    Write(absl::StrCat(dir, "/class_session_fuzzer/kickback_class"),
          seed.bytes());
  }
  {  // Glute foundations: every instructor command, corrections, leaving.
    Seed seed;
    seed.Byte(0);  // glute-foundations
    Participant(seed, 2, mia);
    Participant(seed, 3,
                R"(join { check_in { display_name: "Ana"
                   track: RECOVERY_TRACK_VAGINAL weeks_postpartum: 6 } })");
    Instructor(seed, R"(command { command_id: "a" start {} })");
    Instructor(seed, R"(command { command_id: "b" pause {} })");
    Instructor(seed, R"(command { command_id: "c" adjust_time {
                        delta_ms: 30000 } })");
    Instructor(seed, R"(command { command_id: "d" resume {} })");
    Instructor(seed, R"(command { command_id: "e" next {} })");
    Instructor(seed, R"(command { command_id: "f" previous {} })");
    Instructor(seed, R"(command { command_id: "g" cue {
                        canned_cue_index: 0 } })");
    Participant(seed, 2,
                R"(completion { report_id: "x" block_index: 0 set: 1
                   side: SIDE_BOTH reps: 8 load { band: "light" } })");
    Participant(seed, 2,
                R"(completion { report_id: "y" block_index: 0 set: 1
                   side: SIDE_BOTH reps: 10 })");
    Participant(seed, 2,
                R"(completion { report_id: "x" block_index: 0 set: 1
                   side: SIDE_BOTH reps: 8 })");
    Participant(seed, 3,
                R"(symptom { report_id: "s" symptom: SYMPTOM_OTHER
                   other_text: "sore wrist" })");
    Participant(seed, 3, R"(leave {})");
    Wait(seed, 0x80 | 100);
    seed.Byte(7).Byte(0);
    Write(absl::StrCat(dir, "/class_session_fuzzer/foundations_class"),
          seed.bytes());
  }
}

// --- http_api_fuzzer -----------------------------------------------------

enum Method : uint8_t { kGet = 0, kPost = 1, kHead = 2, kPut = 3 };

Seed& Request(Seed& seed, Method method, const std::string& target,
              const std::string& authorization = "",
              const std::string& body = "",
              const std::string& last_event_id = "") {
  return seed.Byte(0)
      .Byte(method)
      .Chunk(target)
      .Chunk(authorization)
      .Chunk(body)
      .Chunk(last_event_id);
}

void HttpSeeds(const std::string& dir) {
  {
    Seed seed;
    Request(seed, kGet, "/healthz");
    Request(seed, kGet, "/v1/clock?client_send_unix_ms=1780000000000");
    Request(seed, kGet, "/v1/classes", "Bearer {kiosk}");
    Request(seed, kGet, "/v1/classes/{class}");
    Request(seed, kGet, "/v1/classes:byJoinCode/{code}");
    Request(seed, kHead, "/metrics");
    Request(seed, kGet, "/static/kiosk.js");
    Request(seed, kPut, "/v1/classes/{class}");
    Request(seed, kGet, "/v1/classes/no-such-class");
    Write(absl::StrCat(dir, "/http_api_fuzzer/reads"), seed.bytes());
  }
  {
    Seed seed;
    Request(seed, kPost, "/v1/classes:join", "",
            R"({"joinCode":"{code}","checkIn":{"displayName":"Dana",)"
            R"("track":"RECOVERY_TRACK_CESAREAN","weeksPostpartum":10,)"
            R"("equipment":"medium band","showNameOnKiosk":true},)"
            R"("clientJoinId":"0123456789abcdef0123"})");
    Request(seed, kPost, "/v1/classes/{class}/participants/{pid}:report",
            "Bearer {token}",
            R"({"completion":{"reportId":"r1","blockIndex":0,"set":1,)"
            R"("side":"SIDE_LEFT","reps":9}})");
    Request(seed, kPost, "/v1/classes/{class}/participants/{pid}:report",
            "Bearer {token}",
            R"({"effort":{"reportId":"r2","blockIndex":0,"cr10":7,)"
            R"("feel":"EFFORT_FEEL_JUST_RIGHT"}})");
    Request(seed, kPost, "/v1/classes/{class}/participants/{pid}:report",
            "Bearer {token}",
            R"({"symptom":{"reportId":"r3","symptom":"SYMPTOM_LEAKING"}})");
    seed.Byte(2).Byte(0);  // the stream's writes complete
    seed.Byte(3).Byte(0);  // its connection goes away
    Request(seed, kGet, "/v1/classes/{class}/participants/{pid}:events",
            "Bearer {token}", "", "2");
    seed.Byte(1).Byte(30);  // 30 s pass
    Request(seed, kPost, "/v1/classes/{class}/participants/{pid}:leave",
            "Bearer {token}");
    Write(absl::StrCat(dir, "/http_api_fuzzer/participant"), seed.bytes());
  }
  {
    Seed seed;
    Request(seed, kPost, "/v1/kioskPairings");
    Request(seed, kGet, "/v1/kioskPairings/{pairing}", "Bearer {secret}");
    Request(seed, kGet, "/v1/classes/{class}:watch?last_seq=0",
            "Bearer {kiosk}");
    Request(seed, kPost, "/v1/classes:join", "",
            R"({"joinCode":"{code}","checkIn":{"displayName":"Mia"}})");
    seed.Byte(1).Byte(200);
    seed.Byte(2).Byte(0);
    Request(seed, kGet, "/v1/classes/{class}:watch", "Bearer {kiosk}", "", "1");
    Write(absl::StrCat(dir, "/http_api_fuzzer/kiosk"), seed.bytes());
  }
}

// --- journal_replay_fuzzer -----------------------------------------------

// A class of `circuit_id` as the registry records it, and inputs of a class
// that ran: joins, reports, commands, ticks.
internal::ClassRecord Record(const CircuitLibrary& library,
                             const std::string& class_id,
                             const std::string& circuit_id) {
  const v1::Circuit* circuit = library.FindCircuit(circuit_id);
  internal::ClassRecord record;
  v1::ClassInfo* info = record.mutable_info();
  info->set_class_id(class_id);
  info->set_join_code(class_id == "c-one" ? "HAV9DZ" : "KQZ789");
  info->set_circuit_id(circuit->id());
  info->set_circuit_name(circuit->name());
  info->set_title("Morning class");
  info->set_created_unix_ms(1'780'000'000'000);
  info->set_phase(v1::CLASS_PHASE_LOBBY);
  *record.mutable_circuit() = *circuit;
  for (const v1::Exercise& e : library.ExercisesFor(*circuit)) {
    *record.add_exercises() = e;
  }
  return record;
}

std::vector<internal::Entry> Entries(bool ended) {
  std::vector<std::string> texts = {
      R"(at_unix_ms: 1780000001000 join { participant_id: "p1"
         check_in { display_name: "Dana" track: RECOVERY_TRACK_CESAREAN
         weeks_postpartum: 10 show_name_on_kiosk: true }
         resume_token_sha256: "0123456789abcdef0123456789abcdef" })",
      R"(at_unix_ms: 1780000002000 join { participant_id: "p2"
         check_in { display_name: "Mia" } })",
      R"(at_unix_ms: 1780000003000 command { command_id: "c1" start {} })",
      R"(at_unix_ms: 1780000010000 report { participant_id: "p1"
         completion { report_id: "r1" block_index: 0 set: 1
         side: SIDE_LEFT reps: 9 } })",
      R"(at_unix_ms: 1780000011000 report { participant_id: "p1"
         effort { report_id: "r2" block_index: 0 cr10: 8
         feel: EFFORT_FEEL_TOO_HARD } })",
      R"(at_unix_ms: 1780000012000 report { participant_id: "p2"
         symptom { report_id: "r1" symptom: SYMPTOM_PELVIC_HEAVINESS
         block_index: 0 } })",
      R"(at_unix_ms: 1780000013000 connection { participant_id: "p2"
         state: CONNECTION_STATE_DROPPED })",
      R"(at_unix_ms: 1780000050000 tick {})",
      R"(at_unix_ms: 1780000051000 token { participant_id: "p1"
         resume_token_sha256: "fedcba9876543210fedcba9876543210" })",
      R"(at_unix_ms: 1780000052000 restart {})",
  };
  if (ended) {
    texts.push_back(
        R"(at_unix_ms: 1780000060000 command { command_id: "c2" end {} })");
  }
  std::vector<internal::Entry> entries;
  for (const std::string& text : texts) {
    internal::Entry entry;
    google::protobuf::TextFormat::ParseFromString(text, &entry);
    entries.push_back(entry);
  }
  return entries;
}

void JournalSeeds(const std::string& dir, const CircuitLibrary& library) {
  // Damaged entries: a class record and its inputs, as the fuzzer reads
  // them.
  {
    Seed seed;
    seed.Byte(0);
    const std::vector<internal::Entry> entries = Entries(false);
    seed.Chunk(Record(library, "c-one", "kickback-trio").SerializeAsString());
    seed.Byte(static_cast<uint8_t>(entries.size()));
    for (const internal::Entry& e : entries) seed.Chunk(e.SerializeAsString());
    seed.Chunk(
        Record(library, "c-two", "glute-foundations").SerializeAsString());
    seed.Byte(3);
    for (int i = 0; i < 3; ++i) seed.Chunk(entries[i].SerializeAsString());
    Write(absl::StrCat(dir, "/journal_replay_fuzzer/entries"), seed.bytes());
  }
  // A real SQLite journal: one class open, one ended with its summary.
  const std::string path = absl::StrCat(dir, "/journal_replay_fuzzer/.tmp.db");
  std::remove(path.c_str());
  SqliteJournalOptions options;
  options.path = path;
  options.keys =
      *KeyRing::Make({DataKey{1, std::string(KeyRing::kKeyBytes, 'k')}});
  {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(options);
    if (!journal.ok()) {
      std::fprintf(stderr, "%s\n", journal.status().ToString().c_str());
      std::exit(1);
    }
    auto check = [](absl::Status s) {
      if (!s.ok()) {
        std::fprintf(stderr, "journal: %s\n", s.ToString().c_str());
        std::exit(1);
      }
    };
    for (const char* id : {"c-one", "c-two"}) {
      const bool ended = std::string(id) == "c-two";
      const internal::ClassRecord record =
          Record(library, id, ended ? "glute-foundations" : "kickback-trio");
      (*journal)->CreateClass(record, check);
      engine::ClassSession session(record.info(), record.circuit(), &library,
                                   {});
      for (internal::Entry& e : Entries(ended)) {
        session.ApplyEntry(e);
        (*journal)->Append(id, std::move(e), check);
      }
      if (ended) {
        absl::Notification done;
        (*journal)->EndClass(
            session.Summary(absl::FromUnixMillis(1'780'000'061'000)),
            [&](absl::Status s) {
              check(s);
              done.Notify();
            });
        done.WaitForNotification();
      }
    }
    (*journal)->Close();
  }
  FILE* in = std::fopen(path.c_str(), "rb");
  std::string file(1, '\1');  // the fuzzer's mode byte: a database file
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, in)) > 0;) {
    file.append(buffer, n);
  }
  std::fclose(in);
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
    std::remove(absl::StrCat(path, suffix).c_str());
  }
  Write(absl::StrCat(dir, "/journal_replay_fuzzer/sqlite_journal"), file);
}

}  // namespace
}  // namespace circuit

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds <corpus dir>\n");
    return 2;
  }
  const std::string dir = argv[1];
  absl::StatusOr<circuit::CircuitLibrary> library =
      circuit::CircuitLibrary::LoadEmbedded();
  if (!library.ok()) return 1;
  circuit::SessionSeeds(dir);
  circuit::HttpSeeds(dir);
  circuit::JournalSeeds(dir, *library);
  return 0;
}
