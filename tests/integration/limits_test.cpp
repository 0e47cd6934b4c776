// Transport limits: --allowed-origin, --max-connections-per-ip, --client-rate.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <thread>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include "proto/codec.hpp"
#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;

namespace {

std::string upgrade_from(const std::string& origin_header) {
  return "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         origin_header + "\r\n";
}

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One kept-alive HTTP connection; every read is bounded, so a server that
// never answers (or never closes) fails the test instead of hanging it.
class keep_alive_client {
 public:
  explicit keep_alive_client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  // GET `path`; the status, or 0 when the connection ended first.
  int get(const std::string& path) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"), ec);
    if (ec) return 0;
    std::string head;
    if (!read([&](auto done) { asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n\r\n", done); })) {
      return 0;
    }
    head = buffer_.substr(0, buffer_.find("\r\n\r\n") + 4);
    const auto at = head.find("Content-Length: ");
    const std::size_t body = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
    while (buffer_.size() < head.size() + body) {
      if (!read([&](auto done) { asio::async_read(socket_, asio::dynamic_buffer(buffer_), asio::transfer_at_least(1), done); })) {
        return 0;
      }
    }
    buffer_.erase(0, head.size() + body);
    return std::stoi(head.substr(9, 3));
  }
  // True when the server closed the connection (within 10 s).
  bool closed_by_server() {
    return !read([&](auto done) { asio::async_read(socket_, asio::dynamic_buffer(buffer_), asio::transfer_at_least(1), done); });
  }

 private:
  // Runs one read; false when it ended in an error (the server's close).
  template <class Start>
  bool read(Start start) {
    boost::system::error_code result = asio::error::timed_out;
    start([&](boost::system::error_code ec, std::size_t) { result = ec; });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(10));
    if (result == asio::error::timed_out) throw std::runtime_error("the server neither answered nor closed");
    return !result;
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  std::string buffer_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(limits)

// The idle deadline is re-armed lazily (http_session's deadline): a used
// connection must outlive several timeouts, an unused one must not.
BOOST_AUTO_TEST_CASE(a_kept_alive_http_connection_stays_open_while_used_and_is_closed_once_idle_for_the_http_idle_timeout) {
  auto opts = test_options();
  opts.http_idle_timeout = herald::config::seconds_d(1.0);
  test_node node(opts);
  keep_alive_client busy(node.port());
  keep_alive_client idle(node.port());
  BOOST_TEST(idle.get("/healthz") == 200);
  for (int i = 0; i < 12; ++i) {  // three timeouts' worth
    BOOST_TEST(busy.get("/healthz") == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  BOOST_TEST(idle.closed_by_server());
  BOOST_TEST(busy.get("/healthz") == 200);
}

BOOST_AUTO_TEST_CASE(an_upgrade_from_an_origin_not_allowed_is_answered_403_before_the_handshake) {
  auto opts = test_options();
  opts.allowed_origins = {"https://*.example.com"};
  test_node node(opts);
  BOOST_TEST(raw_http_status(node.port(), upgrade_from("Origin: https://evil.test\r\n")) == 403);
  BOOST_TEST(raw_http_status(node.port(), upgrade_from("Origin: https://Chat.Example.com\r\n")) == 101);
  BOOST_TEST(raw_http_status(node.port(), upgrade_from("")) == 101);  // no Origin: not a browser
  BOOST_TEST(metric_eventually(node.port(), "herald_connections_refused_total{reason=\"origin\"}", 1) == 1);
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_per_address_limit_are_refused_and_a_closed_one_frees_its_place) {
  auto opts = test_options();
  opts.max_connections_per_ip = 2;
  test_node node(opts);
  auto a = std::make_unique<ws_client>(node.port());
  ws_client b(node.port());
  a->sync();
  b.sync();
  BOOST_CHECK_THROW(ws_client c(node.port()), std::exception);
  BOOST_TEST(metric(node.port(), "herald_connections_refused_total{reason=\"per_ip_limit\"}") == 1);
  a.reset();
  // The server gives the place back when it has torn the session down,
  // just after the client saw the close.
  std::unique_ptr<ws_client> again;
  for (int i = 0; i < 200 && !again; ++i) {
    try {
      again = std::make_unique<ws_client>(node.port());
    } catch (const std::exception&) {
      std::this_thread::sleep_for(10ms);
    }
  }
  BOOST_REQUIRE(again);
  again->register_compat("back", "e");
  b.register_compat("b", "e");
  BOOST_TEST(http_post(node.port(), "/push", R"({"userId":"b","event":"e","message":"still"})").body ==
             "message sent to 1 clients");
  BOOST_TEST(b.recv() == "still");
}

BOOST_AUTO_TEST_CASE(a_client_over_its_rate_gets_error_rate_limited_then_close_1008_and_others_are_undisturbed) {
  auto opts = test_options();
  opts.client_rate = 5;
  opts.client_rate_burst = 10;
  test_node node(opts);
  ws_client calm(node.port()), flood(node.port());
  calm.register_compat("calm", "e");
  for (int i = 0; i < 40; ++i) flood.send(R"({"op":"ping","id":)" + std::to_string(i) + "}");
  std::string last, ended;
  int pongs = 0;
  try {
    for (;;) {  // until the close: recv() throws, naming the close code
      auto msg = flood.recv();
      if (msg.find("\"pong\"") != std::string::npos) ++pongs;
      last = msg;
    }
  } catch (const std::exception& e) {
    ended = e.what();
  }
  BOOST_TEST(last.find("\"code\":\"rate_limited\"") != std::string::npos, last);
  BOOST_TEST(pongs >= 10);  // the burst
  BOOST_TEST(pongs < 40);
  BOOST_TEST(ended.find("code 1008") != std::string::npos, ended);
  BOOST_TEST(flood.close_reason() == "rate limit");
  BOOST_TEST(http_post(node.port(), "/push", R"({"userId":"calm","event":"e","message":"fine"})").body ==
             "message sent to 1 clients");
  BOOST_TEST(calm.recv() == "fine");
  BOOST_TEST(metric_eventually(node.port(), "herald_connections_closed_total{reason=\"rate_limited\"}", 1) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
