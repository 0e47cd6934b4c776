// hub::presence_leases: a long-poller stays present between its polls and
// leaves once no poll came within the window.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "hub/presence_leases.hpp"

using namespace herald::hub;
using namespace std::chrono_literals;

namespace {
const presence_leases::clock::time_point t0{};
}

BOOST_AUTO_TEST_SUITE(hub_presence_leases)

BOOST_AUTO_TEST_CASE(a_user_who_keeps_polling_joins_once_and_never_leaves_between_polls) {
  presence_leases l;
  BOOST_TEST(l.begin("room:a", "carol"));  // the first poll: a join
  l.end("room:a", "carol", t0 + 5s);
  BOOST_TEST(l.expire(t0 + 1s).empty());
  BOOST_TEST(!l.begin("room:a", "carol"));  // the next poll, within the window: no second join
  BOOST_TEST(l.expire(t0 + 60s).empty());   // held: never expires, however late
  l.end("room:a", "carol", t0 + 65s);
  BOOST_TEST(l.expire(t0 + 64s).empty());
  BOOST_TEST(l.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_user_whose_next_poll_does_not_come_within_the_window_leaves_once) {
  presence_leases l;
  l.begin("room:a", "carol");
  l.end("room:a", "carol", t0 + 5s);
  auto left = l.expire(t0 + 5s);
  BOOST_TEST_REQUIRE(left.size() == 1u);
  BOOST_TEST(left[0].first == "room:a");
  BOOST_TEST(left[0].second == "carol");
  BOOST_TEST(l.expire(t0 + 10s).empty());
  BOOST_TEST(l.begin("room:a", "carol"));  // coming back is a new join
}

BOOST_AUTO_TEST_CASE(two_polls_of_one_user_share_a_lease_that_runs_from_the_last_one_ended) {
  presence_leases l;
  BOOST_TEST(l.begin("room:a", "carol"));
  BOOST_TEST(!l.begin("room:a", "carol"));
  l.end("room:a", "carol", t0 + 5s);
  BOOST_TEST(l.expire(t0 + 10s).empty());  // the other poll is still held
  l.end("room:a", "carol", t0 + 12s);
  BOOST_TEST(l.expire(t0 + 11s).empty());
  BOOST_TEST(l.expire(t0 + 12s).size() == 1u);
}

BOOST_AUTO_TEST_CASE(leases_are_per_topic_and_per_user) {
  presence_leases l;
  BOOST_TEST(l.begin("room:a", "carol"));
  BOOST_TEST(l.begin("room:b", "carol"));
  BOOST_TEST(l.begin("room:a", "dave"));
  l.end("room:a", "carol", t0 + 1s);
  l.end("room:b", "carol", t0 + 9s);
  auto left = l.expire(t0 + 2s);
  BOOST_TEST_REQUIRE(left.size() == 1u);
  BOOST_TEST(left[0].first == "room:a");
  BOOST_TEST(left[0].second == "carol");
  BOOST_TEST(l.size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_end_without_a_begin_changes_nothing) {
  presence_leases l;
  l.end("room:a", "carol", t0);
  BOOST_TEST(l.size() == 0u);
  BOOST_TEST(l.expire(t0 + 1s).empty());
}

BOOST_AUTO_TEST_SUITE_END()
