#include "client_connection.hpp"

#include <netinet/in.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "poll_connection.hpp"
#include "sse_connection.hpp"
#include "ws_connection.hpp"

namespace herald_bench {

namespace asio = boost::asio;
using asio::ip::tcp;

std::shared_ptr<client_connection> make_connection(asio::io_context& ctx, const connection_config& config,
                                                   std::uint64_t index, shard_stats& stats) {
  switch (config.options->kind) {
    case scenario::longpoll: return std::make_shared<poll_connection>(ctx, config, stats);
    case scenario::sse: return std::make_shared<sse_connection>(ctx, config, stats);
    default: return std::make_shared<ws_connection>(ctx, config, index, stats);
  }
}

asio::awaitable<std::string> connect_from_source(tcp::socket& socket, const connection_config& config) {
  boost::system::error_code ec;
  socket.open(config.server.protocol(), ec);
  if (!ec && config.source) {
    // Let connect() pick the port per destination: without this, bind() reserves a
    // port per source address alone and caps us far below the 4-tuple limit.
    const int on = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    socket.bind(tcp::endpoint(*config.source, 0), ec);
  }
  if (ec) co_return "socket/bind: " + ec.message();
  std::tie(ec) = co_await socket.async_connect(config.server, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return "connect: " + ec.message();
  socket.set_option(tcp::no_delay(true), ec);
  co_return std::string{};
}

}  // namespace herald_bench
