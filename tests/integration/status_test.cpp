// The /status page and its JSON: off by default, open with --status-page,
// behind the push key when one is set, and fed once a second.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <thread>

#include "test_client.hpp"
#include "test_node.hpp"
#include "util/build_info.hpp"

using namespace herald::test;

BOOST_AUTO_TEST_SUITE(status)

BOOST_AUTO_TEST_CASE(a_node_started_without_status_page_or_push_key_serves_no_status) {
  test_node node;
  BOOST_TEST(http_request(node.port(), "GET", "/status").status == 404);
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/status").status == 404);
}

BOOST_AUTO_TEST_CASE(with_status_page_the_page_and_its_json_are_open_and_name_the_build) {
  auto opts = test_options();
  opts.status_page = true;
  opts.node_name = "status-node";
  opts.www_dir = (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "gateway" / "www").string();
  test_node node(opts);
  auto page = http_request(node.port(), "GET", "/status");
  BOOST_TEST(page.status == 200);
  BOOST_TEST(page.body.find("status.js") != std::string::npos);
  auto json = http_request(node.port(), "GET", "/api/v1/status");
  BOOST_TEST(json.status == 200);
  BOOST_TEST(json.body.find(R"("node":"status-node")") != std::string::npos);
  BOOST_TEST(json.body.find(R"("commit":")" + std::string(herald::util::commit()) + "\"") != std::string::npos);
  BOOST_TEST(json.body.find(R"("bus":{"enabled":false,"connected":false,"fleet_nodes":1)") != std::string::npos);
  BOOST_TEST(http_request(node.port(), "POST", "/api/v1/status").status == 405);
}

BOOST_AUTO_TEST_CASE(the_status_samples_count_an_open_websocket_on_its_shard) {
  auto opts = test_options();
  opts.status_page = true;
  test_node node(opts);
  ws_client ws(node.port());
  ws.subscribe("news");
  // A sample a second: wait (bounded) for one taken after the connection opened.
  std::string body;
  for (int i = 0; i < 100; ++i) {
    body = http_request(node.port(), "GET", "/api/v1/status").body;
    if (body.find(R"("connections":[1,0])") != std::string::npos ||
        body.find(R"("connections":[0,1])") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST((body.find(R"("connections":[1,0])") != std::string::npos ||
              body.find(R"("connections":[0,1])") != std::string::npos),
             body);
}

BOOST_AUTO_TEST_CASE(with_a_push_key_the_status_json_needs_the_key) {
  auto opts = test_options();
  opts.push_keys = {"sekrit"};
  test_node node(opts);
  auto refused = http_request(node.port(), "GET", "/api/v1/status");
  BOOST_TEST(refused.status == 401);
  BOOST_TEST(refused.body.find("unauthorized") != std::string::npos);
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/status", {}, {{"Authorization", "Bearer wrong"}}).status == 401);
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/status", {}, {{"Authorization", "Bearer sekrit"}}).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
