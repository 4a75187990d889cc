#ifndef CIRCUIT_SERVER_COMMON_QUOTE_H_
#define CIRCUIT_SERVER_COMMON_QUOTE_H_

#include <string>

namespace circuit {

// `text` quoted for an error message, cut at 64 characters: what a client
// sent is named back to it, but never at any length it chose.
std::string QuoteForError(const std::string& text);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_QUOTE_H_
