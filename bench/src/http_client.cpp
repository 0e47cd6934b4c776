#include "http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace herald_bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct http_client::impl {
  impl(asio::any_io_executor ex, url s) : stream(ex), server(std::move(s)) {}

  asio::awaitable<http_reply> exchange(http::verb verb, std::string_view target, std::string body);
  asio::awaitable<std::string> ensure_connected();

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  url server;
  bool connected = false;
};

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr auto request_timeout = std::chrono::seconds(30);
}  // namespace

http_client::http_client(asio::any_io_executor executor, url server)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(server))) {}

http_client::~http_client() = default;

asio::awaitable<http_reply> http_client::post(std::string_view target, std::string body) {
  return impl_->exchange(http::verb::post, target, std::move(body));
}

asio::awaitable<http_reply> http_client::get(std::string_view target) {
  return impl_->exchange(http::verb::get, target, {});
}

void http_client::close() {
  boost::system::error_code ignored;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->stream.close();
  impl_->connected = false;
}

asio::awaitable<std::string> http_client::impl::ensure_connected() {
  if (connected) co_return std::string{};
  buffer.clear();
  stream.expires_after(request_timeout);
  const tcp::endpoint ep{asio::ip::make_address(server.host), server.port};
  auto [ec] = co_await stream.async_connect(ep, tuple_awaitable);
  if (ec) co_return "connect: " + ec.message();
  // Pushes are small and latency-critical: never let Nagle hold one back.
  stream.socket().set_option(tcp::no_delay(true), ec);
  connected = true;
  co_return std::string{};
}

asio::awaitable<http_reply> http_client::impl::exchange(http::verb verb, std::string_view target,
                                                        std::string body) {
  http_reply reply;
  reply.error = co_await ensure_connected();
  if (!reply.error.empty()) co_return reply;
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, server.authority());
  if (verb == http::verb::post) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  stream.expires_after(request_timeout);
  auto [wec, wn] = co_await http::async_write(stream, req, tuple_awaitable);
  http::response<http::string_body> res;
  boost::system::error_code rec = wec;
  if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(stream, buffer, res, tuple_awaitable);
  if (rec) {
    reply.error = (wec ? "write: " : "read: ") + rec.message();
    stream.close();
    connected = false;
    co_return reply;
  }
  reply.ok = true;
  reply.status = res.result_int();
  reply.body = std::move(res.body());
  if (!res.keep_alive()) {
    stream.close();
    connected = false;
  }
  co_return reply;
}

}  // namespace herald_bench
