#ifndef CIRCUIT_SERVER_HTTP_ORIGINS_H_
#define CIRCUIT_SERVER_HTTP_ORIGINS_H_

// Web origins: where a cluster's nodes are reached from a browser. A page
// loaded from one node reads and writes on another when its own stops
// answering (--cluster_http_urls), which the browser allows only when the
// other node answers for the page's origin (CORS).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace circuit {

// `url` as a browser writes its origin in the Origin header: "http" or
// "https", "://", the host in lower case, and ":port" unless it is the
// scheme's default (80, 443). A trailing "/" is allowed; a path, query,
// fragment or user name is not. INVALID_ARGUMENT says what is wrong.
absl::StatusOr<std::string> WebOrigin(absl::string_view url);

// A comma-separated list of WebOrigin()s, in order, each once; empty for
// an empty list.
absl::StatusOr<std::vector<std::string>> WebOrigins(absl::string_view list);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_ORIGINS_H_
