#include "server/http/static_files.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace circuit {

std::optional<std::string> StaticFiles::Read(absl::string_view name) const {
  // Only plain names: nothing outside the directory can be asked for.
  if (name.empty() || name.front() == '.' ||
      name.find_first_of("/\\") != absl::string_view::npos) {
    return std::nullopt;
  }
  if (!dir_.empty()) {
    std::ifstream in(absl::StrCat(dir_, "/", name), std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }
  for (const StaticFile& file : EmbeddedStaticFiles()) {
    if (file.name == name) return std::string(file.bytes);
  }
  return std::nullopt;
}

const char* StaticFiles::ContentType(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace circuit
