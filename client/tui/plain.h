#ifndef CIRCUIT_CLIENT_TUI_PLAIN_H_
#define CIRCUIT_CLIENT_TUI_PLAIN_H_

// The non-interactive modes: plain lines (no escape codes) and JSON lines,
// and the stdin commands of the plain participant and instructor.

#include <cstdio>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/message.h"

namespace circuit::client::tui {

// `message` as one line of JSON, with the proto's field names.
std::string JsonLine(const google::protobuf::Message& message);

// Writes lines to a stdio stream, one whole line at a time and flushed, from
// any thread. Turns received messages into plain lines: state changes,
// cues, joins, connection changes, reports, alerts, suggestions, acks, and
// class progress when its counts change. Thread-safe.
class PlainPrinter {
 public:
  explicit PlainPrinter(std::FILE* out = stdout) : out_(out) {}

  // Prints `line` sanitized (no control characters).
  void Line(absl::string_view line);
  // Prints `message` as one line of JSON.
  void Json(const google::protobuf::Message& message);

  void Print(const v1::RunClassResponse& response);
  void Print(const v1::JoinClassResponse& response);
  void Print(const v1::WatchClassResponse& response);

  // The parts, for views that diff a mirror instead of reading messages.
  void State(const v1::ClassState& state);
  void Cue(const v1::Cue& cue);
  void Progress(const v1::ClassProgress& progress);

  // Calls `submit` (which returns a report id) and remembers `what` as the
  // description of that report for its ack line ("9 reps"). The ack waits
  // for the description, however fast it comes.
  absl::StatusOr<std::string> SubmitDescribed(
      const std::string& what,
      const std::function<absl::StatusOr<std::string>()>& submit);

 private:
  void Event(const v1::ClassEvent& event);
  void Ack(const v1::ReportAck& ack);
  void Snapshot(const v1::ClassInfo& info, const v1::ClassState& state);
  std::string Name(const std::string& participant_id);

  std::FILE* const out_;
  absl::Mutex mu_;
  std::map<std::string, std::string> names_ ABSL_GUARDED_BY(mu_);
  // Held from a submit until its description is stored; not while printing.
  absl::Mutex describe_mu_;
  std::map<std::string, std::string> descriptions_
      ABSL_GUARDED_BY(describe_mu_);
  int last_done_ ABSL_GUARDED_BY(mu_) = -1;
  int last_count_ ABSL_GUARDED_BY(mu_) = -1;
  int last_reps_ ABSL_GUARDED_BY(mu_) = -1;
};

// One line of the plain participant's stdin.
struct ParticipantCommand {
  enum Kind { kInvalid, kReps, kFeel, kCr10, kSymptom, kLeave };
  Kind kind = kInvalid;
  int number = 0;
  v1::EffortFeel feel = v1::EFFORT_FEEL_UNSPECIFIED;
  v1::Symptom symptom = v1::SYMPTOM_UNSPECIFIED;
  std::string text;
  // Why a line is kInvalid.
  std::string error;
};

// Parses `reps N`, `effort easy|right|hard|0-10`, `symptom NAME [text]`
// (NAME: hip_pinch, leaking, pelvic_heaviness, low_back_pain, pelvic_pain,
// abdominal_doming, other; other needs text) and `leave`.
ParticipantCommand ParseParticipantCommand(absl::string_view line);

// The stdin help of the plain participant.
extern const char kParticipantCommandHelp[];

// One line of the plain instructor's stdin as a command: start, pause,
// resume, next, previous, plus30, minus30, cue TEXT, end. False (and
// `*error`) for anything else.
bool ParseInstructorCommand(absl::string_view line,
                            v1::InstructorCommand* command, std::string* error);

}  // namespace circuit::client::tui

#endif  // CIRCUIT_CLIENT_TUI_PLAIN_H_
