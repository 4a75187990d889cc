#include "client/lib/process_sample.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace circuit::client {
namespace {

// The first 8 KiB of a small file such as /proc/PID/stat; "" when unreadable.
std::string ReadSmallFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  char buffer[8192];
  const size_t n = std::fread(buffer, 1, sizeof buffer, f);
  std::fclose(f);
  return std::string(buffer, n);
}

}  // namespace

ProcessSample SampleProcess(pid_t pid) {
  ProcessSample sample;
  if (pid <= 0) return sample;
  const std::string stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return sample;
  // After "pid (comm) " the state is field 3; utime and stime are 14, 15.
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ');
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return sample;
  }
  sample.cpu_s = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  const std::string status =
      ReadSmallFile(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &sample.rss_kb);
  }
  sample.ok = true;
  return sample;
}

}  // namespace circuit::client
