#pragma once
// server: one Herald node. Builds the shards, their state and contexts, the
// HTTP API and the listener, and runs and stops them in the right order.
// main() and the integration tests both drive a node through this class.
//
// Thread contract: start(), drain(), reload_tls(), stop() and the destructor
// are called from one controlling thread (main or a test), never from a shard.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "api/token_auth.hpp"
#include "config/options.hpp"

namespace herald {

namespace net {
class shard_context;
}

class server {
 public:
  server(config::options opts, api::token_auth auth);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket and starts the shard threads. Returns the
  // bound port (pass port 0 to get a free one). Throws if it cannot bind.
  std::uint16_t start();

  // Graceful stop, in two phases that move clients to other nodes without
  // loss. At once /readyz turns 503 and WebSocket upgrades are refused
  // (503); for --drain-grace everything else is still served (existing
  // WebSockets get their pushes), so the balancer sees the node down. Then
  // held long-polls are answered, SSE streams end, and every WebSocket gets
  // what is queued for it and then 1001, in even batches over
  // --drain-spread so their reconnects arrive as a ramp. Both phases are
  // clamped to fit --drain-timeout (the grace to at most half of it, the
  // spread to at most half of the rest). Returns once all are closed or the timeout passed, with the
  // number still open then (stop() cuts those).
  std::size_t drain();

  // Test seam: `hook` runs on a shard's thread after each WebSocket
  // handshake, before the session joins the shard (see
  // net::shard_context::after_handshake). Call before start().
  void set_after_handshake(std::function<void(net::shard_context&)> hook);

  // SIGHUP: reads --tls-cert and --tls-key again; connections accepted from
  // now on use the new certificate, open ones keep theirs. False (logged)
  // when the files cannot be loaded: the previous certificate stays. Without
  // TLS it only logs. Safe while the shards run (net::tls_context is
  // thread-safe).
  bool reload_tls();

  // Stops the shards and joins their threads. Idempotent.
  void stop();

  std::size_t open_connections() const { return open_total_.load(); }

 private:
  struct parts;
  config::options opts_;
  api::token_auth auth_;
  std::atomic<std::size_t> open_total_{0};
  std::atomic<bool> ready_{true};
  std::unique_ptr<parts> parts_;
};

}  // namespace herald
