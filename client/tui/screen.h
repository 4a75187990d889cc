#ifndef CIRCUIT_CLIENT_TUI_SCREEN_H_
#define CIRCUIT_CLIENT_TUI_SCREEN_H_

// Frames and flicker-free redraw: a frame is the whole screen as lines of
// text; the screen writes only the lines that changed since the last frame,
// each cursor-positioned, in one write().

#include <functional>
#include <string>
#include <vector>

namespace circuit::client::tui {

// What a view draws: one string per row. The views make every line exactly
// the frame's width in display columns (see text.h).
struct Frame {
  std::vector<std::string> lines;
  // Rows drawn in reverse video (title and status bars), by index.
  std::vector<int> highlighted;

  bool IsHighlighted(int row) const;
};

// The terminal's screen as last drawn. Not thread-safe: one UI thread owns
// it.
class Screen {
 public:
  // `write` sends bytes to the terminal; it returns false when it could not.
  explicit Screen(std::function<bool(const std::string&)> write);

  // Sets the terminal size; the next Draw clears and redraws everything.
  void Resize(int width, int height);
  // Forgets what is on the terminal; the next Draw redraws everything.
  void Invalidate() { full_redraw_ = true; }

  // The bytes that turn the last frame drawn into `frame`, which is fitted
  // (clipped and padded) to the size: for each changed row, a cursor move
  // and the row. Empty when nothing changed. Updates the remembered frame.
  std::string Update(const Frame& frame);
  // Update, written in one call of `write`.
  bool Draw(const Frame& frame);

  int width() const { return width_; }
  int height() const { return height_; }

 private:
  std::function<bool(const std::string&)> write_;
  int width_ = 80;
  int height_ = 24;
  bool full_redraw_ = true;
  // What each row shows now, with its highlight flag as a prefix byte.
  std::vector<std::string> shown_;
};

}  // namespace circuit::client::tui

#endif  // CIRCUIT_CLIENT_TUI_SCREEN_H_
