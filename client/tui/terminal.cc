#include "client/tui/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "absl/status/status.h"

namespace circuit::client::tui {
namespace {

// Leaves the alternate screen, shows the cursor, turns line wrap back on.
constexpr char kLeaveScreen[] = "\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";
constexpr char kEnterScreen[] = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[2J";

// State shared with the signal handlers; only async-signal-safe access.
// A Terminal is open.
volatile sig_atomic_t g_active = 0;
// Set by SIGWINCH; cleared by Wait.
volatile sig_atomic_t g_resized = 0;
// The quit signal received, 0 when none.
volatile sig_atomic_t g_quit_signal = 0;
// The write end of the pipe that wakes Wait from a handler.
volatile sig_atomic_t g_signal_fd = -1;
struct termios g_saved_termios;
struct sigaction g_old_int, g_old_term, g_old_hup, g_old_winch;

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void RestoreNow() {
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  WriteAll(STDOUT_FILENO, kLeaveScreen, sizeof(kLeaveScreen) - 1);
}

void OnQuitSignal(int signo) {
  const int saved_errno = errno;
  if (g_quit_signal != 0 && g_active) {
    // The UI did not quit on the first signal: give the terminal back and
    // die of this one.
    RestoreNow();
    g_active = 0;
    signal(signo, SIG_DFL);
    raise(signo);
  }
  g_quit_signal = signo;
  if (g_signal_fd >= 0) {
    char byte = 'q';
    (void)!write(g_signal_fd, &byte, 1);
  }
  errno = saved_errno;
}

void OnResize(int) {
  const int saved_errno = errno;
  g_resized = 1;
  if (g_signal_fd >= 0) {
    char byte = 'w';
    (void)!write(g_signal_fd, &byte, 1);
  }
  errno = saved_errno;
}

// The read end of the handlers' self-pipe; made once, kept for the
// process's life so a late signal never writes to a reused fd.
int g_signal_read_fd = -1;

void DrainFd(int fd) {
  char buffer[256];
  while (read(fd, buffer, sizeof buffer) > 0) {
  }
}

}  // namespace

bool IsInteractive() {
  return isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1;
}

Waker::Waker() {
  if (pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    fds_[0] = fds_[1] = -1;
  }
}

Waker::~Waker() {
  if (fds_[0] >= 0) close(fds_[0]);
  if (fds_[1] >= 0) close(fds_[1]);
}

void Waker::Wake() {
  if (fds_[1] < 0) return;
  char byte = 1;
  (void)!write(fds_[1], &byte, 1);  // full pipe: already awake
}

void Waker::Drain() {
  if (fds_[0] < 0) return;
  char buffer[256];
  while (read(fds_[0], buffer, sizeof buffer) > 0) {
  }
}

std::vector<Key> ParseKeys(std::string bytes, bool complete,
                           std::string* rest) {
  std::vector<Key> keys;
  rest->clear();
  size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    Key key;
    if (c == 0x1B) {
      if (i + 1 >= bytes.size()) {
        if (!complete) {
          *rest = bytes.substr(i);
          break;
        }
        key.kind = Key::kEscape;
        ++i;
      } else if (bytes[i + 1] == '[' || bytes[i + 1] == 'O') {
        // CSI or SS3: skip to the final byte.
        size_t j = i + 2;
        while (j < bytes.size() &&
               !(bytes[j] >= 0x40 && bytes[j] <= 0x7E && j > i + 1)) {
          ++j;
        }
        if (j >= bytes.size() && !complete) {
          *rest = bytes.substr(i);
          break;
        }
        key.kind = Key::kOther;
        i = j + 1;
      } else {
        // Alt+key: report the Esc; the key follows.
        key.kind = Key::kEscape;
        ++i;
      }
    } else if (c == '\r' || c == '\n') {
      key.kind = Key::kEnter;
      ++i;
      // A terminal that sends CR LF gives one Enter.
      if (c == '\r' && i < bytes.size() && bytes[i] == '\n') ++i;
    } else if (c == 0x7F || c == 0x08) {
      key.kind = Key::kBackspace;
      ++i;
    } else if (c < 0x20) {
      key.kind = Key::kOther;
      ++i;
    } else {
      size_t length = c < 0x80             ? 1
                      : (c & 0xE0) == 0xC0 ? 2
                      : (c & 0xF0) == 0xE0 ? 3
                      : (c & 0xF8) == 0xF0 ? 4
                                           : 1;
      if (i + length > bytes.size()) {
        if (!complete) {
          *rest = bytes.substr(i);
          break;
        }
        length = bytes.size() - i;
      }
      key.kind = Key::kChar;
      key.text = bytes.substr(i, length);
      i += length;
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

absl::StatusOr<std::unique_ptr<Terminal>> Terminal::Open() {
  if (!IsInteractive()) {
    return absl::FailedPreconditionError("stdin and stdout are not terminals");
  }
  if (g_active) {
    return absl::FailedPreconditionError("the terminal is already in use");
  }
  if (tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) {
    return absl::FailedPreconditionError(std::string("tcgetattr: ") +
                                         std::strerror(errno));
  }
  struct termios raw = g_saved_termios;
  raw.c_iflag &= ~static_cast<tcflag_t>(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  raw.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  raw.c_cflag |= CS8;
  // ISIG stays on: Ctrl-C quits through SIGINT. Ctrl-Z would stop us with
  // the terminal raw, so it is off.
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | IEXTEN);
  raw.c_cc[VSUSP] = _POSIX_VDISABLE;
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;

  if (g_signal_read_fd < 0) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      return absl::FailedPreconditionError(std::string("pipe: ") +
                                           std::strerror(errno));
    }
    g_signal_read_fd = fds[0];
    g_signal_fd = fds[1];
  }
  DrainFd(g_signal_read_fd);
  g_quit_signal = 0;
  g_resized = 0;
  std::unique_ptr<Terminal> terminal(new Terminal());
  struct sigaction quit = {};
  quit.sa_handler = OnQuitSignal;
  sigemptyset(&quit.sa_mask);
  struct sigaction winch = {};
  winch.sa_handler = OnResize;
  sigemptyset(&winch.sa_mask);
  winch.sa_flags = SA_RESTART;
  sigaction(SIGINT, &quit, &g_old_int);
  sigaction(SIGTERM, &quit, &g_old_term);
  sigaction(SIGHUP, &quit, &g_old_hup);
  sigaction(SIGWINCH, &winch, &g_old_winch);
  g_active = 1;
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
    const std::string reason = std::strerror(errno);
    terminal->Restore();
    return absl::FailedPreconditionError("tcsetattr: " + reason);
  }
  terminal->Write(kEnterScreen);
  return terminal;
}

Terminal::~Terminal() { Restore(); }

void Terminal::Restore() {
  if (restored_) return;
  restored_ = true;
  g_active = 0;
  RestoreNow();
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGHUP, &g_old_hup, nullptr);
  sigaction(SIGWINCH, &g_old_winch, nullptr);
}

void Terminal::Size(int* width, int* height) const {
  struct winsize size = {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 &&
      size.ws_row > 0) {
    *width = size.ws_col;
    *height = size.ws_row;
  } else {
    *width = 80;
    *height = 24;
  }
}

WaitResult Terminal::Wait(int timeout_ms, Waker* waker) {
  WaitResult result;
  struct pollfd fds[3] = {};
  fds[0] = {STDIN_FILENO, POLLIN, 0};
  fds[1] = {g_signal_read_fd, POLLIN, 0};
  fds[2] = {waker != nullptr ? waker->fd() : -1, POLLIN, 0};
  // A lone ESC waits briefly for the rest of an escape sequence.
  if (!pending_input_.empty()) timeout_ms = std::min(timeout_ms, 30);
  const int ready = poll(fds, 3, timeout_ms);
  if (ready < 0 && errno != EINTR) return result;
  std::string bytes = pending_input_;
  bool got_input = false;
  if (ready > 0 && (fds[0].revents & (POLLIN | POLLHUP)) != 0) {
    char buffer[512];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buffer, sizeof buffer)) > 0) {
      bytes.append(buffer, static_cast<size_t>(n));
      got_input = true;
      if (static_cast<size_t>(n) < sizeof buffer) break;
    }
  }
  if (!bytes.empty()) {
    // Input that stopped at an ESC, and nothing more came: it was Esc.
    const bool complete = !got_input && !pending_input_.empty();
    result.keys = ParseKeys(bytes, complete, &pending_input_);
  }
  if (ready > 0 && (fds[1].revents & POLLIN) != 0) DrainFd(g_signal_read_fd);
  if (ready > 0 && (fds[2].revents & POLLIN) != 0) {
    waker->Drain();
    result.woken = true;
  }
  if (g_resized) {
    g_resized = 0;
    result.resized = true;
  }
  result.interrupted = g_quit_signal != 0;
  return result;
}

bool Terminal::Write(const std::string& bytes) {
  const char* data = bytes.data();
  size_t size = bytes.size();
  while (size > 0) {
    ssize_t n = write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd out = {STDOUT_FILENO, POLLOUT, 0};
      poll(&out, 1, 100);
      continue;
    }
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace circuit::client::tui
