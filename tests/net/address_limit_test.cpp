// Unit tests for net::address_limit (--max-connections-per-ip).
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "net/address_limit.hpp"

using herald::net::address_limit;
namespace ip = boost::asio::ip;

BOOST_AUTO_TEST_SUITE(address_limit_leases)

BOOST_AUTO_TEST_CASE(an_address_gets_at_most_the_limit_and_others_are_separate) {
  address_limit t(2);
  const auto a = ip::make_address("127.0.0.2"), b = ip::make_address("127.0.0.3");
  auto l1 = t.acquire(a), l2 = t.acquire(a);
  BOOST_TEST((l1 && l2 && l1->counted()));
  BOOST_TEST(!t.acquire(a).has_value());
  BOOST_TEST(t.acquire(b).has_value());  // released at once: a temporary
  BOOST_TEST(t.open_from(a) == 2u);
  BOOST_TEST(t.open_from(b) == 0u);
}

BOOST_AUTO_TEST_CASE(a_destroyed_or_reset_lease_gives_its_place_back) {
  address_limit t(1);
  const auto a = ip::make_address("10.0.0.1");
  {
    auto l = t.acquire(a);
    BOOST_TEST(!t.acquire(a).has_value());
  }
  auto l = t.acquire(a);
  BOOST_REQUIRE(l.has_value());
  l->reset();
  l->reset();  // twice is once
  BOOST_TEST(t.open_from(a) == 0u);
  BOOST_TEST(t.addresses() == 0u);
  BOOST_TEST(t.acquire(a).has_value());
}

BOOST_AUTO_TEST_CASE(a_moved_lease_is_released_once_by_its_new_owner) {
  address_limit t(1);
  const auto a = ip::make_address("10.0.0.1");
  address_limit::lease kept;
  {
    auto l = t.acquire(a);
    kept = std::move(*l);
  }
  BOOST_TEST(t.open_from(a) == 1u);
  kept = address_limit::lease{};
  BOOST_TEST(t.open_from(a) == 0u);
}

BOOST_AUTO_TEST_CASE(an_ipv4_mapped_address_counts_as_its_ipv4_address) {
  address_limit t(1);
  auto l = t.acquire(ip::make_address("192.0.2.1"));
  BOOST_TEST(!t.acquire(ip::make_address("::ffff:192.0.2.1")).has_value());
  BOOST_TEST(t.acquire(ip::make_address("2001:db8::1")).has_value());
}

BOOST_AUTO_TEST_CASE(without_a_limit_nothing_is_counted) {
  address_limit t(0);
  const auto a = ip::make_address("127.0.0.1");
  std::vector<address_limit::lease> many;
  for (int i = 0; i < 100; ++i) many.push_back(std::move(*t.acquire(a)));
  BOOST_TEST(!many.front().counted());
  BOOST_TEST(t.addresses() == 0u);
}

BOOST_AUTO_TEST_CASE(leases_taken_and_released_on_several_threads_balance) {
  address_limit t(1000000);
  const auto a = ip::make_address("127.0.0.9");
  std::atomic<int> refused{0};  // Boost.Test's assertions are not thread-safe
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (!t.acquire(a)) ++refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(refused.load() == 0);
  BOOST_TEST(t.open_from(a) == 0u);
  BOOST_TEST(t.addresses() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
