#pragma once
// frame_bounded_socket: the TCP socket under a connection's WebSocket
// stream, reading no byte past the end of the WebSocket frame it is in.
//
// Why: Beast reads as much as fits into its own buffer, so once it returns a
// message it may already hold the client's next frames, and nothing outside
// Beast can tell. With reads cut at frame ends, "the last read finished a
// message and the scanner is between frames" means Beast holds nothing, so
// an idle connection can park in a socket readiness wait (a small reactor
// operation) instead of a parked Beast read operation (~800 B each, the
// largest thing an idle connection would keep besides Beast's state).
// The price: inside a header the next bytes are peeked (MSG_PEEK) to learn
// the frame's size, one extra system call per client frame; server-to-client
// traffic, the hot path, is untouched.
//
// Thread contract: shard-local, like the socket it wraps.
#include <cstddef>
#include <cstdint>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/frame_scanner.hpp"
#include "net/types.hpp"

namespace herald::net {

class frame_bounded_socket {
 public:
  using executor_type = executor_t;
  using next_layer_type = socket_t;
  using lowest_layer_type = socket_t;

  explicit frame_bounded_socket(socket_t s) : sock_(std::move(s)) {}

  executor_type get_executor() noexcept { return sock_.get_executor(); }
  socket_t& next_layer() noexcept { return sock_; }
  const socket_t& next_layer() const noexcept { return sock_; }
  bool at_frame_boundary() const { return scan_.at_boundary(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    auto first = *asio::buffer_sequence_begin(buffers);
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, asio::mutable_buffer b) {
          b = asio::buffer(b, read_limit(b.size()));
          sock_.async_read_some(b, [this, b, handler = std::move(handler)](boost::system::error_code ec,
                                                                           std::size_t n) mutable {
            if (n > 0) scan_.consume(static_cast<const std::uint8_t*>(b.data()), n);
            std::move(handler)(ec, n);
          });
        },
        token, asio::mutable_buffer(first));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return sock_.async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::size_t read_limit(std::size_t want);

  socket_t sock_;
  frame_scanner scan_;
};

// Beast's teardown customisation points (found by ADL): the TCP socket's.
void teardown(boost::beast::role_type role, frame_bounded_socket& s, boost::system::error_code& ec);

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, frame_bounded_socket& s, TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, s.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace herald::net
