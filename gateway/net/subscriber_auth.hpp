#pragma once
// subscriber_auth: the one admission check of an HTTP subscriber (GET /poll,
// GET /sse): `?token=` (tokens file or JWT; none: anonymous) and, for a
// topic, whether that user may subscribe to it (private `$` topics with
// `&sub_token=` or the token's channels, `#user` topics, --subscribe-allow),
// with the answers a WebSocket would get: 401 unauthorized, 403 forbidden.
// Refused tokens are counted in herald_auth_failures_total{reason}.
//
// Thread contract: shard-local (counts in its shard's stats).
#include <string>
#include <string_view>
#include <variant>

#include "api/http_api.hpp"

namespace herald::proto {
class query;
}

namespace herald::net {

class shard_context;

// The subscriber's user ("" when anonymous), or the answer refusing it.
// `topic` is empty for a user's long-poll (only the token is checked).
std::variant<api::response, std::string> authorize_subscriber(const api::request& req, const proto::query& q,
                                                              std::string_view topic, shard_context& ctx);

}  // namespace herald::net
