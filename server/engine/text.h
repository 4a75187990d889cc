#ifndef CIRCUIT_SERVER_ENGINE_TEXT_H_
#define CIRCUIT_SERVER_ENGINE_TEXT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace circuit::engine {

// Number of characters (UTF-8 code points) in `text`, for length limits that
// people count in letters, not bytes.
int64_t CharCount(absl::string_view text);

// A text field from outside (a name, equipment, a cue, a symptom's words):
// OK when it is valid UTF-8, has no control characters and is `min_chars` to
// `max_chars` characters long. Otherwise INVALID_ARGUMENT naming `field`
// and saying what was wrong. Control characters are C0 (NUL, BEL, ESC,
// newline, tab...), DEL, C1, the line and paragraph separators and the
// bidirectional embeddings, overrides and isolates: each can repaint a
// terminal or reorder what another screen shows.
absl::Status CheckText(absl::string_view field, absl::string_view text,
                       int64_t min_chars, int64_t max_chars);

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_TEXT_H_
