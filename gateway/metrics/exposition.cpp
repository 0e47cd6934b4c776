#include "metrics/exposition.hpp"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace herald::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void add_value(MetricFamily& f, double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

// Sums one plain counter over all shards.
template <class F>
double sum_of(const std::vector<shard_stats>& shards, F field) {
  double total = 0;
  for (const auto& s : shards) total += static_cast<double>(field(s));
  return total;
}

MetricFamily counter(const std::vector<shard_stats>& shards, std::string name, std::string help,
                     std::uint64_t shard_stats::*field) {
  auto f = family(std::move(name), std::move(help), MetricType::Counter);
  add_value(f, sum_of(shards, [field](const shard_stats& s) { return s.*field; }));
  return f;
}

MetricFamily open_connections(const std::vector<shard_stats>& shards) {
  auto f = family("herald_connections_open", "Open WebSocket connections, per shard.", MetricType::Gauge);
  for (std::size_t i = 0; i < shards.size(); ++i) {
    add_value(f, static_cast<double>(shards[i].connections_open), {{"shard", std::to_string(i)}});
  }
  return f;
}

MetricFamily dropped(const std::vector<shard_stats>& shards) {
  auto f = family("herald_messages_dropped_total", "Messages not delivered, by reason.", MetricType::Counter);
  add_value(f, sum_of(shards, [](const shard_stats& s) { return s.dropped_slow; }), {{"reason", "slow_consumer"}});
  add_value(f, sum_of(shards, [](const shard_stats& s) { return s.dropped_closed; }), {{"reason", "closed"}});
  return f;
}

MetricFamily closes(const std::vector<shard_stats>& shards) {
  auto f = family("herald_connections_closed_total", "WebSocket connections closed, by reason.", MetricType::Counter);
  for (std::size_t r = 0; r < static_cast<std::size_t>(close_reason::count_); ++r) {
    double v = sum_of(shards, [r](const shard_stats& s) { return s.closes[r]; });
    add_value(f, v, {{"reason", to_string(static_cast<close_reason>(r))}});
  }
  return f;
}

MetricFamily client_errors(const std::vector<shard_stats>& shards) {
  auto f = family("herald_client_errors_total", "Error frames sent to WebSocket clients, by code.", MetricType::Counter);
  std::map<std::string, std::uint64_t> merged;
  for (const auto& s : shards) {
    for (const auto& [code, n] : s.client_errors) merged[code] += n;
  }
  for (const auto& [code, n] : merged) add_value(f, static_cast<double>(n), {{"code", code}});
  return f;
}

MetricFamily http_requests(const std::vector<shard_stats>& shards) {
  auto f = family("herald_push_requests_total", "HTTP API requests, by endpoint and status.", MetricType::Counter);
  std::map<std::pair<std::string, int>, std::uint64_t> merged;
  for (const auto& s : shards) {
    for (const auto& [key, n] : s.http_requests) merged[key] += n;
  }
  for (const auto& [key, n] : merged) {
    add_value(f, static_cast<double>(n), {{"endpoint", key.first}, {"status", std::to_string(key.second)}});
  }
  return f;
}

MetricFamily push_latency(const std::vector<shard_stats>& shards) {
  auto f = family("herald_push_duration_seconds", "Time from a push request's arrival to its answer.",
                  MetricType::Histogram);
  std::map<std::string, latency_histogram> merged;
  for (const auto& s : shards) {
    for (const auto& [endpoint, h] : s.push_latency) merged[endpoint].merge(h);
  }
  for (const auto& [endpoint, h] : merged) {
    ClientMetric m;
    m.label = {{"endpoint", endpoint}};
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
      cumulative += h.counts()[i];
      m.histogram.bucket.push_back({cumulative, latency_histogram::bounds[i]});
    }
    cumulative += h.counts().back();
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = h.sum();
    f.metric.push_back(std::move(m));
  }
  return f;
}

}  // namespace

exposition::exposition(std::string version) : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("herald_build_info")
      .Help("Herald build information; the value is always 1.")
      .Register(*registry_)
      .Add({{"version", std::move(version)}})
      .Set(1);
  ready_ = &prometheus::BuildGauge()
                .Name("herald_ready")
                .Help("1 while the node accepts new connections, 0 while it drains.")
                .Register(*registry_)
                .Add({});
  ready_->Set(1);
}

exposition::~exposition() = default;

void exposition::set_ready(bool ready) { ready_->Set(ready ? 1 : 0); }

std::string exposition::render(const std::vector<shard_stats>& shards) const {
  std::vector<MetricFamily> families = registry_->Collect();
  families.push_back(open_connections(shards));
  families.push_back(counter(shards, "herald_connections_accepted_total", "TCP connections accepted.",
                             &shard_stats::connections_accepted));
  families.push_back(counter(shards, "herald_websocket_sessions_total", "WebSocket handshakes completed.",
                             &shard_stats::websocket_sessions));
  families.push_back(counter(shards, "herald_frames_received_total", "Text frames received from clients.",
                             &shard_stats::frames_received));
  families.push_back(counter(shards, "herald_messages_delivered_total",
                             "Messages written in full to a client connection.", &shard_stats::messages_delivered));
  families.push_back(dropped(shards));
  auto slow = family("herald_slow_consumer_closes_total",
                     "Connections closed because their outbound queue overflowed.", MetricType::Counter);
  add_value(slow, sum_of(shards, [](const shard_stats& s) {
              return s.closes[static_cast<std::size_t>(close_reason::slow_consumer)];
            }));
  families.push_back(std::move(slow));
  families.push_back(counter(shards, "herald_pings_sent_total", "Heartbeat pings sent.", &shard_stats::pings_sent));
  families.push_back(closes(shards));
  families.push_back(client_errors(shards));
  families.push_back(http_requests(shards));
  families.push_back(push_latency(shards));
  auto held = family("herald_held_requests", "HTTP requests held open, by kind.", MetricType::Gauge);
  add_value(held, sum_of(shards, [](const shard_stats& s) { return s.polls_waiting; }), {{"kind", "poll"}});
  add_value(held, sum_of(shards, [](const shard_stats& s) { return s.sse_streams; }), {{"kind", "sse"}});
  families.push_back(std::move(held));
  auto hist = family("herald_history_messages", "Messages kept in topic history.", MetricType::Gauge);
  add_value(hist, sum_of(shards, [](const shard_stats& s) { return s.history_messages; }));
  families.push_back(std::move(hist));
  auto hist_bytes = family("herald_history_bytes", "Memory held by topic history (bytes, approximate).",
                           MetricType::Gauge);
  add_value(hist_bytes, sum_of(shards, [](const shard_stats& s) { return s.history_bytes; }));
  families.push_back(std::move(hist_bytes));
  auto hist_topics = family("herald_history_topics", "Topics and user logs with a history log.", MetricType::Gauge);
  add_value(hist_topics, sum_of(shards, [](const shard_stats& s) { return s.history_topics; }));
  families.push_back(std::move(hist_topics));
  families.push_back(counter(shards, "herald_history_evictions_total",
                             "Topic logs forgotten to stay within --history-max-bytes.", &shard_stats::history_evictions));
  auto users = family("herald_users", "Distinct users with a connection, summed over shards.", MetricType::Gauge);
  add_value(users, sum_of(shards, [](const shard_stats& s) { return s.users; }));
  families.push_back(std::move(users));
  auto topics = family("herald_topics", "Topics with a subscriber, summed over shards.", MetricType::Gauge);
  add_value(topics, sum_of(shards, [](const shard_stats& s) { return s.topics; }));
  families.push_back(std::move(topics));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace herald::metrics
