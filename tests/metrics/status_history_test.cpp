// metrics::status_history and the JSON behind /status.
#include <boost/test/unit_test.hpp>

#include <string>

#include "metrics/status_history.hpp"

namespace metrics = herald::metrics;

namespace {
metrics::status_sample sample_at(std::int64_t t, std::uint64_t delivered) {
  metrics::status_sample s;
  s.unix_ms = t;
  s.connections = {3, 4};
  s.delivered = delivered;
  return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_status_history)

BOOST_AUTO_TEST_CASE(the_history_keeps_the_latest_samples_oldest_first) {
  metrics::status_history h(3);
  for (int i = 1; i <= 5; ++i) h.add(sample_at(i * 1000, i * 10));
  auto s = h.samples();
  BOOST_TEST_REQUIRE(s.size() == 3u);
  BOOST_TEST(s.front().unix_ms == 3000);
  BOOST_TEST(s.back().unix_ms == 5000);
  BOOST_TEST(s.back().delivered == 50u);
}

BOOST_AUTO_TEST_CASE(the_status_json_names_the_build_node_bus_and_every_sample) {
  metrics::status_sample s = sample_at(1700000000123, 42);
  s.held_polls = 2;
  s.sse_streams = 1;
  s.dropped_slow = 5;
  s.dropped_closed = 6;
  metrics::bus_snapshot bus;
  bus.enabled = true;
  bus.connected = false;
  bus.fleet_nodes = 3;
  bus.reconnects = 7;
  const auto json = metrics::render_status_json({"0.1.0", "abc\"def", "n1", 1699999999000, false}, bus, {s, s});
  BOOST_TEST(json ==
             R"({"node":"n1","version":"0.1.0","commit":"abc\"def","started_ms":1699999999000,"ready":false,)"
             R"("bus":{"enabled":true,"connected":false,"fleet_nodes":3,"reconnects":7},"samples":[)"
             R"({"t":1700000000123,"connections":[3,4],"polls":2,"sse":1,"delivered":42,)"
             R"("dropped":{"slow_consumer":5,"closed":6}},)"
             R"({"t":1700000000123,"connections":[3,4],"polls":2,"sse":1,"delivered":42,)"
             R"("dropped":{"slow_consumer":5,"closed":6}}]})");
}

BOOST_AUTO_TEST_CASE(a_status_before_the_first_sample_has_an_empty_list) {
  const auto json = metrics::render_status_json({"v", "c", "n", 0, true}, {}, {});
  BOOST_TEST(json.find(R"("samples":[]})") != std::string::npos);
  BOOST_TEST(json.find(R"("bus":{"enabled":false,"connected":false,"fleet_nodes":1,)") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
