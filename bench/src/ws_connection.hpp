#pragma once
// One client WebSocket connection: connect (from a chosen loopback source address),
// upgrade, register, then read frames until the connection ends.
//
// Kept light on purpose, since a worker holds thousands: a plain tcp::socket (no
// beast::tcp_stream timers), a small write buffer, and a read buffer that grows only
// to the largest message seen. Pings from the server are answered by Beast while
// read_loop() has a read pending.
//
// Failures are counted in the shard's stats, never thrown (see client_connection.hpp).
//
// Thread contract: shard-local. Every member function runs on the owning shard's
// io_context thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "client_connection.hpp"

namespace herald_bench {

class shard_stats;

class ws_connection final : public client_connection, public std::enable_shared_from_this<ws_connection> {
 public:
  ws_connection(boost::asio::io_context& ctx, const connection_config& config,
                std::uint64_t index, shard_stats& stats);

  // Connects, upgrades, sends the register frames and waits for the acknowledgement
  // (when the scenario asks for one). False when any step failed or timed out.
  boost::asio::awaitable<bool> open() override;

  // Reads until the connection ends, handing every frame to the shard's stats.
  boost::asio::awaitable<void> read_loop() override;

  // Ends the connection on purpose, in one of three ways the server must survive.
  void close(close_style style) override;

  std::uint64_t index() const { return index_; }
  bool is_open() const { return open_ && !closing_; }

 private:
  boost::asio::awaitable<bool> open_steps(std::string& failed_step);
  boost::asio::awaitable<bool> await_ack(std::string& failed_step);
  void arm_watchdog(boost::asio::steady_timer& timer);

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  const connection_config& config_;
  shard_stats& stats_;
  std::uint64_t index_;
  bool open_ = false;
  bool closing_ = false;
  bool timed_out_ = false;
};

}  // namespace herald_bench
