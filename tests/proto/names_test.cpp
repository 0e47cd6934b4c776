// Unit tests for the naming rules of topics, users and events.
#include <boost/test/unit_test.hpp>

#include <string>

#include "proto/names.hpp"

namespace proto = herald::proto;

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(a_topic_may_use_letters_digits_and_the_punctuation_set) {
  BOOST_TEST(proto::valid_topic("news"));
  BOOST_TEST(proto::valid_topic("a"));
  BOOST_TEST(proto::valid_topic("ABCxyz0189"));
  BOOST_TEST(proto::valid_topic("_.:@/=+-"));
  BOOST_TEST(proto::valid_topic("prices/EUR-USD:bid@v2=1+x_y.z"));
}

BOOST_AUTO_TEST_CASE(every_allowed_topic_byte_is_accepted_and_every_other_byte_refused) {
  const std::string allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@/=+-";
  for (int c = 0; c < 256; ++c) {
    std::string topic{'t', static_cast<char>(c), 't'};
    // "t#t" is the user-limited topic "t" of user "t"; '$' only leads.
    bool expected = allowed.find(static_cast<char>(c)) != std::string::npos || c == '#';
    BOOST_TEST_CONTEXT("byte " << c) { BOOST_TEST(proto::valid_topic(topic) == expected); }
  }
}

BOOST_AUTO_TEST_CASE(a_topic_of_200_bytes_is_accepted_and_of_201_bytes_refused) {
  BOOST_TEST(proto::valid_topic(std::string(200, 'a')));
  BOOST_TEST(!proto::valid_topic(std::string(201, 'a')));
  BOOST_TEST(proto::max_topic_length == 200u);
}

BOOST_AUTO_TEST_CASE(an_empty_topic_is_refused) { BOOST_TEST(!proto::valid_topic("")); }

BOOST_AUTO_TEST_CASE(topics_with_spaces_wildcards_or_non_ascii_are_refused) {
  BOOST_TEST(!proto::valid_topic("a b"));
  BOOST_TEST(!proto::valid_topic(" "));
  BOOST_TEST(!proto::valid_topic("news*"));
  BOOST_TEST(!proto::valid_topic("*"));
  BOOST_TEST(!proto::valid_topic("#"));
  BOOST_TEST(!proto::valid_topic("news.>"));
  BOOST_TEST(!proto::valid_topic("café"));
  BOOST_TEST(!proto::valid_topic("\xe2\x82\xac"));  // the euro sign
  BOOST_TEST(!proto::valid_topic(std::string("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(a_name_may_hold_spaces_punctuation_and_utf8) {
  BOOST_TEST(proto::valid_name("alice"));
  BOOST_TEST(proto::valid_name("user with spaces"));
  BOOST_TEST(proto::valid_name("*#?&\"'\\{}[]"));
  BOOST_TEST(proto::valid_name("élève"));
  BOOST_TEST(proto::valid_name("\xe2\x82\xac 5"));
  BOOST_TEST(proto::valid_name("\xf0\x9f\x94\x94"));  // a four-byte code point
}

BOOST_AUTO_TEST_CASE(a_name_with_a_control_character_is_refused) {
  for (int c = 0; c < 0x20; ++c) {
    std::string name{'a', static_cast<char>(c), 'b'};
    BOOST_TEST_CONTEXT("byte " << c) { BOOST_TEST(!proto::valid_name(name)); }
  }
  BOOST_TEST(!proto::valid_name("del\x7f"));
  BOOST_TEST(!proto::valid_name("line\n"));
}

BOOST_AUTO_TEST_CASE(a_name_of_256_bytes_is_accepted_and_of_257_bytes_or_none_refused) {
  BOOST_TEST(proto::valid_name(std::string(256, 'n')));
  BOOST_TEST(!proto::valid_name(std::string(257, 'n')));
  BOOST_TEST(!proto::valid_name(""));
}

BOOST_AUTO_TEST_CASE(valid_utf8_accepts_well_formed_text_and_refuses_malformed_sequences) {
  BOOST_TEST(proto::valid_utf8(""));
  BOOST_TEST(proto::valid_utf8("plain ascii"));
  BOOST_TEST(proto::valid_utf8("élève \xe2\x82\xac \xf0\x9f\x94\x94"));
  BOOST_TEST(!proto::valid_utf8("\xc3\x28"));          // broken two-byte sequence
  BOOST_TEST(!proto::valid_utf8("\xc0\xaf"));          // overlong '/'
  BOOST_TEST(!proto::valid_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  BOOST_TEST(!proto::valid_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  BOOST_TEST(!proto::valid_utf8("ab\xe2\x82"));        // truncated at the end
  BOOST_TEST(!proto::valid_utf8("\xff"));
}

BOOST_AUTO_TEST_CASE(a_pattern_without_a_star_matches_only_itself) {
  BOOST_TEST(proto::glob_match("room:1", "room:1"));
  BOOST_TEST(!proto::glob_match("room:1", "room:12"));
  BOOST_TEST(!proto::glob_match("room:1", "room:"));
  BOOST_TEST(proto::glob_match("", ""));
  BOOST_TEST(!proto::glob_match("", "a"));
}

BOOST_AUTO_TEST_CASE(a_star_matches_any_run_of_bytes_including_none) {
  BOOST_TEST(proto::glob_match("room:*", "room:1"));
  BOOST_TEST(proto::glob_match("room:*", "room:"));
  BOOST_TEST(proto::glob_match("room:*", "room:a/b.c"));
  BOOST_TEST(!proto::glob_match("room:*", "room"));
  BOOST_TEST(!proto::glob_match("room:*", "xroom:1"));
  BOOST_TEST(proto::glob_match("*", ""));
  BOOST_TEST(proto::glob_match("*", "anything"));
  BOOST_TEST(proto::glob_match("**", "x"));
  BOOST_TEST(proto::glob_match("*.eu", "prices.eu"));
  BOOST_TEST(!proto::glob_match("*.eu", "prices.eu.x"));
}

BOOST_AUTO_TEST_CASE(several_stars_backtrack_to_find_a_match) {
  BOOST_TEST(proto::glob_match("*ab", "aab"));
  BOOST_TEST(proto::glob_match("a*b*c", "axxbyyc"));
  BOOST_TEST(proto::glob_match("a*b*c", "abbbc"));
  BOOST_TEST(proto::glob_match("a*b*c", "abc"));
  BOOST_TEST(!proto::glob_match("a*b*c", "axxbyy"));
  BOOST_TEST(!proto::glob_match("a*b*c", "acb"));
  BOOST_TEST(proto::glob_match("*a*a*a*b", std::string(50, 'a') + "b"));
  BOOST_TEST(!proto::glob_match("*a*a*a*b", std::string(5000, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(a_leading_dollar_makes_a_private_topic_and_a_hash_before_a_user_a_user_limited_one) {
  BOOST_TEST(proto::valid_topic("$secret"));
  BOOST_TEST(proto::valid_topic("notes#alice"));
  BOOST_TEST(proto::valid_topic("$inbox#alice"));
  BOOST_TEST(proto::private_topic("$secret"));
  BOOST_TEST(!proto::private_topic("secret"));
  BOOST_TEST(proto::topic_owner("notes#alice") == "alice");
  BOOST_TEST(proto::topic_owner("$inbox#bob") == "bob");
  BOOST_TEST(proto::topic_owner("notes").empty());
}

BOOST_AUTO_TEST_CASE(dollar_and_hash_anywhere_else_are_refused) {
  for (const char* bad : {"$", "$$x", "a$b", "x$", "#", "#alice", "$#alice", "notes#", "a#b#c", "a##b", "notes#al ice"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!proto::valid_topic(bad)); }
  }
}
