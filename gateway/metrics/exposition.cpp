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

// A counter with one sample per value of a reason enum (an array of
// per-shard counts indexed by it, labelled with its to_string()).
template <class Reason, std::size_t N>
MetricFamily by_reason(const std::vector<shard_stats>& shards, std::string name, std::string help,
                       std::array<std::uint64_t, N> shard_stats::*field) {
  auto f = family(std::move(name), std::move(help), MetricType::Counter);
  for (std::size_t r = 0; r < N; ++r) {
    double v = sum_of(shards, [r, field](const shard_stats& s) { return (s.*field)[r]; });
    add_value(f, v, {{"reason", to_string(static_cast<Reason>(r))}});
  }
  return f;
}

MetricFamily proxy_rejects(const std::vector<shard_stats>& shards) {
  return by_reason<proxy_reject>(shards, "herald_proxy_header_rejected_total",
                                 "Connections dropped because their PROXY v2 header was missing or bad, by reason.",
                                 &shard_stats::proxy_rejected);
}

MetricFamily refusals(const std::vector<shard_stats>& shards) {
  return by_reason<refusal>(shards, "herald_connections_refused_total",
                            "WebSocket upgrades (before the handshake), long-polls and SSE streams refused, by reason.",
                            &shard_stats::refused);
}

MetricFamily tls_failures(const std::vector<shard_stats>& shards) {
  return by_reason<tls_failure>(shards, "herald_tls_handshake_failures_total",
                                "Connections dropped because their TLS handshake failed (--tls-cert), by reason.",
                                &shard_stats::tls_failed);
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

MetricFamily auth_failures(const std::vector<shard_stats>& shards) {
  auto f = family("herald_auth_failures_total", "Tokens and subscription tokens refused, by reason.",
                  MetricType::Counter);
  std::map<std::string, std::uint64_t> merged;
  for (const auto& s : shards) {
    for (const auto& [reason, n] : s.auth_failures) merged[reason] += n;
  }
  for (const auto& [reason, n] : merged) add_value(f, static_cast<double>(n), {{"reason", reason}});
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

ClientMetric histogram_metric(const latency_histogram& h, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
    cumulative += h.counts()[i];
    m.histogram.bucket.push_back({cumulative, latency_histogram::bounds[i]});
  }
  cumulative += h.counts().back();
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = h.sum();
  return m;
}

MetricFamily push_latency(const std::vector<shard_stats>& shards) {
  auto f = family("herald_push_duration_seconds", "Time from a push request's arrival to its answer.",
                  MetricType::Histogram);
  std::map<std::string, latency_histogram> merged;
  for (const auto& s : shards) {
    for (const auto& [endpoint, h] : s.push_latency) merged[endpoint].merge(h);
  }
  for (const auto& [endpoint, h] : merged) f.metric.push_back(histogram_metric(h, {{"endpoint", endpoint}}));
  return f;
}

MetricFamily gauge_of(std::string name, std::string help, double v) {
  auto f = family(std::move(name), std::move(help), MetricType::Gauge);
  add_value(f, v);
  return f;
}

MetricFamily counter_of(std::string name, std::string help, double v) {
  auto f = family(std::move(name), std::move(help), MetricType::Counter);
  add_value(f, v);
  return f;
}

// The fleet's figures. Present on every node (zeros without --bus), so
// dashboards and alert rules need no special case.
void add_bus(std::vector<MetricFamily>& out, const std::vector<shard_stats>& shards, const bus_snapshot& b) {
  out.push_back(gauge_of("herald_bus_enabled", "1 when the node runs in a fleet (--bus).", b.enabled));
  out.push_back(gauge_of("herald_bus_connected", "1 while connected to NATS.", b.connected));
  out.push_back(counter_of("herald_bus_reconnects_total", "Reconnections to NATS after a loss.",
                           static_cast<double>(b.reconnects)));
  out.push_back(counter_of("herald_bus_disconnects_total", "Connections to NATS lost.",
                           static_cast<double>(b.disconnects)));
  auto failed = family("herald_bus_publish_failures_total",
                       "Publications not confirmed stored by JetStream (answered 503), by reason.",
                       MetricType::Counter);
  add_value(failed, static_cast<double>(b.failed_disconnected), {{"reason", "disconnected"}});
  add_value(failed, static_cast<double>(b.failed_timeout), {{"reason", "timeout"}});
  add_value(failed, static_cast<double>(b.failed_rejected), {{"reason", "rejected"}});
  out.push_back(std::move(failed));
  out.push_back(counter_of("herald_bus_partial_answers_total",
                           "Publications answered before every node reported its count.",
                           static_cast<double>(b.partial_answers)));
  out.push_back(counter_of("herald_bus_history_failures_total", "History reads the bus could not answer.",
                           static_cast<double>(b.history_failures)));
  out.push_back(counter_of("herald_bus_slow_consumer_errors_total",
                           "Times NATS dropped messages for this node because it fell behind.",
                           static_cast<double>(b.slow_consumer_errors)));
  out.push_back(gauge_of("herald_fleet_nodes", "Nodes seen on the bus, this one included.",
                         static_cast<double>(b.fleet_nodes)));
  out.push_back(counter(shards, "herald_bus_messages_received_total",
                        "Publications received from the bus for local receivers.", &shard_stats::bus_received));
  out.push_back(counter(shards, "herald_bus_order_gaps_total",
                        "Times a publication came from the bus before its predecessor and the gap was read back "
                        "from the stream.",
                        &shard_stats::bus_order_gaps));
  auto listened = family("herald_bus_listened_keys", "Topics and users this node listens to on the bus.",
                         MetricType::Gauge);
  add_value(listened, sum_of(shards, [](const shard_stats& s) { return s.bus_listened; }));
  out.push_back(std::move(listened));
  auto lag = family("herald_bus_cross_node_lag_seconds",
                    "From publication (publisher's clock) to arrival here through the bus.", MetricType::Histogram);
  latency_histogram merged;
  for (const auto& s : shards) merged.merge(s.bus_lag);
  lag.metric.push_back(histogram_metric(merged, {}));
  out.push_back(std::move(lag));
}

}  // namespace

exposition::exposition(std::string version, std::string node, std::string commit)
    : registry_(std::make_shared<prometheus::Registry>()) {
  std::map<std::string, std::string> labels{{"version", std::move(version)}};
  if (!node.empty()) labels.emplace("node", std::move(node));
  if (!commit.empty()) labels.emplace("commit", std::move(commit));
  prometheus::BuildGauge()
      .Name("herald_build_info")
      .Help("Herald build information; the value is always 1.")
      .Register(*registry_)
      .Add(labels)
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

std::string exposition::render(const std::vector<shard_stats>& shards, const bus_snapshot& bus) const {
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
  families.push_back(proxy_rejects(shards));
  families.push_back(refusals(shards));
  families.push_back(tls_failures(shards));
  families.push_back(client_errors(shards));
  families.push_back(auth_failures(shards));
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
  add_bus(families, shards, bus);
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace herald::metrics
