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

// The bus's own figures, copied at scrape time (bus::nats_bus counters).
struct bus_snapshot {
  bool enabled = false;
  bool connected = false;
  std::uint64_t reconnects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t failed_disconnected = 0;
  std::uint64_t failed_timeout = 0;
  std::uint64_t failed_rejected = 0;
  std::uint64_t partial_answers = 0;
  std::uint64_t history_failures = 0;
  std::uint64_t slow_consumer_errors = 0;
  std::uint64_t fleet_nodes = 1;
};

class exposition {
 public:
  // herald_build_info{version,commit,node}: `node` (--node-name) and
  // `commit` are left out when empty.
  explicit exposition(std::string version, std::string node = {}, std::string commit = {});
  ~exposition();

  // Sets herald_ready (1 while accepting, 0 while draining).
  void set_ready(bool ready);

  // Renders every metric; `shards[i]` is a snapshot of shard i.
  std::string render(const std::vector<shard_stats>& shards, const bus_snapshot& bus = {}) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* ready_ = nullptr;
};

}  // namespace herald::metrics
