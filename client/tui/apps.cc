#include "client/tui/apps.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/kiosks.h"
#include "client/lib/profiles.h"
#include "client/lib/summary_format.h"
#include "client/tui/plain.h"
#include "client/tui/screen.h"
#include "client/tui/terminal.h"
#include "client/tui/text.h"
#include "client/tui/views.h"

namespace circuit::client {
namespace {

using tui::Key;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
// How long the final screen stays up when exit_at_end is set.
constexpr absl::Duration kFinalScreen = absl::Seconds(2);
// Redraws between messages, for the countdown.
constexpr int kFrameMs = 100;
// How long a plain participant waits for its reports' acks at stdin EOF,
// and anyone for a leave to close the stream.
constexpr absl::Duration kDrainTimeout = absl::Seconds(5);

bool FullScreen(const AppOptions& options) {
  return options.mode == OutputMode::kAuto && tui::IsInteractive();
}

int Fail(absl::string_view reason) {
  std::fprintf(stderr, "circuit: %s\n", tui::Sanitize(reason).c_str());
  return kExitFailure;
}

std::string FailureReason(const SessionStatus& status) {
  if (status.error.ok()) return "the server refused the stream";
  return std::string(status.error.message());
}

// --- Full screen -------------------------------------------------------------

// One full-screen view: what it draws, what keys do, when it is done.
class ScreenApp {
 public:
  virtual ~ScreenApp() = default;
  // Reads the session once per frame.
  virtual void Refresh() = 0;
  // The exit code once the view is done; -1 to go on.
  virtual int Check() = 0;
  virtual tui::Frame Render(int width, int height) = 0;
  // False to quit (exit 0).
  virtual bool OnKey(const Key& key) = 0;
  // Set when Check returns kExitFailure: printed after the terminal is back.
  std::string failure;
};

// Runs `app` full-screen until it is done, a key quits it or a signal
// arrives. `waker` (may be null) makes it redraw at once.
int RunScreen(ScreenApp* app, tui::Waker* waker) {
  absl::StatusOr<std::unique_ptr<tui::Terminal>> opened = tui::Terminal::Open();
  if (!opened.ok()) return Fail(opened.status().message());
  std::unique_ptr<tui::Terminal> terminal = std::move(*opened);
  tui::Screen screen(
      [&](const std::string& bytes) { return terminal->Write(bytes); });
  int width = 0;
  int height = 0;
  terminal->Size(&width, &height);
  screen.Resize(width, height);
  int code = -1;
  while (code < 0) {
    app->Refresh();
    code = app->Check();
    if (code >= 0) break;
    screen.Draw(app->Render(screen.width(), screen.height()));
    tui::WaitResult result = terminal->Wait(kFrameMs, waker);
    if (result.interrupted) code = kExitOk;
    if (result.resized) {
      terminal->Size(&width, &height);
      screen.Resize(width, height);
    }
    for (const Key& key : result.keys) {
      if (code < 0 && !app->OnKey(key)) code = kExitOk;
    }
  }
  terminal->Restore();
  if (code == kExitFailure && !app->failure.empty()) Fail(app->failure);
  return code;
}

// The parts every view shares: the session read once per frame, failure
// and the end of the class.
class LiveScreen : public ScreenApp {
 public:
  LiveScreen(LiveSession* session, bool exit_at_end)
      : session_(session), exit_at_end_(exit_at_end) {}

  void Refresh() override {
    mirror_ = session_->Mirror();
    status_ = session_->Status();
    now_ = session_->ServerNowMs();
  }

  int Check() override {
    if (status_.link == LinkState::kFailed) {
      failure = FailureReason(status_);
      return kExitFailure;
    }
    if (status_.link == LinkState::kClosed) return kExitOk;
    if (mirror_.ended() && exit_at_end_) {
      if (ended_at_ == absl::InfinitePast()) ended_at_ = absl::Now();
      if (absl::Now() - ended_at_ >= kFinalScreen) return kExitOk;
    }
    return -1;
  }

 protected:
  LiveSession* const session_;
  const bool exit_at_end_;
  ClassMirror mirror_;
  SessionStatus status_;
  int64_t now_ = 0;
  absl::Time ended_at_ = absl::InfinitePast();
};

// Fetches the progress of a participant in the console's class who keeps a
// profile, by participant id.
using ProgressOf =
    std::function<absl::StatusOr<v1::Progress>(const std::string&)>;

bool IsChar(const Key& key, const char* text) {
  return key.kind == Key::kChar && key.text == text;
}

class InstructorScreen : public LiveScreen {
 public:
  // `pair_kiosk` approves a studio TV's pairing code and says how that
  // went, in a line for the status bar. `progress_of` fetches the progress
  // of a participant in this class who keeps a profile.
  InstructorScreen(InstructorSession* session, bool exit_at_end,
                   std::function<std::string(const std::string&)> pair_kiosk,
                   ProgressOf progress_of)
      : LiveScreen(session, exit_at_end),
        instructor_(session),
        pair_kiosk_(std::move(pair_kiosk)),
        progress_of_(std::move(progress_of)) {}

  tui::Frame Render(int width, int height) override {
    ui_.status_line = StatusLine();
    return tui::InstructorView(mirror_, status_, now_, ui_, width, height);
  }

  bool OnKey(const Key& key) override {
    using Prompt = tui::InstructorUi::Prompt;
    if (ui_.prompt == Prompt::kCue) {
      if (key.kind == Key::kEscape) {
        ui_.prompt = Prompt::kNone;
      } else if (key.kind == Key::kEnter) {
        ui_.prompt = Prompt::kNone;
        if (!ui_.input.empty()) {
          v1::InstructorCommand command;
          command.mutable_cue()->set_text(ui_.input);
          Send("cue", std::move(command));
        }
      } else if (key.kind == Key::kBackspace) {
        tui::PopCodePoint(&ui_.input);
      } else if (key.kind == Key::kChar && ui_.input.size() < 280) {
        ui_.input += key.text;
      }
      return true;
    }
    if (ui_.prompt == Prompt::kPairKiosk) {
      if (key.kind == Key::kEscape) {
        ui_.prompt = Prompt::kNone;
      } else if (key.kind == Key::kEnter) {
        ui_.prompt = Prompt::kNone;
        command_id_.clear();
        if (!ui_.input.empty()) local_status_ = pair_kiosk_(ui_.input);
      } else if (key.kind == Key::kBackspace) {
        tui::PopCodePoint(&ui_.input);
      } else if (key.kind == Key::kChar && key.text.size() == 1 &&
                 absl::ascii_isalnum(key.text[0]) && ui_.input.size() < 6) {
        ui_.input += absl::AsciiStrToUpper(key.text);
      }
      return true;
    }
    if (ui_.prompt == Prompt::kProgress) {
      if (key.kind == Key::kEscape || IsChar(key, "q")) {
        ui_.prompt = Prompt::kNone;
        ui_.progress.clear();
      } else if (key.kind == Key::kOther || IsChar(key, "g") ||
                 IsChar(key, "\t")) {
        ShowProgress(shown_participant_);  // the next one who keeps a profile
      }
      return true;
    }
    if (ui_.prompt == Prompt::kConfirmEnd) {
      ui_.prompt = Prompt::kNone;
      if (IsChar(key, "y") || IsChar(key, "Y")) {
        v1::InstructorCommand command;
        command.mutable_end();
        Send("end", std::move(command));
      } else {
        local_status_ = "not ended";
        command_id_.clear();
      }
      return true;
    }
    if (key.kind != Key::kChar) return true;
    v1::InstructorCommand command;
    const std::string& c = key.text;
    if (c == "q") return false;
    if (c == "s") {
      command.mutable_start();
      Send("start", std::move(command));
    } else if (c == " " || c == "p") {
      if (mirror_.state().phase() == v1::CLASS_PHASE_PAUSED) {
        command.mutable_resume();
        Send("resume", std::move(command));
      } else {
        command.mutable_pause();
        Send("pause", std::move(command));
      }
    } else if (c == "n") {
      command.mutable_next();
      Send("next", std::move(command));
    } else if (c == "b") {
      command.mutable_previous();
      Send("previous", std::move(command));
    } else if (c == "+" || c == "=") {
      command.mutable_adjust_time()->set_delta_ms(30000);
      Send("+30 s", std::move(command));
    } else if (c == "-") {
      command.mutable_adjust_time()->set_delta_ms(-30000);
      Send("-30 s", std::move(command));
    } else if (c == "c") {
      ui_.prompt = Prompt::kCue;
      ui_.input.clear();
    } else if (c == "a" || c == "d") {
      Decide(c == "a" ? v1::SUGGESTION_DECISION_ACCEPTED
                      : v1::SUGGESTION_DECISION_DISMISSED);
    } else if (c == "e") {
      ui_.prompt = Prompt::kConfirmEnd;
    } else if (c == "g") {
      ShowProgress("");
    } else if (c == "k") {
      ui_.prompt = Prompt::kPairKiosk;
      ui_.input.clear();
    }
    return true;
  }

 private:
  void Send(const std::string& name, v1::InstructorCommand command) {
    command_name_ = name;
    absl::StatusOr<std::string> id = instructor_->Send(std::move(command));
    if (!id.ok()) {
      command_id_.clear();
      local_status_ = absl::StrCat(name, " not sent: ", id.status().message());
      return;
    }
    command_id_ = *id;
    local_status_ = absl::StrCat(name, ": sent…");
  }

  void Decide(v1::SuggestionDecision decision) {
    const auto& suggestions = mirror_.suggestions();
    for (auto it = suggestions.rbegin(); it != suggestions.rend(); ++it) {
      if (it->decision() != v1::SUGGESTION_DECISION_UNSPECIFIED) continue;
      v1::InstructorCommand command;
      command.mutable_decide_suggestion()->set_suggestion_id(
          it->suggestion_id());
      command.mutable_decide_suggestion()->set_decision(decision);
      Send(decision == v1::SUGGESTION_DECISION_ACCEPTED ? "accept" : "dismiss",
           std::move(command));
      return;
    }
    command_id_.clear();
    local_status_ = "no suggestion to decide";
  }

  // Shows the progress of the first participant on the roster after
  // `after` (the first of all when empty) who keeps a profile, wrapping
  // round; says so when nobody does.
  void ShowProgress(const std::string& after) {
    std::vector<const v1::RosterEntry*> kept;
    for (const v1::RosterEntry& e : mirror_.roster()) {
      if (!e.profile_id().empty()) kept.push_back(&e);
    }
    command_id_.clear();
    if (kept.empty()) {
      ui_.prompt = tui::InstructorUi::Prompt::kNone;
      local_status_ = "nobody in this class keeps a profile";
      return;
    }
    size_t next = 0;
    for (size_t i = 0; i < kept.size(); ++i) {
      if (kept[i]->participant_id() == after) next = (i + 1) % kept.size();
    }
    const v1::RosterEntry& who = *kept[next];
    shown_participant_ = who.participant_id();
    ui_.prompt = tui::InstructorUi::Prompt::kProgress;
    absl::StatusOr<v1::Progress> progress = progress_of_(who.participant_id());
    ui_.progress.clear();
    if (!progress.ok()) {
      ui_.progress.push_back(
          absl::StrCat("Progress of ", who.check_in().display_name(),
                       " not shown: ", progress.status().message()));
    } else {
      ui_.progress =
          absl::StrSplit(FormatProgress(*progress), '\n', absl::SkipEmpty());
    }
    local_status_ =
        absl::StrCat(next + 1, " of ", kept.size(), " who keep a profile");
  }

  std::string StatusLine() {
    if (command_id_.empty()) return local_status_;
    absl::optional<v1::CommandResult> result = instructor_->Result(command_id_);
    if (!result.has_value()) return local_status_;
    if (result->code() == 0) return absl::StrCat(command_name_, ": ok");
    return absl::StrCat(command_name_, " failed: ", result->message());
  }

  InstructorSession* const instructor_;
  const std::function<std::string(const std::string&)> pair_kiosk_;
  const ProgressOf progress_of_;
  tui::InstructorUi ui_;
  std::string shown_participant_;  // whose progress kProgress shows
  std::string command_id_;
  std::string command_name_;
  std::string local_status_;
};

class ParticipantScreen : public LiveScreen {
 public:
  ParticipantScreen(ParticipantSession* session, bool exit_at_end)
      : LiveScreen(session, exit_at_end), participant_(session) {
    ui_.status_line = tui::kDisclaimer;  // said once, when she joins
  }

  void Refresh() override {
    LiveScreen::Refresh();
    ui_.pending_reports = participant_->PendingReports();
    if (!last_id_.empty() && participant_->Ack(last_id_).has_value()) {
      last_id_.clear();
      ui_.status_line.clear();
    }
    std::deque<v1::ReportAck> acks = participant_->RecentAcks();
    if (!acks.empty()) {
      const v1::ReportAck& ack = acks.back();
      auto it = descriptions_.find(ack.report_id());
      const std::string what =
          it == descriptions_.end() ? "report" : it->second;
      if (ack.code() == 0) {
        ui_.last_ack = absl::StrCat("recorded ", what);
      } else if (ack.code() ==
                     static_cast<int>(absl::StatusCode::kUnavailable) ||
                 ack.code() == static_cast<int>(absl::StatusCode::kAborted)) {
        ui_.last_ack = absl::StrCat("will resend ", what, ": ", ack.message());
      } else {
        ui_.last_ack = absl::StrCat("not recorded: ", ack.message());
      }
    }
  }

  int Check() override {
    if (leaving_) {
      if (status_.link == LinkState::kClosed ||
          status_.link == LinkState::kFailed ||
          absl::Now() >= leave_deadline_) {
        return kExitOk;
      }
      return -1;
    }
    return LiveScreen::Check();
  }

  tui::Frame Render(int width, int height) override {
    return tui::ParticipantView(mirror_, status_, now_, ui_, width, height);
  }

  bool OnKey(const Key& key) override {
    using Mode = tui::ParticipantUi::Mode;
    if (leaving_) return true;
    switch (ui_.mode) {
      case Mode::kConfirmLeave:
        ui_.mode = Mode::kNormal;
        if (IsChar(key, "y") || IsChar(key, "Y")) {
          participant_->Leave();
          leaving_ = true;
          leave_deadline_ = absl::Now() + kDrainTimeout;
          ui_.status_line = "leaving…";
        }
        return true;
      case Mode::kSymptomMenu:
        ui_.mode = Mode::kNormal;
        if (key.kind == Key::kChar && key.text.size() == 1 &&
            key.text[0] >= '1' && key.text[0] <= '7') {
          const auto symptom = static_cast<v1::Symptom>(key.text[0] - '0');
          if (symptom == v1::SYMPTOM_OTHER) {
            ui_.mode = Mode::kSymptomText;
            ui_.input.clear();
          } else {
            Submit(absl::StrCat("symptom: ", tui::SymptomName(symptom)),
                   participant_->ReportSymptom(symptom));
          }
        }
        return true;
      case Mode::kSymptomText:
        if (key.kind == Key::kEscape) {
          ui_.mode = Mode::kNormal;
          ui_.input.clear();
        } else if (key.kind == Key::kEnter) {
          if (!ui_.input.empty()) {
            Submit(absl::StrCat("symptom: ", ui_.input),
                   participant_->ReportSymptom(v1::SYMPTOM_OTHER, ui_.input));
          }
          ui_.mode = Mode::kNormal;
          ui_.input.clear();
        } else if (key.kind == Key::kBackspace) {
          tui::PopCodePoint(&ui_.input);
        } else if (key.kind == Key::kChar && ui_.input.size() < 140) {
          ui_.input += key.text;
        }
        return true;
      case Mode::kNormal:
        break;
    }
    if (key.kind == Key::kEnter) {
      if (ui_.input.empty()) {
        ui_.status_line = "type the number of reps, then Enter";
        return true;
      }
      // "8 6 5": a combination set part by part; one number: reps.
      std::vector<int> amounts;
      for (absl::string_view word :
           absl::StrSplit(ui_.input, ' ', absl::SkipEmpty())) {
        int n = 0;
        amounts.push_back(absl::SimpleAtoi(word, &n) ? n : 0);
      }
      ui_.input.clear();
      if (amounts.size() > 1) {
        Submit(absl::StrCat(absl::StrJoin(amounts, "-"), " (parts)"),
               participant_->ReportParts(amounts));
      } else {
        const int reps = amounts.empty() ? 0 : amounts.front();
        Submit(absl::StrCat(reps, " reps"), participant_->ReportReps(reps));
      }
      return true;
    }
    if (key.kind == Key::kBackspace) {
      tui::PopCodePoint(&ui_.input);
      return true;
    }
    if (key.kind == Key::kEscape) {
      ui_.input.clear();
      return true;
    }
    if (key.kind != Key::kChar) return true;
    const std::string& c = key.text;
    if (c.size() == 1 && c[0] >= '0' && c[0] <= '9') {
      // Up to three digits a number; a space starts the next part's.
      const size_t last_space = ui_.input.rfind(' ');
      const size_t digits = last_space == std::string::npos
                                ? ui_.input.size()
                                : ui_.input.size() - last_space - 1;
      if (digits < 3) ui_.input += c;
      ui_.status_line.clear();
    } else if (c == " ") {
      if (!ui_.input.empty() && ui_.input.back() != ' ' &&
          ui_.input.size() < 16) {
        ui_.input += ' ';
      }
    } else if (c == "e" || c == "j" || c == "h") {
      const v1::EffortFeel feel = c == "e"   ? v1::EFFORT_FEEL_TOO_EASY
                                  : c == "j" ? v1::EFFORT_FEEL_JUST_RIGHT
                                             : v1::EFFORT_FEEL_TOO_HARD;
      Submit(absl::StrCat("effort: ", tui::FeelName(feel)),
             participant_->ReportEffort(feel));
    } else if (c == "y") {
      ui_.mode = Mode::kSymptomMenu;
    } else if (c == "l") {
      ui_.mode = Mode::kConfirmLeave;
    } else if (c == "q") {
      return false;
    }
    return true;
  }

 private:
  void Submit(const std::string& what, absl::StatusOr<std::string> id) {
    if (!id.ok()) {
      ui_.status_line =
          absl::StrCat("not sent (", what, "): ", id.status().message());
      return;
    }
    descriptions_[*id] = what;
    last_id_ = *id;
    ui_.status_line = absl::StrCat("sent ", what, "…");
  }

  ParticipantSession* const participant_;
  tui::ParticipantUi ui_;
  std::map<std::string, std::string> descriptions_;
  // The latest report sent: its "sent…" line goes when its ack comes.
  std::string last_id_;
  bool leaving_ = false;
  absl::Time leave_deadline_;
};

class KioskScreen : public LiveScreen {
 public:
  KioskScreen(KioskSession* session, bool exit_at_end)
      : LiveScreen(session, exit_at_end) {}

  tui::Frame Render(int width, int height) override {
    return tui::KioskView(mirror_, status_, now_, width, height);
  }

  bool OnKey(const Key& key) override {
    return !(IsChar(key, "q") || IsChar(key, "Q"));
  }
};

// --- Plain and JSON ----------------------------------------------------------

// Lines from a file descriptor, without blocking past a poll() timeout.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  // Waits up to `timeout_ms` for input (when `read_input`) or `waker`;
  // appends complete lines to `*lines`.
  void Wait(int timeout_ms, tui::Waker* waker, bool read_input,
            std::vector<std::string>* lines) {
    struct pollfd fds[2] = {};
    fds[0] = {read_input && !eof_ ? fd_ : -1, POLLIN, 0};
    fds[1] = {waker->fd(), POLLIN, 0};
    if (poll(fds, 2, timeout_ms) <= 0) return;
    if ((fds[1].revents & POLLIN) != 0) waker->Drain();
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buffer[4096];
      const ssize_t n = read(fd_, buffer, sizeof buffer);
      if (n <= 0) {
        eof_ = true;
        if (!buffer_.empty()) lines->push_back(std::move(buffer_));
        buffer_.clear();
      } else {
        buffer_.append(buffer, static_cast<size_t>(n));
      }
    }
    size_t newline;
    while ((newline = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines->push_back(std::move(line));
      buffer_.erase(0, newline + 1);
    }
  }

  bool eof() const { return eof_; }

 private:
  const int fd_;
  std::string buffer_;
  bool eof_ = false;
};

// Prints each message of a session as plain or JSON lines, notes link
// changes in plain mode, and wakes the main loop.
template <typename Response>
LiveSession::Listener PrintingListener(OutputMode mode,
                                       tui::PlainPrinter* printer,
                                       LiveSession* session,
                                       tui::Waker* waker) {
  auto last_link = std::make_shared<LinkState>(LinkState::kConnecting);
  return [=](const google::protobuf::Message* message) {
    if (message != nullptr) {
      if (mode == OutputMode::kJson) {
        printer->Json(*message);
      } else {
        printer->Print(*static_cast<const Response*>(message));
      }
    }
    const SessionStatus status = session->Status();
    if (mode != OutputMode::kJson && status.link != *last_link) {
      if (status.link == LinkState::kReconnecting) {
        printer->Line(
            absl::StrCat("reconnecting… (", status.error.message(), ")"));
      } else if (status.link == LinkState::kLive &&
                 *last_link == LinkState::kReconnecting) {
        printer->Line("reconnected");
      }
    }
    *last_link = status.link;
    waker->Wake();
  };
}

// Waits until the session has its first snapshot; false when it failed.
bool WaitForSnapshot(LiveSession* session) {
  while (true) {
    if (session->WaitFor(
            [](const ClassMirror& mirror) { return mirror.has_snapshot(); },
            absl::Seconds(1))) {
      return true;
    }
    const LinkState link = session->Status().link;
    if (link == LinkState::kFailed || link == LinkState::kClosed) return false;
  }
}

// Ends a plain session: its exit code from its status.
int FinishPlain(LiveSession* session) {
  const SessionStatus status = session->Status();
  session->Stop();
  std::fflush(stdout);
  if (status.link == LinkState::kFailed) return Fail(FailureReason(status));
  return kExitOk;
}

// The kiosk's plain lines from mirror changes, for a session whose messages
// we do not see (ShowKiosk).
int ShowKioskPlainFromMirror(const AppOptions& options, KioskSession* session) {
  tui::PlainPrinter printer;
  const bool json = options.mode == OutputMode::kJson;
  std::string shown_state;
  std::string shown_progress;
  std::vector<std::string> shown_cues;
  int64_t seen_seq = -1;
  while (true) {
    session->WaitFor(
        [&](const ClassMirror& m) {
          return m.last_seq() != seen_seq ||
                 m.progress().SerializeAsString() != shown_progress;
        },
        absl::Milliseconds(250));
    const SessionStatus status = session->Status();
    if (status.link == LinkState::kFailed) return Fail(FailureReason(status));
    if (status.link == LinkState::kClosed) return kExitOk;
    const ClassMirror mirror = session->Mirror();
    if (!mirror.has_snapshot()) continue;
    seen_seq = mirror.last_seq();
    const std::string state = mirror.state().SerializeAsString();
    if (state != shown_state) {
      shown_state = state;
      if (json) {
        printer.Json(mirror.state());
      } else {
        printer.State(mirror.state());
      }
    }
    std::vector<std::string> cues;
    for (const v1::Cue& cue : mirror.recent_cues()) {
      cues.push_back(cue.SerializeAsString());
    }
    // Print the cues after the last one already shown.
    size_t first_new = 0;
    if (!shown_cues.empty()) {
      for (size_t i = cues.size(); i > 0; --i) {
        if (cues[i - 1] == shown_cues.back()) {
          first_new = i;
          break;
        }
      }
    }
    for (size_t i = first_new; i < cues.size(); ++i) {
      if (json) {
        printer.Json(mirror.recent_cues()[i]);
      } else {
        printer.Cue(mirror.recent_cues()[i]);
      }
    }
    shown_cues = cues;
    const std::string progress = mirror.progress().SerializeAsString();
    if (progress != shown_progress) {
      shown_progress = progress;
      if (json) {
        printer.Json(mirror.progress());
      } else {
        printer.Progress(mirror.progress());
      }
    }
    if (mirror.ended()) return kExitOk;
  }
}

// Runs until the class ends or the session fails, with messages printed by
// the session's listener.
int WaitForEnd(LiveSession* session) {
  while (true) {
    session->WaitFor([](const ClassMirror& m) { return m.ended(); },
                     absl::Seconds(1));
    const SessionStatus status = session->Status();
    if (status.link == LinkState::kFailed ||
        status.link == LinkState::kClosed || session->Mirror().ended()) {
      return FinishPlain(session);
    }
  }
}

// "progress NAME" (a display name or participant id on the roster): her
// progress as lines (one JSON line with --json).
void PrintProgress(const ClassMirror& mirror, const std::string& who,
                   const ProgressOf& progress_of, bool json,
                   tui::PlainPrinter* printer) {
  for (const v1::RosterEntry& e : mirror.roster()) {
    if (e.participant_id() != who && e.check_in().display_name() != who) {
      continue;
    }
    if (e.profile_id().empty()) {
      printer->Line(absl::StrCat(who, " keeps no profile"));
      return;
    }
    absl::StatusOr<v1::Progress> progress = progress_of(e.participant_id());
    if (!progress.ok()) {
      printer->Line(
          absl::StrCat("progress not shown: ", progress.status().message()));
      return;
    }
    if (json) {
      printer->Json(*progress);
      return;
    }
    for (absl::string_view line :
         absl::StrSplit(FormatProgress(*progress), '\n', absl::SkipEmpty())) {
      printer->Line(line);
    }
    return;
  }
  printer->Line(absl::StrCat("nobody called ", who, " on the roster"));
}

int RunInstructorPlain(const AppOptions& options, InstructorSession* session,
                       const ProgressOf& progress_of,
                       tui::PlainPrinter* printer, tui::Waker* waker) {
  if (!WaitForSnapshot(session)) return FinishPlain(session);
  LineReader stdin_lines(STDIN_FILENO);
  while (true) {
    std::vector<std::string> lines;
    stdin_lines.Wait(250, waker, !stdin_lines.eof(), &lines);
    for (const std::string& line : lines) {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (absl::StartsWith(line, "progress ")) {
        PrintProgress(session->Mirror(),
                      std::string(absl::StripAsciiWhitespace(
                          absl::string_view(line).substr(9))),
                      progress_of, options.mode == OutputMode::kJson, printer);
        continue;
      }
      v1::InstructorCommand command;
      std::string error;
      if (!tui::ParseInstructorCommand(line, &command, &error)) {
        printer->Line(error);
        continue;
      }
      absl::StatusOr<std::string> id = session->Send(std::move(command));
      if (!id.ok())
        printer->Line(absl::StrCat("not sent: ", id.status().message()));
    }
    const SessionStatus status = session->Status();
    if (status.link == LinkState::kFailed ||
        status.link == LinkState::kClosed || session->Mirror().ended()) {
      return FinishPlain(session);
    }
  }
}

int RunParticipantPlain(ParticipantSession* session, tui::PlainPrinter* printer,
                        tui::Waker* waker) {
  if (!WaitForSnapshot(session)) return FinishPlain(session);
  LineReader stdin_lines(STDIN_FILENO);
  while (true) {
    std::vector<std::string> lines;
    stdin_lines.Wait(250, waker, true, &lines);
    for (const std::string& line : lines) {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      tui::ParticipantCommand command = tui::ParseParticipantCommand(line);
      absl::StatusOr<std::string> id;
      switch (command.kind) {
        case tui::ParticipantCommand::kInvalid:
          printer->Line(
              absl::StrCat(command.error, "; ", tui::kParticipantCommandHelp));
          continue;
        case tui::ParticipantCommand::kReps:
          id = printer->SubmitDescribed(
              absl::StrCat(command.number, " reps"),
              [&] { return session->ReportReps(command.number); });
          break;
        case tui::ParticipantCommand::kFeel:
          id = printer->SubmitDescribed(
              absl::StrCat("effort ", tui::FeelName(command.feel)),
              [&] { return session->ReportEffort(command.feel); });
          break;
        case tui::ParticipantCommand::kCr10:
          id = printer->SubmitDescribed(
              absl::StrCat("effort CR-10 ", command.number),
              [&] { return session->ReportCr10(command.number); });
          break;
        case tui::ParticipantCommand::kSymptom:
          id = printer->SubmitDescribed(
              absl::StrCat("symptom ", tui::SymptomName(command.symptom)), [&] {
                return session->ReportSymptom(command.symptom, command.text);
              });
          break;
        case tui::ParticipantCommand::kLeave:
          session->Leave();
          session->WaitForLink(LinkState::kClosed, kDrainTimeout);
          printer->Line("left the class");
          return FinishPlain(session);
      }
      if (!id.ok()) {
        printer->Line(absl::StrCat("not sent: ", id.status().message()));
      }
    }
    const SessionStatus status = session->Status();
    if (status.link == LinkState::kFailed ||
        status.link == LinkState::kClosed || session->Mirror().ended()) {
      return FinishPlain(session);
    }
    if (stdin_lines.eof()) {
      // Out of input: let the reports already sent be acknowledged, then
      // go without leaving (the seat is held).
      session->WaitForAllAcked(kDrainTimeout);
      return FinishPlain(session);
    }
  }
}

}  // namespace

int RunInstructorConsole(const AppOptions& options,
                         const std::string& instructor_key,
                         const std::string& class_id) {
  InstructorSession session(options.connection, instructor_key, class_id);
  tui::Waker waker;
  const ProgressOf progress_of = [connection = options.connection,
                                  instructor_key,
                                  class_id](const std::string& participant_id) {
    v1::GetProgressRequest request;
    request.set_class_id(class_id);
    request.set_participant_id(participant_id);
    return GetProgress(*connection, instructor_key, request);
  };
  if (FullScreen(options)) {
    session.SetListener(
        [&waker](const google::protobuf::Message*) { waker.Wake(); });
    session.Start();
    InstructorScreen screen(
        &session, options.exit_at_end,
        [connection = options.connection,
         instructor_key](const std::string& code) -> std::string {
          absl::StatusOr<v1::Kiosk> kiosk =
              ApproveKioskPairing(*connection, instructor_key, code, "");
          if (!kiosk.ok()) {
            return absl::StrCat("TV not paired: ", kiosk.status().message());
          }
          return absl::StrCat("paired ", SanitizeText(kiosk->name()), " as ",
                              SanitizeText(kiosk->kiosk_id()));
        },
        progress_of);
    const int code = RunScreen(&screen, &waker);
    session.Stop();
    return code;
  }
  tui::PlainPrinter printer;
  session.SetListener(PrintingListener<v1::RunClassResponse>(
      options.mode, &printer, &session, &waker));
  session.Start();
  return RunInstructorPlain(options, &session, progress_of, &printer, &waker);
}

int RunParticipantApp(const AppOptions& options, const std::string& join_code,
                      const v1::CheckIn& check_in,
                      const SessionOptions& session_options,
                      v1::Joined* joined) {
  ParticipantSession session(options.connection, join_code, check_in,
                             session_options);
  tui::Waker waker;
  int code;
  if (FullScreen(options)) {
    session.SetListener(
        [&waker](const google::protobuf::Message*) { waker.Wake(); });
    session.Start();
    ParticipantScreen screen(&session, options.exit_at_end);
    code = RunScreen(&screen, &waker);
    // Quitting without `l` keeps the seat: the server holds it.
    session.Stop();
  } else {
    tui::PlainPrinter printer;
    // Said once, when she joins (JSON lines stay messages only).
    if (options.mode != OutputMode::kJson) printer.Line(tui::kDisclaimer);
    session.SetListener(PrintingListener<v1::JoinClassResponse>(
        options.mode, &printer, &session, &waker));
    session.Start();
    code = RunParticipantPlain(&session, &printer, &waker);
  }
  if (joined != nullptr) *joined = session.Joined();
  return code;
}

int RunKioskScreen(const AppOptions& options, const std::string& kiosk_key,
                   const std::string& class_id) {
  KioskSession session(options.connection, kiosk_key, class_id);
  tui::Waker waker;
  if (FullScreen(options)) {
    session.SetListener(
        [&waker](const google::protobuf::Message*) { waker.Wake(); });
    session.Start();
    KioskScreen screen(&session, options.exit_at_end);
    const int code = RunScreen(&screen, &waker);
    session.Stop();
    return code;
  }
  tui::PlainPrinter printer;
  session.SetListener(PrintingListener<v1::WatchClassResponse>(
      options.mode, &printer, &session, &waker));
  session.Start();
  return WaitForEnd(&session);
}

int ShowKiosk(const AppOptions& options, KioskSession* session) {
  if (FullScreen(options)) {
    KioskScreen screen(session, options.exit_at_end);
    return RunScreen(&screen, nullptr);
  }
  return ShowKioskPlainFromMirror(options, session);
}

}  // namespace circuit::client
