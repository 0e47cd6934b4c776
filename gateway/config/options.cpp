#include "config/options.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "util/build_info.hpp"

#ifndef HERALD_WWW_DIR
#define HERALD_WWW_DIR ""
#endif

namespace herald::config {

namespace {

// "host:port", "[v6]:port" or ":port".
bool split_listen(const std::string& s, options& o) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  o.listen_host = host.empty() ? "0.0.0.0" : host;
  try {
    int port = std::stoi(s.substr(colon + 1));
    if (port < 0 || port > 65535) return false;
    o.listen_port = static_cast<std::uint16_t>(port);
  } catch (...) {
    return false;
  }
  return true;
}

void add_seconds(CLI::App& app, const char* name, seconds_d& value, const char* help, bool allow_zero = false) {
  std::ostringstream text;
  text << value.count();
  app.add_option_function<double>(
         name, [&value](double v) { value = seconds_d(v); }, help)
      ->check(allow_zero ? CLI::Validator(CLI::NonNegativeNumber) : CLI::Validator(CLI::PositiveNumber))
      ->default_str(text.str());
}

// --node-name's default: host:port of --listen, with the machine's name for
// a wildcard address (every node of a fleet would be "0.0.0.0:8080").
// Node names must differ within a fleet: counts are gathered per name.
std::string default_node_name(const options& o) {
  std::string host = o.listen_host;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    host = gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "herald";
  }
  return host + ":" + std::to_string(o.listen_port);
}

// The default static-file directory: <prefix>/share/herald/www beside an
// installed binary (its own pages, even where the source tree it was built
// from still exists), else the source tree's gateway/www for a build-tree one.
std::string default_www_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return HERALD_WWW_DIR;
  auto installed = exe.parent_path().parent_path() / "share" / "herald" / "www";
  return std::filesystem::is_directory(installed, ec) ? installed.string() : std::string(HERALD_WWW_DIR);
}

// CLI11 reads the --config file before the environment, and what it reads
// counts as given, so the environment would never override the file. Herald
// wants flag > environment > file: this reader drops the file's keys whose
// HERALD_ variable is set, and the environment fills them in afterwards.
// It also takes `push_key` for `push-key`, as TOML files tend to spell it.
class environment_first_config : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> kept;
    for (auto& item : CLI::ConfigTOML::from_config(input)) {
      if (item.parents.empty() && item.name != "++" && item.name != "--") {
        std::replace(item.name.begin(), item.name.end(), '_', '-');
        const char* env = std::getenv(env_name("--" + item.name).c_str());
        if (env != nullptr && *env != '\0') continue;
      }
      kept.push_back(std::move(item));
    }
    return kept;
  }
};

// HERALD_CONFIG names the file when --config does not; it must exist then.
CLI::Option* add_config(CLI::App& app) {
  const char* env = std::getenv(env_name("--config").c_str());
  const std::string from_env = env != nullptr ? env : "";
  app.config_formatter(std::make_shared<environment_first_config>());
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error, not a silent default
  return app.set_config("--config", from_env,
                        "TOML or INI file of options, keys named like the flags (listen = \"0.0.0.0:8080\"); "
                        "see deploy/herald.toml",
                        !from_env.empty());
}

}  // namespace

std::string env_name(std::string_view flag) {
  while (!flag.empty() && flag.front() == '-') flag.remove_prefix(1);
  std::string out = "HERALD_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

parse_outcome parse_options(int argc, char** argv) {
  options o;
  CLI::App app{"herald: a WebSocket push gateway"};
  app.get_formatter()->column_width(40);
  app.footer(
      "Every option can also be set by its environment variable (shown as Env: above; HERALD_PUSH_KEY keeps the "
      "key off the command line) or by a key of the --config file. Precedence: flag, then environment, then file, "
      "then the default shown.");
  auto* config_option = add_config(app);
  auto* version_option = app.set_version_flag(
      "--version", "herald " + std::string(util::version()) + " (commit " + std::string(util::commit()) + ")",
      "Print the version and the commit herald was built from, and exit");
  std::string listen = "0.0.0.0:8080";
  app.add_option("--listen", listen, "Address and port to serve WebSocket and HTTP on")->capture_default_str();
  app.add_option("--threads", o.threads, "Shards (io_context threads, at most 64); 0 = one per core")->capture_default_str();
  app.add_option("--auth-tokens", o.auth_tokens_file, "File of 'token userId' lines; unknown tokens are refused")
      ->check(CLI::ExistingFile);
  // Keys and secrets are never shown: not in --help's defaults, not in logs.
  app.add_option("--push-key", o.push_keys,
                 "Require 'Authorization: Bearer KEY' on the push API; repeatable (or comma-separated): any one "
                 "of them is accepted, so keys can be rotated")
      ->delimiter(',');
  app.add_option("--token-hmac-secret", o.token_hmac_secret,
                 "Accept JWTs signed with this HS256 secret as client tokens (sub = user, exp required); prefer "
                 "HERALD_TOKEN_HMAC_SECRET");
  app.add_option("--token-public-key", o.token_public_key_file,
                 "Accept JWTs verified with this PEM public key as client tokens: RS256 for an RSA key, ES256 for "
                 "an EC P-256 key")
      ->check(CLI::ExistingFile);
  app.add_option("--token-audience", o.token_audience, "JWTs must name this audience in \"aud\"");
  app.add_option("--token-issuer", o.token_issuer, "JWTs must carry this \"iss\"");
  add_seconds(app, "--token-expiry-grace", o.token_expiry_grace,
              "Seconds a WebSocket whose token expired keeps to send auth with a fresh token before it is closed "
              "(4001)",
              true);
  app.add_option("--subscribe-allow", o.subscribe_allow,
                 "Topic pattern clients may subscribe to (repeatable or comma-separated); others are forbidden. "
                 "Default: every topic ('$' private and '#user' topics follow their own rules)")
      ->delimiter(',');
  add_seconds(app, "--ping-interval", o.ping_interval, "Seconds between heartbeat pings to a quiet client");
  add_seconds(app, "--idle-timeout", o.idle_timeout, "Close a client silent for this many seconds");
  add_seconds(app, "--handshake-timeout", o.handshake_timeout,
              "Seconds allowed for the WebSocket handshake, and for the TLS handshake with --tls-cert");
  add_seconds(app, "--http-idle-timeout", o.http_idle_timeout, "Close an HTTP connection idle this long");
  add_seconds(app, "--close-timeout", o.close_timeout, "Seconds a closing handshake may take");
  add_seconds(app, "--drain-timeout", o.drain_timeout,
              "Seconds to drain connections on SIGTERM (grace and spread are shortened to fit in it)");
  app.add_option("--max-queue-messages", o.max_queue_messages, "Outbound queue limit per connection (messages)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-queue-bytes", o.max_queue_bytes, "Outbound queue limit per connection (bytes)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  // At most 4 GiB - 1: the frame parser counts a message in 32 bits (net/ws_frames).
  app.add_option("--max-message", o.max_message,
                 "Largest client message (bytes, at most 4294967295); larger closes with 1009")
      ->check(CLI::Range(std::size_t{1}, std::size_t{UINT32_MAX}))->capture_default_str();
  app.add_option("--max-body", o.max_body, "Largest HTTP request body (bytes); larger answers 413")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-subscriptions", o.max_subscriptions, "Topics and bindings per connection")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-connections", o.max_connections, "Refuse WebSocket upgrades beyond this many; 0 = no limit")
      ->capture_default_str();
  app.add_option("--max-connections-per-ip", o.max_connections_per_ip,
                 "Refuse a WebSocket upgrade (and a long-poll or SSE stream) with 503 while its client address "
                 "(PROXY v2's with --proxy-protocol) holds this many of them open; 0 = no limit")
      ->capture_default_str();
  app.add_option("--client-rate", o.client_rate,
                 "Messages (and pings) per second a WebSocket client may send (token bucket, see --client-rate-burst); "
                 "beyond it: error rate_limited, then close 1008; 0 = no limit")
      ->check(CLI::Range(0u, 1000000u))->capture_default_str();
  app.add_option("--client-rate-burst", o.client_rate_burst,
                 "Messages a WebSocket client may send at once before --client-rate applies; 0 = twice --client-rate")
      ->check(CLI::Range(0u, 4000000u))->capture_default_str();
  // Origins hold no ',' (one origin per header), so a comma list is safe.
  app.add_option("--allowed-origin", o.allowed_origins,
                 "Origin pattern browsers may connect from (repeatable or comma-separated), e.g. "
                 "'https://*.example.com'; others get 403 on /ws, /poll and /sse. Requests without Origin "
                 "(non-browser clients) are allowed. Default: any origin")
      ->delimiter(',');
  app.add_option("--history-size", o.history_size, "Messages kept per topic for recovery (0 = none)")
      ->capture_default_str();
  add_seconds(app, "--history-ttl", o.history_ttl, "Drop history older than this many seconds (0 = never)", true);
  app.add_option("--history-max-bytes", o.history_max_bytes,
                 "History memory for the whole node; least recently used topics are forgotten past it")
      ->capture_default_str();
  // Topic names hold no ',', so a comma list is safe (and what one environment variable can carry).
  app.add_option("--client-publish", o.client_publish,
                 "Topic pattern clients may publish to (repeatable or comma-separated), e.g. 'room:*'")
      ->delimiter(',');
  app.add_option("--presence", o.presence,
                 "Topic pattern with join/leave events and presence queries (repeatable or comma-separated)")
      ->delimiter(',');
  app.add_option("--www-dir", o.www_dir, "Directory of static files served at / (the demo app and herald.js)")
      ->default_str("gateway/www, or <prefix>/share/herald/www when installed");
  o.www_dir = default_www_dir();
  add_seconds(app, "--poll-timeout", o.poll_timeout, "Default seconds a long-poll is held");
  add_seconds(app, "--poll-max-timeout", o.poll_max_timeout, "Largest timeout a long-poll may ask for");
  add_seconds(app, "--poll-presence-window", o.poll_presence_window,
              "Seconds a long-poller with a token stays in a --presence topic after its poll ends, waiting for its "
              "next poll (0 = long-pollers are not counted in presence)",
              true);
  app.add_flag("--status-page", o.status_page,
               "Serve /status: live connections per shard, deliveries and drops, bus and build (without this flag "
               "it is served only behind --push-key)");
  app.add_option("--bus", o.bus_urls,
                 "NATS server URLs (nats://host:port, repeatable or comma-separated); turns on the fleet: "
                 "cross-node delivery, fleet-wide counts, history in JetStream")
      ->delimiter(',');
  app.add_option("--node-name", o.node_name, "This node's name in logs, metrics and answers; unique in a fleet")
      ->default_str("host:port of --listen (hostname for 0.0.0.0)");
  add_seconds(app, "--bus-ack-timeout", o.bus_ack_timeout,
              "Seconds a publish waits for JetStream's ack and every node's count before answering partial");
  app.add_option("--bus-stream", o.bus_stream, "JetStream stream holding the fleet's history")->capture_default_str();
  app.add_option("--bus-replicas", o.bus_replicas, "Replicas of the history stream (3 on a NATS cluster)")
      ->check(CLI::Range(1, 5))->capture_default_str();
  app.add_option("--tls-cert", o.tls_cert_file,
                 "Serve TLS (wss://, https://) on --listen with this PEM certificate, or chain (leaf first); needs "
                 "--tls-key. SIGHUP reloads both files: new connections get the new certificate")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", o.tls_key_file, "PEM private key of --tls-cert (unencrypted)")->check(CLI::ExistingFile);
  app.add_flag("--proxy-protocol", o.proxy_protocol,
               "Every connection must start with a PROXY protocol v2 header (LOCAL accepted for health checks)");
  add_seconds(app, "--proxy-header-timeout", o.proxy_header_timeout, "Seconds allowed to send the PROXY header");
  add_seconds(app, "--drain-grace", o.drain_grace,
              "On SIGTERM, seconds to keep serving with /readyz 503 before closing connections", true);
  add_seconds(app, "--drain-spread", o.drain_spread,
              "Seconds over which draining WebSockets are closed, so reconnects do not arrive as one wave", true);
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->capture_default_str();
  // Every option but these three has its HERALD_ variable: one rule, so the
  // environment cannot drift from the flags.
  for (CLI::Option* opt : app.get_options()) {
    if (opt == config_option || opt == version_option || opt == app.get_help_ptr() || opt->get_lnames().empty()) {
      continue;
    }
    opt->envname(env_name("--" + opt->get_lnames().front()));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    // CLI11 says "INI was not able to parse bogus"; name the file and the rule.
    std::fprintf(stderr, "--config %s: %s (keys are the flags without '--', e.g. listen = \"0.0.0.0:8080\")\n",
                 config_option->as<std::string>().c_str(), e.what());
    return {std::nullopt, 2};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, app.exit(e)};
  }
  if (!split_listen(listen, o)) {
    std::fprintf(stderr, "--listen: expected host:port, got '%s'\n", listen.c_str());
    return {std::nullopt, 2};
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    std::fprintf(stderr, "--tls-cert and --tls-key go together: give both or neither\n");
    return {std::nullopt, 2};
  }
  if (o.node_name.empty()) o.node_name = default_node_name(o);
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.threads > 64) {
    std::fprintf(stderr, "--threads: at most 64 shards\n");
    return {std::nullopt, 2};
  }
  return {o, 0};
}

}  // namespace herald::config
