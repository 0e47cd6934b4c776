#pragma once
// channel_policy: who may subscribe to a topic, Centrifugo-like. Pure: it
// decides from names and from grants its caller has already verified.
//
// The rules, in order:
//  1. a user-limited topic ("notes#alice": the part after '#') is for that
//     user only, whatever else is granted (other_user);
//  2. a granted topic is allowed: one in the connection token's "channels",
//     or one a verified subscription token names for this user;
//  3. a private topic ("$..." ) needs such a grant (needs_grant);
//  4. with --subscribe-allow patterns, a topic matching none is refused
//     (not_allowed); without them every valid topic is open.
// Publishing by a client asks the same question (and --client-publish).
//
// Thread contract: immutable after construction; shared by all shards.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace herald::auth {

enum class verdict { allowed, not_allowed, needs_grant, other_user };

// The refusal's sentence for an error frame or HTTP body.
std::string_view describe(verdict v);

struct subscribe_ask {
  std::string_view user;                  // the connection's user; empty when it never authenticated
  std::string_view topic;                 // a valid topic name
  std::span<const std::string> channels;  // topics the connection token granted
  bool subscription_token = false;        // a verified subscription token for (user, topic) came with it
};

class channel_policy {
 public:
  // Every topic open, as before permissions existed (user-limited and
  // private topics still follow rules 1 and 3).
  channel_policy() = default;
  explicit channel_policy(std::vector<std::string> subscribe_allow) : allow_(std::move(subscribe_allow)) {}

  verdict may_subscribe(const subscribe_ask& ask) const;

 private:
  std::vector<std::string> allow_;  // --subscribe-allow; empty: no pattern restriction
};

}  // namespace herald::auth
