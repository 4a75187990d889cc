#include "server/http/origins.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/quote.h"

namespace circuit {
namespace {

absl::Status NotAnOrigin(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(QuoteForError(std::string(url)),
                   " is not an HTTP address as users reach it "
                   "(http[s]://host[:port]): ",
                   why));
}

bool HostCharacter(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

absl::StatusOr<std::string> WebOrigin(absl::string_view url) {
  absl::string_view rest = absl::StripAsciiWhitespace(url);
  std::string scheme;
  if (absl::StartsWithIgnoreCase(rest, "https://")) {
    scheme = "https";
  } else if (absl::StartsWithIgnoreCase(rest, "http://")) {
    scheme = "http";
  } else {
    return NotAnOrigin(url, "it must start with http:// or https://");
  }
  rest.remove_prefix(scheme.size() + 3);
  absl::ConsumeSuffix(&rest, "/");
  if (rest.find_first_of("/?#") != absl::string_view::npos) {
    return NotAnOrigin(url, "it has a path, query or fragment");
  }
  if (absl::StrContains(rest, '@')) {
    return NotAnOrigin(url, "it has a user name");
  }
  absl::string_view host = rest;
  absl::string_view port;
  bool has_port = false;
  if (absl::StartsWith(rest, "[")) {  // an IPv6 address
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos) {
      return NotAnOrigin(url, "its IPv6 address has no closing ]");
    }
    host = rest.substr(0, close + 1);
    absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!absl::ConsumePrefix(&after, ":")) {
        return NotAnOrigin(url, "something follows its IPv6 address");
      }
      has_port = true;
      port = after;
    }
    absl::string_view inside = host.substr(1, host.size() - 2);
    if (inside.empty() ||
        !std::all_of(inside.begin(), inside.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) ||
                 c == ':' || c == '.';
        })) {
      return NotAnOrigin(url, "its IPv6 address is not one");
    }
  } else {
    const size_t colon = rest.rfind(':');
    if (colon != absl::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      has_port = true;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), HostCharacter)) {
      return NotAnOrigin(url, "its host is empty or not a host name");
    }
  }
  std::string origin = absl::StrCat(scheme, "://", absl::AsciiStrToLower(host));
  if (has_port) {
    int number = 0;
    if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535 ||
        !std::all_of(port.begin(), port.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return NotAnOrigin(url, "its port is not a number from 1 to 65535");
    }
    const int default_port = scheme == "https" ? 443 : 80;
    if (number != default_port) absl::StrAppend(&origin, ":", number);
  }
  return origin;
}

absl::StatusOr<std::vector<std::string>> WebOrigins(absl::string_view list) {
  std::vector<std::string> origins;
  for (absl::string_view url : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    if (absl::StripAsciiWhitespace(url).empty()) continue;
    absl::StatusOr<std::string> origin = WebOrigin(url);
    if (!origin.ok()) return origin.status();
    if (std::find(origins.begin(), origins.end(), *origin) == origins.end()) {
      origins.push_back(*std::move(origin));
    }
  }
  return origins;
}

}  // namespace circuit
