#include <boost/test/unit_test.hpp>

#include "bus/subjects.hpp"

using namespace herald::bus;

BOOST_AUTO_TEST_SUITE(bus_subjects)

BOOST_AUTO_TEST_CASE(a_plain_topic_name_stays_readable_in_its_subject) {
  BOOST_TEST(stored_subject("room:lobby") == "herald.h.t.room:lobby");
  BOOST_TEST(delivery_subject("room:lobby") == "herald.d.t.room:lobby");
}

BOOST_AUTO_TEST_CASE(a_user_key_gets_the_user_class) {
  std::string key("\x01" "alice", 6);
  BOOST_TEST(stored_subject(key) == "herald.h.u.alice");
}

BOOST_AUTO_TEST_CASE(characters_that_mean_something_to_nats_never_reach_a_subject) {
  auto token = encode_token("a.b*c>d e~f");
  BOOST_TEST(token.find_first_of(".*> ") == std::string::npos);
  BOOST_TEST(token == "a~2eb~2ac~3ed~20e~7ef");
}

BOOST_AUTO_TEST_CASE(every_byte_round_trips_through_a_token) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  auto back = decode_token(encode_token(all));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(*back == all);
}

BOOST_AUTO_TEST_CASE(an_empty_name_still_makes_a_valid_subject) {
  BOOST_TEST(encode_token("") == "~");
  BOOST_TEST(decode_token("~").value() == "");
}

BOOST_AUTO_TEST_CASE(a_delivery_subject_gives_back_its_key) {
  std::string user("\x01" "bob.smith", 10);
  BOOST_TEST(key_of_subject(delivery_subject(user), delivery_prefix).value() == user);
  BOOST_TEST(key_of_subject(delivery_subject("room:a"), delivery_prefix).value() == "room:a");
}

BOOST_AUTO_TEST_CASE(malformed_subjects_and_tokens_are_refused) {
  BOOST_TEST(!key_of_subject("herald.d.x.abc", delivery_prefix));  // unknown class
  BOOST_TEST(!key_of_subject("herald.h.t.abc", delivery_prefix));  // other prefix
  BOOST_TEST(!key_of_subject("herald.d.t", delivery_prefix));       // no token
  BOOST_TEST(!decode_token("ab~4"));                                // cut escape
  BOOST_TEST(!decode_token("ab~zz"));                               // not hex
  BOOST_TEST(!decode_token("a.b"));                                 // raw separator
}

BOOST_AUTO_TEST_SUITE_END()
