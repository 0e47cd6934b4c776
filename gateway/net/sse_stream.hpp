#pragma once
// sse_stream: GET /sse?topic=T[&since=K][&token=TK] — Server-Sent Events.
// Sends `id: <offset>` and `data: <the same JSON envelope a WebSocket gets>`
// per message; `Last-Event-ID` (which browsers send on reconnect) resumes
// like `since`. Same rules as a WebSocket: a bounded queue whose overflow
// ends the stream (slow consumer), a `: ping` comment every --ping-interval.
//
// An open stream is one small object that owns the connection's socket and
// runs one net::loop (the HTTP session that read the request has ended):
// it writes what is queued, else waits for the next message or the ping.
// A stream opened with an expiring token (JWT) ends when it expires, with a
// last event `{"op":"error","code":"token_expired",...}`; reconnecting with
// the same token is refused (401), so the client must fetch a fresh one.
//
// Thread contract: shard-local (everything runs on the connection's shard).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "api/http_api.hpp"
#include "net/address_limit.hpp"
#include "net/transport.hpp"
#include "net/types.hpp"

namespace herald::net {

class shard_context;

// A stream request that passed its checks.
struct sse_request {
  std::string topic;
  std::optional<std::uint64_t> since;  // Last-Event-ID, else `since`
  std::string epoch;
  std::optional<std::string> presence_user;  // counted in the topic's presence as this user
  std::optional<std::chrono::steady_clock::time_point> expires;  // the token's exp: the stream ends there
  unsigned version = 11;
  address_limit::lease lease;  // --max-connections-per-ip: counted while the stream is open
};

// The answer to a refused stream (bad topic, bad since, unknown token), or the stream.
std::variant<api::response, sse_request> parse_sse(const api::request& req, shard_context& ctx);

// Serves the stream on `socket` until it ends; the connection closes with it.
void start_sse(sse_request req, transport socket, shard_context& ctx);

}  // namespace herald::net
