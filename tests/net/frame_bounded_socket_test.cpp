// Unit tests for frame_bounded_socket's lingering teardown over real
// loopback sockets: the server side is the socket on an io_context, the
// client a blocking socket on its own thread that keeps writing one huge
// frame, as a client does that we refused with 1009 and that has not read
// our close frame yet.
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/beast/core/role.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/frame_bounded_socket.hpp"
#include "net/transport.hpp"

namespace asio = boost::asio;
using herald::net::frame_bounded_socket;
using herald::net::socket_t;
using herald::net::tcp;
using herald::net::transport;
using namespace std::chrono_literals;

namespace {

// A client frame header: masked text, 64-bit length, mask zero.
std::string header_of(std::uint64_t length) {
  std::string h = {'\x81', '\xff'};
  for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  h.append(4, '\0');
  return h;
}

// Writes a `length`-byte frame (header included by the caller), then a
// close frame, then reads until the server ends: how the connection ended
// for a client that kept writing.
struct writer_client {
  int fd = -1;
  std::atomic<bool> sent_all{false};
  std::atomic<int> send_errno{0};
  std::atomic<int> end{1};  // 0: clean end of stream; -1: error (errno in end_errno)
  std::atomic<int> end_errno{0};

  explicit writer_client(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval limit{30, 0};  // a server that never ends fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~writer_client() { ::close(fd); }

  bool send_all(const char* p, std::size_t n) {
    while (n > 0) {
      const auto k = ::send(fd, p, n, MSG_NOSIGNAL);
      if (k < 0) {
        send_errno = errno;
        return false;
      }
      p += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }
  void run(std::uint64_t payload) {
    const std::string chunk(1 << 16, 'x');
    for (std::uint64_t left = payload; left > 0;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
      if (!send_all(chunk.data(), n)) return;
      left -= n;
    }
    const char close_frame[] = {'\x88', '\x82', 0, 0, 0, 0, '\x03', '\xe8'};  // 1000, mask zero
    if (!send_all(close_frame, sizeof close_frame)) return;
    sent_all = true;
    char buf[4096];
    for (;;) {
      const auto k = ::recv(fd, buf, sizeof buf, 0);
      if (k > 0) continue;
      end_errno = k < 0 ? errno : 0;
      end = k < 0 ? -1 : 0;
      return;
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(frame_bounded_socket_teardown)

// The heartbeat wakes a held teardown once per sweep; each wake may discard
// a whole budget. Closing after a spent budget would reset a peer that is
// still writing, and the reset can overtake our close frame (the client
// then sees 1006 instead of 1009).
BOOST_AUTO_TEST_CASE(a_peer_that_outwrites_several_budgets_is_held_back_and_never_reset) {
  asio::io_context ctx;
  herald::net::acceptor_t acceptor(ctx.get_executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const std::uint64_t payload = 6 * herald::net::linger_budget;
  writer_client client(acceptor.local_endpoint().port());
  frame_bounded_socket s(transport(acceptor.accept()));

  const auto header = header_of(payload);
  BOOST_REQUIRE(client.send_all(header.data(), header.size()));
  std::array<char, 14> got{};
  // The header, through the socket's own reads: its scanner is inside the payload then.
  asio::async_read(s, asio::buffer(got), [](boost::system::error_code, std::size_t) {});
  ctx.run();
  std::thread writer([&] { client.run(payload); });

  bool done = false;
  boost::system::error_code result;
  herald::net::async_teardown(boost::beast::role_type::server, s, [&](boost::system::error_code ec) {
    done = true;
    result = ec;
  });
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (!done && std::chrono::steady_clock::now() < give_up) {
    ctx.restart();
    ctx.run_for(20ms);
    // What ws_session's heartbeat does each sweep while the socket lingers.
    boost::system::error_code ignored;
    if (!done && s.lingering()) s.next_layer().next_layer().cancel(ignored);
  }
  writer.join();
  BOOST_TEST(client.sent_all.load(), "the client's send failed: errno " << client.send_errno.load());
  BOOST_TEST(done);
  BOOST_TEST(!result, result.message());
  BOOST_TEST(client.end.load() == 0, "the client's connection ended with errno " << client.end_errno.load());
}

BOOST_AUTO_TEST_SUITE_END()
