#pragma once
// wait_for_hangup: completes when the peer of a held HTTP request closes its
// side (or the socket fails), so a vanished long-poller or SSE reader is
// released at once instead of at its timeout. A peer that sends more data
// (pipelining) is simply no longer watched.
#include <boost/asio/awaitable.hpp>

#include "net/types.hpp"

namespace herald::net {

asio::awaitable<void> wait_for_hangup(socket_t& socket);

}  // namespace herald::net
