#ifndef CIRCUIT_CLIENT_TUI_BIG_DIGITS_H_
#define CIRCUIT_CLIENT_TUI_BIG_DIGITS_H_

// A block font for the countdown a room reads from across the studio.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace circuit::client::tui {

// Rows of every glyph.
inline constexpr int kBigTextRows = 5;

// `text` (digits, ':' and spaces; other characters draw as spaces) in the
// block font: kBigTextRows rows of equal display width, drawn with '█'.
std::vector<std::string> BigText(absl::string_view text);

// The display width of BigText(text).
int BigTextWidth(absl::string_view text);

}  // namespace circuit::client::tui

#endif  // CIRCUIT_CLIENT_TUI_BIG_DIGITS_H_
