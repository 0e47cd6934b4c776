#pragma once
// Small clients for integration tests. Every blocking call is bounded by a
// timeout and throws std::runtime_error when it passes, so a broken server
// fails a test instead of hanging it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace herald::test {

using namespace std::chrono_literals;

struct http_result {
  int status = 0;
  std::string body;
  bool keep_alive = false;
};

// One request on a fresh connection.
http_result http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         std::string body = {}, std::map<std::string, std::string> headers = {});
http_result http_post(std::uint16_t port, std::string_view target, std::string body);

// Sends `raw` bytes as they are and returns the status code of the answer
// (0 when the server closed without one).
int raw_http_status(std::uint16_t port, std::string_view raw);

// Reads a GET /metrics and returns the value of the first sample whose line
// starts with `series` (e.g. "herald_slow_consumer_closes_total").
double metric(std::uint16_t port, std::string_view series);
// Polls `series` until it reaches `at_least` or `timeout` passes; returns
// the last value read. For counters the server updates after the client
// has already seen the effect (e.g. a close).
double metric_eventually(std::uint16_t port, std::string_view series, double at_least,
                         std::chrono::milliseconds timeout = 5000ms);

struct sse_event {
  std::string id;
  std::string data;
};

// Opens `target` as an SSE stream and reads until `count` data events (not
// comments) arrived or `timeout` passed; returns what it got.
std::vector<sse_event> sse_read(std::uint16_t port, std::string_view target, std::size_t count,
                                std::chrono::milliseconds timeout, std::string extra_headers = {});

class ws_client {
 public:
  explicit ws_client(std::uint16_t port);
  ~ws_client();

  void send(std::string_view text);
  void send_binary(std::string_view data);
  // The next message; throws after `timeout`.
  std::string recv(std::chrono::milliseconds timeout = 5000ms);
  // The next message, or nothing if none arrives within `timeout`.
  std::optional<std::string> try_recv(std::chrono::milliseconds timeout);
  // Reads until the server closes; returns its close code.
  int await_close(std::chrono::milliseconds timeout = 5000ms);
  std::string close_reason() const { return close_reason_; }

  // Registers wserver-style and waits until the server has processed it.
  void register_compat(std::string_view token, std::string_view event);
  void subscribe(std::string_view topic);
  // Sends a native ping and waits for its pong: every frame sent before has
  // then been handled.
  void sync();

  // Stops answering pings: the client simply stops reading.
  boost::beast::websocket::stream<boost::beast::tcp_stream>& stream() { return ws_; }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  // One read stays pending across calls, so a timed-out try_recv never
  // cancels it (a cancelled read fails a Beast websocket stream for good).
  void start_read();
  bool wait_read(std::chrono::steady_clock::time_point deadline);
  bool read_pending_ = false;
  bool read_done_ = false;
  boost::system::error_code read_ec_;
  std::string close_reason_;
  int sync_id_ = 0;
};

}  // namespace herald::test
