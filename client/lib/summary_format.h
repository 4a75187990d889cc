#ifndef CIRCUIT_CLIENT_LIB_SUMMARY_FORMAT_H_
#define CIRCUIT_CLIENT_LIB_SUMMARY_FORMAT_H_

// A class's record (ClassSummary) and the studio wall's summary as text for
// a terminal, as CSV tables for spreadsheets and as canonical JSON. Pure
// functions of the message: no I/O, no clock. Safe to call from any thread.
// A library of its own (circuit::summary_format, no gRPC): the CLI and the
// server's HTTP export both link it, so an export is the same bytes either
// way.
//
// Names, cues and free text in a summary come from other people: the text
// forms strip control characters so nothing can move the cursor, and the
// CSV forms defuse spreadsheet formulas.

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace circuit::client {

// `text` safe to print on a terminal: control characters (C0, DEL and C1,
// ESC included) become spaces and invalid UTF-8 becomes '?'. The same rule
// as tui::Sanitize, which this library cannot use (circuit::tui links it).
std::string SanitizeText(absl::string_view text);

// An enum value in words, from its proto name without the type's prefix:
// SYMPTOM_HIP_PINCH is "hip pinch", EFFORT_FEEL_TOO_HARD "too hard". Empty
// for the zero (unspecified) value; the number for a value `type` does not
// know.
std::string EnumWords(const google::protobuf::EnumDescriptor* type, int value);

// How much a one-sided exercise's sides differ: the difference between left
// and right reps in percent of the larger side, rounded, when it is 20% or
// more; nullopt otherwise (including exercises done on both sides at once).
absl::optional<int> AsymmetryPercent(const v1::ExerciseTotals& totals);

struct SummaryTextOptions {
  // Where the class's date and times are shown.
  absl::TimeZone time_zone = absl::UTCTimeZone();
};

// What `circuit class summary` prints for the instructor: the class (title,
// id, phase, date and duration), then each participant (name, connection,
// reps per exercise and side with asymmetry notes, efforts, symptoms,
// suggestions with the coach's decisions, or a note that their health data
// was removed), then the class-wide figures. Lines end in '\n'.
std::string SummaryText(const v1::ClassSummary& summary,
                        const SummaryTextOptions& options = {});

// What `circuit class wall` prints: the class, its totals and the names and
// reps of those who agreed to be shown. Never health data (the message
// carries none).
std::string WallText(const v1::WallSummary& wall);

// The CSV tables of a summary.
enum class CsvTable {
  // One row per participant and reported set (and side):
  // class_id,participant_id,display_name,block_index,exercise_id,
  // exercise_name,set,side,reps,parts
  // where parts, for a combination set logged part by part (the 8-8-8 hip
  // thrust), is "full-range=8;partial-range=6;hold=8" (reps or seconds as
  // each part counts; reps is the first part's) and empty otherwise.
  kSets,
  // One row per participant and exercise:
  // class_id,participant_id,display_name,exercise_id,exercise_name,
  // left_reps,right_reps,both_reps,sets
  kTotals,
  // One row per effort report:
  // class_id,participant_id,display_name,block_index,cr10,feel,reported_at,
  // reported_unix_ms
  kEfforts,
  // One row per symptom report:
  // class_id,participant_id,display_name,block_index,symptom,other_text,
  // reported_at,reported_unix_ms
  kSymptoms,
};

// "sets", "totals", "efforts" or "symptoms"; nullopt for anything else.
absl::optional<CsvTable> ParseCsvTable(absl::string_view name);

// One table of `summary` as RFC 4180 CSV: a header row, then the rows, each
// ended by CRLF. Block indexes are from 0, as in the proto; sides, feelings
// and symptoms are in words ("left", "too hard", "hip pinch"); reported_at
// is RFC 3339 in UTC.
std::string SummaryCsv(const v1::ClassSummary& summary,
                       CsvTable table = CsvTable::kSets);

// One CSV field: control characters other than tab, CR and LF become
// spaces; a value starting with = + - @ tab or CR gets a leading ' so a
// spreadsheet does not run it as a formula; a value with a comma, quote, CR
// or LF is quoted, its quotes doubled.
std::string CsvField(absl::string_view value);

// `summary` as protobuf's canonical JSON, on one line, with the proto's
// field names (as every --json of the CLI).
std::string SummaryJson(const v1::ClassSummary& summary);

// Any message the same way; "{}" if it cannot be converted.
std::string MessageJson(const google::protobuf::Message& message);

// What `circuit class export` writes, and the server's :export answers, byte
// for byte: `json` is SummaryJson and a newline; else SummaryCsv of `table`.
std::string SummaryExport(const v1::ClassSummary& summary, bool json,
                          CsvTable table = CsvTable::kSets);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_SUMMARY_FORMAT_H_
