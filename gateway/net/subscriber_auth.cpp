#include "net/subscriber_auth.hpp"

#include "api/token_auth.hpp"
#include "auth/failure.hpp"
#include "net/shard_context.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

std::variant<api::response, std::string> authorize_subscriber(const api::request& req, const proto::query& q,
                                                              std::string_view topic, shard_context& ctx) {
  auto token = q.get("token");
  auto a = ctx.auth.authorize(token ? std::optional<std::string_view>(*token) : std::nullopt, topic,
                              q.get("sub_token").value_or(""), api::token_auth::now());
  if (a.ok()) return std::move(a.user);
  if (a.failure != auth::failure::none) ++ctx.state.stats.auth_failures[std::string(auth::to_string(a.failure))];
  return api::json_error(static_cast<api::http::status>(a.http_status()), a.code, a.reason, req.version());
}

}  // namespace herald::net
