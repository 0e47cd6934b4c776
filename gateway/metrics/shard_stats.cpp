#include "metrics/shard_stats.hpp"

#include <algorithm>

namespace herald::metrics {

const char* to_string(close_reason r) {
  switch (r) {
    case close_reason::peer: return "peer";
    case close_reason::slow_consumer: return "slow_consumer";
    case close_reason::idle_timeout: return "idle_timeout";
    case close_reason::shutdown: return "shutdown";
    case close_reason::too_big: return "too_big";
    case close_reason::bad_utf8: return "bad_utf8";
    case close_reason::protocol_error: return "protocol_error";
    case close_reason::token_expired: return "token_expired";
    case close_reason::rate_limited: return "rate_limited";
    case close_reason::count_: break;
  }
  return "unknown";
}

const char* to_string(proxy_reject r) {
  switch (r) {
    case proxy_reject::bad_signature: return "bad_signature";
    case proxy_reject::malformed: return "malformed";
    case proxy_reject::truncated: return "truncated";
    case proxy_reject::timeout: return "timeout";
    case proxy_reject::count_: break;
  }
  return "unknown";
}

const char* to_string(refusal r) {
  switch (r) {
    case refusal::origin: return "origin";
    case refusal::per_ip_limit: return "per_ip_limit";
    case refusal::connection_limit: return "connection_limit";
    case refusal::draining: return "draining";
    case refusal::count_: break;
  }
  return "unknown";
}

const char* to_string(tls_failure r) {
  switch (r) {
    case tls_failure::http_request: return "http_request";
    case tls_failure::version: return "version";
    case tls_failure::protocol: return "protocol";
    case tls_failure::closed: return "closed";
    case tls_failure::timeout: return "timeout";
    case tls_failure::count_: break;
  }
  return "unknown";
}

void latency_histogram::observe(double seconds) {
  auto it = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  ++counts_[static_cast<std::size_t>(it - bounds.begin())];
  sum_ += seconds;
}

void latency_histogram::merge(const latency_histogram& o) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  sum_ += o.sum_;
}

}  // namespace herald::metrics
