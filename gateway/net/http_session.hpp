#pragma once
// http_session: one accepted TCP connection while it speaks HTTP/1.1.
// Reads requests in order (keep-alive and pipelining work), answers them
// through api::http_api, and hands the socket to a ws_session on a
// WebSocket upgrade of /ws. Limits are enforced while parsing: headers over
// --max-header answer 431, bodies over --max-body 413, malformed requests
// (including Transfer-Encoding together with Content-Length) 400; each of
// these closes the connection because the rest of the stream cannot be
// trusted.
//
// With --proxy-protocol the connection must open with a PROXY v2 header
// (net/proxy_header), read exactly and within --proxy-header-timeout before
// any HTTP byte; a missing or bad one drops the connection, counted in
// herald_proxy_header_rejected_total{reason}. The client address it carries
// replaces the socket's peer for logs (and anything else keyed by client).
//
// On a TLS port (--tls-cert) the TLS handshake follows the PROXY header,
// within --handshake-timeout; a failed one drops the connection, counted in
// herald_tls_handshake_failures_total{reason}. Everything after it, the
// WebSocket and held requests included, runs over the TLS transport.
//
// A request the node holds (long-poll, SSE) takes the socket out of the
// session, which ends; a long-poll gives it back when it has answered
// (http_session::resume), so a held request keeps no parser, no buffer and
// no session frame.
//
// Thread contract: shard-local. The whole session is one coroutine on the
// socket's shard; its state lives in the coroutine frame and is gone after
// an upgrade or while a request is held.
#include <cstdint>
#include <string>

#include "net/transport.hpp"
#include "net/types.hpp"

namespace herald::api {
class http_api;
}

namespace herald::net {

class shard_context;

// What a held request keeps to hand its connection back to HTTP.
struct http_resume {
  std::uint64_t id = 0;
  tcp::endpoint peer;             // the client (PROXY v2's when that is on)
  api::http_api* api = nullptr;
  std::string leftover;           // bytes read past the held request (pipelining)
};

class http_session {
 public:
  // Serves `socket` (already on its shard's executor, accepted from `peer`)
  // until it closes or upgrades.
  static void start(socket_t socket, std::uint64_t id, const tcp::endpoint& peer, shard_context& ctx,
                    api::http_api& api);
  // Serves `t` again after a held request was answered on it: no PROXY
  // header or TLS handshake expected, `back.leftover` parsed first.
  static void resume(transport t, http_resume back, shard_context& ctx);
};

}  // namespace herald::net
