#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <mutex>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include "shard/shard_pool.hpp"

namespace asio = boost::asio;
using herald::shard::shard_pool;
using herald::shard::targeted;

namespace {

// What the sequenced calls of one test share: a sequence stamped under
// `guard`, and what each shard saw, written only by that shard's thread.
struct sequencer {
  explicit sequencer(std::size_t shards) : seen(shards) {}
  std::mutex guard;
  std::uint64_t next = 0;  // under guard
  std::vector<std::vector<std::uint64_t>> seen;
};

// One publication under `s.guard` to the shards in `targets`; completes
// with the number of shards that took it.
asio::awaitable<std::size_t> publish(shard_pool& pool, sequencer& s, std::uint64_t targets) {
  auto prepare = [&s, targets] { return targeted<std::uint64_t>{++s.next, targets}; };
  auto start = [](std::uint64_t) { return std::size_t{0}; };
  auto each = [&s](std::size_t shard, std::uint64_t value) {
    s.seen[shard].push_back(value);
    return std::size_t{1};
  };
  auto add = [](std::size_t& total, std::size_t one) { total += one; };
  return pool.sequenced_under<std::size_t>(s.guard, prepare, start, each, add);
}

// `count` publications one after another from `shard`'s thread, to all.
asio::awaitable<void> publish_many(shard_pool& pool, sequencer& s, int count, std::atomic<int>& completed) {
  const std::uint64_t all = (std::uint64_t{1} << pool.size()) - 1;
  for (int i = 0; i < count; ++i) {
    if (co_await publish(pool, s, all) == pool.size()) ++completed;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shard_pool_sequenced_under)

BOOST_AUTO_TEST_CASE(publications_stamped_on_several_threads_reach_every_shard_in_the_stamped_order) {
  shard_pool pool(3);
  pool.run();
  sequencer s(pool.size());
  std::atomic<int> completed{0};
  constexpr int per_thread = 3000;
  std::vector<std::future<void>> done;
  for (std::size_t shard = 0; shard < pool.size(); ++shard) {
    done.push_back(asio::co_spawn(pool.executor(shard), publish_many(pool, s, per_thread, completed), asio::use_future));
  }
  for (auto& f : done) f.get();
  // Every completion has run, so every shard has taken every publication.
  pool.stop();
  pool.join();
  BOOST_TEST(completed.load() == per_thread * 3);
  for (const auto& seen : s.seen) {
    BOOST_TEST_REQUIRE(seen.size() == per_thread * 3u);
    for (std::size_t i = 0; i < seen.size(); ++i) BOOST_TEST_REQUIRE(seen[i] == i + 1);
  }
}

BOOST_AUTO_TEST_CASE(a_publication_with_no_target_completes_on_the_callers_shard_with_its_start_value) {
  shard_pool pool(2);
  pool.run();
  sequencer s(pool.size());
  auto on_shard_1 = [&]() -> asio::awaitable<bool> {
    const auto n = co_await publish(pool, s, 0);
    co_return n == 0 && pool.executor(1).running_in_this_thread();
  };
  BOOST_TEST(asio::co_spawn(pool.executor(1), on_shard_1(), asio::use_future).get());
  BOOST_TEST(s.seen[0].empty());
  BOOST_TEST(s.seen[1].empty());
  BOOST_TEST(s.next == 1u);
}

BOOST_AUTO_TEST_CASE(only_the_targeted_shards_take_a_publication_and_their_results_are_folded) {
  shard_pool pool(3);
  pool.run();
  sequencer s(pool.size());
  const auto taken = asio::co_spawn(pool.executor(0), publish(pool, s, 0b101), asio::use_future).get();
  pool.stop();
  pool.join();
  BOOST_TEST(taken == 2u);
  BOOST_TEST(s.seen[0].size() == 1u);
  BOOST_TEST(s.seen[1].empty());
  BOOST_TEST(s.seen[2].size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_publication_from_a_shards_own_thread_comes_after_what_is_already_queued_in_order_there) {
  shard_pool pool(2);
  pool.run();
  sequencer s(pool.size());
  auto on_shard_0 = [&]() -> asio::awaitable<bool> {
    // Queued for this shard: it runs once this handler gives the thread back.
    pool.post_ordered(0, [&s] { s.seen[0].push_back(100); });
    const auto first = co_await publish(pool, s, 0b01);
    // Nothing queued now: this one may run at once, and is still in order.
    const auto second = co_await publish(pool, s, 0b01);
    co_return first == 1 && second == 1 && pool.executor(0).running_in_this_thread();
  };
  BOOST_TEST(asio::co_spawn(pool.executor(0), on_shard_0(), asio::use_future).get());
  pool.stop();
  pool.join();
  BOOST_TEST(s.seen[0] == (std::vector<std::uint64_t>{100, 1, 2}), boost::test_tools::per_element());
  BOOST_TEST(s.seen[1].empty());
}

BOOST_AUTO_TEST_CASE(a_publication_done_wholly_on_the_callers_shard_resumes_it_before_what_was_posted_there_meanwhile) {
  shard_pool pool(2);
  pool.run();
  sequencer s(pool.size());
  std::atomic<int> others_run{0};
  std::promise<void> drained;
  auto on_shard_0 = [&]() -> asio::awaitable<bool> {
    // Plain posts, not ordered ones: they run after this handler returns.
    pool.post_to(0, [&] { ++others_run; });
    const auto here = co_await publish(pool, s, 0b01);
    const bool before_here = others_run.load() == 0;
    pool.post_to(0, [&] { ++others_run; });
    const auto nowhere = co_await publish(pool, s, 0);
    const bool before_nowhere = others_run.load() == 0;
    pool.post_to(0, [&drained] { drained.set_value(); });
    co_return here == 1 && nowhere == 0 && before_here && before_nowhere;
  };
  BOOST_TEST(asio::co_spawn(pool.executor(0), on_shard_0(), asio::use_future).get());
  // The two posts ran once the coroutine's last one has (a shard runs what
  // its own thread posts in order; stopping the pool first would discard them).
  drained.get_future().wait();
  pool.stop();
  pool.join();
  BOOST_TEST(others_run.load() == 2);
  BOOST_TEST(s.seen[0] == (std::vector<std::uint64_t>{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_publication_that_another_shard_finishes_resumes_the_caller_on_its_own_shard) {
  shard_pool pool(2);
  pool.run();
  sequencer s(pool.size());
  auto on_shard_0 = [&]() -> asio::awaitable<bool> {
    const auto n = co_await publish(pool, s, 0b11);
    co_return n == 2 && pool.executor(0).running_in_this_thread();
  };
  for (int i = 0; i < 200; ++i) BOOST_TEST_REQUIRE(asio::co_spawn(pool.executor(0), on_shard_0(), asio::use_future).get());
  pool.stop();
  pool.join();
  BOOST_TEST(s.seen[1].size() == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
