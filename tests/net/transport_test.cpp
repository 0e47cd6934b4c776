// Unit tests for net::transport over real loopback sockets: the server side
// is a transport on an io_context, the client a blocking OpenSSL client on
// its own thread (code nobody here wrote drives the other end).
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls_context.hpp"
#include "net/tls_files.hpp"
#include "net/transport.hpp"

namespace asio = boost::asio;
using herald::net::socket_t;
using herald::net::tcp;
using herald::net::transport;
using namespace std::chrono_literals;

namespace {

// A blocking TLS client on a plain file descriptor.
class tls_client {
 public:
  explicit tls_client(std::uint16_t port, int rcvbuf = 0) : ctx_(SSL_CTX_new(TLS_client_method())) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    // A server that stops short fails the test instead of hanging it.
    timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~tls_client() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool handshake() {
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    return SSL_connect(ssl_) == 1;
  }
  void write(const std::string& s) { SSL_write(ssl_, s.data(), static_cast<int>(s.size())); }
  // One SSL_read: what one record (or the rest of one) held.
  std::string read_once() {
    char buf[32768];
    const int n = SSL_read(ssl_, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  std::string read_exactly(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      auto more = read_once();
      if (more.empty()) break;
      out += more;
    }
    return out;
  }
  void send_raw(const std::string& s) { ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  void close_notify() { SSL_shutdown(ssl_); }
  void close_tcp() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

struct outcome {
  boost::system::error_code ec;
  std::size_t n = 0;
  bool done = false;
};

auto into(outcome& o) {
  return [&o](boost::system::error_code ec, std::size_t n = 0) { o = {ec, n, true}; };
}

// A TLS server transport on loopback, with a certificate made for the test.
struct tls_loopback {
  herald::test::tls_files files;
  std::unique_ptr<herald::net::tls_context> ctx;
  asio::io_context io;
  herald::net::acceptor_t acceptor{io.get_executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0)};

  tls_loopback() {
    std::signal(SIGPIPE, SIG_IGN);  // herald's main does the same
    files.make("server");
    ctx = std::make_unique<herald::net::tls_context>(files.cert("server"), files.key("server"));
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  void run_until(const outcome& o, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    io.restart();
    while (!o.done && std::chrono::steady_clock::now() < end) io.run_one_for(50ms);
  }
  // Accepts one connection as a TLS transport and runs its handshake while
  // `client` (already connected) runs its own on a thread.
  transport accept_tls(tls_client& client, int sndbuf = 0) {
    transport t(acceptor.accept());
    if (sndbuf > 0) t.next_layer().set_option(asio::socket_base::send_buffer_size(sndbuf));
    BOOST_REQUIRE(t.start_tls(ctx->new_ssl()));
    auto shook = std::async(std::launch::async, [&] { return client.handshake(); });
    outcome o;
    t.async_handshake([&o](boost::system::error_code ec) { o = {ec, 0, true}; });
    run_until(o);
    BOOST_REQUIRE(o.done);
    BOOST_REQUIRE_MESSAGE(!o.ec, o.ec.message());
    BOOST_REQUIRE(shook.get());
    return t;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(transport_over_loopback, tls_loopback)

BOOST_AUTO_TEST_CASE(a_tls_transport_round_trips_bytes_and_ends_at_the_peers_close_notify) {
  tls_client client(port());
  auto t = accept_tls(client);
  client.write("hello");
  std::array<char, 64> buf{};
  outcome r;
  t.async_read_some(asio::buffer(buf), into(r));
  run_until(r);
  BOOST_TEST((r.done && !r.ec));
  BOOST_TEST(std::string(buf.data(), r.n) == "hello");
  outcome w;
  t.async_write_some(asio::buffer(std::string_view("world")), into(w));
  run_until(w);
  BOOST_TEST(w.n == 5u);
  BOOST_TEST(client.read_exactly(5) == "world");
  client.close_notify();
  outcome end;
  t.async_read_some(asio::buffer(buf), into(end));
  run_until(end);
  BOOST_TEST(end.ec == asio::error::eof);
}

BOOST_AUTO_TEST_CASE(small_buffers_written_together_go_out_as_one_record) {
  tls_client client(port());
  auto t = accept_tls(client);
  const std::string head = "head:", body = "the body";
  std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(body)};
  outcome w;
  t.async_write_some(parts, into(w));
  run_until(w);
  BOOST_TEST(w.n == head.size() + body.size());
  BOOST_TEST(client.read_once() == head + body);  // one SSL_read: one record
}

BOOST_AUTO_TEST_CASE(a_large_write_waits_for_a_peer_that_is_not_reading_and_arrives_whole) {
  tls_client client(port(), 16 * 1024);
  auto t = accept_tls(client, 16 * 1024);
  std::string big(8u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  outcome w;
  asio::async_write(t, asio::buffer(big), into(w));
  // Far more than the socket buffers hold: it must be waiting for writability.
  run_until(w, 300ms);
  BOOST_TEST(!w.done);
  auto got = std::async(std::launch::async, [&] { return client.read_exactly(big.size()); });
  run_until(w);
  BOOST_TEST((w.done && !w.ec));
  BOOST_TEST(w.n == big.size());
  BOOST_TEST((got.get() == big));
}

BOOST_AUTO_TEST_CASE(a_peer_that_closes_during_a_pending_read_ends_it_with_eof) {
  tls_client client(port());
  auto t = accept_tls(client);
  // The client reads what the server sent (its session ticket too): a close
  // with unread bytes would be a reset, not an end of stream.
  outcome w;
  t.async_write_some(asio::buffer(std::string_view("hi")), into(w));
  run_until(w);
  BOOST_TEST(client.read_exactly(2) == "hi");
  std::array<char, 64> buf{};
  outcome r;
  t.async_read_some(asio::buffer(buf), into(r));
  run_until(r, 100ms);
  BOOST_TEST(!r.done);
  client.close_tcp();  // no close_notify: browsers do this too
  run_until(r);
  BOOST_TEST(r.done);
  BOOST_TEST(r.ec == asio::error::eof);
}

BOOST_AUTO_TEST_CASE(a_peer_that_closes_inside_a_record_fails_the_read) {
  tls_client client(port());
  auto t = accept_tls(client);
  std::array<char, 64> buf{};
  outcome r;
  t.async_read_some(asio::buffer(buf), into(r));
  client.send_raw(std::string("\x17\x03\x03\x00\x40partial", 12));  // announces 64 bytes, sends 7
  run_until(r, 100ms);
  BOOST_TEST(!r.done);
  client.close_tcp();
  run_until(r);
  BOOST_TEST(r.done);
  BOOST_TEST(r.ec.failed());
  BOOST_TEST(r.n == 0u);
}

BOOST_AUTO_TEST_CASE(peek_leaves_the_bytes_and_pending_tells_they_are_buffered) {
  tls_client client(port());
  auto t = accept_tls(client);
  client.write("abcdef");
  outcome ready;
  t.next_layer().async_wait(socket_t::wait_read, [&](boost::system::error_code ec) { ready = {ec, 0, true}; });
  run_until(ready);
  char head[3];
  boost::system::error_code ec;
  BOOST_TEST(t.peek(head, sizeof head, ec) == 3u);
  BOOST_TEST(std::string(head, 3) == "abc");
  BOOST_TEST(t.pending());  // in OpenSSL's buffer now: a readiness wait would not see it
  char all[16];
  BOOST_TEST(t.read_now(asio::buffer(all), ec) == 6u);
  BOOST_TEST(std::string(all, 6) == "abcdef");
  BOOST_TEST(!t.pending());
  t.read_now(asio::buffer(all), ec);
  BOOST_TEST(ec == asio::error::would_block);
}

BOOST_AUTO_TEST_CASE(a_tls_transport_whose_socket_was_closed_leaves_its_old_descriptor_alone) {
  tls_client client(port());
  auto t = accept_tls(client);
  const int old_fd = t.next_layer().native_handle();
  t.next_layer().close();
  // The next sockets opened take the same descriptor number: a connected
  // pair, so anything written to that number would arrive at the other end.
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
  BOOST_TEST(pair[0] == old_fd);
  std::array<char, 16> buf{};
  outcome r;
  t.async_read_some(asio::buffer(buf), into(r));
  run_until(r);
  BOOST_TEST(r.ec == asio::error::bad_descriptor);
  outcome w;
  t.async_write_some(asio::buffer(std::string_view("leak")), into(w));
  run_until(w);
  BOOST_TEST(w.ec == asio::error::bad_descriptor);
  boost::system::error_code ec;
  t.shutdown_send(ec);  // no close_notify into the other socket either
  char c;
  BOOST_TEST(::recv(pair[1], &c, 1, MSG_DONTWAIT) == -1);
  ::close(pair[0]);
  ::close(pair[1]);
}

BOOST_AUTO_TEST_CASE(plain_http_to_a_tls_transport_fails_the_handshake_as_an_http_request) {
  tls_client client(port());
  transport t(acceptor.accept());
  BOOST_REQUIRE(t.start_tls(ctx->new_ssl()));
  client.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  outcome o;
  t.async_handshake([&o](boost::system::error_code ec) { o = {ec, 0, true}; });
  run_until(o);
  BOOST_TEST(o.done);
  BOOST_TEST((o.ec.category() == herald::net::tls_category()));
  BOOST_TEST(herald::net::tls_reason(o.ec) == SSL_R_HTTP_REQUEST);
}

BOOST_AUTO_TEST_CASE(a_plain_transport_reads_and_writes_the_socket_as_it_is) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  transport t(acceptor.accept());
  BOOST_TEST(!t.is_tls());
  ::send(fd, "ping", 4, 0);
  std::array<char, 16> buf{};
  outcome r;
  t.async_read_some(asio::buffer(buf), into(r));
  run_until(r);
  BOOST_TEST(std::string(buf.data(), r.n) == "ping");
  BOOST_TEST(!t.pending());
  outcome w;
  t.async_write_some(asio::buffer(std::string_view("pong")), into(w));
  run_until(w);
  char back[4];
  BOOST_TEST(::recv(fd, back, 4, MSG_WAITALL) == 4);
  BOOST_TEST(std::string(back, 4) == "pong");
  ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
