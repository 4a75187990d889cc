#include "server/http/metrics.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "circuit/v1/live.pb.h"
#include "prometheus/text_serializer.h"
#include "server/fanout/stream.h"

namespace circuit {
namespace {

// "lobby", "running", ...: the ClassPhase name without its prefix.
std::string PhaseLabel(v1::ClassPhase phase) {
  std::string name = v1::ClassPhase_Name(phase);
  constexpr absl::string_view kPrefix = "CLASS_PHASE_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

}  // namespace

Metrics::Metrics(ClassRegistry* registry, std::function<StreamCounts()> streams)
    : registry_(registry),
      streams_(std::move(streams)),
      prometheus_(std::make_shared<prometheus::Registry>()) {
  classes_ = &prometheus::BuildGauge()
                  .Name("circuit_classes")
                  .Help("Classes that have not ended, by phase")
                  .Register(*prometheus_);
  for (int phase = v1::ClassPhase_MIN + 1; phase <= v1::ClassPhase_MAX;
       ++phase) {
    if (v1::ClassPhase_IsValid(phase)) {
      classes_->Add(
          {{"phase", PhaseLabel(static_cast<v1::ClassPhase>(phase))}});
    }
  }
  open_streams_ = &prometheus::BuildGauge()
                       .Name("circuit_open_streams")
                       .Help("Open class streams, by role")
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
    for (const v1::ClassInfo& info : registry_->List(/*include_ended=*/false)) {
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
        .Set(static_cast<double>(counts.participants));
    open_streams_->Add({{"role", "kiosk"}})
        .Set(static_cast<double>(counts.kiosks));
  }
  const Stream::Totals totals = Stream::totals();
  if (totals.messages > last_messages_) {
    messages_->Increment(static_cast<double>(totals.messages - last_messages_));
  }
  if (totals.writes > last_writes_) {
    writes_->Increment(static_cast<double>(totals.writes - last_writes_));
  }
  last_messages_ = totals.messages;
  last_writes_ = totals.writes;
  return prometheus::TextSerializer().Serialize(prometheus_->Collect());
}

}  // namespace circuit
