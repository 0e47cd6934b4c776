#pragma once
// shard_context: what the net layer keeps per shard: the table of open
// WebSocket sessions, the heartbeat sweep over them, and references to the
// shard's state and the node's settings.
//
// One timer per shard, not one per connection: the sweep walks the table
// every fraction of a second and sends pings, closes silent peers and drops
// connections whose closing handshake overran. A per-connection timer would
// cost a pending operation (and its memory) on every idle connection.
//
// Thread contract: shard-local, except `open_total` (an atomic shared by all
// shards, touched once per connection open/close, never per message).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

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

namespace herald::net {

class ws_session;
class held_request;

class shard_context {
 public:
  shard_context(executor_t ex, shard::shard_state& state, const config::options& opts, const api::token_auth& auth,
                api::delivery& delivery, std::atomic<std::size_t>& open_total);

  shard::shard_state& state;
  const config::options& opts;
  const api::token_auth& auth;
  api::delivery& delivery;
  executor_t executor;
  std::atomic<std::size_t>& open_total;
  bool draining = false;

  void add(ws_session* s);
  void remove(ws_session* s);
  std::size_t session_count() const { return sessions_.size(); }

  // Held HTTP requests (long-polls, SSE streams), released on drain.
  void add_held(held_request* r);
  void remove_held(held_request* r);

  // Starts the heartbeat sweep; it runs until stop().
  void start();
  // Ends the sweep and destroys its timer; from now on the node is going
  // away and held requests skip unregistering (see server::stop).
  void shutdown();
  bool stopped() const { return stopped_; }
  // Closes every session with 1001 after flushing what is queued for it,
  // and releases every held request.
  void drain();

 private:
  asio::awaitable<void> sweep_loop();
  std::chrono::steady_clock::duration sweep_period() const;

  std::vector<ws_session*> sessions_;
  std::vector<held_request*> held_;
  std::unique_ptr<asio::steady_timer> timer_;
  bool stopped_ = false;
};

}  // namespace herald::net
