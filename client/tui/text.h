#ifndef CIRCUIT_CLIENT_TUI_TEXT_H_
#define CIRCUIT_CLIENT_TUI_TEXT_H_

// Text measured in terminal columns. A column is one UTF-8 code point: the
// views only draw text whose characters are one column wide (names are the
// exception, and are clipped like everything else).

#include <string>

#include "absl/strings/string_view.h"

namespace circuit::client::tui {

// Display columns of `text`: its UTF-8 code points.
int DisplayWidth(absl::string_view text);

// `text` safe to print on a terminal: control characters (C0, DEL, C1,
// including ESC) become spaces and invalid UTF-8 becomes '?'. Names, cues
// and reasons come from other people; none of them may move the cursor.
std::string Sanitize(absl::string_view text);

// The first `width` columns of `text`, sanitized; "…" replaces the last
// column when it had to cut. Never longer than `width`; not padded.
std::string Clip(absl::string_view text, int width);

// `text` sanitized, clipped (without "…") or padded with spaces to exactly
// `width` columns.
std::string Fit(absl::string_view text, int width);

// `left` and `right` on one line of exactly `width` columns, `right` flush
// with the right edge; `left` is clipped first when both do not fit.
std::string Spread(absl::string_view left, absl::string_view right, int width);

// `text` centered in exactly `width` columns.
std::string Center(absl::string_view text, int width);

// Removes the last code point of `text` (for Backspace).
void PopCodePoint(std::string* text);

}  // namespace circuit::client::tui

#endif  // CIRCUIT_CLIENT_TUI_TEXT_H_
