#include <boost/test/unit_test.hpp>

#include "hub/fleet_presence.hpp"

using namespace herald::hub;

BOOST_AUTO_TEST_SUITE(hub_fleet_presence)

BOOST_AUTO_TEST_CASE(a_user_on_two_nodes_joins_once_and_leaves_once) {
  fleet_presence p;
  BOOST_TEST(p.join("room:a", "bob", "n1"));
  BOOST_TEST(!p.join("room:a", "bob", "n2"));
  BOOST_TEST(!p.leave("room:a", "bob", "n1"));
  BOOST_TEST(p.present("room:a", "bob"));
  BOOST_TEST(p.leave("room:a", "bob", "n2"));
  BOOST_TEST(!p.present("room:a", "bob"));
}

BOOST_AUTO_TEST_CASE(a_leave_from_a_node_that_never_joined_changes_nothing) {
  fleet_presence p;
  p.join("room:a", "bob", "n1");
  BOOST_TEST(!p.leave("room:a", "bob", "n3"));
  BOOST_TEST(!p.leave("room:b", "bob", "n1"));
  BOOST_TEST(p.present("room:a", "bob"));
}

BOOST_AUTO_TEST_CASE(a_seeded_user_does_not_join_again) {
  fleet_presence p;
  p.seed("room:a", "n2", {"alice", "bob"});
  BOOST_TEST(!p.join("room:a", "alice", "n1"));
  BOOST_TEST(p.join("room:a", "carol", "n1"));
}

BOOST_AUTO_TEST_CASE(a_resync_replaces_what_a_node_had_and_reports_the_missed_events) {
  fleet_presence p;
  p.join("room:a", "alice", "n2");
  p.join("room:a", "bob", "n2");
  p.join("room:a", "bob", "n1");
  auto changes = p.seed("room:a", "n2", {"bob", "carol"});  // alice left, carol joined while we were away
  BOOST_REQUIRE(changes.size() == 2u);
  BOOST_TEST(changes[0].user == "alice");
  BOOST_TEST(!changes[0].join);
  BOOST_TEST(changes[1].user == "carol");
  BOOST_TEST(changes[1].join);
  BOOST_TEST(p.present("room:a", "bob"));
  BOOST_TEST(!p.leave("room:a", "bob", "n2"));  // still on n1
}

BOOST_AUTO_TEST_CASE(a_node_that_leaves_the_fleet_takes_its_only_users_with_it) {
  fleet_presence p;
  p.join("room:a", "alice", "n1");
  p.join("room:a", "bob", "n1");
  p.join("room:a", "bob", "n2");
  p.join("room:b", "alice", "n1");
  auto gone = p.drop_node("n1");
  BOOST_TEST(gone.size() == 2u);  // alice from both rooms; bob is still on n2
  BOOST_TEST(p.present("room:a", "bob"));
  BOOST_TEST(!p.present("room:a", "alice"));
  BOOST_TEST(!p.present("room:b", "alice"));
}

BOOST_AUTO_TEST_SUITE_END()
