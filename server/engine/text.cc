#include "server/engine/text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace circuit::engine {
namespace {

bool IsControl(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

// The code point starting at text[*at], advancing *at past it; false for a
// malformed sequence (a stray continuation byte, a truncated or overlong
// sequence, a surrogate, or beyond U+10FFFF).
bool NextCodePoint(absl::string_view text, size_t* at, uint32_t* out) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(*at);
  int extra;
  uint32_t c;
  if (lead < 0x80) {
    *out = lead;
    ++*at;
    return true;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    extra = 1;
    c = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    extra = 2;
    c = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    extra = 3;
    c = lead & 0x07;
  } else {
    return false;
  }
  if (*at + extra >= text.size()) return false;  // truncated
  for (int i = 1; i <= extra; ++i) {
    const uint8_t next = byte(*at + i);
    if ((next & 0xC0) != 0x80) return false;
    c = (c << 6) | (next & 0x3F);
  }
  // Overlong forms, surrogates, and past the last code point.
  if ((extra == 2 && c < 0x800) || (extra == 3 && c < 0x10000) ||
      (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) {
    return false;
  }
  *out = c;
  *at += extra + 1;
  return true;
}

}  // namespace

int64_t CharCount(absl::string_view text) {
  int64_t count = 0;
  for (char c : text) {
    // Continuation bytes look like 10xxxxxx.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

absl::Status CheckText(absl::string_view field, absl::string_view text,
                       int64_t min_chars, int64_t max_chars) {
  int64_t chars = 0;
  for (size_t at = 0; at < text.size();) {
    uint32_t c = 0;
    if (!NextCodePoint(text, &at, &c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " is not valid UTF-8 (at byte ", at + 1, ")"));
    }
    ++chars;
    if (IsControl(c)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s has a control character (U+%04X) at character %d; it must be "
          "plain text",
          field, c, chars));
    }
  }
  if (chars < min_chars || chars > max_chars) {
    return absl::InvalidArgumentError(
        min_chars > 0 ? absl::StrCat(field, " must be ", min_chars, " to ",
                                     max_chars, " characters, got ", chars)
                      : absl::StrCat(field, " must be at most ", max_chars,
                                     " characters, got ", chars));
  }
  return absl::OkStatus();
}

}  // namespace circuit::engine
