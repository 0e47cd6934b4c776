#include "metrics/status_history.hpp"

#include <chrono>

#include "proto/json_text.hpp"

namespace herald::metrics {

std::int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

status_history::status_history(std::size_t keep) : keep_(keep), started_unix_ms_(unix_now_ms()) {}

void status_history::add(status_sample s) {
  std::lock_guard lock(mutex_);
  samples_.push_back(std::move(s));
  while (samples_.size() > keep_) samples_.pop_front();
}

std::vector<status_sample> status_history::samples() const {
  std::lock_guard lock(mutex_);
  return {samples_.begin(), samples_.end()};
}

namespace {

void append_field(std::string& out, const char* name, std::uint64_t v) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(v);
}

void append_sample(std::string& out, const status_sample& s) {
  out += "{\"t\":" + std::to_string(s.unix_ms) + ",\"connections\":[";
  for (std::size_t i = 0; i < s.connections.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s.connections[i]);
  }
  out += ']';
  append_field(out, "polls", s.held_polls);
  append_field(out, "sse", s.sse_streams);
  append_field(out, "delivered", s.delivered);
  out += ",\"dropped\":{\"slow_consumer\":" + std::to_string(s.dropped_slow) +
         ",\"closed\":" + std::to_string(s.dropped_closed) + "}}";
}

}  // namespace

std::string render_status_json(const status_identity& who, const bus_snapshot& bus,
                               const std::vector<status_sample>& samples) {
  std::string out = "{\"node\":" + proto::json_string(who.node) + ",\"version\":" + proto::json_string(who.version) +
                    ",\"commit\":" + proto::json_string(who.commit) +
                    ",\"started_ms\":" + std::to_string(who.started_unix_ms) +
                    ",\"ready\":" + (who.ready ? "true" : "false");
  out += ",\"bus\":{\"enabled\":";
  out += bus.enabled ? "true" : "false";
  out += ",\"connected\":";
  out += bus.connected ? "true" : "false";
  append_field(out, "fleet_nodes", bus.fleet_nodes);
  append_field(out, "reconnects", bus.reconnects);
  out += "},\"samples\":[";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i) out += ',';
    append_sample(out, samples[i]);
  }
  out += "]}";
  return out;
}

}  // namespace herald::metrics
