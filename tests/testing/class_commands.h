#ifndef CIRCUIT_TESTS_TESTING_CLASS_COMMANDS_H_
#define CIRCUIT_TESTS_TESTING_CLASS_COMMANDS_H_

// The instructor commands a test drives a class with, and finding a
// participant in a roster.

#include <string>

#include "circuit/v1/live.pb.h"
#include "circuit/v1/service.pb.h"

namespace circuit::testing {

inline v1::InstructorCommand StartCommand() {
  v1::InstructorCommand command;
  command.mutable_start();
  return command;
}

inline v1::InstructorCommand NextCommand() {
  v1::InstructorCommand command;
  command.mutable_next();
  return command;
}

inline v1::InstructorCommand CueCommand(const std::string& text) {
  v1::InstructorCommand command;
  command.mutable_cue()->set_text(text);
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
