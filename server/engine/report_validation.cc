#include "server/engine/report_validation.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/adaptation.h"

namespace circuit::engine {

const std::string& ReportId(const internal::ReportInput& report) {
  static const std::string* const kNone = new std::string();
  switch (report.kind_case()) {
    case internal::ReportInput::kCompletion:
      return report.completion().report_id();
    case internal::ReportInput::kEffort:
      return report.effort().report_id();
    case internal::ReportInput::kSymptom:
      return report.symptom().report_id();
    case internal::ReportInput::KIND_NOT_SET:
      break;
  }
  return *kNone;
}

int32_t ReportBlock(const internal::ReportInput& report) {
  switch (report.kind_case()) {
    case internal::ReportInput::kCompletion:
      return report.completion().block_index();
    case internal::ReportInput::kEffort:
      return report.effort().block_index();
    case internal::ReportInput::kSymptom:
      return report.symptom().block_index();
    case internal::ReportInput::KIND_NOT_SET:
      break;
  }
  return -1;
}

std::string RecordedOtherText(const v1::SymptomReport& report) {
  return std::string(absl::StripAsciiWhitespace(report.other_text()));
}

absl::Status CheckIsReport(const internal::ReportInput& report) {
  if (report.kind_case() == internal::ReportInput::KIND_NOT_SET) {
    return absl::InvalidArgumentError(
        "not a report: it has no completion, effort or symptom");
  }
  return absl::OkStatus();
}

absl::Status CheckReportId(const std::string& report_id) {
  return CheckText("report_id", report_id, 1, 64);
}

absl::Status CheckBlockIndex(const v1::Circuit& circuit, int32_t block_index) {
  if (block_index < 0 || block_index >= circuit.blocks_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block ", block_index, " does not exist; the circuit has ",
                     circuit.blocks_size(), " blocks"));
  }
  return absl::OkStatus();
}

// The parts of a combination set (the 8-8-8 hip thrust): every part of the
// exercise once, in any order, or none; `reps` is the first part's, so what
// every other reader of reps (totals, progress, adaptation) sees stays true.
absl::Status CheckParts(const v1::Exercise* exercise, const v1::Block& block,
                        const v1::CompletionReport& report) {
  if (report.parts_size() == 0) return absl::OkStatus();
  if (exercise == nullptr || exercise->parts_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parts given for block ", report.block_index(), " (", block.id(),
        "), whose exercise is logged as one number: "
        "report reps only"));
  }
  if (report.parts_size() > exercise->parts_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(report.parts_size(), " parts given; \"", exercise->id(),
                     "\" has ", exercise->parts_size()));
  }
  std::vector<bool> seen(static_cast<size_t>(exercise->parts_size()), false);
  for (const v1::PartDone& done : report.parts()) {
    int index = -1;
    for (int i = 0; i < exercise->parts_size(); ++i) {
      if (exercise->parts(i).id() == done.part_id()) index = i;
    }
    if (index < 0) {
      std::vector<std::string> names;
      for (const v1::ExercisePart& part : exercise->parts()) {
        names.push_back(absl::StrCat("\"", part.id(), "\""));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "part \"", absl::CHexEscape(done.part_id().substr(0, 64)),
          "\" does not exist; \"", exercise->id(), "\" has parts ",
          absl::StrJoin(names, ", ")));
    }
    if (seen[static_cast<size_t>(index)]) {
      return absl::InvalidArgumentError(
          absl::StrCat("part \"", done.part_id(), "\" is given twice"));
    }
    seen[static_cast<size_t>(index)] = true;
    const v1::ExercisePart& part = exercise->parts(index);
    const int32_t most = part.unit() == v1::PART_UNIT_SECONDS ? 600 : 100;
    if (done.amount() < 0 || done.amount() > most) {
      return absl::InvalidArgumentError(absl::StrCat(
          "part \"", part.id(), "\" must be 0 to ", most,
          part.unit() == v1::PART_UNIT_SECONDS ? " seconds" : " reps", ", got ",
          done.amount()));
    }
    if (index == 0 && done.amount() != report.reps()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reps ", report.reps(), " must equal the first part (\"", part.id(),
          "\": ", done.amount(), "): reps counts the first part"));
    }
  }
  for (int i = 0; i < exercise->parts_size(); ++i) {
    if (!seen[static_cast<size_t>(i)]) {
      return absl::InvalidArgumentError(
          absl::StrCat("part \"", exercise->parts(i).id(),
                       "\" is missing: give every part or none"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCompletionValues(const ReportContext& context,
                                   const v1::CompletionReport& report) {
  const v1::Block& block = context.circuit->blocks(report.block_index());
  if (report.set() < 1 || report.set() > block.sets()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "set ", report.set(), " does not exist; block ", report.block_index(),
        " (", block.id(), ") has ", block.sets(), " sets"));
  }
  const v1::Exercise* exercise =
      context.library->FindExercise(block.exercise_id());
  const bool per_side = exercise != nullptr && exercise->per_side();
  const bool side_ok = per_side ? (report.side() == v1::SIDE_LEFT ||
                                   report.side() == v1::SIDE_RIGHT)
                                : report.side() == v1::SIDE_BOTH;
  if (!side_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "side ",
        v1::Side_IsValid(report.side()) ? v1::Side_Name(report.side())
                                        : absl::StrCat(report.side()),
        " does not exist for block ", report.block_index(), " (", block.id(),
        "): ",
        per_side ? "it is done on each side, so report SIDE_LEFT or SIDE_RIGHT"
                 : "it is not one-sided, so report SIDE_BOTH"));
  }
  if (report.reps() < 0 || report.reps() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("reps must be 0 to 100, got ", report.reps()));
  }
  if (absl::Status parts_ok = CheckParts(exercise, block, report);
      !parts_ok.ok()) {
    return parts_ok;
  }
  if (report.has_load()) {
    if (absl::Status band_ok =
            CheckText("load band", report.load().band(), 0, 32);
        !band_ok.ok()) {
      return band_ok;
    }
    const double kg = report.load().kilograms();
    if (!(kg >= 0 && kg <= 500)) {  // also refuses NaN
      return absl::InvalidArgumentError(
          absl::StrCat("load kilograms must be 0 to 500, got ", kg));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEffortValues(const v1::EffortReport& report) {
  if (report.has_cr10() && (report.cr10() < 0 || report.cr10() > 10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cr10 must be 0 to 10, got ", report.cr10()));
  }
  if (!v1::EffortFeel_IsValid(report.feel())) {
    return absl::InvalidArgumentError(
        absl::StrCat("feel ", report.feel(), " is not a known value"));
  }
  if (!report.has_cr10() && report.feel() == v1::EFFORT_FEEL_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "an effort report needs cr10, feel or both");
  }
  return absl::OkStatus();
}

absl::Status CheckSymptomValues(const v1::SymptomReport& report) {
  if (!v1::Symptom_IsValid(report.symptom()) ||
      report.symptom() == v1::SYMPTOM_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("symptom ", report.symptom(), " is not a known symptom"));
  }
  const std::string other_text = RecordedOtherText(report);
  if (absl::Status other_ok = CheckText("other_text", other_text, 0, 140);
      !other_ok.ok()) {
    return other_ok;
  }
  if (report.symptom() == v1::SYMPTOM_OTHER && other_text.empty()) {
    return absl::InvalidArgumentError(
        "SYMPTOM_OTHER needs other_text saying what it is");
  }
  return absl::OkStatus();
}

absl::Status CheckBlockReached(const ReportContext& context,
                               int32_t block_index) {
  if (context.phase == v1::CLASS_PHASE_LOBBY) {
    return absl::FailedPreconditionError(
        absl::StrCat("block ", block_index,
                     " has not been reached; the class has not started"));
  }
  if (context.phase != v1::CLASS_PHASE_ENDED && context.current_block >= 0 &&
      block_index > context.current_block) {
    return absl::FailedPreconditionError(absl::StrCat(
        "block ", block_index, " has not been reached; the class is on block ",
        context.current_block));
  }
  return absl::OkStatus();
}

absl::Status CheckEffortPhase(const ReportContext& context) {
  if (context.phase == v1::CLASS_PHASE_LOBBY) {
    return absl::FailedPreconditionError(
        "effort can be reported once the class has started");
  }
  return absl::OkStatus();
}

absl::Status CheckCanReport(const ReportContext& context,
                            const ReporterState& reporter) {
  if (context.phase == v1::CLASS_PHASE_ENDED) {
    return absl::FailedPreconditionError("the class has ended");
  }
  if (reporter.left) {
    return absl::FailedPreconditionError(absl::StrCat(
        "participant ", reporter.participant_id, " has left the class"));
  }
  if (reporter.reports_made >=
      static_cast<size_t>(std::max(context.max_reports_per_participant, 0))) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "participant ", reporter.participant_id, " has made ",
        reporter.reports_made, " reports, the most one class allows"));
  }
  return absl::OkStatus();
}

absl::Status ValidateNewReport(const ReportContext& context,
                               const ReporterState& reporter,
                               const internal::ReportInput& report) {
  if (absl::Status s = CheckIsReport(report); !s.ok()) return s;
  if (absl::Status s = CheckBlockIndex(*context.circuit, ReportBlock(report));
      !s.ok()) {
    return s;
  }
  absl::Status s;
  switch (report.kind_case()) {
    case internal::ReportInput::kCompletion:
      s = CheckCompletionValues(context, report.completion());
      if (s.ok()) s = CheckBlockReached(context, ReportBlock(report));
      break;
    case internal::ReportInput::kEffort:
      s = CheckEffortValues(report.effort());
      if (s.ok()) s = CheckEffortPhase(context);
      break;
    case internal::ReportInput::kSymptom:
      s = CheckSymptomValues(report.symptom());
      break;
    case internal::ReportInput::KIND_NOT_SET:
      break;
  }
  if (!s.ok()) return s;
  return CheckCanReport(context, reporter);
}

}  // namespace circuit::engine
