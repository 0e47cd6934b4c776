// herald: entry point. Parses flags, starts a node, drains it on
// SIGTERM/SIGINT. Everything else lives in server.cpp and below.
#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "config/options.hpp"
#include "server.hpp"
#include "util/log.hpp"

int main(int argc, char** argv) {
  using namespace herald;
  auto parsed = config::parse_options(argc, argv);
  if (!parsed.opts) return parsed.exit_code;
  const config::options& opts = *parsed.opts;
  util::set_log_level(opts.log_level);

  api::token_auth auth;
  if (!opts.auth_tokens_file.empty()) {
    std::string error;
    auto loaded = api::token_auth::from_file(opts.auth_tokens_file, error);
    if (!loaded) {
      util::log(util::log_level::error, "cannot load auth tokens", {{"error", error}});
      return 2;
    }
    auth = std::move(*loaded);
  }

  try {
    server node(opts, std::move(auth));
    node.start();
    // Signals are waited for on the main thread, apart from the shards.
    boost::asio::io_context signals_ctx;
    boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int sig) {
      util::log(util::log_level::info, "draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    });
    std::signal(SIGPIPE, SIG_IGN);
    signals_ctx.run();
    node.drain();
    node.stop();
  } catch (const std::exception& e) {
    util::log(util::log_level::error, "fatal", {{"what", e.what()}});
    return 1;
  }
  util::log(util::log_level::info, "herald stopped");
  return 0;
}
