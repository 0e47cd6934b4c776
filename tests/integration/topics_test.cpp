// Topics with offsets, history and recovery; client publish; presence;
// long-polling and Server-Sent Events.
#include <boost/test/unit_test.hpp>

#include <future>
#include <array>
#include <initializer_list>
#include <memory>
#include <regex>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <sys/socket.h>
#include <thread>

#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;

namespace {

std::string publish(std::uint16_t port, const std::string& topic, const std::string& data) {
  return http_post(port, "/api/v1/publish", R"({"topic":")" + topic + R"(","data":)" + data + "}").body;
}

// The value of "key":<number> in a JSON text (enough for these tests).
std::uint64_t number_of(const std::string& json, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + key + "\":([0-9]+)"))) {
    throw std::runtime_error(key + " not in " + json);
  }
  return std::stoull(m[1]);
}

std::string epoch_of(const std::string& json) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex(R"re("epoch":"([0-9a-f]+)")re"))) throw std::runtime_error("no epoch");
  return m[1];
}

herald::config::options topic_options() {
  auto o = test_options();
  o.client_publish = {"room:*"};
  o.presence = {"room:*"};
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(topics)

BOOST_AUTO_TEST_CASE(offsets_increase_by_one_per_topic_and_history_keeps_the_last_ten) {
  test_node node;
  for (int i = 1; i <= 12; ++i) BOOST_TEST(number_of(publish(node.port(), "news", std::to_string(i)), "offset") == i);
  BOOST_TEST(number_of(publish(node.port(), "other", "1"), "offset") == 1);
  auto h = http_request(node.port(), "GET", "/api/v1/history?topic=news&since=2").body;
  BOOST_TEST(number_of(h, "offset") == 12);
  BOOST_TEST(h.find(R"("recovered":true)") != std::string::npos);
  BOOST_TEST(h.find(R"("offset":3,)") != std::string::npos);
  BOOST_TEST(h.find(R"("offset":2,)") == std::string::npos);
  // Offsets 1 and 2 are no longer kept: asking from 0 cannot be a recovery.
  auto all = http_request(node.port(), "GET", "/api/v1/history?topic=news&since=0").body;
  BOOST_TEST(all.find(R"("recovered":false)") != std::string::npos);
  auto limited = http_request(node.port(), "GET", "/api/v1/history?topic=news&since=2&limit=2").body;
  BOOST_TEST(limited.find(R"("offset":4,)") != std::string::npos);
  BOOST_TEST(limited.find(R"("offset":5,)") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(history_refuses_bad_topics_bad_numbers_and_a_since_from_the_future) {
  test_node node;
  publish(node.port(), "news", "1");
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/history?topic=bad%20topic").status == 400);
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/history?topic=news&since=abc").status == 400);
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/history?topic=news&limit=0").status == 400);
  auto future = http_request(node.port(), "GET", "/api/v1/history?topic=news&since=99");
  BOOST_TEST(future.status == 400);
  BOOST_TEST(future.body.find("bad_since") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(subscribe_with_since_replays_what_was_missed_then_continues_live) {
  test_node node;
  for (int i = 1; i <= 5; ++i) publish(node.port(), "feed", std::to_string(i));
  auto epoch = epoch_of(http_request(node.port(), "GET", "/api/v1/history?topic=feed").body);
  ws_client c(node.port());
  c.send(R"({"op":"subscribe","topic":"feed","since":2,"epoch":")" + epoch + R"(","id":1})");
  auto reply = c.recv();
  BOOST_TEST(reply.find(R"("op":"subscribed")") != std::string::npos);
  BOOST_TEST(reply.find(R"("recovered":true)") != std::string::npos);
  BOOST_TEST(number_of(reply, "offset") == 5);
  for (int expected = 3; expected <= 5; ++expected) BOOST_TEST(number_of(c.recv(), "offset") == expected);
  publish(node.port(), "feed", "6");
  BOOST_TEST(number_of(c.recv(), "offset") == 6);
}

BOOST_AUTO_TEST_CASE(subscribe_with_a_since_from_the_future_is_refused_with_bad_since) {
  test_node node;
  publish(node.port(), "feed", "1");
  ws_client c(node.port());
  c.send(R"({"op":"subscribe","topic":"feed","since":7,"id":3})");
  auto reply = c.recv();
  BOOST_TEST(reply.find(R"("code":"bad_since")") != std::string::npos);
  BOOST_TEST(reply.find(R"("id":3)") != std::string::npos);
  BOOST_TEST(number_of(publish(node.port(), "feed", "2"), "delivered") == 0);
}

BOOST_AUTO_TEST_CASE(subscribe_with_another_epoch_or_a_lost_gap_is_not_recovered) {
  auto opts = test_options();
  opts.history_size = 3;
  test_node node(opts);
  for (int i = 1; i <= 6; ++i) publish(node.port(), "feed", std::to_string(i));
  ws_client c(node.port());
  c.send(R"({"op":"subscribe","topic":"feed","since":4,"epoch":"0000000000000000","id":1})");
  BOOST_TEST(c.recv().find(R"("recovered":false)") != std::string::npos);
  ws_client d(node.port());
  d.send(R"({"op":"subscribe","topic":"feed","since":1,"id":2})");
  BOOST_TEST(d.recv().find(R"("recovered":false)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_subscriber_that_recovers_while_messages_flow_sees_every_offset_exactly_once) {
  test_node node;
  constexpr int total = 300;
  auto publisher = std::async(std::launch::async, [&] {
    for (int i = 1; i <= total; ++i) publish(node.port(), "busy", std::to_string(i));
  });
  std::this_thread::sleep_for(20ms);  // let some messages go by first
  ws_client c(node.port());
  c.send(R"({"op":"subscribe","topic":"busy","since":0,"id":1})");
  auto reply = c.recv();
  BOOST_REQUIRE(reply.find("subscribed") != std::string::npos);
  publisher.get();
  // History keeps 10, so the subscriber may start after a gap, but from its
  // first message on every offset must come once and in order.
  auto first = number_of(c.recv(), "offset");
  for (std::uint64_t expected = first + 1; expected <= total; ++expected) {
    BOOST_REQUIRE(number_of(c.recv(), "offset") == expected);
  }
  BOOST_TEST(!c.try_recv(200ms).has_value());
}

BOOST_AUTO_TEST_CASE(clients_publish_only_where_allowed_and_messages_carry_the_sender) {
  auto opts = topic_options();
  opts.presence.clear();  // no join frames in between
  test_node node(opts);
  ws_client anon(node.port()), alice(node.port());
  anon.send(R"({"op":"publish","topic":"room:1","data":"hi","id":1})");
  BOOST_TEST(anon.recv().find(R"("code":"forbidden")") != std::string::npos);  // no auth
  alice.send(R"({"op":"auth","token":"alice","id":1})");
  alice.recv();
  alice.subscribe("room:1");
  alice.send(R"({"op":"publish","topic":"news","data":"hi","id":2})");
  BOOST_TEST(alice.recv().find(R"("code":"forbidden")") != std::string::npos);  // not a room
  alice.send(R"({"op":"publish","topic":"room:1","data":{"text":"hello"},"id":3})");
  std::string published, message;
  for (int i = 0; i < 3 && (published.empty() || message.empty()); ++i) {
    auto m = alice.recv();
    if (m.find(R"("op":"published")") != std::string::npos) published = m;
    if (m.find(R"("op":"message")") != std::string::npos) message = m;
  }
  BOOST_TEST(number_of(published, "offset") == 1);
  BOOST_TEST(message.find(R"("from":"alice","data":{"text":"hello"})") != std::string::npos);
  auto http = http_post(node.port(), "/api/v1/client-publish", R"({"token":"bob","topic":"room:1","data":2})");
  BOOST_TEST(http.status == 200);
  BOOST_TEST(alice.recv().find(R"("from":"bob")") != std::string::npos);
  BOOST_TEST(http_post(node.port(), "/api/v1/client-publish", R"({"token":"bob","topic":"news","data":2})").status ==
             403);
}

BOOST_AUTO_TEST_CASE(presence_tells_subscribers_who_joins_and_leaves_and_answers_queries) {
  test_node node(topic_options());
  ws_client watcher(node.port());
  watcher.subscribe("room:lobby");
  {
    ws_client carol(node.port());
    carol.send(R"({"op":"auth","token":"carol"})");
    carol.recv();
    carol.subscribe("room:lobby");
    BOOST_TEST(watcher.recv() == R"({"op":"join","topic":"room:lobby","user":"carol"})");
    auto p = http_request(node.port(), "GET", "/api/v1/presence?topic=room:lobby").body;
    BOOST_TEST(p == R"({"topic":"room:lobby","users":["carol"],"connections":2})");
  }
  BOOST_TEST(watcher.recv() == R"({"op":"leave","topic":"room:lobby","user":"carol"})");
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/presence?topic=room:empty").status == 404);
  BOOST_TEST(http_request(node.port(), "GET", "/api/v1/presence?topic=news").status == 403);
}

// A join is recorded where the subscribe arrives, under the same lock a
// publication is stamped under, so it cannot be overtaken by what the same
// connection publishes right after (whatever shards the three are on).
// (The window it closes is narrow: this passed 120 times out of 120 with
// the join still posted to the owner.)
BOOST_AUTO_TEST_CASE(a_subscriber_that_publishes_at_once_is_seen_joining_before_its_message) {
  // Appends the parts (g++ 12 warns falsely on literal + std::string here).
  auto text = [](std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto p : parts) out.append(p);
    return out;
  };
  test_node node(topic_options());
  ws_client watcher(node.port());
  watcher.subscribe("room:order");
  for (int k = 0; k < 40; ++k) {
    const std::string user = text({"u", std::to_string(k)});
    auto c = std::make_unique<ws_client>(node.port());
    c->send(text({R"({"op":"auth","token":")", user, R"("})"}));
    c->recv();
    c->send(R"({"op":"subscribe","topic":"room:order"})");
    c->send(text({R"({"op":"publish","topic":"room:order","data":)", std::to_string(k), "}"}));
    const std::string join = text({R"({"op":"join","topic":"room:order","user":")", user, R"("})"});
    const std::string from = text({R"("from":")", user, R"(")"});
    int join_at = -1, message_at = -1;
    for (int i = 0; i < 4 && message_at < 0; ++i) {
      auto m = watcher.recv();
      if (m == join) join_at = i;
      if (m.find(from) != std::string::npos) message_at = i;
    }
    BOOST_TEST_REQUIRE(message_at >= 0);
    BOOST_TEST_REQUIRE(join_at >= 0, "the message of " << user << " came before its join");
    c.reset();  // its leave comes before the next one's join
    BOOST_TEST_REQUIRE(watcher.recv() == text({R"({"op":"leave","topic":"room:order","user":")", user, R"("})"}));
  }
}

BOOST_AUTO_TEST_CASE(a_long_poll_answers_at_once_when_messages_wait_and_otherwise_holds_until_one_arrives) {
  test_node node;
  publish(node.port(), "lp", "1");
  publish(node.port(), "lp", "2");
  auto now = http_request(node.port(), "GET", "/poll?topic=lp&since=1&timeout=5").body;
  BOOST_TEST(number_of(now, "offset") == 2);
  BOOST_TEST(now.find(R"("data":2})") != std::string::npos);
  auto held = std::async(std::launch::async, [&] { return http_request(node.port(), "GET", "/poll?topic=lp&since=2&timeout=10"); });
  for (int i = 0; i < 200 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  publish(node.port(), "lp", R"("three")");
  auto got = held.get();
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.body.find(R"("data":"three")") != std::string::npos);
  BOOST_TEST(number_of(got.body, "offset") == 3);
}

BOOST_AUTO_TEST_CASE(a_long_poll_times_out_empty_and_rejects_bad_parameters) {
  test_node node;
  auto empty = http_request(node.port(), "GET", "/poll?topic=quiet&since=0&timeout=1");
  BOOST_TEST(empty.status == 200);
  BOOST_TEST(empty.body.find(R"("messages":[])") != std::string::npos);
  BOOST_TEST(http_request(node.port(), "GET", "/poll?topic=quiet&timeout=0").status == 400);
  BOOST_TEST(http_request(node.port(), "GET", "/poll?topic=quiet&timeout=61").status == 400);
  BOOST_TEST(http_request(node.port(), "GET", "/poll?topic=no%20spaces").status == 400);
  BOOST_TEST(http_request(node.port(), "GET", "/poll").status == 400);
  BOOST_TEST(http_request(node.port(), "GET", "/poll?topic=quiet&since=5").status == 400);
}

BOOST_AUTO_TEST_CASE(a_waiting_user_long_poll_counts_as_a_client_of_push_and_gets_its_event) {
  test_node node;
  http_post(node.port(), "/push", R"({"userId":"dan","event":"authcode","message":"000000"})");
  const std::uint64_t since = 1;  // the push above
  auto held = std::async(std::launch::async, [&] {
    return http_request(node.port(), "GET",
                        "/poll?token=dan&event=authcode&timeout=10&since=" + std::to_string(since));
  });
  for (int i = 0; i < 200 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  auto res = http_post(node.port(), "/push", R"({"userId":"dan","event":"authcode","message":"123456"})");
  BOOST_TEST(res.body == "message sent to 1 clients");
  auto got = held.get().body;
  BOOST_TEST(got.find(R"("event":"authcode","message":"123456")") != std::string::npos);
  BOOST_TEST(got.find("000000") == std::string::npos);
}

// The seed's auth-code page: one request, no cursor, answered by the next code.
BOOST_AUTO_TEST_CASE(a_user_long_poll_without_since_waits_for_the_next_push_and_answers_the_position_after_it) {
  test_node node;
  http_post(node.port(), "/push", R"({"userId":"eve","event":"authcode","message":"old"})");
  auto held = std::async(std::launch::async,
                         [&] { return http_request(node.port(), "GET", "/poll?token=eve&event=authcode&timeout=20"); });
  for (int i = 0; i < 500 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  BOOST_TEST(metric(node.port(), "herald_held_requests{kind=\"poll\"}") == 1);
  auto res = http_post(node.port(), "/push", R"({"userId":"eve","event":"authcode","message":"654321"})");
  BOOST_TEST(res.body == "message sent to 1 clients");
  auto got = held.get();
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.body.find(R"("event":"authcode","message":"654321")") != std::string::npos);
  BOOST_TEST(got.body.find("old") == std::string::npos);
  BOOST_TEST(number_of(got.body, "offset") == 2);  // the next poll's since
  BOOST_TEST(got.body.find(R"("recovered":true)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_topic_long_poll_without_since_waits_for_the_next_message_and_answers_the_position_after_it) {
  test_node node;
  publish(node.port(), "nx", "1");
  publish(node.port(), "nx", "2");
  auto held = std::async(std::launch::async, [&] { return http_request(node.port(), "GET", "/poll?topic=nx&timeout=20"); });
  for (int i = 0; i < 500 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  BOOST_TEST(metric(node.port(), "herald_held_requests{kind=\"poll\"}") == 1);
  BOOST_TEST(number_of(publish(node.port(), "nx", R"("three")"), "delivered") == 1);
  auto got = held.get();
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.body.find(R"("data":"three")") != std::string::npos);
  BOOST_TEST(got.body.find(R"("data":1})") == std::string::npos);  // nothing from before the poll
  BOOST_TEST(number_of(got.body, "offset") == 3);
  // A quiet topic: the poll times out empty, still saying where "now" is.
  auto quiet = http_request(node.port(), "GET", "/poll?topic=nx&timeout=1");
  BOOST_TEST(quiet.status == 200);
  BOOST_TEST(quiet.body.find(R"("messages":[])") != std::string::npos);
  BOOST_TEST(number_of(quiet.body, "offset") == 3);
}

namespace {
// Reads frames from `ws` until one contains `needle`; returns every frame read.
std::vector<std::string> frames_until(ws_client& ws, const std::string& needle) {
  std::vector<std::string> seen;
  for (;;) {
    seen.push_back(ws.recv());
    if (seen.back().find(needle) != std::string::npos) return seen;
  }
}

std::size_t count_of(const std::vector<std::string>& frames, const std::string& needle) {
  std::size_t n = 0;
  for (const auto& f : frames) n += f.find(needle) != std::string::npos;
  return n;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_long_poller_with_a_token_joins_once_and_stays_present_while_its_polls_keep_coming) {
  auto opts = topic_options();
  opts.poll_presence_window = herald::config::seconds_d(60);  // far longer than any gap between two polls here
  test_node node(opts);
  ws_client watcher(node.port());
  watcher.subscribe("room:lp");
  publish(node.port(), "room:lp", "1");
  // The first poll answers at once (message 1 waits) and carol joins.
  auto first = http_request(node.port(), "GET", "/poll?topic=room:lp&since=0&timeout=20&token=carol").body;
  BOOST_TEST(number_of(first, "offset") == 1);
  auto joined = frames_until(watcher, R"("op":"join","topic":"room:lp","user":"carol")");
  BOOST_TEST(count_of(joined, R"("op":"leave")") == 0u);
  auto second = std::async(std::launch::async, [&] {
    return http_request(node.port(), "GET", "/poll?topic=room:lp&since=1&timeout=20&token=carol");
  });
  for (int i = 0; i < 500 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  publish(node.port(), "room:lp", "2");
  BOOST_TEST(second.get().body.find(R"("data":2)") != std::string::npos);
  // Between the polls nobody saw carol leave or join again.
  auto after = frames_until(watcher, R"("offset":2)");
  BOOST_TEST(count_of(after, R"("user":"carol")") == 0u);
  auto present = http_request(node.port(), "GET", "/api/v1/presence?topic=room:lp").body;
  BOOST_TEST(present.find(R"("users":["carol"])") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_long_poller_leaves_when_its_next_poll_does_not_come_within_the_window) {
  auto opts = topic_options();
  opts.poll_presence_window = herald::config::seconds_d(0.2);
  test_node node(opts);
  ws_client watcher(node.port());
  watcher.subscribe("room:gone");
  // An anonymous poller is not counted: nothing tells two of them apart between polls.
  auto anonymous = std::async(std::launch::async, [&] {
    return http_request(node.port(), "GET", "/poll?topic=room:gone&since=0&timeout=1");
  });
  auto poll = http_request(node.port(), "GET", "/poll?topic=room:gone&since=0&timeout=1&token=dave");
  BOOST_TEST(poll.body.find(R"("op":"join","topic":"room:gone","user":"dave")") != std::string::npos);
  anonymous.get();
  // dave never polls again: once the window passed, he leaves (once).
  auto seen = frames_until(watcher, R"("op":"leave","topic":"room:gone","user":"dave")");
  BOOST_TEST(count_of(seen, R"("op":"join","topic":"room:gone","user":"dave")") == 1u);
  BOOST_TEST(count_of(seen, R"("user":"")") == 0u);
  auto present = http_request(node.port(), "GET", "/api/v1/presence?topic=room:gone").body;
  BOOST_TEST(present.find(R"("users":[])") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sse_streams_messages_with_ids_and_resumes_after_the_last_event_id) {
  test_node node;
  for (int i = 1; i <= 3; ++i) publish(node.port(), "sse", std::to_string(i));
  // The stream opens with a "subscribed" event (no id), then the messages.
  auto events = sse_read(node.port(), "/sse?topic=sse&since=1", 3, 5000ms);
  BOOST_REQUIRE(events.size() == 3);
  BOOST_TEST(events[0].id.empty());
  BOOST_TEST(events[0].data.find(R"("op":"subscribed","topic":"sse")") != std::string::npos);
  BOOST_TEST(events[0].data.find(R"("recovered":true)") != std::string::npos);
  BOOST_TEST(events[1].id == "2");
  BOOST_TEST(events[2].id == "3");
  BOOST_TEST(events[2].data.find(R"({"op":"message","topic":"sse","offset":3)") == 0);
  // Last-Event-ID (what a reconnecting browser sends) wins over since.
  auto resumed = sse_read(node.port(), "/sse?topic=sse&since=0", 2, 5000ms, "Last-Event-ID: 2\r\n");
  BOOST_REQUIRE(resumed.size() == 2);
  BOOST_TEST(resumed[1].id == "3");
  auto live = std::async(std::launch::async, [&] { return sse_read(node.port(), "/sse?topic=sse", 2, 5000ms); });
  for (int i = 0; i < 200 && metric(node.port(), "herald_held_requests{kind=\"sse\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  publish(node.port(), "sse", "4");
  auto got = live.get();
  BOOST_REQUIRE(got.size() == 2);
  BOOST_TEST(got[1].id == "4");
}

namespace {
// One kept-alive connection, read with a deadline (SO_RCVTIMEO): a broken
// server fails the test instead of hanging it.
struct keep_alive_client {
  explicit keep_alive_client(std::uint16_t port) : socket(ioc) {
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& raw) { boost::asio::write(socket, boost::asio::buffer(raw)); }
  static std::string get(const std::string& target) { return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"; }
  boost::beast::http::response<boost::beast::http::string_body> read() {
    boost::beast::http::response<boost::beast::http::string_body> res;
    boost::beast::http::read(socket, buffer, res);
    return res;
  }
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket;
  boost::beast::flat_buffer buffer;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_long_poll_gives_its_kept_alive_connection_back_to_http_with_what_was_pipelined_behind_it) {
  test_node node;
  keep_alive_client c(node.port());
  // The second request is already in the server's buffer while the first waits.
  c.send(keep_alive_client::get("/poll?topic=kp&timeout=30") + keep_alive_client::get("/poll?topic=kp&since=0&timeout=30"));
  for (int i = 0; i < 200 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  publish(node.port(), "kp", "1");
  auto first = c.read();
  BOOST_TEST(first.result_int() == 200);
  BOOST_TEST(first.keep_alive());
  BOOST_TEST(first.body().find(R"("data":1})") != std::string::npos);
  auto second = c.read();  // answered from history at once
  BOOST_TEST(second.body().find(R"("data":1})") != std::string::npos);
  BOOST_TEST(number_of(second.body(), "offset") == 1);
  // And the connection holds the next poll too.
  c.send(keep_alive_client::get("/poll?topic=kp&since=1&timeout=30"));
  for (int i = 0; i < 200 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  publish(node.port(), "kp", "2");
  auto third = c.read();
  BOOST_TEST(third.body().find(R"("data":2})") != std::string::npos);
  BOOST_TEST(number_of(third.body(), "offset") == 2);
  c.send(keep_alive_client::get("/healthz"));
  BOOST_TEST(c.read().result_int() == 200);
}

BOOST_AUTO_TEST_CASE(drain_releases_held_long_polls) {
  test_node node;
  auto held = std::async(std::launch::async, [&] { return http_request(node.port(), "GET", "/poll?topic=d&since=0&timeout=30"); });
  for (int i = 0; i < 200 && metric(node.port(), "herald_held_requests{kind=\"poll\"}") < 1; ++i) std::this_thread::sleep_for(10ms);
  node.server().drain();
  auto got = held.get();
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.body.find(R"("messages":[])") != std::string::npos);
}

namespace {
// A raw client that sends a request and never reads: it can vanish or stall.
struct raw_client {
  raw_client(std::uint16_t port, const std::string& target) : socket(ioc) {
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(socket, boost::asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket;
};

double held(std::uint16_t port, const char* kind) {
  return metric(port, std::string("herald_held_requests{kind=\"") + kind + "\"}");
}

void wait_held(std::uint16_t port, const char* kind, double value) {
  for (int i = 0; i < 500 && held(port, kind) != value; ++i) std::this_thread::sleep_for(10ms);
}
}  // namespace

BOOST_AUTO_TEST_CASE(held_long_polls_and_streams_end_when_their_client_hangs_up) {
  test_node node;
  {
    raw_client poll(node.port(), "/poll?topic=gone&since=0&timeout=60");
    raw_client stream(node.port(), "/sse?topic=gone");
    wait_held(node.port(), "poll", 1);
    wait_held(node.port(), "sse", 1);
    BOOST_TEST(held(node.port(), "poll") == 1);
    BOOST_TEST(held(node.port(), "sse") == 1);
  }  // both clients close their sockets here
  wait_held(node.port(), "poll", 0);
  wait_held(node.port(), "sse", 0);
  BOOST_TEST(held(node.port(), "poll") == 0);
  BOOST_TEST(held(node.port(), "sse") == 0);
  BOOST_TEST(number_of(publish(node.port(), "gone", "1"), "delivered") == 0);
}

BOOST_AUTO_TEST_CASE(an_sse_stream_gets_heartbeats_and_a_stalled_one_is_cut_as_a_slow_consumer) {
  auto opts = test_options();
  opts.ping_interval = herald::config::seconds_d(0.2);
  opts.max_queue_messages = 8;
  test_node node(opts);
  // Heartbeat: a quiet stream still sees ": ping" comments.
  {
    raw_client quiet(node.port(), "/sse?topic=hb");
    std::this_thread::sleep_for(700ms);
    std::array<char, 4096> buf;
    boost::system::error_code ec;
    auto n = quiet.socket.read_some(boost::asio::buffer(buf), ec);
    BOOST_TEST(std::string(buf.data(), n).find(": ping") != std::string::npos);
  }
  raw_client stalled(node.port(), "/sse?topic=flood");
  ws_client healthy(node.port());
  healthy.subscribe("flood");
  wait_held(node.port(), "sse", 1);
  const std::string big = "\"" + std::string(60000, 'x') + "\"";
  int published = 0;
  while (metric(node.port(), "herald_connections_closed_total{reason=\"slow_consumer\"}") < 1) {
    BOOST_REQUIRE(++published < 2000);
    publish(node.port(), "flood", big);
    healthy.recv();  // the healthy subscriber keeps up and gets every one
  }
  wait_held(node.port(), "sse", 0);
  BOOST_TEST(held(node.port(), "sse") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
