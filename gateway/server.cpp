#include "server.hpp"

#include <algorithm>
#include <thread>

#include <boost/asio/co_spawn.hpp>

#include "api/delivery.hpp"
#include "api/status_sampler.hpp"
#include "bus/nats_bus.hpp"
#include "api/http_api.hpp"
#include "metrics/exposition.hpp"
#include "metrics/status_history.hpp"
#include "net/address_limit.hpp"
#include "net/listener.hpp"
#include "net/shard_context.hpp"
#include "net/tls_context.hpp"
#include "net/unexpected.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"
#include "util/build_info.hpp"
#include "util/log.hpp"

namespace herald {

namespace {

using clock = std::chrono::steady_clock;

clock::duration ticks(config::seconds_d d) { return std::chrono::duration_cast<clock::duration>(d); }

struct drain_plan {
  clock::duration grace;
  clock::duration spread;
};

// The drain's phases, clamped so the node is done within --drain-timeout
// and the last sessions closed still have time to flush and say 1001: the
// grace takes at most half the timeout, the spread at most half of what is
// left, and the rest (a quarter of the timeout or more) is the last batch's.
drain_plan plan_drain(const config::options& o) {
  const auto timeout = ticks(o.drain_timeout);
  const auto grace = std::min(ticks(o.drain_grace), timeout / 2);
  const auto spread = std::min(ticks(o.drain_spread), (timeout - grace) / 2);
  if (grace < ticks(o.drain_grace) || spread < ticks(o.drain_spread)) {
    util::log(util::log_level::warn, "drain phases clamped to fit --drain-timeout",
              {{"grace_s", std::to_string(std::chrono::duration<double>(grace).count())},
               {"spread_s", std::to_string(std::chrono::duration<double>(spread).count())}});
  }
  return {grace, spread};
}

}  // namespace

// Declaration order is destruction order reversed: the pool (and with it the
// io_contexts and any coroutine frames still queued) goes last.
struct server::parts {
  net::address_limit per_ip;  // before the pool: sessions its io_contexts still hold keep leases on it
  std::unique_ptr<net::tls_context> tls;  // --tls-cert; before the pool, like per_ip (handshakes in flight use it)
  shard::shard_pool pool;
  std::vector<std::unique_ptr<shard::shard_state>> states;
  api::delivery delivery;
  std::unique_ptr<bus::nats_bus> bus;  // only in a fleet (--bus)
  std::vector<std::unique_ptr<net::shard_context>> contexts;
  metrics::exposition exposition;
  std::unique_ptr<metrics::status_history> status;  // only with the status page
  api::http_api api;
  net::listener listener;
  bool stopped = false;

  parts(const config::options& o, const api::token_auth& auth, std::atomic<std::size_t>& open_total,
        const std::atomic<bool>& ready)
      : per_ip(o.max_connections_per_ip),
        tls(o.tls_cert_file.empty() ? nullptr : std::make_unique<net::tls_context>(o.tls_cert_file, o.tls_key_file)),
        pool(o.threads),
        states(make_states(o)),
        delivery(pool, states),
        bus(make_bus(o, delivery)),
        contexts(make_contexts(pool, states, o, auth, delivery, open_total, per_ip, tls.get())),
        exposition(std::string(util::version()), o.node_name, std::string(util::commit())),
        status(o.status_page || !o.push_keys.empty() ? std::make_unique<metrics::status_history>() : nullptr),
        api(o, auth, delivery, pool, states, exposition, ready, bus.get(), status.get()),
        listener(pool, raw(contexts), api) {}

  static std::unique_ptr<bus::nats_bus> make_bus(const config::options& o, api::delivery& d) {
    if (o.bus_urls.empty()) return nullptr;
    bus::nats_bus::settings s;
    s.urls = o.bus_urls;
    s.node = o.node_name;
    s.stream = o.bus_stream;
    s.replicas = o.bus_replicas;
    s.ack_timeout_s = o.bus_ack_timeout.count();
    s.max_bytes = o.history_max_bytes;
    s.max_age_s = o.history_ttl.count();
    auto b = std::make_unique<bus::nats_bus>(std::move(s));
    d.attach(b.get(), o.node_name, o.presence);
    return b;
  }

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
      const api::token_auth& auth, api::delivery& delivery, std::atomic<std::size_t>& open_total,
      net::address_limit& per_ip, net::tls_context* tls) {
    std::vector<std::unique_ptr<net::shard_context>> v;
    for (std::size_t i = 0; i < states.size(); ++i) {
      v.push_back(std::make_unique<net::shard_context>(pool.executor(i), *states[i], o, auth, delivery, open_total,
                                                       per_ip, tls));
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
  if (parts_->bus) parts_->bus->start(parts_->delivery);
  if (parts_->status) {
    boost::asio::co_spawn(parts_->pool.executor(0), api::sample_status(parts_->pool, parts_->states, *parts_->status),
                   net::log_unexpected{"status sampler"});
  }
  parts_->pool.run();
  util::log(util::log_level::info, "herald listening",
            {{"address", opts_.listen_host},
             {"port", std::to_string(port)},
             {"shards", std::to_string(opts_.threads)},
             {"node", opts_.node_name},
             {"fleet", parts_->bus ? "nats" : "standalone"},
             {"tls", parts_->tls ? parts_->tls->describe() : "off"}});
  return port;
}

bool server::reload_tls() {
  auto* tls = parts_->tls.get();
  if (tls == nullptr) {
    util::log(util::log_level::info, "SIGHUP: no --tls-cert, nothing to reload");
    return true;
  }
  if (auto error = tls->reload()) {
    util::log(util::log_level::error, "TLS reload failed, the previous certificate stays", {{"error", *error}});
    return false;
  }
  util::log(util::log_level::info, "TLS certificate reloaded", {{"certificate", tls->describe()}});
  return true;
}

void server::set_after_handshake(std::function<void(net::shard_context&)> hook) {
  for (auto& c : parts_->contexts) c->after_handshake = hook;
}

std::size_t server::drain() {
  const auto start = clock::now();
  const auto deadline = start + ticks(opts_.drain_timeout);
  const auto plan = plan_drain(opts_);
  // The listener stays open while draining so that load balancers can
  // still read /readyz (now 503); upgrades are refused from here on, and
  // for the grace the node serves everything else as before, long enough
  // for the balancer's health check to take it out of rotation.
  ready_ = false;
  parts_->exposition.set_ready(false);
  for (auto& c : parts_->contexts) {
    auto* ctx = c.get();
    parts_->pool.post_to(ctx->state.index, [ctx] { ctx->begin_drain(); });
  }
  std::this_thread::sleep_until(start + plan.grace);
  for (auto& c : parts_->contexts) {
    auto* ctx = c.get();
    parts_->pool.post_to(ctx->state.index, [ctx, spread = plan.spread] { ctx->close_all(spread); });
  }
  while (open_total_.load() > 0 && clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Sessions still open here are cut by stop(): their peers see a reset.
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
  // The bus may still hold requests whose completions point into shard
  // frames: it goes while those frames and what they point to are alive.
  if (parts_->bus) parts_->bus->stop();
  // Frames still queued hold sockets and point into the shard contexts:
  // destroy the io objects outside them first, then the io_contexts (and
  // the frames) while everything they point to is still alive.
  parts_->listener.destroy();
  for (auto& c : parts_->contexts) c->shutdown();
  parts_->pool.destroy();
}

}  // namespace herald
