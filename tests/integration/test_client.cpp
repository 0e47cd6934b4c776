#include "test_client.hpp"

#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>

namespace herald::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint endpoint(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

// Runs `ioc` until `done` or the deadline. On timeout cancels the socket,
// lets the cancelled handler run (it references the caller's locals) and
// returns false.
template <class Socket>
bool run_until(asio::io_context& ioc, Socket& socket, const bool& done, std::chrono::milliseconds timeout) {
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) ioc.run_one_until(deadline);
  if (done) return true;
  boost::system::error_code ignored;
  socket.cancel(ignored);
  ioc.restart();
  while (!done) ioc.run_one();
  return false;
}

}  // namespace

http_result http_request(std::uint16_t port, std::string_view method, std::string_view target, std::string body,
                         std::map<std::string, std::string> headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(endpoint(port));
  http::request<http::string_body> req{http::string_to_verb(method), std::string(target), 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  stream.expires_after(std::chrono::seconds(10));
  http::async_write(stream, req, [&](boost::system::error_code e, std::size_t) {
    if (e) {
      ec = e;
      return;
    }
    http::async_read(stream, buffer, res, [&](boost::system::error_code e2, std::size_t) { ec = e2; });
  });
  ioc.run();
  if (ec) throw std::runtime_error("http request failed: " + ec.message());
  return {static_cast<int>(res.result_int()), res.body(), res.keep_alive()};
}

http_result http_post(std::uint16_t port, std::string_view target, std::string body) {
  return http_request(port, "POST", target, std::move(body));
}

int raw_http_status(std::uint16_t port, std::string_view raw) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(endpoint(port));
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(raw.data(), raw.size()), ec);
  std::string got;
  bool done = false;
  std::array<char, 4096> chunk;
  std::function<void(boost::system::error_code, std::size_t)> on_read = [&](boost::system::error_code e,
                                                                            std::size_t n) {
    got.append(chunk.data(), n);
    if (e || got.find("\r\n") != std::string::npos) {
      done = true;
      return;
    }
    socket.async_read_some(asio::buffer(chunk), on_read);
  };
  socket.async_read_some(asio::buffer(chunk), on_read);
  if (!run_until(ioc, socket, done, std::chrono::milliseconds(5000))) return 0;
  if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12) return 0;
  return std::stoi(got.substr(9, 3));
}

std::vector<sse_event> sse_read(std::uint16_t port, std::string_view target, std::size_t count,
                                std::chrono::milliseconds timeout, std::string extra_headers) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(endpoint(port));
  std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n";
  asio::write(socket, asio::buffer(request));
  std::string got;
  std::vector<sse_event> events;
  bool done = false;
  std::array<char, 4096> chunk;
  auto parse = [&] {
    events.clear();
    auto body = got.find("\r\n\r\n");
    if (body == std::string::npos) return;
    std::istringstream in(got.substr(body + 4));
    std::string line;
    sse_event ev;
    while (std::getline(in, line)) {
      if (line.rfind("id: ", 0) == 0) ev.id = line.substr(4);
      if (line.rfind("data: ", 0) == 0) ev.data = line.substr(6);
      if (line.empty() && !ev.data.empty()) {
        events.push_back(ev);
        ev = {};
      }
    }
  };
  std::function<void(boost::system::error_code, std::size_t)> on_read = [&](boost::system::error_code e,
                                                                            std::size_t n) {
    got.append(chunk.data(), n);
    parse();
    if (e || events.size() >= count) {
      done = true;
      return;
    }
    socket.async_read_some(asio::buffer(chunk), on_read);
  };
  socket.async_read_some(asio::buffer(chunk), on_read);
  run_until(ioc, socket, done, timeout);
  return events;
}

double metric(std::uint16_t port, std::string_view series) {
  auto res = http_request(port, "GET", "/metrics");
  std::istringstream in(res.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series, 0) == 0 && line.size() > series.size() &&
        (line[series.size()] == ' ' || line[series.size()] == '{')) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  throw std::runtime_error("metric not found: " + std::string(series));
}

double metric_eventually(std::uint16_t port, std::string_view series, double at_least,
                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  double v = metric(port, series);
  while (v < at_least && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    v = metric(port, series);
  }
  return v;
}

ws_client::ws_client(std::uint16_t port) : ws_(ioc_) {
  beast::get_lowest_layer(ws_).connect(endpoint(port));
  ws_.handshake("127.0.0.1", "/ws");
}

ws_client::~ws_client() {
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

void ws_client::send(std::string_view text) {
  ws_.text(true);
  ws_.write(asio::buffer(text.data(), text.size()));
}

void ws_client::send_binary(std::string_view data) {
  ws_.binary(true);
  ws_.write(asio::buffer(data.data(), data.size()));
  ws_.text(true);
}

void ws_client::start_read() {
  if (read_pending_) return;
  read_pending_ = true;
  read_done_ = false;
  ws_.async_read(buffer_, [this](boost::system::error_code e, std::size_t) {
    read_ec_ = e;
    read_done_ = true;
  });
}

bool ws_client::wait_read(std::chrono::steady_clock::time_point deadline) {
  start_read();
  ioc_.restart();
  while (!read_done_ && std::chrono::steady_clock::now() < deadline) ioc_.run_one_until(deadline);
  if (!read_done_) return false;
  read_pending_ = false;
  return true;
}

std::optional<std::string> ws_client::try_recv(std::chrono::milliseconds timeout) {
  if (!wait_read(std::chrono::steady_clock::now() + timeout)) return std::nullopt;
  if (read_ec_) {
    close_reason_ = std::string(ws_.reason().reason.c_str());
    throw std::runtime_error("websocket read failed: " + read_ec_.message() + " code " +
                             std::to_string(ws_.reason().code));
  }
  std::string msg = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  return msg;
}

std::string ws_client::recv(std::chrono::milliseconds timeout) {
  auto msg = try_recv(timeout);
  if (!msg) throw std::runtime_error("no message within the timeout");
  return *msg;
}

int ws_client::await_close(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!wait_read(deadline)) throw std::runtime_error("server did not close within the timeout");
    if (read_ec_ == websocket::error::closed) {
      close_reason_ = std::string(ws_.reason().reason.c_str());
      return ws_.reason().code;
    }
    if (read_ec_) return 1006;  // closed without a close frame
    buffer_.consume(buffer_.size());
  }
}

void ws_client::register_compat(std::string_view token, std::string_view event) {
  send(R"({"token":")" + std::string(token) + R"(","event":")" + std::string(event) + R"("})");
  sync();
}

void ws_client::subscribe(std::string_view topic) {
  send(R"({"op":"subscribe","topic":")" + std::string(topic) + R"("})");
  auto reply = recv();
  if (reply.find("\"subscribed\"") == std::string::npos) throw std::runtime_error("subscribe failed: " + reply);
}

void ws_client::sync() {
  const std::string id = std::to_string(++sync_id_);
  send(R"({"op":"ping","id":)" + id + "}");
  const std::string expected = R"({"op":"pong","id":)" + id + "}";
  for (;;) {
    auto msg = recv();
    if (msg == expected) return;
  }
}

}  // namespace herald::test
