#include "net/hangup.hpp"

namespace herald::net {

void watch_hangup(transport& t, std::shared_ptr<waker> w) {
  t.next_layer().async_wait(socket_t::wait_read, [&t, w](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;  // the request ended first
    char byte;
    boost::system::error_code peek_ec;
    const auto n = ec ? 0 : t.peek(&byte, 1, peek_ec);
    if (!ec && n > 0) return;  // data, not a hang-up
    if (!ec && peek_ec == asio::error::would_block) return watch_hangup(t, w);  // nothing to read yet
    w->hung_up = true;
    w->wake.cancel();
  });
}

}  // namespace herald::net
