#ifndef CIRCUIT_BENCH_LOAD_REPORT_H_
#define CIRCUIT_BENCH_LOAD_REPORT_H_

// One run's figures, and how they are printed: a markdown table row or a
// JSON object.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bench/load/attack.h"

namespace circuit::bench {

inline constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// The value at quantile q (0..1) of sorted values: values[floor(q * (n-1))],
// as the Colyseus and bare gRPC load tools compute it.
int64_t Quantile(const std::vector<int64_t>& sorted, double q);

// One run's figures.

struct Row {
  std::string mode;
  std::string transport = "grpc";
  // --consoles: how many, and "grpc" or "sse".
  int consoles = 0;
  std::string console_transport;
  int participants = 0;
  std::string messages = "-";
  std::string rate = "-";
  // Timed deliveries (cues, interval changes, acks, joins).
  int64_t delivered = 0;
  int64_t expected = 0;
  bool has_deliveries = true;
  std::vector<int64_t> latency_us;  // sorted
  double drain_s = kNan;
  bool kept_up = false;
  double server_cpu_us_per_message = kNan;
  double rss_kb_per_participant = kNan;
  double server_rss_mb = kNan;
  double load_cpu_s = 0;
  double measured_s = 0;
  double server_cpu_s = kNan;
  double server_cpu_percent = kNan;
  // Joins.
  double join_s = 0;
  std::vector<int64_t> join_latency_us;  // sorted
  double server_cpu_ms_per_join = kNan;
  // Streams.
  std::string instructor = "up";
  bool batches = false;
  // Participant stream reads and the messages they carried, measured phase.
  int64_t reads = 0;
  int64_t read_messages = 0;
  int cut = 0;
  std::string first_cut;
  int commands_refused = 0;
  std::string first_command_refusal;
  int64_t cue_duplicates = 0;
  // Split figures (class mode; the others where they apply).
  std::vector<int64_t> cue_latency_us;     // sorted
  std::vector<int64_t> change_latency_us;  // sorted
  double next_reach99_ms = kNan;
  double next_reach100_ms = kNan;
  int nexts_timed = 0;
  int auto_advances = 0;
  std::vector<int64_t> ack_latency_us;  // sorted
  int64_t acks_expected = 0;
  int64_t refused = 0;
  std::string first_refusal;
  // --attack: which, and what it did; circuitd's RSS before it, at its
  // peak and after it stopped.
  std::string attack;
  std::string attack_summary;
  AttackTally attack_tally;
  double rss_before_attack_mb = kNan;
  double rss_after_attack_mb = kNan;
};

// The table's header, once before the rows.
void PrintHeader();
void PrintRow(const Row& row);
// One JSON object a line.
void PrintJson(const Row& row);

}  // namespace circuit::bench

#endif  // CIRCUIT_BENCH_LOAD_REPORT_H_
