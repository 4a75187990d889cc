#include "client/tui/big_digits.h"

namespace circuit::client::tui {
namespace {

// 3 x 5 bitmaps, each pixel drawn two columns wide.
constexpr const char* kDigits[10][kBigTextRows] = {
    {"###", "# #", "# #", "# #", "###"},  // 0
    {" # ", "## ", " # ", " # ", "###"},  // 1
    {"###", "  #", "###", "#  ", "###"},  // 2
    {"###", "  #", "###", "  #", "###"},  // 3
    {"# #", "# #", "###", "  #", "  #"},  // 4
    {"###", "#  ", "###", "  #", "###"},  // 5
    {"###", "#  ", "###", "# #", "###"},  // 6
    {"###", "  #", "  #", "  #", "  #"},  // 7
    {"###", "# #", "###", "# #", "###"},  // 8
    {"###", "# #", "###", "  #", "###"},  // 9
};
constexpr const char* kColon[kBigTextRows] = {" ", "#", " ", "#", " "};
constexpr const char* kSpace[kBigTextRows] = {" ", " ", " ", " ", " "};

const char* const* Glyph(char c) {
  if (c >= '0' && c <= '9') return kDigits[c - '0'];
  if (c == ':') return kColon;
  return kSpace;
}

}  // namespace

std::vector<std::string> BigText(absl::string_view text) {
  std::vector<std::string> rows(kBigTextRows);
  for (size_t i = 0; i < text.size(); ++i) {
    const char* const* glyph = Glyph(text[i]);
    for (int r = 0; r < kBigTextRows; ++r) {
      if (i > 0) rows[r] += "  ";
      for (const char* p = glyph[r]; *p != '\0'; ++p) {
        rows[r] += *p == '#' ? "██" : "  ";
      }
    }
  }
  return rows;
}

int BigTextWidth(absl::string_view text) {
  int width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i > 0) width += 2;
    width +=
        2 * static_cast<int>(std::char_traits<char>::length(Glyph(text[i])[0]));
  }
  return width;
}

}  // namespace circuit::client::tui
