#include "auth/channel_policy.hpp"

#include <algorithm>

#include "proto/names.hpp"

namespace herald::auth {

std::string_view describe(verdict v) {
  switch (v) {
    case verdict::allowed: return "allowed";
    case verdict::not_allowed: return "this topic matches no --subscribe-allow pattern";
    case verdict::needs_grant: return "a private topic needs a subscription token or the connection token's channels";
    case verdict::other_user: return "this topic is limited to another user";
  }
  return "forbidden";
}

verdict channel_policy::may_subscribe(const subscribe_ask& ask) const {
  const auto owner = proto::topic_owner(ask.topic);
  if (!owner.empty() && owner != ask.user) return verdict::other_user;
  const bool granted =
      ask.subscription_token || std::find(ask.channels.begin(), ask.channels.end(), ask.topic) != ask.channels.end();
  if (granted) return verdict::allowed;
  if (proto::private_topic(ask.topic)) return verdict::needs_grant;
  if (!allow_.empty() && !proto::matches_any(allow_, ask.topic)) return verdict::not_allowed;
  return verdict::allowed;
}

}  // namespace herald::auth
