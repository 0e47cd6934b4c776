#include "server.hpp"

#include <thread>

#include "api/delivery.hpp"
#include "api/http_api.hpp"
#include "metrics/exposition.hpp"
#include "net/listener.hpp"
#include "net/shard_context.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"
#include "util/log.hpp"

#ifndef HERALD_VERSION
#define HERALD_VERSION "dev"
#endif

namespace herald {

// Declaration order is destruction order reversed: the pool (and with it the
// io_contexts and any coroutine frames still queued) goes last.
struct server::parts {
  shard::shard_pool pool;
  std::vector<std::unique_ptr<shard::shard_state>> states;
  api::delivery delivery;
  std::vector<std::unique_ptr<net::shard_context>> contexts;
  metrics::exposition exposition{HERALD_VERSION};
  api::http_api api;
  net::listener listener;
  bool stopped = false;

  parts(const config::options& o, const api::token_auth& auth, std::atomic<std::size_t>& open_total,
        const std::atomic<bool>& ready)
      : pool(o.threads),
        states(make_states(o)),
        delivery(pool, states),
        contexts(make_contexts(pool, states, o, auth, delivery, open_total)),
        api(o, auth, delivery, pool, states, exposition, ready),
        listener(pool, raw(contexts), api) {}

  static std::vector<std::unique_ptr<shard::shard_state>> make_states(const config::options& o) {
    hub::history_limits limits{o.history_size,
                               std::chrono::duration_cast<std::chrono::milliseconds>(o.history_ttl)};
    std::vector<std::unique_ptr<shard::shard_state>> v;
    for (std::size_t i = 0; i < o.threads; ++i) {
      v.push_back(std::make_unique<shard::shard_state>(i, limits, o.history_max_bytes / o.threads));
    }
    return v;
  }

  static std::vector<std::unique_ptr<net::shard_context>> make_contexts(
      shard::shard_pool& pool, std::vector<std::unique_ptr<shard::shard_state>>& states, const config::options& o,
      const api::token_auth& auth, api::delivery& delivery, std::atomic<std::size_t>& open_total) {
    std::vector<std::unique_ptr<net::shard_context>> v;
    for (std::size_t i = 0; i < states.size(); ++i) {
      v.push_back(std::make_unique<net::shard_context>(pool.executor(i), *states[i], o, auth, delivery, open_total));
    }
    return v;
  }

  static std::vector<net::shard_context*> raw(const std::vector<std::unique_ptr<net::shard_context>>& v) {
    std::vector<net::shard_context*> out;
    for (const auto& c : v) out.push_back(c.get());
    return out;
  }
};

server::server(config::options opts, api::token_auth auth) : opts_(std::move(opts)), auth_(std::move(auth)) {
  parts_ = std::make_unique<parts>(opts_, auth_, open_total_, ready_);
}

server::~server() { stop(); }

std::uint16_t server::start() {
  auto port = parts_->listener.bind(opts_.listen_host, opts_.listen_port);
  for (auto& c : parts_->contexts) {
    auto* ctx = c.get();
    parts_->pool.post_to(ctx->state.index, [ctx] { ctx->start(); });
  }
  parts_->listener.start();
  parts_->pool.run();
  util::log(util::log_level::info, "herald listening",
            {{"address", opts_.listen_host}, {"port", std::to_string(port)}, {"shards", std::to_string(opts_.threads)}});
  return port;
}

std::size_t server::drain() {
  // The listener stays open while draining so that load balancers can
  // still read /readyz (now 503); upgrades are refused from here on.
  ready_ = false;
  parts_->exposition.set_ready(false);
  for (auto& c : parts_->contexts) {
    auto* ctx = c.get();
    parts_->pool.post_to(ctx->state.index, [ctx] { ctx->drain(); });
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(opts_.drain_timeout);
  while (open_total_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto left = open_total_.load();
  util::log(util::log_level::info, "drain finished", {{"still_open", std::to_string(left)}});
  return left;
}

void server::stop() {
  if (!parts_ || parts_->stopped) return;
  parts_->stopped = true;
  parts_->listener.stop();
  parts_->pool.stop();
  parts_->pool.join();
  // Frames still queued hold sockets and point into the shard contexts:
  // destroy the io objects outside them first, then the io_contexts (and
  // the frames) while everything they point to is still alive.
  parts_->listener.destroy();
  for (auto& c : parts_->contexts) c->shutdown();
  parts_->pool.destroy();
}

}  // namespace herald
