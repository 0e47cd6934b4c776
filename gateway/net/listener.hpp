#pragma once
// listener: accepts TCP connections and spreads them over the shards. The
// connection id decides the shard (id % shards); the socket is accepted
// straight onto that shard's io_context, so no hand-over is needed.
//
// Thread contract: shard-local to the shard it runs on (shard 0); stop() may
// be called from any thread (it posts).
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "net/types.hpp"

namespace herald::api {
class http_api;
}
namespace herald::shard {
class shard_pool;
}

namespace herald::net {

class shard_context;

class listener {
 public:
  listener(shard::shard_pool& pool, std::vector<shard_context*> contexts, api::http_api& api);

  // Binds and listens; returns the bound port (so port 0 picks a free one).
  // Throws boost::system::system_error when the address cannot be bound.
  std::uint16_t bind(const std::string& host, std::uint16_t port);
  void start();
  void stop();
  // Destroys the acceptor; only after the shards' threads have stopped.
  void destroy() { acceptor_.reset(); }

 private:
  asio::awaitable<void> accept_loop();

  shard::shard_pool& pool_;
  std::vector<shard_context*> contexts_;
  api::http_api& api_;
  std::optional<acceptor_t> acceptor_;
  std::uint64_t next_id_ = 0;
};

}  // namespace herald::net
