#include "server/common/quote.h"

#include "absl/strings/str_cat.h"

namespace circuit {

std::string QuoteForError(const std::string& text) {
  constexpr size_t kMax = 64;
  return absl::StrCat("\"", text.substr(0, kMax),
                      text.size() > kMax ? "..." : "", "\"");
}

}  // namespace circuit
