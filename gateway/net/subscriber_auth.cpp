#include "net/subscriber_auth.hpp"

#include "api/token_auth.hpp"
#include "auth/failure.hpp"
#include "net/shard_context.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

std::variant<api::response, subscriber_identity> authorize_subscriber(const api::request& req, const proto::query& q,
                                                                      std::string_view topic, shard_context& ctx) {
  auto token = q.get("token");
  auto a = ctx.auth.authorize(token ? std::optional<std::string_view>(*token) : std::nullopt, topic,
                              q.get("sub_token").value_or(""), api::token_auth::now());
  if (a.ok()) {
    subscriber_identity who{std::move(a.user), std::nullopt};
    // exp is wall-clock seconds; held requests wait on the steady clock.
    if (a.expires) who.expires = api::token_auth::steady_deadline(*a.expires);
    return who;
  }
  if (a.failure != auth::failure::none) ++ctx.state.stats.auth_failures[std::string(auth::to_string(a.failure))];
  return api::json_error(static_cast<api::http::status>(a.http_status()), a.code, a.reason, req.version());
}

}  // namespace herald::net
