// ClassSession's timeline: the intervals, the timer, ticks, the instructor's
// commands and a restart of the server.

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/engine/adaptation.h"
#include "server/engine/class_session.h"

namespace circuit::engine {
namespace {

constexpr size_t kRecentCues = 10;
constexpr int64_t kMinRemainingMs = 1000;
constexpr int64_t kMaxAdjustMs = 600000;
constexpr char kRestartCue[] =
    "The server restarted. The class is paused here; it goes on when the "
    "instructor resumes.";

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

absl::string_view PhaseName(v1::ClassPhase phase) {
  switch (phase) {
    case v1::CLASS_PHASE_LOBBY:
      return "in the lobby";
    case v1::CLASS_PHASE_RUNNING:
      return "running";
    case v1::CLASS_PHASE_PAUSED:
      return "paused";
    case v1::CLASS_PHASE_ENDED:
      return "over";
    default:
      return "in an unknown phase";
  }
}

}  // namespace

// --- Timeline ----------------------------------------------------------------

bool ClassSession::IsDone(const Participant& p) const {
  if (current_ < 0 || phase_ == v1::CLASS_PHASE_ENDED) return false;
  const v1::Interval& interval = intervals_[static_cast<size_t>(current_)];
  if (interval.kind() != v1::INTERVAL_KIND_WORK) return false;
  return p.completions.count(SetKey{interval.block_index(), interval.side(),
                                    interval.set()}) > 0;
}

void ClassSession::RefreshDoneCurrent() {
  // O(N) per interval change (a few dozen per class), so that each report
  // stays O(log N).
  done_current_count_ = 0;
  for (Participant& p : participants_) {
    const bool done = IsDone(p);
    if (done != p.done_current) {
      p.done_current = done;
      MarkDirty(p);
    }
    if (done && p.connection != v1::CONNECTION_STATE_LEFT) {
      ++done_current_count_;
    }
  }
  progress_changed_ = true;
}

void ClassSession::EnterInterval(int index, int64_t start_ms) {
  current_ = index;
  const v1::Interval& interval = intervals_[static_cast<size_t>(index)];
  interval_started_ms_ = start_ms;
  if (phase_ == v1::CLASS_PHASE_PAUSED) {
    deadline_ms_ = 0;
    paused_remaining_ms_ = interval.duration_ms();
  } else {
    deadline_ms_ =
        interval.duration_ms() > 0 ? start_ms + interval.duration_ms() : 0;
    paused_remaining_ms_ = 0;
  }
  RefreshDoneCurrent();
}

void ClassSession::EndClass(int64_t ended_ms) {
  phase_ = v1::CLASS_PHASE_ENDED;
  current_ = -1;
  deadline_ms_ = 0;
  paused_remaining_ms_ = 0;
  info_.set_phase(phase_);
  info_.set_ended_unix_ms(ended_ms);
  RefreshDoneCurrent();
}

bool ClassSession::IntervalDue(int64_t now_ms) const {
  if (phase_ != v1::CLASS_PHASE_RUNNING || current_ < 0) return false;
  const v1::Interval& interval = intervals_[static_cast<size_t>(current_)];
  return interval.duration_ms() > 0 && !interval.waits_for_instructor() &&
         deadline_ms_ <= now_ms;
}

bool ClassSession::HoldDue(int64_t now_ms) const {
  return !holds_.empty() && holds_.begin()->first <= now_ms;
}

bool ClassSession::TickDue(absl::Time now) const {
  const int64_t now_ms = Millis(now);
  return IntervalDue(now_ms) || HoldDue(now_ms);
}

void ClassSession::Tick(absl::Time now) {
  const int64_t now_ms = Millis(now);
  while (IntervalDue(now_ms)) {
    // The next interval starts at the old deadline, not at `now`, so a late
    // tick does not stretch the class and every screen stays in step.
    const int64_t start_ms = deadline_ms_;
    if (static_cast<size_t>(current_) + 1 < intervals_.size()) {
      EnterInterval(current_ + 1, start_ms);
    } else {
      EndClass(start_ms);
    }
    EmitState(now);
  }
  while (HoldDue(now_ms)) {
    Participant& p = participants_[static_cast<size_t>(holds_.begin()->second)];
    ChangeConnection(p, v1::CONNECTION_STATE_LEFT, now_ms);
  }
}

void ClassSession::Restart(absl::Time now) {
  if (phase_ == v1::CLASS_PHASE_ENDED) return;
  const int64_t now_ms = Millis(now);
  if (phase_ == v1::CLASS_PHASE_RUNNING || phase_ == v1::CLASS_PHASE_PAUSED) {
    // Nobody knows how long the server was away, so the interval starts over
    // and waits for the instructor.
    phase_ = v1::CLASS_PHASE_PAUSED;
    info_.set_phase(phase_);
    EnterInterval(current_, now_ms);
    EmitState(now);
    v1::Cue cue;
    cue.set_text(kRestartCue);
    EmitCue(std::move(cue), now_ms);
  }
  // Every stream died with the server. One connection event each, but no
  // drop alerts: one per participant would bury the instructor's console.
  for (Participant& p : participants_) {
    if (p.connection == v1::CONNECTION_STATE_CONNECTED) {
      ChangeConnection(p, v1::CONNECTION_STATE_DROPPED, now_ms);
    }
  }
}

// --- Commands ----------------------------------------------------------------

absl::StatusOr<int64_t> ClassSession::Apply(
    const v1::InstructorCommand& command, absl::Time now) {
  const int64_t now_ms = Millis(now);
  const bool running = phase_ == v1::CLASS_PHASE_RUNNING;
  const bool paused = phase_ == v1::CLASS_PHASE_PAUSED;
  auto not_now = [this](absl::string_view what, absl::string_view when) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot ", what, when.empty() ? "" : " ", when,
                     "; the class is ", PhaseName(phase_)));
  };

  switch (command.action_case()) {
    case v1::InstructorCommand::kStart:
      if (phase_ != v1::CLASS_PHASE_LOBBY) {
        return not_now("start", "outside the lobby");
      }
      if (intervals_.empty()) {
        return absl::FailedPreconditionError("the circuit has no intervals");
      }
      phase_ = v1::CLASS_PHASE_RUNNING;
      info_.set_phase(phase_);
      info_.set_started_unix_ms(now_ms);
      EnterInterval(0, now_ms);
      return EmitState(now);

    case v1::InstructorCommand::kPause:
      if (!running) return not_now("pause", "unless running");
      paused_remaining_ms_ =
          deadline_ms_ > 0 ? std::max<int64_t>(0, deadline_ms_ - now_ms) : 0;
      deadline_ms_ = 0;
      phase_ = v1::CLASS_PHASE_PAUSED;
      info_.set_phase(phase_);
      return EmitState(now);

    case v1::InstructorCommand::kResume: {
      if (!paused) return not_now("resume", "unless paused");
      const v1::Interval& interval = intervals_[static_cast<size_t>(current_)];
      deadline_ms_ =
          interval.duration_ms() > 0 ? now_ms + paused_remaining_ms_ : 0;
      paused_remaining_ms_ = 0;
      phase_ = v1::CLASS_PHASE_RUNNING;
      info_.set_phase(phase_);
      return EmitState(now);
    }

    case v1::InstructorCommand::kNext:
      if (!running && !paused) return not_now("move to the next interval", "");
      if (static_cast<size_t>(current_) + 1 < intervals_.size()) {
        EnterInterval(current_ + 1, now_ms);
      } else {
        EndClass(now_ms);
      }
      return EmitState(now);

    case v1::InstructorCommand::kPrevious:
      if (!running && !paused) {
        return not_now("move to the previous interval", "");
      }
      if (current_ <= 0) {
        return absl::FailedPreconditionError(
            "cannot move to the previous interval: this is the first one");
      }
      EnterInterval(current_ - 1, now_ms);
      return EmitState(now);

    case v1::InstructorCommand::kAdjustTime: {
      const int64_t delta = command.adjust_time().delta_ms();
      if (delta == 0 || delta < -kMaxAdjustMs || delta > kMaxAdjustMs) {
        return absl::InvalidArgumentError(absl::StrCat(
            "delta_ms must be -600000 to 600000 and not 0, got ", delta));
      }
      if (!running && !paused) return not_now("adjust the time", "");
      const v1::Interval& interval = intervals_[static_cast<size_t>(current_)];
      if (interval.duration_ms() <= 0) {
        return absl::FailedPreconditionError(
            "cannot adjust the time: the current interval is untimed");
      }
      if (paused) {
        paused_remaining_ms_ =
            std::max(kMinRemainingMs, paused_remaining_ms_ + delta);
      } else {
        const int64_t remaining = std::max<int64_t>(0, deadline_ms_ - now_ms);
        deadline_ms_ = now_ms + std::max(kMinRemainingMs, remaining + delta);
      }
      return EmitState(now);
    }

    case v1::InstructorCommand::kCue:
      return ApplyCue(command.cue(), now);

    case v1::InstructorCommand::kEnd:
      if (phase_ == v1::CLASS_PHASE_ENDED) return ClassEnded();
      EndClass(now_ms);
      return EmitState(now);

    case v1::InstructorCommand::kDecideSuggestion:
      return ApplyDecision(command.decide_suggestion(), now);

    case v1::InstructorCommand::ACTION_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("the command has no action");
}

absl::StatusOr<int64_t> ClassSession::ApplyCue(const v1::CueCommand& cue,
                                               absl::Time now) {
  v1::Cue out;
  switch (cue.content_case()) {
    case v1::CueCommand::kText: {
      const std::string text(absl::StripAsciiWhitespace(cue.text()));
      if (absl::Status text_ok = CheckText("cue text", text, 1, 280);
          !text_ok.ok()) {
        return text_ok;
      }
      if (phase_ == v1::CLASS_PHASE_ENDED) return ClassEnded();
      out.set_text(text);
      break;
    }
    case v1::CueCommand::kCannedCueIndex: {
      if (phase_ == v1::CLASS_PHASE_ENDED) return ClassEnded();
      if (current_ < 0) {
        return absl::FailedPreconditionError(
            "no exercise is current, so there is no canned cue to send");
      }
      const v1::Interval& interval = intervals_[static_cast<size_t>(current_)];
      const v1::Exercise* exercise =
          library_->FindExercise(interval.exercise_id());
      const int count = exercise != nullptr ? exercise->cues_size() : 0;
      const int32_t index = cue.canned_cue_index();
      if (index < 0 || index >= count) {
        return absl::InvalidArgumentError(
            absl::StrCat("canned cue ", index, " does not exist; ",
                         interval.exercise_name(), " has ", count, " cues"));
      }
      out.set_text(exercise->cues(index));
      out.set_exercise_id(exercise->id());
      break;
    }
    case v1::CueCommand::CONTENT_NOT_SET:
      return absl::InvalidArgumentError(
          "a cue needs text or a canned cue index");
  }
  return EmitCue(std::move(out), Millis(now));
}

int64_t ClassSession::EmitCue(v1::Cue cue, int64_t now_ms) {
  cue.set_sent_unix_ms(now_ms);
  recent_cues_.push_back(cue);
  while (recent_cues_.size() > kRecentCues) recent_cues_.pop_front();
  v1::ClassEvent event;
  *event.mutable_cue() = std::move(cue);
  return Emit(std::move(event), Audience::kPublic, "", now_ms);
}

}  // namespace circuit::engine
