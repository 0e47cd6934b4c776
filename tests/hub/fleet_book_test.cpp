#include <boost/test/unit_test.hpp>

#include "hub/fleet_book.hpp"

using namespace herald::hub;
using std::chrono::milliseconds;

BOOST_AUTO_TEST_SUITE(hub_fleet_book)

BOOST_AUTO_TEST_CASE(a_query_after_the_fan_out_is_answered_with_its_count_once) {
  fleet_book b;
  auto now = fleet_book::clock::now();
  b.begin("p1", now);
  BOOST_TEST(b.finish("p1", 3).empty());
  auto l = b.answer("p1");
  BOOST_TEST((l.st == fleet_book::state::done));
  BOOST_TEST(l.count == 3u);
  BOOST_TEST((b.answer("p1").st == fleet_book::state::unknown));  // consumed
  BOOST_TEST(b.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(a_query_during_the_fan_out_waits_and_is_handed_back_when_it_ends) {
  fleet_book b;
  auto now = fleet_book::clock::now();
  b.begin("p1", now);
  BOOST_TEST((b.answer("p1").st == fleet_book::state::delivering));
  b.wait("p1", "_INBOX.x.1", now);
  auto waiters = b.finish("p1", 2);
  BOOST_REQUIRE(waiters.size() == 1u);
  BOOST_TEST(waiters[0] == "_INBOX.x.1");
  BOOST_TEST(b.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(a_query_that_overtakes_its_publication_waits_for_it) {
  fleet_book b;
  auto now = fleet_book::clock::now();
  b.wait("p9", "_INBOX.x.9", now);  // the publication has not arrived yet
  b.begin("p9", now);
  auto waiters = b.finish("p9", 1);
  BOOST_TEST(waiters.size() == 1u);
}

BOOST_AUTO_TEST_CASE(entries_whose_query_never_comes_expire) {
  fleet_book b(milliseconds(100));
  auto t0 = fleet_book::clock::now();
  b.begin("old", t0);
  b.finish("old", 1);
  b.begin("new", t0 + milliseconds(500));  // expires what is older than 100 ms
  BOOST_TEST((b.answer("old").st == fleet_book::state::unknown));
  BOOST_TEST((b.answer("new").st == fleet_book::state::delivering));
}

BOOST_AUTO_TEST_CASE(subscription_handles_are_kept_per_key_and_taken_once) {
  fleet_book b;
  int sub = 0;
  b.set_handle("room:a", &sub);
  BOOST_TEST(b.listened() == 1u);
  BOOST_TEST(b.take_handle("room:a") == static_cast<void*>(&sub));
  BOOST_TEST(b.take_handle("room:a") == nullptr);
  BOOST_TEST(b.listened() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
