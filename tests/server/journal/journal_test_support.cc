#include "tests/server/journal/journal_test_support.h"

#include <cstdio>
#include <fstream>

namespace circuit::journal_testing {

std::string ReadBytes(const std::string& path) {
  std::string bytes;
  FILE* file = fopen(path.c_str(), "rb");
  if (file == nullptr) return bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), file)) > 0) bytes.append(buf, n);
  fclose(file);
  return bytes;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

internal::ClassRecord Record(const std::string& class_id) {
  internal::ClassRecord record;
  record.mutable_info()->set_class_id(class_id);
  record.mutable_info()->set_title(absl::StrCat("Class ", class_id));
  record.mutable_info()->set_phase(v1::CLASS_PHASE_LOBBY);
  record.mutable_info()->set_created_unix_ms(1000);
  record.mutable_circuit()->set_id("kickback-trio");
  record.mutable_circuit()->set_name("Kickback trio");
  return record;
}

internal::Entry Join(const std::string& participant_id, int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  entry.mutable_join()->set_participant_id(participant_id);
  entry.mutable_join()->mutable_check_in()->set_display_name(participant_id);
  return entry;
}

internal::Entry Completion(const std::string& participant_id,
                           const std::string& report_id, int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  internal::ReportInput* report = entry.mutable_report();
  report->set_participant_id(participant_id);
  report->mutable_completion()->set_report_id(report_id);
  report->mutable_completion()->set_reps(12);
  return entry;
}

internal::Entry Effort(const std::string& participant_id,
                       const std::string& report_id, int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  internal::ReportInput* report = entry.mutable_report();
  report->set_participant_id(participant_id);
  report->mutable_effort()->set_report_id(report_id);
  report->mutable_effort()->set_cr10(7);
  return entry;
}

internal::Entry Symptom(const std::string& participant_id,
                        const std::string& report_id, const std::string& text,
                        int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  internal::ReportInput* report = entry.mutable_report();
  report->set_participant_id(participant_id);
  report->mutable_symptom()->set_report_id(report_id);
  report->mutable_symptom()->set_symptom(v1::SYMPTOM_OTHER);
  report->mutable_symptom()->set_other_text(text);
  return entry;
}

v1::ClassSummary Summary(const std::string& class_id, bool with_health) {
  v1::ClassSummary summary;
  *summary.mutable_class_info() = Record(class_id).info();
  summary.mutable_class_info()->set_phase(v1::CLASS_PHASE_ENDED);
  summary.mutable_class_info()->set_started_unix_ms(2000);
  summary.mutable_class_info()->set_ended_unix_ms(9000);
  summary.set_total_reps(12);
  summary.set_generated_unix_ms(9001);
  v1::ParticipantSummary* ann = summary.add_participants();
  ann->set_participant_id("ann");
  ann->set_total_reps(12);
  if (with_health) {
    ann->add_efforts()->set_cr10(7);
    v1::SymptomRecord* symptom = ann->add_symptoms();
    symptom->set_symptom(v1::SYMPTOM_OTHER);
    symptom->set_other_text(kSymptomText);
  } else {
    ann->set_health_data_removed(true);
  }
  return summary;
}

std::shared_ptr<const KeyRing> TestKeys(std::vector<uint32_t> ids) {
  std::vector<DataKey> keys;
  for (uint32_t id : ids) {
    keys.push_back(DataKey{
        id, std::string(KeyRing::kKeyBytes, static_cast<char>('a' + id))});
  }
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring =
      KeyRing::Make(std::move(keys));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *ring : nullptr;
}

absl::Status Create(Journal& journal, const std::string& class_id) {
  Answer<absl::Status> answer;
  journal.CreateClass(Record(class_id), answer.Callback());
  return answer.Get();
}

absl::Status AppendNow(Journal& journal, const std::string& class_id,
                       internal::Entry entry) {
  Answer<absl::Status> answer;
  journal.Append(class_id, std::move(entry), answer.Callback());
  return answer.Get();
}

absl::Status End(Journal& journal, const v1::ClassSummary& summary) {
  Answer<absl::Status> answer;
  journal.EndClass(summary, answer.Callback());
  return answer.Get();
}

absl::Status Erase(Journal& journal, const v1::ClassSummary& scrubbed,
                   const std::string& participant_id) {
  Answer<absl::Status> answer;
  journal.EraseHealthData(scrubbed, participant_id, answer.Callback());
  return answer.Get();
}

absl::StatusOr<v1::ClassSummary> Read(Journal& journal,
                                      const std::string& class_id) {
  Answer<absl::StatusOr<v1::ClassSummary>> answer;
  journal.ReadSummary(class_id, answer.Callback());
  return answer.Get();
}

std::vector<int64_t> Times(
    const absl::StatusOr<std::vector<internal::Entry>>& entries) {
  std::vector<int64_t> times;
  if (!entries.ok()) return times;
  for (const internal::Entry& entry : *entries) {
    times.push_back(entry.at_unix_ms());
  }
  return times;
}

std::vector<std::string> ClassIds(
    const absl::StatusOr<std::vector<StoredClass>>& classes) {
  std::vector<std::string> ids;
  if (!classes.ok()) return ids;
  for (const StoredClass& stored : *classes) {
    ids.push_back(stored.record.info().class_id());
  }
  return ids;
}

void RecordAClassWithHealthData(Journal& journal) {
  ASSERT_EQ(Create(journal, "c"), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Join("ann", 1)), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Join("bob", 2)), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Completion("ann", kRepsId, 3)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Effort("ann", kEffortId, 4)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Symptom("ann", "s1", kSymptomText, 5)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Effort("bob", "e2", 6)), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Symptom("bob", "s2", "cramp", 7)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Completion("bob", "r2", 8)),
            absl::OkStatus());
  ASSERT_EQ(End(journal, Summary("c", /*with_health=*/true)), absl::OkStatus());
}

bool Contains(const std::string& bytes, const std::string& marker) {
  return bytes.find(marker) != std::string::npos;
}

int Exec(const SqliteDb& db, const char* sql) {
  return sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
}

std::vector<int64_t> Range(int64_t first, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t i = first; i < end; ++i) out.push_back(i);
  return out;
}
}  // namespace circuit::journal_testing
