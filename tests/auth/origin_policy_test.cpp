// Unit tests for auth::origin_policy (--allowed-origin).
#include <boost/test/unit_test.hpp>

#include "auth/origin_policy.hpp"

using herald::auth::origin_policy;

BOOST_AUTO_TEST_SUITE(origin_allow_list)

BOOST_AUTO_TEST_CASE(without_patterns_every_origin_is_allowed) {
  origin_policy p({});
  BOOST_TEST(!p.enabled());
  BOOST_TEST(p.allows("https://anything.test"));
}

BOOST_AUTO_TEST_CASE(a_wildcard_pattern_allows_subdomains_and_nothing_else) {
  origin_policy p({"https://*.example.com"});
  BOOST_TEST(p.allows("https://chat.example.com"));
  BOOST_TEST(p.allows("https://a.b.example.com"));
  BOOST_TEST(!p.allows("https://example.com"));
  BOOST_TEST(!p.allows("http://chat.example.com"));
  BOOST_TEST(!p.allows("https://chat.example.com:8443"));
  BOOST_TEST(!p.allows("https://example.com.evil.test"));
  BOOST_TEST(!p.allows("https://evilexample.com"));
  BOOST_TEST(!p.allows("null"));
  BOOST_TEST(!p.allows(""));
}

BOOST_AUTO_TEST_CASE(scheme_and_host_match_case_insensitively_the_rest_exactly) {
  origin_policy p({"HTTPS://App.Example.COM:8443"});
  BOOST_TEST(p.allows("https://app.example.com:8443"));
  BOOST_TEST(p.allows("HTTPS://APP.EXAMPLE.COM:8443"));
  BOOST_TEST(!p.allows("https://app.example.com:8444"));
  BOOST_TEST(!p.allows("https://app.example.com"));
}

BOOST_AUTO_TEST_CASE(a_missing_origin_header_is_allowed_even_with_patterns) {
  origin_policy p({"https://only.test"});
  BOOST_TEST(p.allows("", false));
  BOOST_TEST(!p.allows("", true));
}

BOOST_AUTO_TEST_CASE(normalise_lowers_scheme_and_host_only) {
  BOOST_TEST(origin_policy::normalise("HTTP://[::FFFF:1]:80/Path") == "http://[::ffff:1]:80/Path");
  BOOST_TEST(origin_policy::normalise("Null") == "Null");
  BOOST_TEST(origin_policy::normalise("https://Host") == "https://host");
}

BOOST_AUTO_TEST_SUITE_END()
