#ifndef CIRCUIT_CLIENT_TUI_TERMINAL_H_
#define CIRCUIT_CLIENT_TUI_TERMINAL_H_

// The controlling terminal: raw mode, the alternate screen, its size, keys,
// and a wake-up pipe for threads that want the UI loop to redraw.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace circuit::client::tui {

// True when stdin and stdout are both terminals.
bool IsInteractive();

// A pipe another thread writes to so that a poll() on `fd()` returns.
// Thread-safe: Wake may be called from any thread, Drain from the owner.
class Waker {
 public:
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // Makes fd() readable. Never blocks; async-signal-safe.
  void Wake();
  // Empties the pipe.
  void Drain();
  int fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
};

struct Key {
  enum Kind {
    kChar,       // `text` holds one character (UTF-8)
    kEnter,      // Enter or Return
    kBackspace,  // Backspace or Delete
    kEscape,     // Esc on its own
    kOther,      // arrows, function keys and other control input
  };
  Kind kind = kOther;
  std::string text;
};

// Splits terminal input into keys. A lone ESC at the end of `bytes` is an
// Escape key only when `complete`; otherwise it stays in `*rest` for the
// next read (it may start an escape sequence).
std::vector<Key> ParseKeys(std::string bytes, bool complete, std::string* rest);

// What interrupted Terminal::Wait.
struct WaitResult {
  std::vector<Key> keys;
  bool resized = false;      // SIGWINCH: call Size() and redraw everything
  bool interrupted = false;  // SIGINT, SIGTERM or SIGHUP: quit
  bool woken = false;        // the Waker was woken
};

// Owns the terminal while the UI runs: raw mode (keys without Enter, no
// echo; Ctrl-C still signals), the alternate screen, a hidden cursor and no
// line wrap. The destructor restores everything; so does a second SIGINT or
// SIGTERM when the UI does not quit on the first. One at a time per process.
// Not thread-safe: one UI thread owns it.
class Terminal {
 public:
  // FAILED_PRECONDITION when stdin or stdout is not a terminal, or another
  // Terminal is open.
  static absl::StatusOr<std::unique_ptr<Terminal>> Open();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Columns and rows now; 80 x 24 when the terminal does not say.
  void Size(int* width, int* height) const;

  // Waits up to `timeout_ms` for keys, a resize, a quit signal or `waker`.
  WaitResult Wait(int timeout_ms, Waker* waker);

  // Writes all of `bytes` to the terminal.
  bool Write(const std::string& bytes);

  // Leaves raw mode and the alternate screen now (the destructor does it
  // otherwise). Idempotent.
  void Restore();

 private:
  Terminal() = default;
  std::string pending_input_;
  bool restored_ = false;
};

}  // namespace circuit::client::tui

#endif  // CIRCUIT_CLIENT_TUI_TERMINAL_H_
