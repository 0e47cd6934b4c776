#include <boost/test/unit_test.hpp>

#include "bus/key_order.hpp"

using namespace herald::bus;

namespace {

record rec(std::uint64_t offset, std::uint64_t prev, const char* epoch = "e1") {
  record r;
  r.key = "room:a";
  r.offset = offset;
  r.prev = prev;
  r.epoch = std::make_shared<const std::string>(epoch);
  return r;
}

std::vector<std::uint64_t> offsets(const std::vector<record>& v) {
  std::vector<std::uint64_t> out;
  for (const auto& r : v) out.push_back(r.offset);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bus_key_order)

BOOST_AUTO_TEST_CASE(messages_in_order_go_straight_through) {
  key_order o;
  BOOST_TEST(offsets(o.offer(rec(5, 3))) == std::vector<std::uint64_t>{5});
  BOOST_TEST(offsets(o.offer(rec(9, 5))) == std::vector<std::uint64_t>{9});
  BOOST_TEST(!o.waiting());
}

BOOST_AUTO_TEST_CASE(a_message_ahead_of_its_predecessor_waits_for_it) {
  key_order o;
  o.offer(rec(25, 24));
  BOOST_TEST(o.offer(rec(28, 26)).empty());  // 26 has not come yet
  BOOST_TEST(o.waiting());
  BOOST_TEST(offsets(o.offer(rec(26, 25))) == (std::vector<std::uint64_t>{26, 28}));
  BOOST_TEST(!o.waiting());
}

BOOST_AUTO_TEST_CASE(a_repeated_or_older_message_is_stale) {
  key_order o;
  o.offer(rec(25, 24));
  o.offer(rec(26, 25));
  BOOST_TEST(o.stale(rec(26, 25)));
  BOOST_TEST(o.stale(rec(24, 20)));
  BOOST_TEST(o.offer(rec(26, 25)).empty());
  BOOST_TEST(!o.stale(rec(30, 26)));
}

BOOST_AUTO_TEST_CASE(what_came_before_the_node_listened_is_not_waited_for) {
  key_order o;
  // The first message after listening says its predecessor is 40: 40 and
  // earlier are history, not something to wait for.
  BOOST_TEST(offsets(o.offer(rec(41, 40))) == std::vector<std::uint64_t>{41});
  BOOST_TEST(o.stale(rec(40, 30)));
}

BOOST_AUTO_TEST_CASE(a_gap_is_filled_from_the_stream_in_order) {
  key_order o;
  o.offer(rec(10, 9));
  o.offer(rec(15, 14));
  o.offer(rec(17, 15));
  BOOST_REQUIRE(o.waiting());
  auto [after, before] = o.gap();
  BOOST_TEST(after == 10u);
  BOOST_TEST(before == 15u);
  // Read back: 12 and 14 (without predecessors: history does not carry them).
  auto out = o.fill({rec(14, 0), rec(12, 0), rec(15, 0)});
  BOOST_TEST(offsets(out) == (std::vector<std::uint64_t>{12, 14, 15, 17}));
  BOOST_TEST(!o.waiting());
}

BOOST_AUTO_TEST_CASE(a_gap_the_stream_cannot_fill_is_given_up_on_in_order) {
  key_order o;
  o.offer(rec(10, 9));
  o.offer(rec(20, 15));
  o.offer(rec(21, 20));
  BOOST_TEST(offsets(o.fill({})) == (std::vector<std::uint64_t>{20, 21}));
  BOOST_TEST(o.last() == 21u);
}

BOOST_AUTO_TEST_CASE(a_new_stream_epoch_starts_the_order_over) {
  key_order o;
  o.offer(rec(500, 499));
  BOOST_TEST(!o.stale(rec(1, 0, "e2")));
  BOOST_TEST(offsets(o.offer(rec(1, 0, "e2"))) == std::vector<std::uint64_t>{1});
}

BOOST_AUTO_TEST_SUITE_END()
