#include "client/lib/summary_format.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/util/json_util.h"

namespace circuit::client {
namespace {

// Decodes the UTF-8 sequence at `text[pos]` into `*code`; returns its length,
// or 0 when the bytes there are not valid UTF-8.
int DecodeUtf8(absl::string_view text, size_t pos, int32_t* code) {
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  int length = 0;
  int32_t value = 0;
  if (lead < 0x80) {
    *code = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    value = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    value = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    value = lead & 0x07;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (int i = 1; i < length; ++i) {
    const unsigned char next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xC0) != 0x80) return 0;
    value = (value << 6) | (next & 0x3F);
  }
  static constexpr int32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kMinimum[length] || value > 0x10FFFF ||
      (value >= 0xD800 && value <= 0xDFFF)) {
    return 0;
  }
  *code = value;
  return length;
}

// The one control-character rule of this file: C0, DEL and C1 become
// spaces, except tab, CR and LF when `keep_line_breaks` (CSV quotes those);
// invalid UTF-8 becomes '?'.
std::string ReplaceControls(absl::string_view text, bool keep_line_breaks) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t code = 0;
    const int length = DecodeUtf8(text, pos, &code);
    if (length == 0) {
      out.push_back('?');
      ++pos;
      continue;
    }
    const bool control =
        code < 0x20 || code == 0x7F || (code >= 0x80 && code < 0xA0);
    const bool line_break = code == '\t' || code == '\r' || code == '\n';
    if (control && !(keep_line_breaks && line_break)) {
      out.push_back(' ');
    } else {
      out.append(text.data() + pos, length);
    }
    pos += length;
  }
  return out;
}

// Columns of sanitized `text`: its code points.
int Width(absl::string_view text) {
  return static_cast<int>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string PadTo(const std::string& text, int width) {
  return text + std::string(std::max(0, width - Width(text)), ' ');
}

template <typename Enum>
std::string Words(Enum value) {
  return EnumWords(google::protobuf::GetEnumDescriptor<Enum>(),
                   static_cast<int>(value));
}

std::string Plural(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

std::string Clock(int64_t unix_ms, absl::TimeZone zone, const char* format) {
  return absl::FormatTime(format, absl::FromUnixMillis(unix_ms), zone);
}

// "42 min", "1 h 05 min", "40 s".
std::string DurationText(int64_t ms) {
  const int64_t seconds = std::max<int64_t>(0, ms) / 1000;
  if (seconds < 60) return absl::StrCat(seconds, " s");
  const int64_t minutes = (seconds + 30) / 60;
  if (minutes < 60) return absl::StrCat(minutes, " min");
  return absl::StrFormat("%d h %02d min", minutes / 60, minutes % 60);
}

// "2026-05-07 10:00–10:42 UTC (42 min)", or for a live class
// "2026-05-07 started 10:00 UTC, 12 min so far".
std::string WhenText(const v1::ClassSummary& summary, absl::TimeZone zone) {
  const v1::ClassInfo& info = summary.class_info();
  if (info.started_unix_ms() <= 0) {
    if (info.created_unix_ms() <= 0) return "not started";
    return absl::StrCat(
        "created ", Clock(info.created_unix_ms(), zone, "%Y-%m-%d %H:%M %Z"),
        ", not started");
  }
  const int64_t start = info.started_unix_ms();
  const std::string day = Clock(start, zone, "%Y-%m-%d");
  if (info.ended_unix_ms() <= 0) {
    std::string text =
        absl::StrCat(day, " started ", Clock(start, zone, "%H:%M %Z"));
    if (summary.generated_unix_ms() > start) {
      absl::StrAppend(&text, ", ",
                      DurationText(summary.generated_unix_ms() - start),
                      " so far");
    }
    return text;
  }
  const int64_t end = info.ended_unix_ms();
  const bool same_day = Clock(end, zone, "%Y-%m-%d") == day;
  return absl::StrCat(
      day, " ", Clock(start, zone, "%H:%M"), "–",
      Clock(end, zone, same_day ? "%H:%M %Z" : "%Y-%m-%d %H:%M %Z"), " (",
      DurationText(end - start), ")");
}

// "left 40 · right 30", "both 60", "0 reps".
std::string RepsBySide(const v1::ExerciseTotals& totals) {
  std::vector<std::string> parts;
  if (totals.left_reps() != 0 || totals.right_reps() != 0) {
    parts.push_back(absl::StrCat("left ", totals.left_reps()));
    parts.push_back(absl::StrCat("right ", totals.right_reps()));
  }
  if (totals.both_reps() != 0) {
    parts.push_back(absl::StrCat("both ", totals.both_reps()));
  }
  if (parts.empty()) return "0 reps";
  return absl::StrJoin(parts, " · ");
}

// "  asymmetry: right 25% below left", or empty.
std::string AsymmetryNote(const v1::ExerciseTotals& totals) {
  const absl::optional<int> percent = AsymmetryPercent(totals);
  if (!percent.has_value()) return "";
  const bool left_more = totals.left_reps() > totals.right_reps();
  return absl::StrCat("  asymmetry: ", left_more ? "right " : "left ", *percent,
                      "% below ", left_more ? "left" : "right");
}

void AppendExerciseLines(const std::vector<v1::ExerciseTotals>& exercises,
                         bool with_asymmetry, std::string* out) {
  int width = 0;
  for (const v1::ExerciseTotals& e : exercises) {
    width = std::max(width, Width(SanitizeText(e.exercise_name())));
  }
  for (const v1::ExerciseTotals& e : exercises) {
    absl::StrAppend(out, "  ", PadTo(SanitizeText(e.exercise_name()), width),
                    "  ", RepsBySide(e), " (", Plural(e.sets(), "set", "sets"),
                    ")", with_asymmetry ? AsymmetryNote(e) : "", "\n");
  }
}

// The readable name of `exercise_id` among what `p` did; the id otherwise.
std::string ExerciseName(const v1::ParticipantSummary& p,
                         const std::string& exercise_id) {
  for (const v1::ExerciseTotals& e : p.exercises()) {
    if (e.exercise_id() == exercise_id) return e.exercise_name();
  }
  for (const v1::SetRecord& s : p.sets()) {
    if (s.exercise_id() == exercise_id) return s.exercise_name();
  }
  return exercise_id;
}

// The parts of a combination set as one CSV field, in the exercise's order:
// "full-range=8;partial-range=6;hold=8" (reps or seconds, as each part
// counts); empty for a set logged as one number.
std::string PartsField(const v1::SetRecord& set) {
  std::vector<std::string> parts;
  for (const v1::PartDone& done : set.parts()) {
    parts.push_back(absl::StrCat(done.part_id(), "=", done.amount()));
  }
  return absl::StrJoin(parts, ";");
}

std::string EffortLine(const v1::EffortRecord& effort) {
  std::vector<std::string> parts;
  if (effort.has_cr10()) parts.push_back(absl::StrCat("CR-10 ", effort.cr10()));
  if (effort.feel() != v1::EFFORT_FEEL_UNSPECIFIED) {
    parts.push_back(Words(effort.feel()));
  }
  return absl::StrCat("  effort      block ", effort.block_index() + 1, ": ",
                      absl::StrJoin(parts, " · "), "\n");
}

std::string SymptomLine(const v1::SymptomRecord& symptom) {
  std::string what = Words(symptom.symptom());
  if (what.empty()) what = "symptom";
  if (!symptom.other_text().empty()) {
    absl::StrAppend(&what, ": \"", SanitizeText(symptom.other_text()), "\"");
  }
  return absl::StrCat("  symptom     block ", symptom.block_index() + 1, ": ",
                      what, "\n");
}

std::string SuggestionLine(const v1::ParticipantSummary& p,
                           const v1::Suggestion& suggestion) {
  std::string kind = Words(suggestion.kind());
  std::string line = absl::StrCat(
      "  suggestion  ", kind.empty() ? "suggestion" : kind, " for ",
      SanitizeText(ExerciseName(p, suggestion.exercise_id())));
  if (!suggestion.suggested_exercise_name().empty()) {
    absl::StrAppend(&line, ": ",
                    SanitizeText(suggestion.suggested_exercise_name()));
  }
  if (!suggestion.reason().empty()) {
    absl::StrAppend(&line, " — ", SanitizeText(suggestion.reason()));
  }
  const std::string decision = Words(suggestion.decision());
  absl::StrAppend(
      &line, " (coach: ", decision.empty() ? "not decided" : decision, ")\n");
  return line;
}

std::string ConnectionText(v1::ConnectionState state) {
  if (state == v1::CONNECTION_STATE_LEFT) return "left the class";
  const std::string words = Words(state);
  return words.empty() ? "connection unknown" : words;
}

void AppendParticipant(const v1::ParticipantSummary& p, std::string* out) {
  absl::StrAppend(out, SanitizeText(p.check_in().display_name()), " (",
                  SanitizeText(p.participant_id()), ") · ",
                  ConnectionText(p.connection()), " · ",
                  Plural(p.total_reps(), "rep", "reps"), "\n");
  if (p.exercises().empty()) {
    absl::StrAppend(out, "  no sets reported\n");
  } else {
    AppendExerciseLines({p.exercises().begin(), p.exercises().end()},
                        /*with_asymmetry=*/true, out);
  }
  for (const v1::EffortRecord& effort : p.efforts()) {
    absl::StrAppend(out, EffortLine(effort));
  }
  for (const v1::SymptomRecord& symptom : p.symptoms()) {
    absl::StrAppend(out, SymptomLine(symptom));
  }
  for (const v1::Suggestion& suggestion : p.suggestions()) {
    absl::StrAppend(out, SuggestionLine(p, suggestion));
  }
  if (p.health_data_removed()) {
    absl::StrAppend(out,
                    "  health data removed (efforts, symptoms and what was "
                    "drawn from them)\n");
  }
}

// Every participant's exercise totals added up, in the order first seen.
std::vector<v1::ExerciseTotals> ClassExercises(
    const v1::ClassSummary& summary) {
  std::vector<v1::ExerciseTotals> all;
  for (const v1::ParticipantSummary& p : summary.participants()) {
    for (const v1::ExerciseTotals& e : p.exercises()) {
      auto it = std::find_if(all.begin(), all.end(),
                             [&](const v1::ExerciseTotals& t) {
                               return t.exercise_id() == e.exercise_id();
                             });
      if (it == all.end()) {
        all.push_back(e);
        continue;
      }
      it->set_left_reps(it->left_reps() + e.left_reps());
      it->set_right_reps(it->right_reps() + e.right_reps());
      it->set_both_reps(it->both_reps() + e.both_reps());
      it->set_sets(it->sets() + e.sets());
    }
  }
  return all;
}

void AppendClassWide(const v1::ClassSummary& summary, std::string* out) {
  absl::StrAppend(
      out, "Class-wide: ",
      Plural(summary.participants_size(), "participant", "participants"), " · ",
      Plural(summary.total_reps(), "rep", "reps"), "\n");
  AppendExerciseLines(ClassExercises(summary), /*with_asymmetry=*/false, out);
  const v1::ClassAggregates& a = summary.aggregates();
  std::vector<std::string> effort;
  if (a.has_median_cr10()) {
    effort.push_back(absl::StrFormat("median CR-10 %g", a.median_cr10()));
  }
  if (a.too_easy_count() + a.just_right_count() + a.too_hard_count() > 0) {
    effort.push_back(absl::StrCat("latest feel: ", a.too_easy_count(),
                                  " too easy, ", a.just_right_count(),
                                  " just right, ", a.too_hard_count(),
                                  " too hard"));
  }
  if (!effort.empty()) {
    absl::StrAppend(out, "  ", absl::StrJoin(effort, " · "), "\n");
  }
  const bool ended = summary.class_info().phase() == v1::CLASS_PHASE_ENDED;
  absl::StrAppend(out,
                  ended ? "  at the end: " : "  now: ", a.connected_count(),
                  " connected, ", a.dropped_count(), " dropped\n");
}

std::string ClassLine(const std::string& title, const std::string& class_id,
                      v1::ClassPhase phase) {
  const std::string words = Words(phase);
  return absl::StrCat(
      SanitizeText(title), " (class ", SanitizeText(class_id), ") · ",
      words.empty() ? "UNKNOWN" : absl::AsciiStrToUpper(words), "\n");
}

void AppendRow(std::initializer_list<absl::string_view> fields,
               std::string* out) {
  const char* separator = "";
  for (absl::string_view field : fields) {
    absl::StrAppend(out, separator, CsvField(field));
    separator = ",";
  }
  absl::StrAppend(out, "\r\n");
}

std::string Rfc3339(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

}  // namespace

std::string SanitizeText(absl::string_view text) {
  return ReplaceControls(text, /*keep_line_breaks=*/false);
}

std::string EnumWords(const google::protobuf::EnumDescriptor* type, int value) {
  if (value == 0) return "";
  const google::protobuf::EnumValueDescriptor* named =
      type->FindValueByNumber(value);
  if (named == nullptr) return absl::StrCat(value);
  absl::string_view name = named->name();
  // The type's prefix is the zero value's name without UNSPECIFIED.
  if (const google::protobuf::EnumValueDescriptor* zero =
          type->FindValueByNumber(0)) {
    absl::string_view prefix = zero->name();
    if (absl::ConsumeSuffix(&prefix, "UNSPECIFIED")) {
      absl::ConsumePrefix(&name, prefix);
    }
  }
  std::string words = absl::AsciiStrToLower(name);
  std::replace(words.begin(), words.end(), '_', ' ');
  return words;
}

absl::optional<int> AsymmetryPercent(const v1::ExerciseTotals& totals) {
  const int64_t larger = std::max(totals.left_reps(), totals.right_reps());
  const int64_t smaller = std::min(totals.left_reps(), totals.right_reps());
  if (larger <= 0) return absl::nullopt;
  // 20% or more of the larger side, in integers so 20% exactly counts.
  if ((larger - smaller) * 5 < larger) return absl::nullopt;
  return static_cast<int>(((larger - smaller) * 100 + larger / 2) / larger);
}

std::string SummaryText(const v1::ClassSummary& summary,
                        const SummaryTextOptions& options) {
  const v1::ClassInfo& info = summary.class_info();
  std::string out = ClassLine(info.title(), info.class_id(), info.phase());
  absl::StrAppend(&out, SanitizeText(info.circuit_name()), " · join code ",
                  SanitizeText(info.join_code()), "\n");
  absl::StrAppend(&out, WhenText(summary, options.time_zone), "\n");
  if (summary.participants().empty()) {
    absl::StrAppend(&out, "\nNo one checked in.\n");
  }
  for (const v1::ParticipantSummary& p : summary.participants()) {
    absl::StrAppend(&out, "\n");
    AppendParticipant(p, &out);
  }
  absl::StrAppend(&out, "\n");
  AppendClassWide(summary, &out);
  return out;
}

std::string WallText(const v1::WallSummary& wall) {
  std::string out = ClassLine(wall.title(), wall.class_id(), wall.phase());
  absl::StrAppend(
      &out, Plural(wall.participant_count(), "participant", "participants"),
      " · ", Plural(wall.total_reps(), "rep", "reps"), "\n");
  int width = 0;
  for (const v1::WallEntry& entry : wall.wall()) {
    width = std::max(width, Width(SanitizeText(entry.display_name())));
  }
  for (const v1::WallEntry& entry : wall.wall()) {
    absl::StrAppend(&out, "  ",
                    PadTo(SanitizeText(entry.display_name()), width), "  ",
                    entry.total_reps(), "\n");
  }
  const int unnamed = wall.participant_count() - wall.wall_size();
  if (unnamed > 0) {
    absl::StrAppend(&out, "  and ", unnamed, " not shown by name\n");
  }
  return out;
}

absl::optional<CsvTable> ParseCsvTable(absl::string_view name) {
  if (name == "sets") return CsvTable::kSets;
  if (name == "totals") return CsvTable::kTotals;
  if (name == "efforts") return CsvTable::kEfforts;
  if (name == "symptoms") return CsvTable::kSymptoms;
  return absl::nullopt;
}

std::string CsvField(absl::string_view value) {
  std::string field = ReplaceControls(value, /*keep_line_breaks=*/true);
  if (!field.empty() && std::strchr("=+-@\t\r", field[0]) != nullptr) {
    field.insert(0, "'");
  }
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string SummaryCsv(const v1::ClassSummary& summary, CsvTable table) {
  std::string out;
  const std::string& class_id = summary.class_info().class_id();
  switch (table) {
    case CsvTable::kSets:
      AppendRow(
          {"class_id", "participant_id", "display_name", "block_index",
           "exercise_id", "exercise_name", "set", "side", "reps", "parts"},
          &out);
      break;
    case CsvTable::kTotals:
      AppendRow(
          {"class_id", "participant_id", "display_name", "exercise_id",
           "exercise_name", "left_reps", "right_reps", "both_reps", "sets"},
          &out);
      break;
    case CsvTable::kEfforts:
      AppendRow({"class_id", "participant_id", "display_name", "block_index",
                 "cr10", "feel", "reported_at", "reported_unix_ms"},
                &out);
      break;
    case CsvTable::kSymptoms:
      AppendRow({"class_id", "participant_id", "display_name", "block_index",
                 "symptom", "other_text", "reported_at", "reported_unix_ms"},
                &out);
      break;
  }
  for (const v1::ParticipantSummary& p : summary.participants()) {
    const std::string& id = p.participant_id();
    const std::string& name = p.check_in().display_name();
    switch (table) {
      case CsvTable::kSets:
        for (const v1::SetRecord& s : p.sets()) {
          AppendRow({class_id, id, name, absl::StrCat(s.block_index()),
                     s.exercise_id(), s.exercise_name(), absl::StrCat(s.set()),
                     Words(s.side()), absl::StrCat(s.reps()), PartsField(s)},
                    &out);
        }
        break;
      case CsvTable::kTotals:
        for (const v1::ExerciseTotals& e : p.exercises()) {
          AppendRow({class_id, id, name, e.exercise_id(), e.exercise_name(),
                     absl::StrCat(e.left_reps()), absl::StrCat(e.right_reps()),
                     absl::StrCat(e.both_reps()), absl::StrCat(e.sets())},
                    &out);
        }
        break;
      case CsvTable::kEfforts:
        for (const v1::EffortRecord& e : p.efforts()) {
          AppendRow({class_id, id, name, absl::StrCat(e.block_index()),
                     e.has_cr10() ? absl::StrCat(e.cr10()) : "",
                     Words(e.feel()), Rfc3339(e.reported_unix_ms()),
                     absl::StrCat(e.reported_unix_ms())},
                    &out);
        }
        break;
      case CsvTable::kSymptoms:
        for (const v1::SymptomRecord& s : p.symptoms()) {
          AppendRow({class_id, id, name, absl::StrCat(s.block_index()),
                     Words(s.symptom()), s.other_text(),
                     Rfc3339(s.reported_unix_ms()),
                     absl::StrCat(s.reported_unix_ms())},
                    &out);
        }
        break;
    }
  }
  return out;
}

std::string SummaryJson(const v1::ClassSummary& summary) {
  return MessageJson(summary);
}

std::string MessageJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "{}";
  }
  return json;
}

std::string SummaryExport(const v1::ClassSummary& summary, bool json,
                          CsvTable table) {
  return json ? absl::StrCat(SummaryJson(summary), "\n")
              : SummaryCsv(summary, table);
}

}  // namespace circuit::client
