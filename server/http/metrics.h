#ifndef CIRCUIT_SERVER_HTTP_METRICS_H_
#define CIRCUIT_SERVER_HTTP_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "server/live/class_registry.h"

namespace circuit {

// circuitd's Prometheus metrics (prometheus-cpp's core and text serializer,
// served by the HTTP listener at /metrics). What other parts count already
// (the fan-out's writes, the registry's classes) is read at scrape time.
// Labels never carry names, ids or health data. Thread-safe.
class Metrics {
 public:
  // What a scrape reads from the gRPC side.
  struct StreamCounts {
    int64_t instructors = 0;
    int64_t participants = 0;
    int64_t kiosks = 0;
  };

  // `registry` may be null (no classes counted); `streams` may be empty.
  Metrics(ClassRegistry* registry, std::function<StreamCounts()> streams);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // An HTTP request was answered with `status`.
  void CountHttpResponse(int status);

  // The text exposition of every metric, read now.
  std::string Scrape() ABSL_LOCKS_EXCLUDED(scrape_mu_);

 private:
  ClassRegistry* const registry_;
  const std::function<StreamCounts()> streams_;
  std::shared_ptr<prometheus::Registry> prometheus_;
  prometheus::Family<prometheus::Gauge>* classes_;
  prometheus::Family<prometheus::Gauge>* open_streams_;
  prometheus::Counter* messages_;
  prometheus::Counter* writes_;
  prometheus::Counter* bytes_;
  prometheus::Family<prometheus::Counter>* http_responses_;
  // Scrapes are serialized: counters of totals kept elsewhere are advanced
  // by the difference since the last one.
  absl::Mutex scrape_mu_;
  uint64_t last_messages_ ABSL_GUARDED_BY(scrape_mu_) = 0;
  uint64_t last_writes_ ABSL_GUARDED_BY(scrape_mu_) = 0;
  uint64_t last_bytes_ ABSL_GUARDED_BY(scrape_mu_) = 0;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_HTTP_METRICS_H_
