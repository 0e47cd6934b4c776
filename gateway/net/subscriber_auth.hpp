#pragma once
// subscriber_auth: the one admission check of an HTTP subscriber (GET /poll,
// GET /sse): `?token=` (tokens file or JWT; none: anonymous) and, for a
// topic, whether that user may subscribe to it (private `$` topics with
// `&sub_token=` or the token's channels, `#user` topics, --subscribe-allow),
// with the answers a WebSocket would get: 401 unauthorized, 403 forbidden.
// Refused tokens are counted in herald_auth_failures_total{reason}. A held
// request does not outlive its token: a poll answers by the token's `exp`,
// a stream ends there (error event token_expired), and the next request
// with that token is refused.
//
// Thread contract: shard-local (counts in its shard's stats).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/http_api.hpp"

namespace herald::proto {
class query;
}

namespace herald::net {

class shard_context;

// Who an admitted subscriber is.
struct subscriber_identity {
  std::string user;  // "" when anonymous
  // When its token expires (JWT `exp`); none: never.
  std::optional<std::chrono::steady_clock::time_point> expires;
};

// The subscriber, or the answer refusing it. `topic` is empty for a user's
// long-poll (only the token is checked).
std::variant<api::response, subscriber_identity> authorize_subscriber(const api::request& req, const proto::query& q,
                                                                      std::string_view topic, shard_context& ctx);

}  // namespace herald::net
