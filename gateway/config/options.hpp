#pragma once
// options: every run-time setting of a herald node, with its default.
//
// Thread contract: immutable after parse_options() returns; shared by const
// reference across shards.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::config {

using seconds_d = std::chrono::duration<double>;

struct options {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  std::size_t threads = 0;  // 0: one per core

  std::string auth_tokens_file;         // "token userId" lines; empty: userId = token
  std::vector<std::string> push_keys;   // any one opens the push API (rotation); empty: push API open

  // JWTs (issue 9): connection and subscription tokens; see api::token_auth.
  std::string token_hmac_secret;        // HS256
  std::string token_public_key_file;    // PEM: RS256 (RSA) or ES256 (EC P-256)
  std::string token_audience;           // required "aud" when set
  std::string token_issuer;             // required "iss" when set
  seconds_d token_expiry_grace{10};     // a WebSocket whose token expired may re-auth this long
  std::vector<std::string> subscribe_allow;  // topic patterns clients may subscribe to; empty: all

  seconds_d ping_interval{25};
  seconds_d idle_timeout{60};
  seconds_d handshake_timeout{10};
  seconds_d http_idle_timeout{30};  // keep-alive HTTP connection with no request
  seconds_d close_timeout{5};       // closing handshake before the socket is dropped
  seconds_d drain_timeout{10};

  std::size_t max_queue_messages = 256;
  std::size_t max_queue_bytes = 1 << 20;
  std::size_t max_message = 64 * 1024;      // WebSocket text frame from a client
  std::size_t max_body = 64 * 1024;         // HTTP request body
  std::size_t max_header = 8 * 1024;        // HTTP request header block
  std::size_t max_subscriptions = 128;      // topics + bindings per connection
  std::size_t max_connections = 0;          // 0: unlimited (the fd limit decides)
  std::size_t max_connections_per_ip = 0;   // WebSockets + held requests per client address; 0: unlimited
  std::uint32_t client_rate = 0;            // client messages/s per WebSocket; 0: unlimited
  std::uint32_t client_rate_burst = 0;      // bucket size; 0: 2 x client_rate
  std::vector<std::string> allowed_origins; // Origin patterns browsers may connect from; empty: any

  // Topics (issue 3): history, client publish, presence, static files.
  std::size_t history_size = 10;            // messages kept per topic (0: none)
  seconds_d history_ttl{0};                 // 0: no age limit
  std::size_t history_max_bytes = 64 << 20; // all history of the node; LRU topics are forgotten past it
  std::vector<std::string> client_publish;  // topic patterns clients may publish to
  std::vector<std::string> presence;        // topic patterns with join/leave and presence queries
  std::string www_dir;                      // static files served at /; empty: none
  seconds_d poll_timeout{25};               // default long-poll hold
  seconds_d poll_max_timeout{60};
  seconds_d poll_presence_window{5};        // a long-poller stays present this long after a poll; 0: not counted
  bool status_page = false;                 // serve /status openly (with a push key it is served behind it anyway)

  std::string log_level = "info";

  // Fleet (issue 7). Without `bus_urls` the node is standalone: routing,
  // history and presence stay in-process.
  std::vector<std::string> bus_urls;        // nats://host:port, one per server
  std::string node_name;                    // default: host:port of --listen
  seconds_d bus_ack_timeout{0.5};           // wait for JetStream's ack and the nodes' counts
  std::string bus_stream = "HERALD";        // JetStream stream holding every node's history
  int bus_replicas = 1;                     // stream replicas (3 on a 3-server NATS cluster)

  // TLS on the listen port (issue 9): PEM certificate chain and key, both or
  // neither; reloaded from the same paths on SIGHUP.
  std::string tls_cert_file;
  std::string tls_key_file;

  // PROXY protocol v2 from an L4 balancer: every connection must start with it.
  bool proxy_protocol = false;
  seconds_d proxy_header_timeout{3};

  // Drain on SIGTERM: keep serving (readyz 503) for `drain_grace`, then close
  // WebSockets spread over `drain_spread`, all within `drain_timeout`.
  seconds_d drain_grace{2};
  seconds_d drain_spread{3};
};

struct parse_outcome {
  std::optional<options> opts;  // empty: exit with `exit_code`
  int exit_code = 0;
};

// Parses argv, then the environment, then the --config file: every option
// can come from a flag, from HERALD_<FLAG> (--push-key: HERALD_PUSH_KEY) or
// from a TOML/INI key named like the flag (`push-key = "..."`), in that order
// of precedence, before its default. Prints --help, --version or the error
// itself (an unknown key in the file is an error).
parse_outcome parse_options(int argc, char** argv);

// The environment variable that sets `flag` ("--push-key" -> "HERALD_PUSH_KEY").
std::string env_name(std::string_view flag);

}  // namespace herald::config
