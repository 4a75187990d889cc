#include "client/tui/screen.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/tui/text.h"

namespace circuit::client::tui {

bool Frame::IsHighlighted(int row) const {
  return std::find(highlighted.begin(), highlighted.end(), row) !=
         highlighted.end();
}

Screen::Screen(std::function<bool(const std::string&)> write)
    : write_(std::move(write)) {}

void Screen::Resize(int width, int height) {
  width_ = std::max(width, 1);
  height_ = std::max(height, 1);
  full_redraw_ = true;
}

std::string Screen::Update(const Frame& frame) {
  std::string out;
  if (full_redraw_) {
    // Only after a resize or at the start: clear what another size left.
    out = "\x1b[0m\x1b[2J";
    shown_.assign(height_, std::string());
  }
  for (int row = 0; row < height_; ++row) {
    const bool highlight = frame.IsHighlighted(row);
    std::string line =
        Fit(row < static_cast<int>(frame.lines.size()) ? frame.lines[row] : "",
            width_);
    std::string key = absl::StrCat(highlight ? "H" : "N", line);
    if (!full_redraw_ && shown_[row] == key) continue;
    absl::StrAppend(&out, "\x1b[", row + 1, ";1H", highlight ? "\x1b[7m" : "",
                    line, highlight ? "\x1b[0m" : "");
    shown_[row] = std::move(key);
  }
  full_redraw_ = false;
  return out;
}

bool Screen::Draw(const Frame& frame) {
  std::string bytes = Update(frame);
  if (bytes.empty()) return true;
  return write_(bytes);
}

}  // namespace circuit::client::tui
