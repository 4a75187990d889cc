#include "client/tui/text.h"

#include <algorithm>
#include <cstdint>

namespace circuit::client::tui {
namespace {

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Decodes one code point at `text[*pos]` and advances `*pos`; -1 for an
// invalid sequence (one byte is consumed).
int32_t Decode(absl::string_view text, size_t* pos) {
  const unsigned char c = static_cast<unsigned char>(text[*pos]);
  int length = 0;
  int32_t code = 0;
  if (c < 0x80) {
    ++*pos;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    length = 2;
    code = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    length = 3;
    code = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    length = 4;
    code = c & 0x07;
  } else {
    ++*pos;
    return -1;
  }
  if (*pos + length > text.size()) {
    ++*pos;
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    const unsigned char next = static_cast<unsigned char>(text[*pos + i]);
    if (!IsContinuation(next)) {
      ++*pos;
      return -1;
    }
    code = (code << 6) | (next & 0x3F);
  }
  const int32_t min_code[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < min_code[length] || code > 0x10FFFF ||
      (code >= 0xD800 && code <= 0xDFFF)) {
    ++*pos;
    return -1;
  }
  *pos += length;
  return code;
}

}  // namespace

int DisplayWidth(absl::string_view text) {
  int width = 0;
  for (char c : text) {
    if (!IsContinuation(static_cast<unsigned char>(c))) ++width;
  }
  return width;
}

std::string Sanitize(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const int32_t code = Decode(text, &pos);
    if (code < 0) {
      out.push_back('?');
    } else if (code < 0x20 || code == 0x7F || (code >= 0x80 && code < 0xA0)) {
      out.push_back(' ');
    } else {
      out.append(text.data() + start, pos - start);
    }
  }
  return out;
}

namespace {

// The byte length of the first `columns` code points of sanitized `text`.
size_t PrefixBytes(absl::string_view text, int columns) {
  size_t pos = 0;
  int seen = 0;
  while (pos < text.size() && seen < columns) {
    ++pos;
    while (pos < text.size() &&
           IsContinuation(static_cast<unsigned char>(text[pos]))) {
      ++pos;
    }
    ++seen;
  }
  return pos;
}

}  // namespace

std::string Clip(absl::string_view text, int width) {
  if (width <= 0) return "";
  std::string clean = Sanitize(text);
  if (DisplayWidth(clean) <= width) return clean;
  clean.resize(PrefixBytes(clean, width - 1));
  return clean + "…";
}

std::string Fit(absl::string_view text, int width) {
  if (width <= 0) return "";
  std::string clean = Sanitize(text);
  const int columns = DisplayWidth(clean);
  if (columns > width) {
    clean.resize(PrefixBytes(clean, width));
  } else {
    clean.append(width - columns, ' ');
  }
  return clean;
}

std::string Spread(absl::string_view left, absl::string_view right, int width) {
  if (width <= 0) return "";
  std::string r = Clip(right, width);
  const int right_width = DisplayWidth(r);
  const int left_room = width - right_width - (right_width > 0 ? 1 : 0);
  std::string l = left_room > 0 ? Clip(left, left_room) : "";
  const int gap = width - DisplayWidth(l) - right_width;
  return l + std::string(std::max(gap, 0), ' ') + r;
}

std::string Center(absl::string_view text, int width) {
  if (width <= 0) return "";
  std::string clean = Clip(text, width);
  const int margin = (width - DisplayWidth(clean)) / 2;
  return Fit(std::string(margin, ' ') + clean, width);
}

void PopCodePoint(std::string* text) {
  while (!text->empty()) {
    const unsigned char last = static_cast<unsigned char>(text->back());
    text->pop_back();
    if (!IsContinuation(last)) break;
  }
}

}  // namespace circuit::client::tui
