#pragma once
// shard_context: what the net layer keeps per shard: the table of open
// WebSocket sessions, the heartbeat sweep over them, and references to the
// shard's state and the node's settings.
//
// One timer per shard, not one per connection: the sweep walks the table
// every fraction of a second and sends pings, closes silent peers and drops
// connections whose closing handshake overran, and ends the presence leases
// of long-pollers that stopped polling (hub::presence_leases). A
// per-connection timer would cost a pending operation (and its memory) on
// every idle connection.
//
// Drain (see server::drain) comes in two steps: begin_drain() refuses
// upgrades while everything else is still served, close_all() then closes
// the sessions in even batches over --drain-spread.
//
// Thread contract: shard-local, except `open_total` (an atomic shared by all
// shards, touched once per connection open/close, never per message) and
// `per_ip` (the node's thread-safe table, touched as rarely), `tls` (the
// node's thread-safe TLS context, touched once per connection) and `origins`
// (immutable).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "auth/origin_policy.hpp"
#include "net/types.hpp"

namespace herald::config {
struct options;
}
namespace herald::api {
class delivery;
class token_auth;
}
namespace herald::shard {
struct shard_state;
}
namespace herald::hub {
class subscriber;
}

namespace herald::net {

class ws_session;
class held_request;
class address_limit;
class tls_context;

class shard_context {
 public:
  shard_context(executor_t ex, shard::shard_state& state, const config::options& opts, const api::token_auth& auth,
                api::delivery& delivery, std::atomic<std::size_t>& open_total, address_limit& per_ip,
                tls_context* tls = nullptr);

  shard::shard_state& state;
  const config::options& opts;
  const api::token_auth& auth;
  api::delivery& delivery;
  executor_t executor;
  std::atomic<std::size_t>& open_total;
  address_limit& per_ip;               // --max-connections-per-ip, the node's one table
  const auth::origin_policy origins;  // --allowed-origin
  tls_context* const tls;              // --tls-cert: every new connection is TLS; null for plain TCP
  bool draining = false;
  // Test seam: when set, runs on this shard after each WebSocket handshake,
  // just before the session joins the table, so a test can put a drain in
  // exactly that gap. Set before the shard's thread starts.
  std::function<void(shard_context&)> after_handshake;

  void add(ws_session* s);
  void remove(ws_session* s);

  // The shard's registry operations, keeping the owners' interest
  // (hub::interest_book) in step: the shard announces a key to its owner
  // with its first local subscriber and withdraws it with its last. Every
  // subscriber registers through these, before it asks the owner for
  // history (same owner, handled in order).
  bool subscribe(hub::subscriber* s, const std::string& topic);
  bool unsubscribe(hub::subscriber* s, const std::string& topic);
  struct bind_outcome {
    bool new_binding;  // (user, event) was not bound before
    bool deferred;     // `on_reachable` runs once the owner acknowledges
  };
  // Binds `s` to (user, event). When this is the shard's first binding of
  // `user`, pushes reach it only once the owner knows: with `on_reachable`
  // the announcement is acknowledged and `on_reachable` runs on this shard
  // then (deferred); otherwise, and without a callback, it runs at once.
  bind_outcome bind(hub::subscriber* s, const std::string& user, std::string_view event,
                    std::function<void()> on_reachable = {});
  void unbind_user(hub::subscriber* s, const std::string& user);

  // Held HTTP requests (long-polls, SSE streams), released on drain; one
  // that arrives after the release is released as it registers.
  void add_held(held_request* r);
  void remove_held(held_request* r);

  // Starts the heartbeat sweep; it runs until stop().
  void start();
  // Ends the sweep and destroys its timer; from now on the node is going
  // away and held requests skip unregistering (see server::stop).
  void shutdown();
  bool stopped() const { return stopped_; }
  // Drain, first step: from now on upgrades are refused (503) and
  // keep-alive ends, everything else is still served; a session whose
  // handshake completes from now on is closed at once (ws_session).
  void begin_drain();
  // Drain, second step (implies the first): answers every held request and
  // closes every session with 1001 after flushing what is queued for it, in
  // even batches over `spread` (at once when it is under one batch period),
  // so their reconnects reach the other nodes as a ramp, not a wave.
  void close_all(std::chrono::steady_clock::duration spread);

 private:
  asio::awaitable<void> sweep_loop();
  std::chrono::steady_clock::duration sweep_period() const;
  asio::awaitable<void> close_loop(std::vector<std::weak_ptr<ws_session>> targets,
                                   std::chrono::steady_clock::duration spread);

  std::vector<ws_session*> sessions_;
  std::vector<held_request*> held_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::unique_ptr<asio::steady_timer> drain_timer_;  // paces close_loop's batches
  bool held_released_ = false;                        // close_all() ran
  bool stopped_ = false;
};

}  // namespace herald::net
