// --proxy-protocol: every connection opens with a PROXY v2 header; bad or
// missing ones are dropped and counted, the others work as usual and carry
// the client's address the header names.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include "net/proxy_v2_bytes.hpp"
#include "test_client.hpp"
#include "test_node.hpp"

using namespace herald::test;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

herald::config::options proxy_options() {
  auto o = test_options();
  o.proxy_protocol = true;
  return o;
}

tcp::endpoint loopback(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

// Runs what was started on `ioc` until nothing is left; throws when that
// takes longer than `timeout` (destroying `ioc` later drops what is pending).
void run_bounded(asio::io_context& ioc, std::chrono::milliseconds timeout = 5000ms) {
  ioc.restart();
  ioc.run_for(timeout);
  if (!ioc.stopped()) throw std::runtime_error("timed out");
}

// A raw connection: sends bytes as they are and reports what comes back.
class raw_connection {
 public:
  explicit raw_connection(std::uint16_t port) : socket_(ioc_) { socket_.connect(loopback(port)); }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void shutdown_send() { socket_.shutdown(tcp::socket::shutdown_send); }
  // Reads until the server closes (EOF or reset); returns what it sent.
  // Throws if the connection is still open after `timeout`.
  std::string read_to_close(std::chrono::milliseconds timeout = 5000ms) {
    std::string got;
    std::array<char, 4096> chunk;
    std::function<void(boost::system::error_code, std::size_t)> on_read = [&](boost::system::error_code ec,
                                                                              std::size_t n) {
      got.append(chunk.data(), n);
      if (!ec) socket_.async_read_some(asio::buffer(chunk), on_read);
    };
    socket_.async_read_some(asio::buffer(chunk), on_read);
    run_bounded(ioc_, timeout);
    return got;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
};

// One HTTP request behind `header`, on a fresh connection, header and
// request in a single write: the server must not read past the header.
std::string http_via_proxy(std::uint16_t port, const bytes& header, const std::string& method,
                           const std::string& target, const std::string& body = {}) {
  raw_connection c(port);
  c.send(as_string(header) + method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  return c.read_to_close();
}

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

// A sample of GET /metrics, asked through a LOCAL header as haproxy's
// health checks do (a bare request would itself be rejected).
double proxied_metric(std::uint16_t port, const std::string& series) {
  std::istringstream in(body_of(http_via_proxy(port, proxy_v2_local(), "GET", "/metrics")));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  throw std::runtime_error("metric not found: " + series);
}

double rejected(std::uint16_t port, const std::string& reason) {
  return proxied_metric(port, "herald_proxy_header_rejected_total{reason=\"" + reason + "\"}");
}

// The count once it reaches `want` (or the last read after 5 s): a
// connection's deadline closes its socket first and the rejection is
// counted when its read completes, so the client can see the close first.
double rejected_eventually(std::uint16_t port, const std::string& reason, double want) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  double got = rejected(port, reason);
  while (got < want && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    got = rejected(port, reason);
  }
  return got;
}

std::string proxied_push(std::uint16_t port, const std::string& user, const std::string& message) {
  return body_of(http_via_proxy(port, proxy_v2_local(), "POST", "/push",
                                R"({"userId":")" + user + R"(","event":"e","message":")" + message + R"("})"));
}

// A WebSocket client behind a PROXY header; every wait bounded.
class proxied_ws {
 public:
  proxied_ws(std::uint16_t port, const bytes& header) : ws_(ioc_) {
    beast::get_lowest_layer(ws_).connect(loopback(port));
    asio::write(beast::get_lowest_layer(ws_).socket(), asio::buffer(as_string(header)));
    boost::system::error_code ec;
    ws_.async_handshake("127.0.0.1", "/ws", [&](boost::system::error_code e) { ec = e; });
    run_bounded(ioc_);
    if (ec) throw std::runtime_error("handshake failed: " + ec.message());
  }
  void send(const std::string& text) { ws_.write(asio::buffer(text)); }
  // Registers wserver-style; the pong after it proves it was handled.
  void register_compat(const std::string& token) {
    send(R"({"token":")" + token + R"(","event":"e"})");
    send(R"({"op":"ping","id":1})");
    while (recv() != R"({"op":"pong","id":1})") {
    }
  }
  std::string recv() {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    ws_.async_read(buffer, [&](boost::system::error_code e, std::size_t) { ec = e; });
    run_bounded(ioc_);
    if (ec) throw std::runtime_error("read failed: " + ec.message());
    return beast::buffers_to_string(buffer.data());
  }
  void close() {
    ws_.async_close(websocket::close_code::normal, [](boost::system::error_code) {});
    run_bounded(ioc_);
  }

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
};

// Sends what is written to stderr (where the node logs) to a file while it
// lives, so a test can read the log lines.
class stderr_capture {
 public:
  stderr_capture() : file_(std::tmpfile()) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  ~stderr_capture() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    std::fclose(file_);
  }
  std::string text() const {
    std::string out;
    std::rewind(file_);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
    return out;
  }
  // Waits (bounded) for `needle` to show up in the log.
  bool eventually_contains(const std::string& needle) const {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (text().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

 private:
  std::FILE* file_;
  int saved_ = -1;
};

// Registers behind `header`, receives a push, closes, and returns the log.
std::string register_push_and_close(const bytes& header, const std::string& user) {
  stderr_capture log;
  auto o = proxy_options();
  o.log_level = "debug";
  test_node node(o);
  proxied_ws ws(node.port(), header);
  ws.register_compat(user);
  BOOST_TEST(proxied_push(node.port(), user, "hello") == "message sent to 1 clients");
  BOOST_TEST(ws.recv() == "hello");
  ws.close();
  BOOST_TEST(log.eventually_contains("msg=\"websocket closed\""));
  return log.text();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy_protocol)

BOOST_AUTO_TEST_CASE(a_websocket_behind_a_tcp4_header_works_and_is_logged_with_the_client_address) {
  auto log = register_push_and_close(proxy_v2_tcp4({203, 0, 113, 7}, 4242, {10, 0, 0, 1}, 8080), "v4user");
  BOOST_TEST(log.find("peer=203.0.113.7:4242") != std::string::npos);
  BOOST_TEST(log.find("peer=127.0.0.1:") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_websocket_behind_a_tcp6_header_with_tlvs_works_and_is_logged_with_the_client_address) {
  std::array<std::uint8_t, 16> src{0x20, 0x01, 0x0d, 0xb8};
  src[15] = 0x07;
  std::array<std::uint8_t, 16> dst{};
  dst[15] = 0x01;
  auto header = proxy_v2_tcp6(src, 50000, dst, 443, tlv(0x05, "request-42"));
  auto log = register_push_and_close(header, "v6user");
  BOOST_TEST(log.find("peer=[2001:db8::7]:50000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_local_header_then_get_readyz_is_answered) {
  test_node node(proxy_options());
  auto response = http_via_proxy(node.port(), proxy_v2_local(), "GET", "/readyz");
  BOOST_TEST(status_of(response) == 200);
  BOOST_TEST(body_of(response) == "ready");
}

BOOST_AUTO_TEST_CASE(plain_http_without_a_header_is_closed_unanswered_and_counted) {
  test_node node(proxy_options());
  raw_connection c(node.port());
  c.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(c.read_to_close() == "");
  BOOST_TEST(rejected(node.port(), "bad_signature") == 1);
  BOOST_TEST(rejected(node.port(), "malformed") == 0);
}

BOOST_AUTO_TEST_CASE(a_header_cut_off_by_the_client_is_closed_and_counted_as_truncated) {
  test_node node(proxy_options());
  auto header = proxy_v2_tcp4({192, 0, 2, 1}, 1, {192, 0, 2, 2}, 2);
  raw_connection c(node.port());
  c.send(as_string(header).substr(0, 20));
  c.shutdown_send();
  BOOST_TEST(c.read_to_close() == "");
  BOOST_TEST(rejected(node.port(), "truncated") == 1);
}

BOOST_AUTO_TEST_CASE(malformed_headers_are_closed_and_counted) {
  test_node node(proxy_options());
  const bytes cases[] = {
      proxy_v2(0x11, 0x11, bytes(12, 0)),        // version 1 in a v2 header
      proxy_v2(0x23, 0x11, bytes(12, 0)),        // unknown command
      proxy_v2(0x21, 0x11, bytes(4, 0)),         // too short for TCP4's addresses
      proxy_v2(0x21, 0x11, {}, 0xFFFF),          // over the size bound
  };
  for (const auto& header : cases) {
    raw_connection c(node.port());
    c.send(as_string(header) + "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(c.read_to_close() == "");
  }
  BOOST_TEST(rejected(node.port(), "malformed") == 4);
}

BOOST_AUTO_TEST_CASE(silent_connections_are_closed_after_the_header_timeout_while_others_are_served) {
  auto o = proxy_options();
  o.proxy_header_timeout = herald::config::seconds_d(0.5);
  test_node node(o);
  raw_connection silent(node.port());
  raw_connection half(node.port());
  half.send(as_string(proxy_v2_local()).substr(0, 10));
  // While those two wait out their deadline, other connections work.
  proxied_ws ws(node.port(), proxy_v2_tcp4({198, 51, 100, 1}, 1000, {10, 0, 0, 1}, 80));
  ws.register_compat("busy");
  BOOST_TEST(proxied_push(node.port(), "busy", "served") == "message sent to 1 clients");
  BOOST_TEST(ws.recv() == "served");
  BOOST_TEST(silent.read_to_close() == "");
  BOOST_TEST(half.read_to_close() == "");
  BOOST_TEST(rejected_eventually(node.port(), "timeout", 2) == 2);
  BOOST_TEST(rejected(node.port(), "bad_signature") == 0);
}

BOOST_AUTO_TEST_CASE(without_the_flag_a_proxy_header_is_not_parsed_but_taken_as_bad_http) {
  test_node node;  // --proxy-protocol off: never auto-detected
  auto header = as_string(proxy_v2_tcp4({192, 0, 2, 1}, 1, {192, 0, 2, 2}, 2));
  BOOST_TEST(raw_http_status(node.port(), header + "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  BOOST_TEST(metric(node.port(), "herald_proxy_header_rejected_total{reason=\"bad_signature\"}") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
