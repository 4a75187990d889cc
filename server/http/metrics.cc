#include "server/http/metrics.h"

#include <array>
#include <atomic>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "circuit/v1/live.pb.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"
#include "prometheus/text_serializer.h"
#include "server/common/stats.h"
#include "server/fanout/stream.h"
#include "server/http/http_api.h"

namespace circuit {
namespace {

// "lobby", "running", ...: the ClassPhase name without its prefix.
std::string PhaseLabel(v1::ClassPhase phase) {
  std::string name = v1::ClassPhase_Name(phase);
  constexpr absl::string_view kPrefix = "CLASS_PHASE_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddCounter(prometheus::MetricFamily* family, double value,
                std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  family->metric.push_back(std::move(metric));
}

// A family of one counter, without labels.
template <typename T>
prometheus::MetricFamily OneCounter(std::string name, std::string help,
                                    const std::atomic<T>& count) {
  prometheus::MetricFamily family =
      Family(std::move(name), std::move(help), prometheus::MetricType::Counter);
  AddCounter(&family,
             static_cast<double>(count.load(std::memory_order_relaxed)));
  return family;
}

// Counts by gRPC status code: every code seen, and OK always.
prometheus::MetricFamily ByCode(
    std::string name, std::string help,
    const std::array<std::atomic<uint64_t>, ServerStats::kCodes>& counts) {
  prometheus::MetricFamily family =
      Family(std::move(name), std::move(help), prometheus::MetricType::Counter);
  for (int code = 0; code < ServerStats::kCodes; ++code) {
    const uint64_t count =
        counts[static_cast<size_t>(code)].load(std::memory_order_relaxed);
    if (code != 0 && count == 0) continue;
    AddCounter(&family, static_cast<double>(count),
               {{"code", StatusCodeName(static_cast<absl::StatusCode>(code))}});
  }
  return family;
}

// `histogram`'s observations, multiplied by `scale` (ns to s, say).
prometheus::MetricFamily HistogramFamily(std::string name, std::string help,
                                         const Histogram& histogram,
                                         double scale) {
  prometheus::MetricFamily family = Family(std::move(name), std::move(help),
                                           prometheus::MetricType::Histogram);
  const Histogram::Snapshot read = histogram.Read();
  prometheus::ClientMetric metric;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < read.counts.size(); ++i) {
    cumulative += read.counts[i];
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = i < read.bounds.size()
                             ? static_cast<double>(read.bounds[i]) * scale
                             : std::numeric_limits<double>::infinity();
    metric.histogram.bucket.push_back(bucket);
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = static_cast<double>(read.sum) * scale;
  family.metric.push_back(std::move(metric));
  return family;
}

// What the rest of circuitd counts (server/common/stats.h).
std::vector<prometheus::MetricFamily> StatsFamilies() {
  ServerStats& stats = ProcessStats();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(ByCode("circuit_reports_total",
                            "Reports (completions, effort, symptoms) "
                            "answered, by status code",
                            stats.reports_by_code));
  families.push_back(ByCode("circuit_commands_total",
                            "Instructor commands answered, by status code",
                            stats.commands_by_code));
  families.push_back(HistogramFamily(
      "circuit_ack_latency_seconds",
      "From a report reaching its class to its ack being queued",
      stats.ack_latency_ns, 1e-9));
  families.push_back(HistogramFamily("circuit_journal_commit_seconds",
                                     "One journal transaction, written and "
                                     "committed",
                                     stats.journal_commit_ns, 1e-9));
  families.push_back(HistogramFamily("circuit_journal_batch_entries",
                                     "Operations in one journal transaction",
                                     stats.journal_batch_entries, 1));
  if (stats.clustered.load(std::memory_order_relaxed)) {
    for (const auto& [name, help, value] :
         {std::tuple<const char*, const char*, double>{
              "circuit_cluster_classes_owned",
              "Classes this node owns (runs) in the cluster",
              static_cast<double>(
                  stats.cluster_classes_owned.load(std::memory_order_relaxed))},
          {"circuit_cluster_classes_without_owner",
           "Live classes no node owns, as this node last looked (each waits "
           "for a node to take it over)",
           static_cast<double>(stats.cluster_classes_without_owner.load(
               std::memory_order_relaxed))},
          {"circuit_cluster_classes_followed",
           "Classes other nodes own that this node follows (serves streams "
           "of, forwarding their inputs)",
           static_cast<double>(stats.cluster_classes_followed.load(
               std::memory_order_relaxed))}}) {
      prometheus::MetricFamily gauge =
          Family(name, help, prometheus::MetricType::Gauge);
      prometheus::ClientMetric metric;
      metric.gauge.value = value;
      gauge.metric.push_back(std::move(metric));
      families.push_back(std::move(gauge));
    }
    families.push_back(
        OneCounter("circuit_cluster_lease_renew_failures_total",
                   "Class lease renewals that failed (unanswered or refused)",
                   stats.cluster_lease_renew_failures));
    families.push_back(
        OneCounter("circuit_cluster_forward_failures_total",
                   "Inputs forwarded to a class's owner that got no answer in "
                   "time (the client is told to retry)",
                   stats.cluster_forward_failures));
  }
  families.push_back(OneCounter(
      "circuit_slow_reader_disconnects_total",
      "Streams closed because their reader fell too far behind (its queue "
      "overflowed)",
      stats.slow_reader_disconnects));
  prometheus::MetricFamily limited =
      Family("circuit_rate_limited_total", "Requests refused by a rate limit",
             prometheus::MetricType::Counter);
  AddCounter(&limited,
             static_cast<double>(
                 stats.rate_limited_joins.load(std::memory_order_relaxed)),
             {{"limit", "joins_per_peer"}});
  AddCounter(&limited,
             static_cast<double>(
                 stats.rate_limited_messages.load(std::memory_order_relaxed)),
             {{"limit", "stream_messages"}});
  AddCounter(&limited,
             static_cast<double>(stats.refused_http_connections.load(
                 std::memory_order_relaxed)),
             {{"limit", "http_connections"}});
  families.push_back(std::move(limited));
  prometheus::MetricFamily delayed =
      Family("circuit_delayed_refusals",
             "Joins and resumes refused by the per-address rate limit whose "
             "answer waits out --refusal_delay_ms",
             prometheus::MetricType::Gauge);
  prometheus::ClientMetric waiting;
  waiting.gauge.value = static_cast<double>(
      stats.delayed_refusals.load(std::memory_order_relaxed));
  delayed.metric.push_back(std::move(waiting));
  families.push_back(std::move(delayed));
  prometheus::MetricFamily resumes =
      Family("circuit_resumes_total",
             "Streams resumed from a seq: with the missed events, or with a "
             "snapshot when those were too old",
             prometheus::MetricType::Counter);
  AddCounter(&resumes,
             static_cast<double>(
                 stats.resumes_with_events.load(std::memory_order_relaxed)),
             {{"with", "events"}});
  AddCounter(&resumes,
             static_cast<double>(
                 stats.resumes_with_snapshot.load(std::memory_order_relaxed)),
             {{"with", "snapshot"}});
  families.push_back(std::move(resumes));
  return families;
}

}  // namespace

Metrics::Metrics(ClassRegistry* registry, std::function<StreamCounts()> streams)
    : registry_(registry),
      streams_(std::move(streams)),
      prometheus_(std::make_shared<prometheus::Registry>()) {
  classes_ = &prometheus::BuildGauge()
                  .Name("circuit_classes")
                  .Help("Classes this node runs that have not ended, by phase")
                  .Register(*prometheus_);
  for (int phase = v1::ClassPhase_MIN + 1; phase <= v1::ClassPhase_MAX;
       ++phase) {
    if (v1::ClassPhase_IsValid(phase)) {
      classes_->Add(
          {{"phase", PhaseLabel(static_cast<v1::ClassPhase>(phase))}});
    }
  }
  open_streams_ =
      &prometheus::BuildGauge()
           .Name("circuit_open_streams")
           .Help("Open class streams (gRPC, and HTTP event streams), by role")
           .Register(*prometheus_);
  auto& messages = prometheus::BuildCounter()
                       .Name("circuit_fanout_messages_total")
                       .Help(
                           "Messages written to class streams (a batch "
                           "counts each message it carries)")
                       .Register(*prometheus_);
  messages_ = &messages.Add({});
  auto& writes = prometheus::BuildCounter()
                     .Name("circuit_fanout_writes_total")
                     .Help("Writes to class streams")
                     .Register(*prometheus_);
  writes_ = &writes.Add({});
  auto& bytes = prometheus::BuildCounter()
                    .Name("circuit_fanout_bytes_total")
                    .Help(
                        "Bytes of the messages written to class streams, as "
                        "serialized protobuf (HTTP event streams carry them "
                        "as JSON, which is larger)")
                    .Register(*prometheus_);
  bytes_ = &bytes.Add({});
  http_responses_ = &prometheus::BuildCounter()
                         .Name("circuit_http_responses_total")
                         .Help("HTTP responses, by status code")
                         .Register(*prometheus_);
}

void Metrics::CountHttpResponse(int status) {
  http_responses_->Add({{"code", absl::StrCat(status)}}).Increment();
}

std::string Metrics::Scrape() {
  absl::MutexLock lock(&scrape_mu_);
  if (registry_ != nullptr) {
    std::map<std::string, int> by_phase;
    for (const v1::ClassInfo& info : registry_->ListRunHere()) {
      ++by_phase[PhaseLabel(info.phase())];
    }
    for (int phase = v1::ClassPhase_MIN + 1; phase <= v1::ClassPhase_MAX;
         ++phase) {
      if (!v1::ClassPhase_IsValid(phase)) continue;
      const std::string label = PhaseLabel(static_cast<v1::ClassPhase>(phase));
      classes_->Add({{"phase", label}}).Set(by_phase[label]);
    }
  }
  if (streams_) {
    const StreamCounts counts = streams_();
    open_streams_->Add({{"role", "instructor"}})
        .Set(static_cast<double>(counts.instructors));
    open_streams_->Add({{"role", "participant"}})
        .Set(static_cast<double>(counts.participants +
                                 ProcessStats().open_http_participants.load(
                                     std::memory_order_relaxed)));
    open_streams_->Add({{"role", "kiosk"}})
        .Set(static_cast<double>(
            counts.kiosks +
            ProcessStats().open_http_kiosks.load(std::memory_order_relaxed)));
  }
  const Stream::Totals totals = Stream::totals();
  if (totals.messages > last_messages_) {
    messages_->Increment(static_cast<double>(totals.messages - last_messages_));
  }
  if (totals.writes > last_writes_) {
    writes_->Increment(static_cast<double>(totals.writes - last_writes_));
  }
  if (totals.bytes > last_bytes_) {
    bytes_->Increment(static_cast<double>(totals.bytes - last_bytes_));
  }
  last_bytes_ = totals.bytes;
  last_messages_ = totals.messages;
  last_writes_ = totals.writes;
  std::vector<prometheus::MetricFamily> families = prometheus_->Collect();
  for (prometheus::MetricFamily& family : StatsFamilies()) {
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace circuit
