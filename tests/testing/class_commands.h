#ifndef CIRCUIT_TESTS_TESTING_CLASS_COMMANDS_H_
#define CIRCUIT_TESTS_TESTING_CLASS_COMMANDS_H_

// The instructor commands a test drives a class with, and finding a
// participant in a roster.

#include <cstdint>
#include <string>

#include "circuit/v1/live.pb.h"
#include "circuit/v1/service.pb.h"

namespace circuit::testing {

inline v1::InstructorCommand StartCommand() {
  v1::InstructorCommand command;
  command.mutable_start();
  return command;
}

inline v1::InstructorCommand PauseCommand() {
  v1::InstructorCommand command;
  command.mutable_pause();
  return command;
}

inline v1::InstructorCommand ResumeCommand() {
  v1::InstructorCommand command;
  command.mutable_resume();
  return command;
}

inline v1::InstructorCommand NextCommand() {
  v1::InstructorCommand command;
  command.mutable_next();
  return command;
}

inline v1::InstructorCommand PreviousCommand() {
  v1::InstructorCommand command;
  command.mutable_previous();
  return command;
}

inline v1::InstructorCommand EndCommand() {
  v1::InstructorCommand command;
  command.mutable_end();
  return command;
}

inline v1::InstructorCommand AdjustTimeCommand(int64_t delta_ms) {
  v1::InstructorCommand command;
  command.mutable_adjust_time()->set_delta_ms(delta_ms);
  return command;
}

inline v1::InstructorCommand CueCommand(const std::string& text) {
  v1::InstructorCommand command;
  command.mutable_cue()->set_text(text);
  return command;
}

// One of the current exercise's own cues, by position from 0.
inline v1::InstructorCommand CannedCueCommand(int index) {
  v1::InstructorCommand command;
  command.mutable_cue()->set_canned_cue_index(index);
  return command;
}

inline v1::InstructorCommand DecideCommand(const std::string& suggestion_id,
                                           v1::SuggestionDecision decision) {
  v1::InstructorCommand command;
  command.mutable_decide_suggestion()->set_suggestion_id(suggestion_id);
  command.mutable_decide_suggestion()->set_decision(decision);
  return command;
}

// `participant_id`'s entry in `roster` (any container of RosterEntry: a
// client's mirror, a snapshot's field); null when absent.
template <typename Roster>
const v1::RosterEntry* FindRosterEntry(const Roster& roster,
                                       const std::string& participant_id) {
  for (const v1::RosterEntry& entry : roster) {
    if (entry.participant_id() == participant_id) return &entry;
  }
  return nullptr;
}

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_TESTING_CLASS_COMMANDS_H_
