#pragma once
// transport: one accepted connection's byte stream — its TCP socket, and the
// TLS session on it when the listen port serves TLS (--tls-cert). Every
// session type (http_session, ws_session, long_poll, sse_stream) reads and
// writes through it, so each speaks plain TCP or TLS alike.
//
// Why not asio::ssl::stream: its engine keeps two ~17 KiB buffers per
// stream for the connection's whole life, ten times what an idle WebSocket
// costs here. This layer drives OpenSSL directly on the socket's file
// descriptor (SSL_set_fd: a socket BIO, non-blocking) with
// SSL_MODE_RELEASE_BUFFERS, so an idle connection holds its SSL object and
// no record buffers. An operation tries SSL_read / SSL_write /
// SSL_do_handshake at once; on SSL_ERROR_WANT_READ or WANT_WRITE it waits
// for that readiness of the socket and tries again. Either direction may
// want either readiness (a TLS 1.3 KeyUpdate makes a read write).
//
// A plain transport passes every operation straight to the socket: it
// costs the plain connection one null pointer, nothing per operation.
//
// Thread contract: shard-local, like the socket. A read and a write may be
// outstanding together (they interleave on the one SSL object, which
// OpenSSL allows), never two reads or two writes, and never from two threads.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include "net/tls_context.hpp"
#include "net/types.hpp"

namespace herald::net {

// TLS failures: the value is OpenSSL's packed error code, the message its text.
const boost::system::error_category& tls_category();
// OpenSSL's reason code of a tls_category() error (SSL_R_...), else 0.
int tls_reason(const boost::system::error_code& ec);

class transport {
 public:
  using error_code = boost::system::error_code;
  using executor_type = executor_t;
  // Beast's get_lowest_layer() is the socket: closing or cancelling it ends
  // any TLS operation too (they wait on it).
  using next_layer_type = socket_t;
  using lowest_layer_type = socket_t;

  explicit transport(socket_t s) noexcept : sock_(std::move(s)) {}

  executor_type get_executor() noexcept { return sock_.get_executor(); }
  socket_t& next_layer() noexcept { return sock_; }
  const socket_t& next_layer() const noexcept { return sock_; }
  bool is_tls() const noexcept { return tls_ != nullptr; }

  // Makes this a server-side TLS connection on `ssl`; async_handshake next.
  // False when `ssl` is null or OpenSSL cannot attach it to the socket.
  bool start_tls(ssl_ptr ssl);
  // TLS holds bytes it has read from the socket (a record, whole or not)
  // that a socket readiness wait would not see: read at once instead.
  bool pending() const noexcept;
  // Copies up to `n` bytes next in the stream without consuming them or
  // blocking. `ec`: would_block when none are in yet, eof or the error at
  // the stream's end (then 0 is returned).
  std::size_t peek(void* p, std::size_t n, error_code& ec);
  // Reads up to `b.size()` bytes without blocking; `ec` as for peek(). With
  // TLS, would_block may also mean the session waits to write (a KeyUpdate
  // answer); the caller's next readiness wait then retries.
  std::size_t read_now(asio::mutable_buffer b, error_code& ec);
  // Writes what it can of `head` then `body` without blocking (one
  // sendmsg; with TLS one record of both, gathered); `ec`: would_block when
  // the socket takes nothing now (with TLS, also when the session waits to
  // read), else the error. A TLS retry must offer the same bytes again.
  std::size_t write_now(asio::const_buffer head, asio::const_buffer body, error_code& ec);
  // Drops up to `n` bytes without blocking (a plain socket's without copying
  // them, MSG_TRUNC; TLS's through SSL_read into a scratch buffer); `ec` as
  // for read_now().
  std::size_t discard_now(std::size_t n, error_code& ec);
  // Ends our direction: close_notify first with TLS (best effort: only if
  // the socket takes it without blocking), then the TCP FIN.
  void shutdown_send(error_code& ec);
  void cancel(error_code& ec) { sock_.cancel(ec); }
  void close(error_code& ec) { sock_.close(ec); }
  bool is_open() const { return sock_.is_open(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token);
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token);
  // The server side of the TLS handshake (start_tls first).
  template <class Token>
  auto async_handshake(Token&& token);

  // One non-blocking attempt of a TLS operation, for the composed operations
  // below: done (with `n` bytes, or `ec` set), or the readiness to wait for.
  enum class step : std::uint8_t { done, want_read, want_write };
  step try_read(asio::mutable_buffer b, std::size_t& n, error_code& ec);
  step try_write(asio::const_buffer b, std::size_t& n, error_code& ec);
  step try_handshake(error_code& ec);
  // A per-thread buffer of one TLS record's payload: small gathered writes
  // (a WebSocket frame's header and payload) go out as one record.
  static asio::mutable_buffer gather_space();

 private:
  step finish(int ret, error_code& ec);
  // True (ec: bad_descriptor) once the socket is closed: no SSL call may
  // touch its old descriptor number then.
  bool closed(error_code& ec) const;

  socket_t sock_;
  ssl_ptr tls_;
};

namespace detail {

// Tries the operation, waits for the readiness it wants, tries again. The
// completion is posted when the first try succeeds: never inside the
// initiating call.
template <class Attempt, bool Sized>
struct tls_op {
  tls_op(transport& tr, Attempt a) : t(tr), attempt(std::move(a)) {}
  transport& t;
  Attempt attempt;
  std::size_t n = 0;
  boost::system::error_code result;
  bool waited = false;
  bool finished = false;

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    if (!finished && !ec) {
      const auto s = attempt(t, n, result);
      if (s != transport::step::done) {
        waited = true;
        t.next_layer().async_wait(s == transport::step::want_read ? socket_t::wait_read : socket_t::wait_write,
                                  std::move(self));
        return;
      }
      finished = true;
      if (!waited) return asio::post(t.get_executor(), std::move(self));
    }
    if (ec) result = ec, n = 0;
    if constexpr (Sized) {
      self.complete(result, n);
    } else {
      self.complete(result);
    }
  }
};

struct read_attempt {
  asio::mutable_buffer b;
  transport::step operator()(transport& t, std::size_t& n, boost::system::error_code& ec) { return t.try_read(b, n, ec); }
};

// Gathers a sequence of small buffers into one record; a retry gathers the
// same bytes again (OpenSSL accepts the moved buffer: MOVING_WRITE_BUFFER).
template <class ConstBuffers>
struct write_attempt {
  ConstBuffers buffers;
  transport::step operator()(transport& t, std::size_t& n, boost::system::error_code& ec) {
    asio::const_buffer first = *asio::buffer_sequence_begin(buffers);
    const auto space = transport::gather_space();
    if (first.size() < space.size() && asio::buffer_size(buffers) > first.size()) {
      first = asio::const_buffer(space.data(), asio::buffer_copy(space, buffers));
    }
    return t.try_write(first, n, ec);
  }
};

struct handshake_attempt {
  transport::step operator()(transport& t, std::size_t&, boost::system::error_code& ec) { return t.try_handshake(ec); }
};

}  // namespace detail

template <class MutableBuffers, class Token>
auto transport::async_read_some(const MutableBuffers& buffers, Token&& token) {
  using signature = void(boost::system::error_code, std::size_t);
  return asio::async_initiate<Token, signature>(
      [this](auto handler, const MutableBuffers& b) {
        if (!tls_) {
          sock_.async_read_some(b, std::move(handler));
          return;
        }
        asio::async_compose<decltype(handler), signature>(
            detail::tls_op<detail::read_attempt, true>(*this, {*asio::buffer_sequence_begin(b)}), handler, sock_);
      },
      token, buffers);
}

template <class ConstBuffers, class Token>
auto transport::async_write_some(const ConstBuffers& buffers, Token&& token) {
  using signature = void(boost::system::error_code, std::size_t);
  return asio::async_initiate<Token, signature>(
      [this](auto handler, const ConstBuffers& b) {
        if (!tls_) {
          sock_.async_write_some(b, std::move(handler));
          return;
        }
        asio::async_compose<decltype(handler), signature>(
            detail::tls_op<detail::write_attempt<ConstBuffers>, true>(*this, {b}), handler, sock_);
      },
      token, buffers);
}

template <class Token>
auto transport::async_handshake(Token&& token) {
  using signature = void(boost::system::error_code);
  return asio::async_compose<Token, signature>(detail::tls_op<detail::handshake_attempt, false>(*this, {}), token,
                                               sock_);
}

}  // namespace herald::net
