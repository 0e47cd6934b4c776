// herald: entry point. Parses flags, starts a node, reloads its TLS
// certificate on SIGHUP, drains it on SIGTERM/SIGINT. Everything else lives
// in server.cpp and below.
#include <csignal>
#include <cstdio>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "config/options.hpp"
#include "server.hpp"
#include "util/log.hpp"

namespace {

// Signals are waited for on the main thread, apart from the shards. Returns
// at SIGTERM or SIGINT; every SIGHUP before that reloads the certificate
// (which reads files: not a shard's work).
void wait_for_signals(herald::server& node) {
  using namespace herald;
  boost::asio::io_context signals_ctx;
  boost::asio::signal_set stop(signals_ctx, SIGINT, SIGTERM);
  boost::asio::signal_set reload(signals_ctx, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reload.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      node.reload_tls();
      wait_reload();
    });
  };
  wait_reload();
  stop.async_wait([&](const boost::system::error_code&, int sig) {
    util::log(util::log_level::info, "draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    reload.cancel();
  });
  signals_ctx.run();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace herald;
  auto parsed = config::parse_options(argc, argv);
  if (!parsed.opts) return parsed.exit_code;
  const config::options& opts = *parsed.opts;
  util::set_log_level(opts.log_level);

  std::string error;
  auto loaded = api::token_auth::from_options(opts, error);
  if (!loaded) {
    util::log(util::log_level::error, "cannot set up authentication", {{"error", error}});
    return 2;
  }
  api::token_auth auth = std::move(*loaded);
  if (auth.open()) {
    util::log(util::log_level::warn,
              "this node is open: no --auth-tokens, --token-hmac-secret or --token-public-key, so every token is "
              "accepted as its own user id");
  }
  if (!opts.token_hmac_secret.empty() && opts.token_hmac_secret.size() < 32) {
    util::log(util::log_level::warn, "--token-hmac-secret is shorter than 32 bytes: HS256 tokens can be brute-forced");
  }

  try {
    // Before the shards run: a TLS write to a vanished peer (OpenSSL's
    // socket BIO writes without MSG_NOSIGNAL) must not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    server node(opts, std::move(auth));
    node.start();
    wait_for_signals(node);
    node.drain();
    node.stop();
  } catch (const std::exception& e) {
    util::log(util::log_level::error, "fatal", {{"what", e.what()}});
    return 1;
  }
  util::log(util::log_level::info, "herald stopped");
  return 0;
}
