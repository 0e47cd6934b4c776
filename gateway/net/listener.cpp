#include "net/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/http_session.hpp"
#include "net/shard_context.hpp"
#include "net/unexpected.hpp"
#include "shard/shard_pool.hpp"
#include "util/log.hpp"

namespace herald::net {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

listener::listener(shard::shard_pool& pool, std::vector<shard_context*> contexts, api::http_api& api)
    : pool_(pool), contexts_(std::move(contexts)), api_(api), acceptor_(std::in_place, pool.executor(0)) {}

std::uint16_t listener::bind(const std::string& host, std::uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  return acceptor_->local_endpoint().port();
}

void listener::start() { asio::co_spawn(pool_.executor(0), accept_loop(), log_unexpected{"listener"}); }

void listener::stop() {
  if (!acceptor_) return;
  asio::post(acceptor_->get_executor(), [this] {
    boost::system::error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
  });
}

asio::awaitable<void> listener::accept_loop() {
  asio::steady_timer backoff(acceptor_->get_executor());
  for (;;) {
    const std::uint64_t id = next_id_;
    const std::size_t shard = pool_.shard_of(id);
    // The accept itself fills in the peer: no getpeername() per connection.
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor_->async_accept(pool_.executor(shard), peer, use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (ec) {
      // Out of file descriptors (or a transient error): pause instead of
      // spinning; the connections already open are unaffected.
      util::log(util::log_level::warn, "accept failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    ++next_id_;
    http_session::start(std::move(socket), id, peer, *contexts_[shard], api_);
  }
}

}  // namespace herald::net
