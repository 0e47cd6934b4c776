#include <boost/test/unit_test.hpp>

#include <functional>
#include <stdexcept>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "net/loop.hpp"

using namespace herald::net;
namespace asio = boost::asio;

namespace {

struct pair_of_sockets {
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  asio::ip::tcp::socket client{io}, server{io};
  pair_of_sockets() {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

loop read_once(asio::ip::tcp::socket& s, char* buf, std::size_t n, io_result& out, int& finished) {
  io_result r;
  co_await io(r, [&](auto h) { s.async_read_some(asio::buffer(buf, n), std::move(h)); });
  out = r;
  ++finished;
}

loop wait_then_throw(asio::steady_timer& t, int& destroyed_locals) {
  struct guard {
    int& n;
    ~guard() { ++n; }
  } g{destroyed_locals};
  io_result r;
  co_await io(r, [&](auto h) { t.async_wait(std::move(h)); });
  throw std::runtime_error("a bug in a loop body");
}

loop count_to(asio::steady_timer& t, int n, int& ticks) {
  io_result r;
  for (int i = 0; i < n; ++i) {
    t.expires_after(std::chrono::milliseconds(1));
    co_await io(r, [&](auto h) { t.async_wait(std::move(h)); });
    if (r.ec) co_return;
    ++ticks;
  }
}

// A service reporting through a callback, as api::delivery::fetch_history does.
void answer_later(asio::io_context& io, int value, std::function<void(int)> done) {
  asio::post(io, [value, done = std::move(done)] { done(value * 2); });
}

loop ask_twice(asio::io_context& io, std::vector<int>& got) {
  got.push_back(co_await callback<int>([&](auto done) { answer_later(io, 20, std::move(done)); }));
  got.push_back(co_await callback<int>([&](auto done) { answer_later(io, 21, std::move(done)); }));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(net_loop)

BOOST_AUTO_TEST_CASE(a_loop_resumes_with_the_result_of_the_operation_it_awaits) {
  pair_of_sockets p;
  char buf[8] = {};
  io_result got;
  int finished = 0;
  read_once(p.server, buf, sizeof buf, got, finished);
  BOOST_TEST(finished == 0);  // suspended in the read
  asio::write(p.client, asio::buffer("hi", 2));
  p.io.run_for(std::chrono::seconds(5));
  BOOST_TEST(finished == 1);
  BOOST_TEST(!got.ec);
  BOOST_TEST(got.bytes == 2u);
  BOOST_TEST(std::string(buf, 2) == "hi");
}

BOOST_AUTO_TEST_CASE(closing_the_socket_cancels_a_pending_operation_as_an_error_value) {
  pair_of_sockets p;
  char buf[8];
  io_result got;
  int finished = 0;
  read_once(p.server, buf, sizeof buf, got, finished);
  p.server.close();
  p.io.run_for(std::chrono::seconds(5));
  BOOST_TEST(finished == 1);
  BOOST_TEST((got.ec == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(an_exception_escaping_a_loop_reaches_its_one_boundary_after_its_locals_are_destroyed) {
  asio::io_context io{1};
  asio::steady_timer t(io, std::chrono::milliseconds(1));
  const auto before = loop_exceptions_seen();
  int destroyed = 0;
  wait_then_throw(t, destroyed);
  BOOST_TEST(destroyed == 0);
  io.run_for(std::chrono::seconds(5));  // must not propagate out of run()
  BOOST_TEST(loop_exceptions_seen() == before + 1);
  BOOST_TEST(destroyed == 1);
}

BOOST_AUTO_TEST_CASE(a_loop_awaits_repeatedly_and_its_frame_returns_to_the_pool) {
  asio::io_context io{1};
  asio::steady_timer t(io);
  int ticks = 0;
  const auto cached_before = frame_pool::cached();
  count_to(t, 5, ticks);
  io.run_for(std::chrono::seconds(5));
  BOOST_TEST(ticks == 5);
  // The frame and the timer operations' blocks went back to this thread's pool.
  BOOST_TEST(frame_pool::cached() > cached_before);
  const auto cached_after = frame_pool::cached();
  ticks = 0;
  io.restart();
  count_to(t, 5, ticks);  // the same sizes again: served from the pool
  io.run_for(std::chrono::seconds(5));
  BOOST_TEST(ticks == 5);
  BOOST_TEST(frame_pool::cached() == cached_after);
}

BOOST_AUTO_TEST_CASE(a_loop_resumes_with_the_value_a_callback_service_reports) {
  asio::io_context io{1};
  std::vector<int> got;
  ask_twice(io, got);
  BOOST_TEST(got.empty());  // suspended until the service answers
  io.run_for(std::chrono::seconds(5));
  BOOST_TEST(got == (std::vector<int>{40, 42}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_pool_reuses_a_freed_block_of_the_same_size_class) {
  void* a = frame_pool::allocate(100);
  frame_pool::deallocate(a, 100);
  void* b = frame_pool::allocate(97);  // same 16-byte class (97..112)
  BOOST_TEST(a == b);
  frame_pool::deallocate(b, 97);
  void* big = frame_pool::allocate(10000);  // beyond the classes: the global allocator
  frame_pool::deallocate(big, 10000);
}

BOOST_AUTO_TEST_SUITE_END()
