// Slow consumers, heartbeats, limits and draining.
#include <boost/test/unit_test.hpp>

#include <future>
#include <thread>

#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(a_stalled_reader_is_closed_with_1008_while_others_keep_receiving) {
  auto opts = test_options();
  opts.max_queue_messages = 8;
  opts.close_timeout = herald::config::seconds_d(10);
  test_node node(opts);
  ws_client stalled(node.port()), healthy(node.port());
  stalled.register_compat("slow", "e");
  healthy.register_compat("fast", "e");
  const std::string big(60 * 1000, 's');
  int pushes = 0;
  // The stalled client reads nothing, so the kernel buffers fill, then its
  // queue; the healthy one must get every one of its messages meanwhile.
  while (herald::test::metric(node.port(), "herald_slow_consumer_closes_total") < 1) {
    BOOST_REQUIRE(++pushes < 2000);
    http_post(node.port(), "/push", R"({"userId":"slow","event":"e","message":")" + big + R"("})");
    auto msg = "m" + std::to_string(pushes);
    BOOST_REQUIRE(http_post(node.port(), "/push", R"({"userId":"fast","event":"e","message":")" + msg + R"("})").body ==
                  "message sent to 1 clients");
    BOOST_REQUIRE(healthy.recv() == msg);
  }
  BOOST_TEST(stalled.await_close(10000ms) == 1008);
  BOOST_TEST(stalled.close_reason() == "slow consumer");
  BOOST_TEST(herald::test::metric(node.port(), "herald_messages_dropped_total{reason=\"slow_consumer\"}") >= 1);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_is_closed_by_the_heartbeat_and_a_live_one_is_not) {
  auto opts = test_options();
  opts.ping_interval = herald::config::seconds_d(0.2);
  opts.idle_timeout = herald::config::seconds_d(0.8);
  opts.close_timeout = herald::config::seconds_d(0.3);
  test_node node(opts);
  ws_client silent(node.port()), live(node.port());
  live.register_compat("live", "e");
  // `live` keeps a read pending for 2 s, so its client answers every ping;
  // `silent` reads nothing and so never answers.
  BOOST_TEST(!live.try_recv(2000ms).has_value());
  BOOST_TEST(http_post(node.port(), "/push", R"({"userId":"live","event":"e","message":"alive"})").body ==
             "message sent to 1 clients");
  BOOST_TEST(live.recv() == "alive");
  int code = silent.await_close(3000ms);
  BOOST_TEST((code == 1001 || code == 1006));
  BOOST_TEST(metric_eventually(node.port(), "herald_connections_closed_total{reason=\"idle_timeout\"}", 1) == 1);
  BOOST_TEST(herald::test::metric(node.port(), "herald_pings_sent_total") >= 2);
}

BOOST_AUTO_TEST_CASE(upgrades_beyond_max_connections_are_refused_with_503) {
  auto opts = test_options();
  opts.max_connections = 2;
  test_node node(opts);
  ws_client a(node.port()), b(node.port());
  a.sync();
  b.sync();
  BOOST_CHECK_THROW(ws_client c(node.port()), std::exception);
  a.register_compat("still", "fine");
}

BOOST_AUTO_TEST_CASE(drain_delivers_what_is_queued_then_closes_with_1001_and_turns_readyz_503) {
  test_node node;
  ws_client a(node.port()), b(node.port());
  a.register_compat("drain", "e");
  b.register_compat("drain", "e");
  BOOST_TEST(http_post(node.port(), "/push", R"({"userId":"drain","event":"e","message":"last words"})").body ==
             "message sent to 2 clients");
  auto drained = std::async(std::launch::async, [&] { return node.server().drain(); });
  BOOST_TEST(a.recv() == "last words");
  BOOST_TEST(b.recv() == "last words");
  BOOST_TEST(a.await_close() == 1001);
  BOOST_TEST(b.await_close() == 1001);
  BOOST_TEST(drained.get() == 0u);
  BOOST_TEST(http_request(node.port(), "GET", "/readyz").status == 503);
  BOOST_CHECK_THROW(ws_client late(node.port()), std::exception);
}

BOOST_AUTO_TEST_CASE(metrics_count_sessions_deliveries_and_push_requests) {
  test_node node;
  ws_client a(node.port());
  a.register_compat("m", "e");
  http_post(node.port(), "/push", R"({"userId":"m","event":"e","message":"x"})");
  a.recv();
  http_post(node.port(), "/push", "{");
  BOOST_TEST(metric(node.port(), "herald_websocket_sessions_total") == 1);
  BOOST_TEST(metric(node.port(), "herald_messages_delivered_total") >= 2);  // pong + message
  BOOST_TEST(metric(node.port(), "herald_push_requests_total{endpoint=\"push\",status=\"200\"}") == 1);
  BOOST_TEST(metric(node.port(), "herald_push_requests_total{endpoint=\"push\",status=\"400\"}") == 1);
  BOOST_TEST(metric(node.port(), "herald_connections_open{shard=\"0\"}") +
                 metric(node.port(), "herald_connections_open{shard=\"1\"}") ==
             1);
}

BOOST_AUTO_TEST_SUITE_END()
