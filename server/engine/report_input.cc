#include "server/engine/report_input.h"

#include <utility>

namespace circuit::engine {

bool TakeReport(v1::JoinClassRequest* request,
                const std::string& participant_id,
                internal::ReportInput* report) {
  switch (request->kind_case()) {
    case v1::JoinClassRequest::kCompletion:
      *report->mutable_completion() = std::move(*request->mutable_completion());
      break;
    case v1::JoinClassRequest::kEffort:
      *report->mutable_effort() = std::move(*request->mutable_effort());
      break;
    case v1::JoinClassRequest::kSymptom:
      *report->mutable_symptom() = std::move(*request->mutable_symptom());
      break;
    default:
      return false;
  }
  report->set_participant_id(participant_id);
  return true;
}

}  // namespace circuit::engine
