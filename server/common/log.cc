#include "server/common/log.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace circuit {
namespace {

// Read on every log call from any thread; written rarely.
std::atomic<bool> quiet{false};

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo:
      return "I";
    case LogSeverity::kWarning:
      return "W";
    case LogSeverity::kError:
      return "E";
  }
  return "?";
}

}  // namespace

void SetLogQuiet(bool value) { quiet.store(value, std::memory_order_relaxed); }

void LogLine(LogSeverity severity, const std::string& message) {
  if (severity == LogSeverity::kInfo && quiet.load(std::memory_order_relaxed)) {
    return;
  }
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   " ", SeverityName(severity), " ", message, "\n");
  // One write so concurrent lines do not interleave.
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n =
        ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

}  // namespace circuit
