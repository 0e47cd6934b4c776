// Drain on SIGTERM moves people without loss: a grace with /readyz 503 in
// which everything but upgrades is still served, then closes (1001, after
// what is queued) spread over --drain-spread, all within --drain-timeout.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/shard_context.hpp"
#include "server.hpp"
#include "util/log.hpp"
#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;
using herald::config::seconds_d;

namespace {

std::string push(std::uint16_t port, const std::string& user, const std::string& message) {
  return http_post(port, "/push", R"({"userId":")" + user + R"(","event":"e","message":")" + message + R"("})").body;
}

// The N of "message sent to N clients".
int sent_to(const std::string& answer) {
  const std::string prefix = "message sent to ";
  BOOST_TEST_REQUIRE(answer.rfind(prefix, 0) == 0, answer);
  return std::stoi(answer.substr(prefix.size()));
}

// Polls /readyz (bounded) until the drain has turned it 503.
bool readyz_turns_503(std::uint16_t port) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (http_request(port, "GET", "/readyz").status != 503) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// "m<k>" then `filler`; appended piecewise, since g++ 12 warns falsely
// (-Wrestrict) about a chain of std::string operator+.
std::string numbered(int k, const std::string& filler = {}) {
  std::string s = "m";
  s += std::to_string(k);
  s += filler;
  return s;
}

// Reads messages until the server closes; each must be "m<k>" (k = 1, 2,
// ... in order, nothing missing) followed by `filler`. Returns how many
// arrived and the close code (0 when the stream ended without one).
std::pair<int, int> read_until_close(ws_client& client, const std::string& filler = {}) {
  int received = 0;
  for (;;) {
    std::optional<std::string> msg;
    try {
      msg = client.try_recv(5000ms);
    } catch (const std::runtime_error&) {  // the read ended: closed
      return {received, client.stream().reason().code};
    }
    BOOST_TEST_REQUIRE(msg.has_value(), "neither a message nor a close within 5 s");
    BOOST_TEST_REQUIRE((*msg == numbered(received + 1, filler)), "message out of order or missing");
    ++received;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(drain)

BOOST_AUTO_TEST_CASE(during_the_grace_readyz_is_503_upgrades_are_refused_and_a_websocket_still_gets_pushes) {
  auto opts = test_options();
  opts.drain_grace = seconds_d(3);
  opts.drain_timeout = seconds_d(10);
  test_node node(opts);
  ws_client a(node.port());
  a.register_compat("graced", "e");
  auto poll = std::async(std::launch::async, [&] {
    return http_request(node.port(), "GET", "/poll?topic=room&since=0&timeout=60");
  });
  auto drained = std::async(std::launch::async, [&] { return node.server().drain(); });
  BOOST_TEST_REQUIRE(readyz_turns_503(node.port()));
  BOOST_TEST(push(node.port(), "graced", "still here") == "message sent to 1 clients");
  BOOST_TEST(a.recv() == "still here");
  BOOST_TEST(http_request(node.port(), "GET", "/healthz").status == 200);
  BOOST_CHECK_THROW(ws_client late(node.port()), std::exception);
  // After the grace: the WebSocket leaves with 1001, the held poll is
  // answered (it asked for 60 s) and the drain ends with nobody left.
  BOOST_TEST(a.await_close(10000ms) == 1001);
  BOOST_TEST_REQUIRE((poll.wait_for(10s) == std::future_status::ready));
  BOOST_TEST(poll.get().status == 200);
  BOOST_TEST(drained.get() == 0u);
}

BOOST_AUTO_TEST_CASE(closes_are_spread_in_batches_and_each_client_gets_every_message_sent_before_its_close) {
  auto opts = test_options();
  opts.drain_spread = seconds_d(2);
  opts.drain_timeout = seconds_d(10);
  test_node node(opts);
  constexpr int clients = 40;
  std::vector<std::unique_ptr<ws_client>> c;
  for (int i = 0; i < clients; ++i) {
    c.push_back(std::make_unique<ws_client>(node.port()));
    c.back()->register_compat("wave", "e");
  }
  auto drained = std::async(std::launch::async, [&] { return node.server().drain(); });
  // Push numbered messages until nobody is left: each answer says how many
  // were still open, which never grows back.
  std::vector<int> reached;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (int k = 1; reached.empty() || reached.back() > 0; ++k) {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline));
    reached.push_back(sent_to(push(node.port(), "wave", numbered(k))));
  }
  for (std::size_t k = 1; k < reached.size(); ++k) BOOST_TEST(reached[k] <= reached[k - 1]);
  // Each client got m1..mj without a gap, then 1001. Closing all at once
  // would give every client of a shard the same j: two values at most.
  std::set<int> last_seen;
  for (auto& client : c) {
    auto [j, code] = read_until_close(*client);
    BOOST_TEST(code == 1001);
    last_seen.insert(j);
  }
  BOOST_TEST(last_seen.size() >= 3u);
  BOOST_TEST(drained.get() == 0u);
}

BOOST_AUTO_TEST_CASE(messages_queued_for_a_stalled_reader_are_all_delivered_before_its_1001) {
  auto opts = test_options();
  opts.max_body = 512 * 1024;
  opts.max_queue_bytes = 64 << 20;
  opts.drain_timeout = seconds_d(20);
  test_node node(opts);
  ws_client stalled(node.port());
  // A small receive buffer (no autotuning) keeps most of what is pushed in
  // the server's queue while the client reads nothing.
  boost::beast::get_lowest_layer(stalled.stream()).socket().set_option(
      boost::asio::socket_base::receive_buffer_size(64 * 1024));
  stalled.register_compat("stalled", "e");
  constexpr int messages = 64;
  const std::string filler(400 * 1024, 'q');
  for (int k = 1; k <= messages; ++k) {
    BOOST_TEST_REQUIRE(push(node.port(), "stalled", numbered(k, filler)) == "message sent to 1 clients");
  }
  auto drained = std::async(std::launch::async, [&] { return node.server().drain(); });
  // The close is decided (and counted) while ~25 MB still wait in the queue.
  BOOST_TEST_REQUIRE(metric_eventually(node.port(), "herald_connections_closed_total{reason=\"shutdown\"}", 1) == 1);
  auto [received, code] = read_until_close(stalled, filler);
  BOOST_TEST(received == messages);
  BOOST_TEST(code == 1001);
  BOOST_TEST(drained.get() == 0u);
}

BOOST_AUTO_TEST_CASE(a_session_finishing_its_handshake_after_the_drain_closed_its_shard_is_closed_with_1001) {
  auto opts = test_options();
  herald::util::set_log_level(opts.log_level);
  herald::server node(opts, {});
  // The gap: this upgrade passed the drain check in http_session; the
  // drain reaches its shard (and closes everyone there) before the
  // handshake completes. The seam runs the shard's drain exactly there.
  std::atomic<bool> armed{true};
  node.set_after_handshake([&](herald::net::shard_context& ctx) {
    if (armed.exchange(false)) ctx.close_all(std::chrono::steady_clock::duration::zero());
  });
  const auto port = node.start();
  ws_client late(port);
  // Bounded well below the drain timeout a forgotten session would wait out;
  // nobody calls server::drain here, so only the handshake's check closes it.
  BOOST_TEST(late.await_close(2000ms) == 1001);
  BOOST_TEST(!armed.load());
  BOOST_TEST(metric_eventually(port, "herald_connections_closed_total{reason=\"shutdown\"}", 1) == 1);
  node.stop();
}

BOOST_AUTO_TEST_CASE(a_spread_longer_than_the_drain_timeout_is_clamped_so_everyone_is_closed_in_time) {
  auto opts = test_options();
  opts.drain_timeout = seconds_d(4);
  opts.drain_spread = seconds_d(60);  // unclamped, the first close would come after 4 s
  test_node node(opts);
  std::vector<std::unique_ptr<ws_client>> c;
  for (int i = 0; i < 10; ++i) {
    c.push_back(std::make_unique<ws_client>(node.port()));
    c.back()->sync();
  }
  auto drained = std::async(std::launch::async, [&] { return node.server().drain(); });
  // The clients read (so they answer the closing handshake) while it runs.
  for (auto& client : c) BOOST_TEST(client->await_close(10000ms) == 1001);
  BOOST_TEST(drained.get() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
