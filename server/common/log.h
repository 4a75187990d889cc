#ifndef CIRCUIT_SERVER_COMMON_LOG_H_
#define CIRCUIT_SERVER_COMMON_LOG_H_

#include <string>

#include "absl/strings/str_format.h"

namespace circuit {

// The one logger: one line per message on stderr, with a UTC timestamp and a
// severity. Thread-safe (one write(2) per line). Abseil 20220623 has no
// absl/log, so this stays deliberately small.
//
// Never log health data (effort, symptoms) or credentials in plain text.
enum class LogSeverity { kInfo, kWarning, kError };

void LogLine(LogSeverity severity, const std::string& message);

// Silences kInfo lines (tests, benchmarks). Thread-safe.
void SetLogQuiet(bool quiet);

template <typename... Args>
void LogInfo(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogSeverity::kInfo, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogWarning(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogSeverity::kWarning, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogError(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogSeverity::kError, absl::StrFormat(format, args...));
}

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_LOG_H_
