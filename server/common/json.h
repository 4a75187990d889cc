#ifndef CIRCUIT_SERVER_COMMON_JSON_H_
#define CIRCUIT_SERVER_COMMON_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace circuit {

// `text` as a JSON string literal, quotes included. Besides what JSON
// requires, `<`, `>` and `&` are escaped too, so the string is never markup
// wherever a page puts it. Bytes that are not valid UTF-8 become U+FFFD
// (each byte one), so the result is always valid JSON.
std::string JsonString(absl::string_view text);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_JSON_H_
