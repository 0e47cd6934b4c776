#pragma once
// long_poll: GET /poll. Answers at once with the messages after `since`, or
// holds the request (no thread, a few hundred bytes) until one arrives,
// `timeout` passes, the client hangs up or the node drains. Without `since`
// it waits for the next message and answers it with the position to use
// next (as the seed's auth-code poll and Nchan's "newest" do).
//
//   /poll?topic=T[&since=K][&epoch=E][&timeout=S][&token=TK]  topic messages
//   /poll?token=TK[&event=E][&since=K][&timeout=S]            a user's pushes
//
// With a token on a --presence topic the poller is in the topic's presence
// while its polls keep coming (--poll-presence-window after the last one).
//
// A waiting poll is a subscriber like a WebSocket, so a push counts it in
// "message sent to N clients". It registers before it fetches history and
// merges the two (hub::catch_up): nothing published meanwhile is missed.
//
// Thread contract: shard-local (runs inside its http_session's coroutine).
#include <boost/asio/awaitable.hpp>

#include "api/http_api.hpp"
#include "net/types.hpp"

namespace herald::net {

class shard_context;

asio::awaitable<api::response> long_poll(const api::request& req, shard_context& ctx, socket_t& socket);

}  // namespace herald::net
