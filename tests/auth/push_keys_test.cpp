// Unit tests for auth::push_keys: several keys at once (rotation).
#include <boost/test/unit_test.hpp>

#include "auth/push_keys.hpp"

using herald::auth::push_keys;

BOOST_AUTO_TEST_SUITE(push_keys_rotation)

BOOST_AUTO_TEST_CASE(without_keys_the_push_api_is_open) {
  push_keys k;
  BOOST_TEST(k.open());
  BOOST_TEST(k.authorizes(""));
  BOOST_TEST(k.authorizes("Bearer anything"));
}

BOOST_AUTO_TEST_CASE(each_of_several_keys_is_accepted_and_nothing_else) {
  push_keys k({"old-key", "new-key-longer"});
  BOOST_TEST(!k.open());
  BOOST_TEST(k.authorizes("Bearer old-key"));
  BOOST_TEST(k.authorizes("Bearer new-key-longer"));
  BOOST_TEST(!k.authorizes("Bearer new-key"));
  BOOST_TEST(!k.authorizes("Bearer old-key "));
  BOOST_TEST(!k.authorizes("Bearer "));
  BOOST_TEST(!k.authorizes("bearer old-key"));
  BOOST_TEST(!k.authorizes("old-key"));
  BOOST_TEST(!k.authorizes(""));
}

BOOST_AUTO_TEST_CASE(an_empty_key_opens_nothing) {
  push_keys k({"", "k"});
  BOOST_TEST(!k.accepts(""));
  BOOST_TEST(!k.authorizes("Bearer "));
  BOOST_TEST(k.authorizes("Bearer k"));
  BOOST_TEST(push_keys({""}).open());
}

BOOST_AUTO_TEST_CASE(constant_time_comparison_is_still_a_comparison) {
  BOOST_TEST(herald::auth::equal_constant_time("abc", "abc"));
  BOOST_TEST(!herald::auth::equal_constant_time("abc", "abd"));
  BOOST_TEST(!herald::auth::equal_constant_time("abc", "abcd"));
  BOOST_TEST(herald::auth::equal_constant_time("", ""));
}

BOOST_AUTO_TEST_SUITE_END()
