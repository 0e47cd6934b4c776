// Bad input always gets a clear answer and never disturbs anyone else.
#include <boost/test/unit_test.hpp>

#include <utility>
#include <vector>

#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;

namespace {
// A healthy bystander that must keep receiving whatever others do.
struct bystander {
  explicit bystander(std::uint16_t port) : port(port), client(port) { client.register_compat("bystander", "e"); }
  void still_receives() {
    auto res = http_post(port, "/push", R"({"userId":"bystander","event":"e","message":"still here"})");
    BOOST_TEST(res.body == "message sent to 1 clients");
    BOOST_TEST(client.recv() == "still here");
  }
  std::uint16_t port;
  ws_client client;
};
}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(invalid_json_gets_an_error_frame_and_the_connection_stays_usable) {
  test_node node;
  bystander other(node.port());
  ws_client c(node.port());
  c.send("{not json");
  BOOST_TEST(c.recv() == R"({"op":"error","code":"bad_json","reason":"invalid JSON"})");
  c.send(R"({"op":"launch","id":3})");
  BOOST_TEST(c.recv() == R"({"op":"error","code":"unknown_op","reason":"unknown op","id":3})");
  c.send(R"({"op":"subscribe","topic":"bad topic!"})");
  BOOST_TEST(c.recv().find(R"("code":"bad_topic")") != std::string::npos);
  c.send(R"({"token":"","event":"e"})");
  BOOST_TEST(c.recv().find(R"("code":"bad_request")") != std::string::npos);
  c.send_binary("\x01\x02");
  BOOST_TEST(c.recv().find(R"("code":"unsupported")") != std::string::npos);
  c.subscribe("fine");  // still usable
  other.still_receives();
}

BOOST_AUTO_TEST_CASE(a_text_frame_over_the_size_limit_is_closed_with_1009) {
  auto opts = test_options();
  opts.max_message = 1024;
  test_node node(opts);
  bystander other(node.port());
  ws_client c(node.port());
  c.send(std::string(2000, 'a'));
  // The server sends 1009 and closes with the oversized payload unread; the
  // kernel's reset can overtake the close frame, so the client may see 1006.
  int code = c.await_close();
  BOOST_TEST((code == 1009 || code == 1006));
  BOOST_TEST(metric_eventually(node.port(), "herald_connections_closed_total{reason=\"too_big\"}", 1) == 1);
  other.still_receives();
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_text_frame_is_closed_with_1007) {
  test_node node;
  bystander other(node.port());
  ws_client c(node.port());
  c.send("\xff\xfe invalid");
  BOOST_TEST(c.await_close() == 1007);
  other.still_receives();
}

BOOST_AUTO_TEST_CASE(subscriptions_beyond_the_limit_are_refused) {
  auto opts = test_options();
  opts.max_subscriptions = 2;
  test_node node(opts);
  ws_client c(node.port());
  c.subscribe("a");
  c.subscribe("b");
  c.send(R"({"op":"subscribe","topic":"c","id":9})");
  BOOST_TEST(c.recv().find(R"("code":"too_many_subscriptions")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(compat_push_with_bad_json_or_an_empty_field_is_request_data_illegal) {
  test_node node;
  for (std::string body : {"{", "[]", R"({"userId":"u","event":"e"})", R"({"userId":"","event":"e","message":"m"})",
                           R"({"userId":"u","event":"e","message":7})"}) {
    auto res = http_post(node.port(), "/push", body);
    BOOST_TEST(res.status == 400);
    BOOST_TEST(res.body == "request data illegal");
  }
}

BOOST_AUTO_TEST_CASE(json_api_errors_are_400_with_a_json_reason) {
  test_node node;
  auto res = http_post(node.port(), "/api/v1/publish", R"({"topic":"t"})");
  BOOST_TEST(res.status == 400);
  BOOST_TEST(res.body.find(R"("error":"bad_request")") != std::string::npos);
  res = http_post(node.port(), "/api/v1/publish", R"({"topic":"no spaces","data":1})");
  BOOST_TEST(res.body.find(R"("error":"bad_topic")") != std::string::npos);
  res = http_post(node.port(), "/api/v1/push", R"({"data":1})");
  BOOST_TEST(res.status == 400);
}

BOOST_AUTO_TEST_CASE(every_endpoint_answers_a_missing_topic_with_bad_request_and_a_badly_named_one_with_bad_topic) {
  auto opts = test_options();
  opts.client_publish = {"room:*"};
  opts.presence = {"room:*"};
  test_node node(opts);
  const auto error_of = [](const http_result& r) {
    auto at = r.body.find(R"("error":")");
    return r.status == 400 && at != std::string::npos ? r.body.substr(at + 9, r.body.find('"', at + 9) - at - 9)
                                                      : "status " + std::to_string(r.status) + ": " + r.body;
  };
  const std::vector<std::pair<std::string, http_result>> missing = {
      {"publish", http_post(node.port(), "/api/v1/publish", R"({"data":1})")},
      {"client-publish", http_post(node.port(), "/api/v1/client-publish", R"({"token":"bob","data":1})")},
      {"history", http_request(node.port(), "GET", "/api/v1/history")},
      {"presence", http_request(node.port(), "GET", "/api/v1/presence")},
      {"sse", http_request(node.port(), "GET", "/sse")},
      {"poll", http_request(node.port(), "GET", "/poll")},
      // An empty value is as missing as no parameter at all.
      {"history, empty", http_request(node.port(), "GET", "/api/v1/history?topic=")},
      {"sse, empty", http_request(node.port(), "GET", "/sse?topic=")},
      {"poll, empty", http_request(node.port(), "GET", "/poll?topic=")},
  };
  for (const auto& [what, r] : missing) BOOST_TEST_CONTEXT(what) { BOOST_TEST(error_of(r) == "bad_request"); }
  const std::vector<std::pair<std::string, http_result>> bad = {
      {"publish", http_post(node.port(), "/api/v1/publish", R"({"topic":"a b","data":1})")},
      {"client-publish", http_post(node.port(), "/api/v1/client-publish", R"({"token":"bob","topic":"a b","data":1})")},
      {"history", http_request(node.port(), "GET", "/api/v1/history?topic=a%20b")},
      {"presence", http_request(node.port(), "GET", "/api/v1/presence?topic=a%20b")},
      {"sse", http_request(node.port(), "GET", "/sse?topic=a%20b")},
      {"poll", http_request(node.port(), "GET", "/poll?topic=a%20b")},
  };
  for (const auto& [what, r] : bad) BOOST_TEST_CONTEXT(what) { BOOST_TEST(error_of(r) == "bad_topic"); }
}

BOOST_AUTO_TEST_CASE(wrong_methods_and_paths_get_405_404_and_426) {
  test_node node;
  BOOST_TEST(http_request(node.port(), "GET", "/push").status == 405);
  BOOST_TEST(http_request(node.port(), "PUT", "/api/v1/publish").status == 405);
  BOOST_TEST(http_request(node.port(), "POST", "/metrics").status == 405);
  BOOST_TEST(http_request(node.port(), "GET", "/nowhere").status == 404);
  BOOST_TEST(http_request(node.port(), "GET", "/ws").status == 426);
  BOOST_TEST(http_request(node.port(), "GET", "/healthz").status == 200);
  BOOST_TEST(http_request(node.port(), "GET", "/readyz").status == 200);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_413) {
  test_node node;
  bystander other(node.port());
  std::string body(70 * 1024, 'x');
  int status = raw_http_status(node.port(), "POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                                std::to_string(body.size()) + "\r\n\r\n" + body);
  BOOST_TEST(status == 413);
  other.still_receives();
}

BOOST_AUTO_TEST_CASE(headers_over_eight_kib_are_431) {
  test_node node;
  int status = raw_http_status(node.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'h') +
                                                "\r\n\r\n");
  BOOST_TEST(status == 431);
}

BOOST_AUTO_TEST_CASE(transfer_encoding_together_with_content_length_is_400) {
  test_node node;
  int status = raw_http_status(node.port(),
                               "POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  BOOST_TEST(status == 400);
}

BOOST_AUTO_TEST_CASE(garbage_instead_of_http_is_400) {
  test_node node;
  BOOST_TEST(raw_http_status(node.port(), "\x16\x03\x01 not http at all\r\n\r\n") == 400);
}

BOOST_AUTO_TEST_CASE(an_upgrade_to_another_path_is_404) {
  test_node node;
  int status = raw_http_status(node.port(),
                               "GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  BOOST_TEST(status == 404);
}

BOOST_AUTO_TEST_SUITE_END()
