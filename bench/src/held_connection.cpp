#include "held_connection.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "shard_stats.hpp"

namespace herald_bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::array<char, 65536>& scratch() {
  thread_local std::array<char, 65536> buffer;
  return buffer;
}
}  // namespace

held_connection::held_connection(asio::io_context& ctx, const connection_config& config, shard_stats& stats)
    : socket_(ctx), config_(config), stats_(stats) {}

void held_connection::arm_watchdog(asio::steady_timer& timer) {
  timer.expires_after(config_.open_timeout);
  timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->open_) return;
    self->timed_out_ = true;
    boost::system::error_code ignored;
    self->socket_.close(ignored);  // aborts the pending step
  });
}

asio::awaitable<bool> held_connection::open() {
  asio::steady_timer watchdog(socket_.get_executor());
  arm_watchdog(watchdog);
  const auto failed_step = co_await open_steps();
  watchdog.cancel();
  open_ = failed_step.empty() && !closing_;
  if (open_) {
    stats_.count_open();
  } else if (!closing_) {
    stats_.count_open_failure(timed_out_ ? "open timed out during " + failed_step : failed_step);
  }
  co_return open_;
}

// Edge-triggered readiness (Asio's epoll reactor) only reports new data, so the socket
// is read until it would block before waiting again.
asio::awaitable<std::string_view> held_connection::read_some(std::string& error) {
  auto& buffer = scratch();
  if (!socket_.non_blocking()) socket_.non_blocking(true);
  for (;;) {
    boost::system::error_code ec;
    const auto n = socket_.read_some(asio::buffer(buffer), ec);
    if (!ec) co_return std::string_view{buffer.data(), n};
    if (ec != asio::error::would_block && ec != asio::error::try_again) {
      error = "read: " + ec.message();
      co_return std::string_view{};
    }
    std::tie(ec) = co_await socket_.async_wait(tcp::socket::wait_read, tuple_awaitable);
    if (ec) {
      error = "wait: " + ec.message();
      co_return std::string_view{};
    }
  }
}

asio::awaitable<std::string> held_connection::write_request(std::string_view target) {
  std::string request = "GET ";
  request += target;
  request += " HTTP/1.1\r\nHost: ";
  request += config_.host_header;
  request += "\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(request), tuple_awaitable);
  co_return ec ? "write: " + ec.message() : std::string{};
}

void held_connection::on_message(const envelope& e, std::int64_t now_ns) {
  if (e.offset <= last_offset_) {
    stats_.count_duplicate();
    return;
  }
  last_offset_ = e.offset;
  stats_.on_stamp(e.stamped, now_ns);
}

void held_connection::fail(std::string_view why) {
  if (open_ && !closing_) stats_.count_unexpected_close(why);
  open_ = false;
}

void held_connection::close(close_style style) {
  if (closing_) return;
  closing_ = true;
  boost::system::error_code ignored;
  if (style == close_style::tcp_reset) socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

}  // namespace herald_bench
