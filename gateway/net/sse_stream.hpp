#pragma once
// sse_stream: GET /sse?topic=T[&since=K][&token=TK] — Server-Sent Events.
// Sends `id: <offset>` and `data: <the same JSON envelope a WebSocket gets>`
// per message; `Last-Event-ID` (which browsers send on reconnect) resumes
// like `since`. Same rules as a WebSocket: a bounded queue whose overflow
// ends the stream (slow consumer), a `: ping` comment every --ping-interval.
//
// Thread contract: shard-local (runs inside its http_session's coroutine).
#include <boost/asio/awaitable.hpp>

#include "api/http_api.hpp"
#include "net/types.hpp"

namespace herald::net {

class shard_context;

// Serves the stream until it ends. Returns a response only when the request
// is refused before the stream starts (bad topic, bad since).
asio::awaitable<std::optional<api::response>> serve_sse(const api::request& req, shard_context& ctx,
                                                        socket_t& socket);

}  // namespace herald::net
