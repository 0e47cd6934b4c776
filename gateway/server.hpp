#pragma once
// server: one Herald node. Builds the shards, their state and contexts, the
// HTTP API and the listener, and runs and stops them in the right order.
// main() and the integration tests both drive a node through this class.
//
// Thread contract: start(), drain(), stop() and the destructor are called
// from one controlling thread (main or a test), never from a shard.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "api/token_auth.hpp"
#include "config/options.hpp"

namespace herald {

class server {
 public:
  server(config::options opts, api::token_auth auth);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket and starts the shard threads. Returns the
  // bound port (pass port 0 to get a free one). Throws if it cannot bind.
  std::uint16_t start();

  // Graceful stop: /readyz turns 503, WebSocket upgrades are refused (503)
  // while HTTP is still served, every WebSocket
  // gets its queued messages and then 1001; returns once all are closed or
  // --drain-timeout passed. Returns the number still open at the deadline.
  std::size_t drain();

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
