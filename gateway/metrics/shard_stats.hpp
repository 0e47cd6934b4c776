#pragma once
// shard_stats: one shard's counters, plain integers.
//
// Thread contract: shard-local. Only the owning shard's thread increments
// them (no atomics on the delivery path); a scrape copies them by posting to
// each shard and sums the copies (see metrics::exposition).
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace herald::metrics {

enum class close_reason : std::uint8_t {
  peer,            // the client closed or the socket failed
  slow_consumer,   // outbound queue overflow (1008)
  idle_timeout,    // heartbeat: the peer stayed silent
  shutdown,        // drain on SIGTERM (1001)
  too_big,         // message over --max-message (1009)
  bad_utf8,        // invalid UTF-8 in a text frame (1007)
  protocol_error,  // any other WebSocket protocol violation
  token_expired,   // its token expired and no fresh one came within --token-expiry-grace (4001)
  rate_limited,    // sent more than --client-rate allows (1008)
  count_
};
const char* to_string(close_reason r);

// Why a connection was dropped before HTTP because its PROXY v2 header
// (--proxy-protocol) was not acceptable.
enum class proxy_reject : std::uint8_t {
  bad_signature,  // no PROXY v2 header: plain HTTP, PROXY v1, noise
  malformed,      // v2 signature, but a bad version, command, family or length
  truncated,      // the connection ended inside the header
  timeout,        // not complete within --proxy-header-timeout
  count_
};
const char* to_string(proxy_reject r);

// Why a client was refused before it was served: a WebSocket upgrade
// before the handshake, a long-poll or SSE stream before it was held.
enum class refusal : std::uint8_t {
  origin,            // Origin not in --allowed-origin (403)
  per_ip_limit,      // its address holds --max-connections-per-ip (503)
  connection_limit,  // the node holds --max-connections WebSockets (503)
  draining,          // the node drains (503)
  count_
};
const char* to_string(refusal r);

// Why a connection to a TLS port (--tls-cert) was dropped before HTTP: its
// TLS handshake failed.
enum class tls_failure : std::uint8_t {
  http_request,  // plain HTTP sent to the TLS port
  version,       // the client offers only protocol versions below TLS 1.2
  protocol,      // any other TLS error: garbage, no shared cipher, a bad record
  closed,        // the connection ended or was reset during the handshake
  timeout,       // not complete within --handshake-timeout
  count_
};
const char* to_string(tls_failure r);

// Fixed-bucket latency histogram; bounds in seconds.
class latency_histogram {
 public:
  static constexpr std::array<double, 14> bounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                    0.01,    0.025,  0.05,    0.1,    0.25,  0.5,   1.0};
  void observe(double seconds);
  void merge(const latency_histogram& o);
  const std::array<std::uint64_t, bounds.size() + 1>& counts() const { return counts_; }
  double sum() const { return sum_; }

 private:
  std::array<std::uint64_t, bounds.size() + 1> counts_{};  // last = +Inf only
  double sum_ = 0;
};

struct shard_stats {
  std::uint64_t connections_accepted = 0;  // TCP connections accepted
  std::uint64_t websocket_sessions = 0;    // WebSocket handshakes completed
  std::uint64_t connections_open = 0;      // open WebSocket sessions (gauge)
  std::uint64_t frames_received = 0;       // client text frames handled
  std::uint64_t messages_delivered = 0;    // frames fully written to a socket
  std::uint64_t dropped_slow = 0;          // refused: queue full
  std::uint64_t dropped_closed = 0;        // refused or discarded: connection closing
  std::uint64_t pings_sent = 0;            // heartbeat pings
  std::array<std::uint64_t, static_cast<std::size_t>(close_reason::count_)> closes{};
  std::array<std::uint64_t, static_cast<std::size_t>(proxy_reject::count_)> proxy_rejected{};
  std::array<std::uint64_t, static_cast<std::size_t>(refusal::count_)> refused{};
  std::array<std::uint64_t, static_cast<std::size_t>(tls_failure::count_)> tls_failed{};
  std::map<std::string, std::uint64_t> client_errors;                     // by error code
  std::map<std::string, std::uint64_t> auth_failures;                     // refused tokens, by auth::to_string(reason)
  std::map<std::pair<std::string, int>, std::uint64_t> http_requests;     // (endpoint, status)
  std::map<std::string, latency_histogram> push_latency;                  // by endpoint
  std::uint64_t polls_waiting = 0;  // gauge: long-polls being held
  std::uint64_t sse_streams = 0;    // gauge: open SSE streams
  std::uint64_t history_topics = 0;    // gauges filled at snapshot time
  std::uint64_t history_messages = 0;
  std::uint64_t history_bytes = 0;
  std::uint64_t history_evictions = 0;
  std::uint64_t users = 0;   // gauge, filled at snapshot time
  // Fleet: publications received from the bus (by their keys' owner shards)
  // and how long after publication they arrived (the publisher's clock).
  std::uint64_t bus_received = 0;
  std::uint64_t bus_order_gaps = 0;  // a publication's predecessor was late: read back from the stream
  latency_histogram bus_lag;
  std::uint64_t bus_listened = 0;  // gauge, filled at snapshot time: keys this shard listens to
  std::uint64_t topics = 0;  // gauge, filled at snapshot time

  void count_close(close_reason r) { ++closes[static_cast<std::size_t>(r)]; }
  void count_proxy_reject(proxy_reject r) { ++proxy_rejected[static_cast<std::size_t>(r)]; }
  void count_refusal(refusal r) { ++refused[static_cast<std::size_t>(r)]; }
  void count_tls_failure(tls_failure r) { ++tls_failed[static_cast<std::size_t>(r)]; }
};

}  // namespace herald::metrics
