#pragma once
// long_poll: GET /poll. Answers at once with the messages after `since`, or
// holds the request until one arrives, `timeout` passes, the client hangs
// up or the node drains. Without `since` it waits for the next message and
// answers it with the position to use next (as the seed's auth-code poll
// and Nchan's "newest" do).
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
// A held poll is one small object that owns the connection's socket and
// runs one net::loop: the HTTP session that read the request has ended (its
// parser, buffers and frame are gone) and is started again on the socket
// once the answer is written, when the connection is kept alive. That is
// what makes a waiting poll cost little more than its socket.
//
// Thread contract: shard-local (everything runs on the connection's shard).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "api/http_api.hpp"
#include "net/address_limit.hpp"
#include "net/http_session.hpp"
#include "net/transport.hpp"
#include "net/types.hpp"

namespace herald::net {

class shard_context;

// A poll that passed its checks: what it waits for, and how to answer.
struct poll_request {
  std::string topic;  // a topic's messages, or
  std::string user;   // a user's pushes ...
  std::string event;  // ... of this event
  std::optional<std::uint64_t> since;
  std::string epoch;
  std::chrono::steady_clock::duration timeout{};
  std::optional<std::string> present_as;  // counted in the topic's presence as this user
  unsigned version = 11;                  // of the request, for the answer
  bool keep_alive = true;
  address_limit::lease lease;             // --max-connections-per-ip: counted while held
};

// The answer to a refused poll (bad parameters, unknown token), or the poll.
std::variant<api::response, poll_request> parse_poll(const api::request& req, shard_context& ctx);

// Holds `req` on `socket` until it is answered; then the connection goes
// back to HTTP through `back` when it is kept alive.
void start_poll(poll_request req, transport socket, http_resume back, shard_context& ctx);

}  // namespace herald::net
