#include "net/transport.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace herald::net {

namespace {

class tls_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    char text[256];
    ERR_error_string_n(static_cast<unsigned long>(static_cast<unsigned int>(value)), text, sizeof text);
    return text;
  }
};

// The error a failed SSL call left, and an empty queue for the next call.
boost::system::error_code last_tls_error() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return asio::error::connection_reset;
  return {static_cast<int>(static_cast<unsigned int>(e)), tls_category()};
}

// The plain socket's non-blocking read or peek.
std::size_t recv_now(int fd, void* p, std::size_t n, int flags, boost::system::error_code& ec) {
  for (;;) {
    const auto got = ::recv(fd, p, n, flags | MSG_DONTWAIT);
    if (got > 0) return static_cast<std::size_t>(got);
    if (got == 0) {
      ec = asio::error::eof;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ec = asio::error::would_block;
    } else {
      ec = {errno, boost::system::system_category()};
    }
    return 0;
  }
}

}  // namespace

const boost::system::error_category& tls_category() {
  static const tls_category_impl category;
  return category;
}

int tls_reason(const boost::system::error_code& ec) {
  if (ec.category() != tls_category()) return 0;
  return ERR_GET_REASON(static_cast<unsigned long>(static_cast<unsigned int>(ec.value())));
}

bool transport::start_tls(ssl_ptr ssl) {
  // OpenSSL reads and writes the descriptor itself: it must not block (Asio
  // would make it non-blocking only at its first asynchronous operation).
  error_code ec;
  sock_.non_blocking(true, ec);
  if (ec || !ssl || SSL_set_fd(ssl.get(), sock_.native_handle()) != 1) return false;
  SSL_set_accept_state(ssl.get());
  tls_ = std::move(ssl);
  return true;
}

bool transport::pending() const noexcept { return tls_ && SSL_has_pending(tls_.get()) == 1; }

std::size_t transport::peek(void* p, std::size_t n, error_code& ec) {
  if (!tls_) return recv_now(sock_.native_handle(), p, n, MSG_PEEK, ec);
  if (closed(ec)) return 0;
  std::size_t got = 0;
  ERR_clear_error();
  if (SSL_peek_ex(tls_.get(), p, n, &got) == 1) return got;
  if (finish(0, ec) != step::done) ec = asio::error::would_block;
  return 0;
}

std::size_t transport::read_now(asio::mutable_buffer b, error_code& ec) {
  if (!tls_) return recv_now(sock_.native_handle(), b.data(), b.size(), 0, ec);
  std::size_t n = 0;
  if (try_read(b, n, ec) != step::done) ec = asio::error::would_block;
  return n;
}

std::size_t transport::write_now(asio::const_buffer head, asio::const_buffer body, error_code& ec) {
  if (tls_) {
    std::size_t n = 0;
    const std::array<asio::const_buffer, 2> both{head, body};
    if (detail::write_attempt<std::array<asio::const_buffer, 2>>{both}(*this, n, ec) != step::done) {
      ec = asio::error::would_block;
    }
    return n;
  }
  iovec iov[2] = {{const_cast<void*>(head.data()), head.size()}, {const_cast<void*>(body.data()), body.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = body.size() > 0 ? 2 : 1;
  for (;;) {
    const auto sent = ::sendmsg(sock_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<std::size_t>(sent);
    if (errno == EINTR) continue;
    ec = errno == EAGAIN || errno == EWOULDBLOCK ? error_code(asio::error::would_block)
                                                 : error_code(errno, boost::system::system_category());
    return 0;
  }
}

std::size_t transport::discard_now(std::size_t n, error_code& ec) {
  if (!tls_) return recv_now(sock_.native_handle(), nullptr, n, MSG_TRUNC, ec);
  char scratch[4096];
  return read_now(asio::buffer(scratch, std::min(n, sizeof scratch)), ec);
}

void transport::shutdown_send(error_code& ec) {
  if (tls_ && sock_.is_open()) {
    // Not after a fatal TLS error (OpenSSL refuses then, harmlessly); a
    // close_notify the socket cannot take now is given up: the FIN follows.
    ERR_clear_error();
    SSL_shutdown(tls_.get());
    ERR_clear_error();
  }
  sock_.shutdown(socket_t::shutdown_send, ec);
}

transport::step transport::finish(int ret, error_code& ec) {
  const int err = SSL_get_error(tls_.get(), ret);
  switch (err) {
    case SSL_ERROR_WANT_READ: return step::want_read;
    case SSL_ERROR_WANT_WRITE: return step::want_write;
    // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a TCP end without it.
    case SSL_ERROR_ZERO_RETURN: ec = asio::error::eof; break;
    case SSL_ERROR_SYSCALL:
      ec = errno != 0 ? error_code(errno, boost::system::system_category()) : error_code(asio::error::eof);
      ERR_clear_error();
      break;
    default: ec = last_tls_error(); break;
  }
  return step::done;
}

bool transport::closed(error_code& ec) const {
  // The socket was closed under the session (a deadline, Beast's timeout,
  // force_close): its descriptor number may already belong to a connection
  // accepted since, which OpenSSL's BIO would then read and write.
  if (sock_.is_open()) return false;
  ec = asio::error::bad_descriptor;
  return true;
}

transport::step transport::try_read(asio::mutable_buffer b, std::size_t& n, error_code& ec) {
  n = 0;
  if (b.size() == 0 || closed(ec)) return step::done;
  ERR_clear_error();
  errno = 0;
  if (SSL_read_ex(tls_.get(), b.data(), b.size(), &n) == 1) return step::done;
  return finish(0, ec);
}

transport::step transport::try_write(asio::const_buffer b, std::size_t& n, error_code& ec) {
  n = 0;
  if (b.size() == 0 || closed(ec)) return step::done;
  ERR_clear_error();
  errno = 0;
  if (SSL_write_ex(tls_.get(), b.data(), b.size(), &n) == 1) return step::done;
  return finish(0, ec);
}

transport::step transport::try_handshake(error_code& ec) {
  if (!tls_) {
    ec = asio::error::invalid_argument;
    return step::done;
  }
  if (closed(ec)) return step::done;
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_do_handshake(tls_.get());
  if (ret == 1) return step::done;
  return finish(ret, ec);
}

asio::mutable_buffer transport::gather_space() {
  thread_local char space[16384];  // SSL3_RT_MAX_PLAIN_LENGTH: one record
  return asio::buffer(space);
}

}  // namespace herald::net
