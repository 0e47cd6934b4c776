// Push delivery through a real node on loopback: the wserver-compatible API
// and the native JSON API.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;

namespace {
std::string compat_body(const std::string& user, const std::string& event, const std::string& message) {
  return R"({"userId":")" + user + R"(","event":")" + event + R"(","message":")" + message + R"("})";
}
}  // namespace

BOOST_AUTO_TEST_SUITE(push)

BOOST_AUTO_TEST_CASE(a_compat_push_reaches_the_registered_connection_and_counts_it) {
  test_node node;
  ws_client alice(node.port());
  alice.register_compat("alice", "order");
  auto res = http_post(node.port(), "/push", compat_body("alice", "order", "shipped"));
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == "message sent to 1 clients");
  BOOST_TEST(alice.recv() == "shipped");
}

BOOST_AUTO_TEST_CASE(push_to_a_user_reaches_every_connection_of_that_user) {
  test_node node;
  std::vector<std::unique_ptr<ws_client>> tabs;
  for (int i = 0; i < 5; ++i) {
    tabs.push_back(std::make_unique<ws_client>(node.port()));
    tabs.back()->register_compat("bob", "chat");
  }
  auto res = http_post(node.port(), "/push", compat_body("bob", "chat", "hi"));
  BOOST_TEST(res.body == "message sent to 5 clients");
  for (auto& t : tabs) BOOST_TEST(t->recv() == "hi");
}

BOOST_AUTO_TEST_CASE(push_reaches_only_connections_registered_for_its_event) {
  test_node node;
  ws_client orders(node.port()), chat(node.port()), both(node.port());
  orders.register_compat("carol", "order");
  chat.register_compat("carol", "chat");
  both.register_compat("carol", "order");
  both.register_compat("carol", "chat");
  auto res = http_post(node.port(), "/push", compat_body("carol", "chat", "m1"));
  BOOST_TEST(res.body == "message sent to 2 clients");
  BOOST_TEST(chat.recv() == "m1");
  BOOST_TEST(both.recv() == "m1");
  BOOST_TEST(!orders.try_recv(200ms).has_value());
}

BOOST_AUTO_TEST_CASE(push_to_a_user_nobody_registered_is_sent_to_zero_clients) {
  test_node node;
  auto res = http_post(node.port(), "/push", compat_body("nobody", "e", "m"));
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == "message sent to 0 clients");
}

BOOST_AUTO_TEST_CASE(a_closed_connection_no_longer_counts_as_a_receiver) {
  test_node node;
  {
    ws_client gone(node.port());
    gone.register_compat("dave", "e");
  }
  ws_client stays(node.port());
  stays.register_compat("dave", "e");
  // The first client's teardown runs on its shard; wait for it to show.
  for (int i = 0; i < 100 && node.server().open_connections() > 1; ++i) std::this_thread::sleep_for(20ms);
  BOOST_TEST(http_post(node.port(), "/push", compat_body("dave", "e", "m")).body == "message sent to 1 clients");
}

BOOST_AUTO_TEST_CASE(native_subscribers_get_published_data_in_the_message_envelope) {
  test_node node;
  ws_client a(node.port()), b(node.port()), other(node.port());
  a.subscribe("news");
  b.subscribe("news");
  other.subscribe("sport");
  auto res = http_post(node.port(), "/api/v1/publish", R"({"topic":"news","data":{"title":"x","n":[1,2]}})");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == R"({"delivered":2,"offset":1})");
  auto got = a.recv();
  BOOST_TEST(got.rfind(R"({"op":"message","topic":"news","offset":1,"epoch":")", 0) == 0);
  BOOST_TEST(got.find(R"(,"data":{"title":"x","n":[1,2]}})") == got.size() - 32);
  BOOST_TEST(b.recv() == got);  // encoded once: the very same bytes
  BOOST_TEST(!other.try_recv(200ms).has_value());
}

BOOST_AUTO_TEST_CASE(unsubscribe_stops_delivery_and_a_second_unsubscribe_is_an_error) {
  test_node node;
  ws_client a(node.port());
  a.subscribe("news");
  a.send(R"({"op":"unsubscribe","topic":"news","id":7})");
  BOOST_TEST(a.recv() == R"({"op":"unsubscribed","topic":"news","id":7})");
  BOOST_TEST(http_post(node.port(), "/api/v1/publish", R"({"topic":"news","data":1})").body ==
             R"({"delivered":0,"offset":1})");
  a.send(R"({"op":"unsubscribe","topic":"news","id":8})");
  BOOST_TEST(a.recv().find(R"("code":"not_subscribed")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(api_push_reaches_each_connection_of_a_user_once_whatever_its_events) {
  test_node node;
  ws_client a(node.port()), b(node.port());
  a.register_compat("erin", "x");
  a.register_compat("erin", "y");
  b.send(R"({"op":"auth","token":"erin","id":1})");
  BOOST_TEST(b.recv() == R"({"op":"authed","user":"erin","id":1})");
  auto res = http_post(node.port(), "/api/v1/push", R"({"user":"erin","data":"ping"})");
  BOOST_TEST(res.body == R"({"delivered":2,"offset":1})");
  auto got = a.recv();
  BOOST_TEST(got.rfind(R"({"op":"message","user":"erin","offset":1,"ts":)", 0) == 0);
  BOOST_TEST(got.find(R"(,"data":"ping"})") != std::string::npos);
  BOOST_TEST(b.recv() == got);
  BOOST_TEST(!a.try_recv(200ms).has_value());
}

BOOST_AUTO_TEST_CASE(concurrent_pushes_from_eight_threads_to_one_connection_all_arrive_whole_and_in_order) {
  test_node node;
  ws_client target(node.port());
  target.register_compat("frank", "e");
  constexpr int threads = 8, per_thread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> pushers;
  for (int t = 0; t < threads; ++t) {
    pushers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto msg = "t" + std::to_string(t) + "-" + std::to_string(i) + "-" + std::string(100 + i, 'x');
        auto res = http_post(node.port(), "/push", compat_body("frank", "e", msg));
        if (res.body != "message sent to 1 clients") ++failures;
      }
    });
  }
  std::vector<int> next(threads, 0);
  int received = 0;
  for (; received < threads * per_thread; ++received) {
    auto msg = target.recv();
    auto dash = msg.find('-');
    int t = std::stoi(msg.substr(1, dash - 1));
    int i = std::stoi(msg.substr(dash + 1, msg.find('-', dash + 1) - dash - 1));
    BOOST_REQUIRE(msg == "t" + std::to_string(t) + "-" + std::to_string(i) + "-" + std::string(100 + i, 'x'));
    BOOST_REQUIRE(i == next[t]);  // each pusher's messages keep their order
    ++next[t];
  }
  for (auto& p : pushers) p.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(received == threads * per_thread);
}

BOOST_AUTO_TEST_CASE(an_unknown_token_is_refused_when_a_tokens_file_is_configured) {
  const std::string path = "/tmp/herald-test-tokens-" + std::to_string(::getpid());
  std::ofstream(path) << "# token user\nsecret-1 grace\n";
  std::string error;
  auto auth = herald::api::token_auth::from_file(path, error);
  BOOST_REQUIRE(auth.has_value());
  test_node node(test_options(), *auth);
  ws_client c(node.port());
  c.send(R"({"token":"wrong","event":"e"})");
  BOOST_TEST(c.recv().find(R"("code":"unauthorized")") != std::string::npos);
  c.register_compat("secret-1", "e");
  BOOST_TEST(http_post(node.port(), "/push", compat_body("grace", "e", "ok")).body == "message sent to 1 clients");
  BOOST_TEST(c.recv() == "ok");
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(the_push_key_is_required_when_configured) {
  auto opts = test_options();
  opts.push_keys = {"k3y"};
  test_node node(opts);
  BOOST_TEST(http_post(node.port(), "/push", compat_body("u", "e", "m")).status == 401);
  auto ok = http_request(node.port(), "POST", "/push", compat_body("u", "e", "m"), {{"Authorization", "Bearer k3y"}});
  BOOST_TEST(ok.status == 200);
  auto wrong = http_request(node.port(), "POST", "/api/v1/publish", R"({"topic":"t","data":1})",
                            {{"Authorization", "Bearer k3z"}});
  BOOST_TEST(wrong.status == 401);
}

BOOST_AUTO_TEST_SUITE_END()
