// Unit tests for auth::channel_policy: --subscribe-allow patterns, private
// "$" topics, user-limited "#user" topics and grants.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "auth/channel_policy.hpp"

using herald::auth::channel_policy;
using herald::auth::subscribe_ask;
using herald::auth::verdict;

namespace {
const std::vector<std::string> none;
}

BOOST_AUTO_TEST_SUITE(channel_policy_rules)

BOOST_AUTO_TEST_CASE(without_patterns_every_public_topic_is_open_to_everyone_even_anonymous) {
  channel_policy p;
  BOOST_TEST((p.may_subscribe({"alice", "news", none}) == verdict::allowed));
  BOOST_TEST((p.may_subscribe({"", "room:1", none}) == verdict::allowed));
}

BOOST_AUTO_TEST_CASE(with_subscribe_allow_a_topic_matching_no_pattern_is_not_allowed) {
  channel_policy p({"room:*", "news"});
  BOOST_TEST((p.may_subscribe({"alice", "room:lobby", none}) == verdict::allowed));
  BOOST_TEST((p.may_subscribe({"alice", "news", none}) == verdict::allowed));
  BOOST_TEST((p.may_subscribe({"alice", "newsroom", none}) == verdict::not_allowed));
  BOOST_TEST((p.may_subscribe({"alice", "admin", none}) == verdict::not_allowed));
}

BOOST_AUTO_TEST_CASE(a_private_topic_needs_a_subscription_token_or_the_connection_tokens_channels) {
  channel_policy p;
  BOOST_TEST((p.may_subscribe({"alice", "$secret", none}) == verdict::needs_grant));
  BOOST_TEST((p.may_subscribe({"alice", "$secret", none, true}) == verdict::allowed));
  const std::vector<std::string> granted = {"$other", "$secret"};
  BOOST_TEST((p.may_subscribe({"alice", "$secret", granted}) == verdict::allowed));
  const std::vector<std::string> elsewhere = {"$other"};
  BOOST_TEST((p.may_subscribe({"alice", "$secret", elsewhere}) == verdict::needs_grant));
}

BOOST_AUTO_TEST_CASE(a_grant_passes_the_patterns_but_a_private_topic_never_passes_on_a_pattern_alone) {
  channel_policy p({"*"});
  BOOST_TEST((p.may_subscribe({"alice", "$secret", none}) == verdict::needs_grant));
  channel_policy rooms({"room:*"});
  const std::vector<std::string> granted = {"admin"};
  BOOST_TEST((rooms.may_subscribe({"alice", "admin", granted}) == verdict::allowed));
  BOOST_TEST((rooms.may_subscribe({"alice", "$ops", none, true}) == verdict::allowed));
}

BOOST_AUTO_TEST_CASE(a_user_limited_topic_is_for_its_user_only_whatever_is_granted) {
  channel_policy p;
  BOOST_TEST((p.may_subscribe({"alice", "notes#alice", none}) == verdict::allowed));
  BOOST_TEST((p.may_subscribe({"bob", "notes#alice", none}) == verdict::other_user));
  BOOST_TEST((p.may_subscribe({"", "notes#alice", none}) == verdict::other_user));
  BOOST_TEST((p.may_subscribe({"alicia", "notes#alice", none}) == verdict::other_user));
  const std::vector<std::string> granted = {"notes#alice"};
  BOOST_TEST((p.may_subscribe({"bob", "notes#alice", granted, true}) == verdict::other_user));
  // Private and user-limited at once: both rules.
  BOOST_TEST((p.may_subscribe({"alice", "$inbox#alice", none}) == verdict::needs_grant));
  BOOST_TEST((p.may_subscribe({"alice", "$inbox#alice", none, true}) == verdict::allowed));
}

BOOST_AUTO_TEST_CASE(every_refusal_has_a_sentence) {
  for (auto v : {verdict::not_allowed, verdict::needs_grant, verdict::other_user}) {
    BOOST_TEST(herald::auth::describe(v).size() > 10u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
