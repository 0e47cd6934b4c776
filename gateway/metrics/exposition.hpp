#pragma once
// exposition: renders /metrics in the Prometheus text format.
//
// Per-shard counters are summed here, at scrape time, into prometheus-cpp
// MetricFamily values and serialised together with the process-wide
// prometheus::Registry (build info, readiness). No civetweb: the caller's
// own HTTP handler serves the text.
//
// Thread contract: thread-safe; render() reads only its arguments and the
// registry (which prometheus-cpp guards with its own mutex).
#include <memory>
#include <string>
#include <vector>

#include "metrics/shard_stats.hpp"

namespace prometheus {
class Registry;
template <class T>
class Family;
class Gauge;
}  // namespace prometheus

namespace herald::metrics {

class exposition {
 public:
  explicit exposition(std::string version);
  ~exposition();

  // Sets herald_ready (1 while accepting, 0 while draining).
  void set_ready(bool ready);

  // Renders every metric; `shards[i]` is a snapshot of shard i.
  std::string render(const std::vector<shard_stats>& shards) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* ready_ = nullptr;
};

}  // namespace herald::metrics
