#ifndef CIRCUIT_CLIENT_LIB_PROCESS_SAMPLE_H_
#define CIRCUIT_CLIENT_LIB_PROCESS_SAMPLE_H_

#include <sys/types.h>

#include <cstdint>

namespace circuit::client {

// What a process has used so far, from /proc: for load tools that measure
// a circuitd on the same machine.
struct ProcessSample {
  bool ok = false;     // false when the process could not be read
  double cpu_s = 0;    // utime + stime (fields 14 and 15 of /proc/PID/stat)
  int64_t rss_kb = 0;  // VmRSS of /proc/PID/status
};

ProcessSample SampleProcess(pid_t pid);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_PROCESS_SAMPLE_H_
