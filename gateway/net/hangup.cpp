#include "net/hangup.hpp"

namespace herald::net {

void watch_hangup(socket_t& socket, std::shared_ptr<waker> w) {
  socket.async_wait(socket_t::wait_read, [&socket, w](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;  // the request ended first
    char byte;
    boost::system::error_code peek_ec;
    auto n = ec ? 0 : socket.receive(asio::buffer(&byte, 1), socket_t::message_peek, peek_ec);
    if (!ec && !peek_ec && n > 0) return;  // data, not a hang-up
    w->hung_up = true;
    w->wake.cancel();
  });
}

}  // namespace herald::net
