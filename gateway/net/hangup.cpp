#include "net/hangup.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace herald::net {

asio::awaitable<void> wait_for_hangup(socket_t& socket) {
  auto [ec] = co_await socket.async_wait(socket_t::wait_read, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  char byte;
  boost::system::error_code peek_ec;
  auto n = socket.receive(asio::buffer(&byte, 1), socket_t::message_peek, peek_ec);
  if (peek_ec || n == 0) co_return;  // orderly close or reset
  // The peer sent data instead: wait "forever" (until cancelled).
  asio::steady_timer never(socket.get_executor(), asio::steady_timer::time_point::max());
  co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace herald::net
