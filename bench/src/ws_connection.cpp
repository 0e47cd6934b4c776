#include "ws_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include "payload.hpp"
#include "shard_stats.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_message_bytes = 1 << 20;
}  // namespace

ws_connection::ws_connection(asio::io_context& ctx, const connection_config& config,
                             std::uint64_t index, shard_stats& stats)
    : ws_(ctx), buffer_(max_message_bytes), config_(config), stats_(stats), index_(index) {
  // Beast's default 4 KiB write buffer is far more than register frames need.
  ws_.write_buffer_bytes(256);
  ws_.auto_fragment(false);
  ws_.read_message_max(max_message_bytes);
  // Bounds the upgrade and, above all, a close handshake the server never answers;
  // no idle timeout and no pings of our own: the server owns heartbeats.
  ws_.set_option(websocket::stream_base::timeout{config.open_timeout, websocket::stream_base::none(), false});
}

void ws_connection::arm_watchdog(asio::steady_timer& timer) {
  timer.expires_after(config_.open_timeout);
  timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->open_) return;
    self->timed_out_ = true;
    boost::system::error_code ignored;
    beast::get_lowest_layer(self->ws_).close(ignored);  // aborts the pending step
  });
}

asio::awaitable<bool> ws_connection::open() {
  asio::steady_timer watchdog(ws_.get_executor());
  arm_watchdog(watchdog);
  std::string failed_step;
  const bool ok = co_await open_steps(failed_step);
  watchdog.cancel();
  open_ = ok && !closing_;
  if (open_) {
    stats_.count_open();
  } else if (!closing_) {
    stats_.count_open_failure(timed_out_ ? "open timed out during " + failed_step : failed_step);
  }
  co_return open_;
}

asio::awaitable<bool> ws_connection::open_steps(std::string& failed_step) {
  auto connect_error = co_await connect_from_source(beast::get_lowest_layer(ws_), config_);
  if (!connect_error.empty()) { failed_step = std::move(connect_error); co_return false; }
  boost::system::error_code ec;
  const auto path = connection_path(*config_.options, config_.path, index_);
  std::tie(ec) = co_await ws_.async_handshake(config_.host_header, path, tuple_awaitable);
  if (ec) { failed_step = "upgrade: " + ec.message(); co_return false; }
  ws_.text(true);
  for (const auto& frame : register_frames(*config_.options, index_)) {
    std::tie(ec, std::ignore) = co_await ws_.async_write(asio::buffer(frame), tuple_awaitable);
    if (ec) { failed_step = "register: " + ec.message(); co_return false; }
  }
  co_return co_await await_ack(failed_step);
}

// The server answers frames in order, so its reply to our ping/subscribe means the
// register frame before it has been processed.
asio::awaitable<bool> ws_connection::await_ack(std::string& failed_step) {
  const auto marker = register_ack_marker(*config_.options);
  if (marker.empty()) co_return true;
  for (;;) {
    auto [ec, n] = co_await ws_.async_read(buffer_, tuple_awaitable);
    if (ec) { failed_step = "register ack: " + ec.message(); co_return false; }
    const std::string_view frame{static_cast<const char*>(buffer_.data().data()), n};
    const bool is_ack = frame.find(marker) != std::string_view::npos;
    if (!is_ack) stats_.on_frame(frame, monotonic_ns());
    buffer_.consume(n);
    if (is_ack) co_return true;
  }
}

asio::awaitable<void> ws_connection::read_loop() {
  while (open_) {
    auto [ec, n] = co_await ws_.async_read(buffer_, tuple_awaitable);
    if (ec) {
      if (!closing_) stats_.count_unexpected_close("read: " + ec.message());
      break;
    }
    const auto now = monotonic_ns();
    stats_.on_frame({static_cast<const char*>(buffer_.data().data()), n}, now);
    buffer_.consume(n);
  }
  open_ = false;
}

void ws_connection::close(close_style style) {
  if (closing_) return;
  closing_ = true;
  auto& sock = beast::get_lowest_layer(ws_);
  boost::system::error_code ignored;
  if (style == close_style::websocket_close && open_) {
    // The pending read completes once the server answers the close frame.
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](auto) {});
    return;
  }
  if (style == close_style::tcp_reset) sock.set_option(asio::socket_base::linger(true, 0), ignored);
  sock.close(ignored);
}

}  // namespace herald_bench
