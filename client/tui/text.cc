#include "client/tui/text.h"

#include <algorithm>
#include <cstdint>

#include "client/lib/summary_format.h"

namespace circuit::client::tui {
namespace {

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

int DisplayWidth(absl::string_view text) {
  int width = 0;
  for (char c : text) {
    if (!IsContinuation(static_cast<unsigned char>(c))) ++width;
  }
  return width;
}

// One rule for every screen and export: the client library's.
std::string Sanitize(absl::string_view text) { return SanitizeText(text); }

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
