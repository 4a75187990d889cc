#include "bench/load/report.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/common/json.h"

namespace circuit::bench {

int64_t Quantile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<size_t>(q *
                                    static_cast<double>(sorted.size() - 1))];
}

namespace {

std::string Number(double value, int decimals = 1) {
  if (std::isnan(value)) return "-";
  return absl::StrFormat("%.*f", decimals, value);
}

std::string Ms(int64_t us) { return absl::StrFormat("%.1f", us / 1000.0); }

std::string JsonNumber(double value) {
  if (std::isnan(value) || std::isinf(value)) return "null";
  return absl::StrFormat("%.3f", value);
}

// A number when `text` is one, else a string.
std::string JsonNumberOrString(const std::string& text) {
  double value = 0;
  return absl::SimpleAtod(text, &value) ? text : JsonString(text);
}

// The notes column: joins, split figures, and anything that went wrong.
std::string Notes(const Row& row) {
  std::vector<std::string> notes;
  if (row.transport != "grpc") {
    notes.push_back(absl::StrFormat(
        "transport %s: one HTTP connection each, %d events in %d reads",
        row.transport, row.read_messages, row.reads));
  }
  if (row.consoles > 0) {
    notes.push_back(absl::StrFormat("%d consoles over %s", row.consoles,
                                    row.console_transport));
  }
  if (row.mode == "joins") {
    notes.push_back(absl::StrFormat(
        "%.0f joins/s, server %s ms CPU each",
        row.join_s > 0 ? static_cast<double>(row.participants) / row.join_s
                       : 0.0,
        Number(row.server_cpu_ms_per_join, 2)));
  } else if (!row.join_latency_us.empty()) {
    notes.push_back(absl::StrFormat(
        "joins %.1f s (%.0f/s, p50 %s ms, p99 %s ms, server %s ms CPU each)",
        row.join_s,
        row.join_s > 0 ? static_cast<double>(row.participants) / row.join_s
                       : 0.0,
        Ms(Quantile(row.join_latency_us, 0.5)),
        Ms(Quantile(row.join_latency_us, 0.99)),
        Number(row.server_cpu_ms_per_join, 2)));
  }
  if (!std::isnan(row.server_cpu_percent)) {
    notes.push_back(absl::StrFormat(
        "server CPU %.2f s in %.1f s: %s%% of a core", row.server_cpu_s,
        row.measured_s, Number(row.server_cpu_percent, 2)));
  }
  if (!row.cue_latency_us.empty() && !row.change_latency_us.empty()) {
    notes.push_back(absl::StrFormat(
        "cue p50 %s p99 %s ms; interval change p50 %s p99 %s ms",
        Ms(Quantile(row.cue_latency_us, 0.5)),
        Ms(Quantile(row.cue_latency_us, 0.99)),
        Ms(Quantile(row.change_latency_us, 0.5)),
        Ms(Quantile(row.change_latency_us, 0.99))));
  }
  if (row.nexts_timed > 0) {
    notes.push_back(absl::StrFormat(
        "slowest of %d nexts reached 99%% in %s ms, 100%% in %s ms",
        row.nexts_timed, Number(row.next_reach99_ms),
        Number(row.next_reach100_ms)));
  }
  if (row.auto_advances > 0) {
    notes.push_back(
        absl::StrFormat("%d timer advances (untimed)", row.auto_advances));
  }
  if (row.acks_expected > 0 && row.mode == "class") {
    notes.push_back(absl::StrFormat(
        "acks %d/%d, p50 %s p99 %s ms",
        static_cast<int64_t>(row.ack_latency_us.size()), row.acks_expected,
        Ms(Quantile(row.ack_latency_us, 0.5)),
        Ms(Quantile(row.ack_latency_us, 0.99))));
  }
  if (row.refused > 0) {
    notes.push_back(absl::StrFormat("%d reports refused (first: %s)",
                                    row.refused, row.first_refusal));
  }
  if (row.commands_refused > 0) {
    notes.push_back(absl::StrFormat("%d commands refused (first: %s)",
                                    row.commands_refused,
                                    row.first_command_refusal));
  }
  if (row.cue_duplicates > 0) {
    notes.push_back(absl::StrFormat("%d cues twice", row.cue_duplicates));
  }
  if (row.cut > 0) {
    notes.push_back(absl::StrFormat("%d participant streams cut (first: %s)",
                                    row.cut, row.first_cut));
  }
  if (row.batches && row.reads > 0) {
    notes.push_back(absl::StrFormat(
        "streams accept batches: participants got %d messages in %d reads",
        row.read_messages, row.reads));
  }
  notes.push_back(absl::StrCat("instructor stream ", row.instructor));
  if (!row.attack.empty()) {
    notes.push_back(absl::StrFormat(
        "attack %s: %s; server RSS %s MB before, %s MB peak, %s MB after",
        row.attack, row.attack_summary, Number(row.rss_before_attack_mb),
        Number(row.attack_tally.server_rss_peak_mb),
        Number(row.rss_after_attack_mb)));
  }
  std::string text = absl::StrJoin(notes, "; ");
  absl::StrReplaceAll({{"|", "/"}}, &text);
  return text;
}

}  // namespace

void PrintHeader() {
  std::printf(
      "| mode | N | messages | rate/s | delivered/expected | p50 ms | p90 ms | "
      "p99 ms | max ms | drain s | kept up | server CPU/msg us | "
      "RSS/participant KB | server RSS MB | load tool CPU s | notes |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

void PrintRow(const Row& row) {
  const bool timed = row.has_deliveries && !row.latency_us.empty();
  std::printf(
      "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
      "| %.2f | %s |\n",
      row.mode.c_str(), row.participants, row.messages.c_str(),
      row.rate.c_str(),
      row.has_deliveries
          ? absl::StrCat(row.delivered, "/", row.expected).c_str()
          : "-",
      timed ? Ms(Quantile(row.latency_us, 0.5)).c_str() : "-",
      timed ? Ms(Quantile(row.latency_us, 0.9)).c_str() : "-",
      timed ? Ms(Quantile(row.latency_us, 0.99)).c_str() : "-",
      timed ? Ms(row.latency_us.back()).c_str() : "-",
      Number(row.drain_s, 2).c_str(), row.kept_up ? "yes" : "no",
      Number(row.server_cpu_us_per_message).c_str(),
      Number(row.rss_kb_per_participant).c_str(),
      Number(row.server_rss_mb).c_str(), row.load_cpu_s, Notes(row).c_str());
  std::fflush(stdout);
}

void PrintJson(const Row& row) {
  auto quantile_ms = [](const std::vector<int64_t>& sorted, double q) {
    return sorted.empty() ? kNan
                          : static_cast<double>(Quantile(sorted, q)) / 1000.0;
  };
  std::vector<std::pair<std::string, std::string>> fields = {
      {"mode", JsonString(row.mode)},
      {"transport", JsonString(row.transport)},
      {"consoles", absl::StrCat(row.consoles)},
      {"console_transport", JsonString(row.console_transport)},
      {"participants", absl::StrCat(row.participants)},
      {"messages", JsonNumberOrString(row.messages)},
      {"rate", JsonNumberOrString(row.rate)},
      {"delivered", row.has_deliveries ? absl::StrCat(row.delivered) : "null"},
      {"expected", row.has_deliveries ? absl::StrCat(row.expected) : "null"},
      {"p50_ms", JsonNumber(quantile_ms(row.latency_us, 0.5))},
      {"p90_ms", JsonNumber(quantile_ms(row.latency_us, 0.9))},
      {"p99_ms", JsonNumber(quantile_ms(row.latency_us, 0.99))},
      {"max_ms", JsonNumber(quantile_ms(row.latency_us, 1.0))},
      {"drain_s", JsonNumber(row.drain_s)},
      {"kept_up", row.kept_up ? "true" : "false"},
      {"server_cpu_us_per_message", JsonNumber(row.server_cpu_us_per_message)},
      {"rss_kb_per_participant", JsonNumber(row.rss_kb_per_participant)},
      {"server_rss_mb", JsonNumber(row.server_rss_mb)},
      {"load_cpu_s", JsonNumber(row.load_cpu_s)},
      {"measured_s", JsonNumber(row.measured_s)},
      {"server_cpu_s", JsonNumber(row.server_cpu_s)},
      {"server_cpu_percent", JsonNumber(row.server_cpu_percent)},
      {"join_s", JsonNumber(row.join_s)},
      {"join_p50_ms", JsonNumber(quantile_ms(row.join_latency_us, 0.5))},
      {"join_p99_ms", JsonNumber(quantile_ms(row.join_latency_us, 0.99))},
      {"server_cpu_ms_per_join", JsonNumber(row.server_cpu_ms_per_join)},
      {"cue_p50_ms", JsonNumber(quantile_ms(row.cue_latency_us, 0.5))},
      {"cue_p99_ms", JsonNumber(quantile_ms(row.cue_latency_us, 0.99))},
      {"change_p50_ms", JsonNumber(quantile_ms(row.change_latency_us, 0.5))},
      {"change_p99_ms", JsonNumber(quantile_ms(row.change_latency_us, 0.99))},
      {"next_reach99_ms", JsonNumber(row.next_reach99_ms)},
      {"next_reach100_ms", JsonNumber(row.next_reach100_ms)},
      {"timer_advances", absl::StrCat(row.auto_advances)},
      {"acks", absl::StrCat(row.ack_latency_us.size())},
      {"acks_expected", absl::StrCat(row.acks_expected)},
      {"ack_p50_ms", JsonNumber(quantile_ms(row.ack_latency_us, 0.5))},
      {"ack_p99_ms", JsonNumber(quantile_ms(row.ack_latency_us, 0.99))},
      {"reports_refused", absl::StrCat(row.refused)},
      {"commands_refused", absl::StrCat(row.commands_refused)},
      {"streams_cut", absl::StrCat(row.cut)},
      {"first_cut", JsonString(row.first_cut)},
      {"instructor", JsonString(row.instructor)},
      {"batches", row.batches ? "true" : "false"},
      {"participant_reads", absl::StrCat(row.reads)},
      {"participant_messages", absl::StrCat(row.read_messages)},
  };
  if (!row.attack.empty()) {
    const AttackTally& a = row.attack_tally;
    const std::vector<std::pair<std::string, std::string>> attack = {
        {"attack", JsonString(row.attack)},
        {"attack_summary", JsonString(row.attack_summary)},
        {"rss_before_attack_mb", JsonNumber(row.rss_before_attack_mb)},
        {"rss_peak_attack_mb", JsonNumber(a.server_rss_peak_mb)},
        {"rss_after_attack_mb", JsonNumber(row.rss_after_attack_mb)},
        {"attack_join_attempts", absl::StrCat(a.join_attempts)},
        {"attack_joins_ok", absl::StrCat(a.joins_ok)},
        {"attack_joins_refused", absl::StrCat(a.joins_refused)},
        {"attack_joins_other", absl::StrCat(a.joins_other)},
        {"attack_opened", absl::StrCat(a.opened)},
        {"attack_closed_by_server", absl::StrCat(a.closed_by_server)},
        {"attack_open_peak", absl::StrCat(a.open_peak)},
        {"attack_held_p50_s", JsonNumber(a.held_p50_s)},
        {"attack_held_max_s", JsonNumber(a.held_max_s)},
        {"attack_probes", absl::StrCat(a.probes)},
        {"attack_probes_ok", absl::StrCat(a.probes_ok)},
        {"attack_reports_sent", absl::StrCat(a.reports_sent)},
        {"attack_reports_acked", absl::StrCat(a.reports_acked)},
        {"attack_reports_refused", absl::StrCat(a.reports_refused)},
        {"attack_streams_cut", absl::StrCat(a.streams_cut)},
        {"attack_resumes", absl::StrCat(a.resumes)},
    };
    fields.insert(fields.end(), attack.begin(), attack.end());
  }
  std::string line = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::StrAppend(&line, i ? ", " : "", "\"", fields[i].first,
                    "\": ", fields[i].second);
  }
  std::printf("%s}\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace circuit::bench
