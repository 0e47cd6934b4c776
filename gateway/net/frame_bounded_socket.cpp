#include "net/frame_bounded_socket.hpp"

#include <sys/socket.h>

namespace herald::net {

std::size_t frame_bounded_socket::read_limit(std::size_t want) {
  if (want == 0 || !scan_.in_header()) return scan_.limit({}, want);
  // Inside a header: look at what is next on the wire to learn the frame's
  // size, so the whole frame can come in one read.
  std::uint8_t next[14];
  const auto got = ::recv(sock_.native_handle(), next, sizeof next, MSG_PEEK | MSG_DONTWAIT);
  return scan_.limit(std::span<const std::uint8_t>(next, got > 0 ? static_cast<std::size_t>(got) : 0), want);
}

void teardown(boost::beast::role_type role, frame_bounded_socket& s, boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer(), ec);
}

}  // namespace herald::net
