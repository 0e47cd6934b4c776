#include "net/frame_bounded_socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace herald::net {

std::size_t frame_bounded_socket::read_limit(std::size_t want) {
  if (want == 0 || !scan_.in_header()) return scan_.limit({}, want);
  // Inside a header: look at what is next on the wire to learn the frame's
  // size, so the whole frame can come in one read.
  std::uint8_t next[14];
  boost::system::error_code ec;  // nothing known yet: the read that follows reports it
  const auto got = sock_.peek(next, sizeof next, ec);
  return scan_.limit(std::span<const std::uint8_t>(next, got), want);
}

boost::system::error_code frame_bounded_socket::discard_some(std::size_t& discarded, bool& peer_close) {
  while (discarded < linger_budget) {
    boost::system::error_code ec;
    std::size_t got;
    if (scan_.in_header()) {
      // Header bytes go through the scanner, which needs them to find the
      // frame's end; a close frame is recognised by its first byte.
      std::uint8_t head[14];
      const bool first = scan_.at_boundary();
      got = sock_.read_now(asio::buffer(head, read_limit(sizeof head)), ec);
      if (got > 0) {
        if (first && (head[0] & 0x0f) == 0x8) peer_close = true;
        scan_.consume(head, got);
      }
    } else {
      got = sock_.discard_now(scan_.limit({}, linger_budget - discarded), ec);
      scan_.skip(got);
    }
    if (ec) return ec;  // would_block, eof, or the socket's (or TLS's) error
    discarded += got;
    if (peer_close && scan_.at_boundary()) return asio::error::eof;
  }
  return {};
}

bool frame_bounded_socket::lingering() {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(sock_.next_layer().native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  switch (info.tcpi_state) {
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
    case TCP_CLOSING:
    case TCP_LAST_ACK: return true;
    default: return false;
  }
}

void teardown(boost::beast::role_type role, frame_bounded_socket& s, boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer().next_layer(), ec);
}

}  // namespace herald::net
