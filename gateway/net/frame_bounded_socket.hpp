#pragma once
// frame_bounded_socket: the transport (TCP, or TLS over it) under a
// connection's WebSocket stream, reading no byte past the end of the
// WebSocket frame it is in.
//
// Why: Beast reads as much as fits into its own buffer, so once it returns a
// message it may already hold the client's next frames, and nothing outside
// Beast can tell. With reads cut at frame ends, "the last read finished a
// message and the scanner is between frames" means Beast holds nothing, so
// an idle connection can park in a socket readiness wait (a small reactor
// operation) instead of a parked Beast read operation (~800 B each, the
// largest thing an idle connection would keep besides Beast's state).
// The price: inside a header the next bytes are peeked (MSG_PEEK, or
// SSL_peek with TLS) to learn the frame's size, one extra system call per
// client frame; server-to-client traffic, the hot path, is untouched.
// With TLS, OpenSSL may hold bytes of the next frame it has read off the
// socket (the rest of a record): parkable() says so.
//
// Thread contract: shard-local, like the socket it wraps.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/frame_scanner.hpp"
#include "net/transport.hpp"
#include "net/types.hpp"

namespace herald::net {

class frame_bounded_socket {
 public:
  using executor_type = executor_t;
  using next_layer_type = transport;
  using lowest_layer_type = socket_t;

  explicit frame_bounded_socket(transport t) : sock_(std::move(t)) {}

  executor_type get_executor() noexcept { return sock_.get_executor(); }
  transport& next_layer() noexcept { return sock_; }
  const transport& next_layer() const noexcept { return sock_; }
  // Between frames, and no byte of the next one read off the socket yet (by
  // TLS): a socket readiness wait will see the next frame arrive.
  bool parkable() const { return scan_.at_boundary() && !sock_.pending(); }

  // The teardown's reads (see async_teardown below): discards what the
  // socket holds, frame by frame, without blocking, until `discarded`
  // reaches linger_budget. Returns would_block when the peer may send more,
  // eof at its end or once its close frame is in whole (`peer_close` is set
  // at its first byte: nothing follows a close frame), success once the
  // budget is spent, else the socket's error.
  boost::system::error_code discard_some(std::size_t& discarded, bool& peer_close);
  // True once the teardown has shut our side down (the close frame is out
  // then): from the TCP state, so it costs no byte per connection.
  bool lingering();

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

  transport sock_;  // 48 bytes and the scanner's 24: as small as the plain socket and scanner were
  frame_scanner scan_;
};

// Beast's teardown customisation points (found by ADL). The synchronous one
// is the TCP socket's (herald never uses it).
void teardown(boost::beast::role_type role, frame_bounded_socket& s, boost::system::error_code& ec);

// The asynchronous one, which ends every WebSocket (our close, the peer's,
// and Beast failing the connection, e.g. 1009 for a frame over
// --max-message), lingers: after the close frame it shuts our side down,
// then reads and discards what the peer still sends until its EOF, and only
// then closes the socket. Closing with unread bytes in the receive buffer
// makes the kernel send a reset, which can overtake the close frame: the
// client would see 1006 instead of the code it was sent. (Beast 1.81's own
// TCP teardown closes after the first read that returns data.)
//
// A peer that keeps sending after linger_budget bytes is no longer read: it
// gets backpressure, which is what makes a client busy writing (Python
// websockets in a send loop) read our close frame. Each heartbeat sweep
// (and the peer's end) wakes it for one more budget, and a spent budget
// holds the peer back again. The wait ends at the peer's close frame or
// end of stream, its failure, or when ws_session's heartbeat drops the
// socket after --close-timeout.
inline constexpr std::size_t linger_budget = 4u << 20;

namespace detail {

struct linger_teardown {
  enum class phase : std::uint8_t { start, draining, held };
  frame_bounded_socket& s;
  std::size_t discarded = 0;
  phase at = phase::start;
  bool peer_close = false;

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    auto& sock = s.next_layer();
    if (at == phase::start) {
      at = phase::draining;
      boost::system::error_code ignored;  // a failed shutdown shows in the reads
      sock.shutdown_send(ignored);  // with TLS, close_notify first (best effort)
      asio::post(sock.get_executor(), std::move(self));  // never complete inside the initiation
      return;
    }
    // ws_session's heartbeat cancels the wait once a sweep while lingering()
    // and the socket stays open: a held peer is read again (its close frame
    // may be queued behind the frame it was writing).
    if (ec == asio::error::operation_aborted && sock.is_open()) ec = {};
    if (!ec) {
      if (at == phase::held) {  // a sweep (or the peer's end) woke it: a new budget
        discarded = 0;
        at = phase::draining;
      }
      ec = s.discard_some(discarded, peer_close);
      // Success means the budget is spent and the peer may have more:
      // hold it back again (closing now would reset it with our close
      // frame still unread; that was the rare 1006).
      if (ec == asio::error::would_block || !ec) {
        if (!ec) at = phase::held;
        sock.next_layer().async_wait(at == phase::held ? socket_t::wait_error : socket_t::wait_read,
                                     std::move(self));
        return;
      }
    }
    if (ec == asio::error::eof) ec = {};
    boost::system::error_code ignored;
    sock.close(ignored);
    self.complete(ec);
  }
};

}  // namespace detail

template <class TeardownHandler>
void async_teardown(boost::beast::role_type, frame_bounded_socket& s, TeardownHandler&& handler) {
  // A server's teardown (herald's streams are all servers').
  asio::async_compose<std::decay_t<TeardownHandler>, void(boost::system::error_code)>(
      detail::linger_teardown{s}, handler, s.next_layer());
}

}  // namespace herald::net
