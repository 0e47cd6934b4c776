#pragma once
// One client WebSocket connection: connect (from a chosen loopback source address),
// upgrade, register, then read frames until the connection ends.
//
// Kept light on purpose, since a worker holds thousands: a plain tcp::socket (no
// beast::tcp_stream timers), a small write buffer, and a read buffer that grows only
// to the largest message seen. Pings from the server are answered by Beast while
// read_loop() has a read pending.
//
// Failures are counted in the shard's stats, never thrown: open() returns false,
// read_loop() returns when the connection ends; a deliberate close() is not an error.
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

#include "options.hpp"

namespace herald_bench {

class shard_stats;

// Everything a connection needs that is the same for all connections of a shard.
struct connection_config {
  boost::asio::ip::tcp::endpoint server;
  std::optional<boost::asio::ip::address> source;  // bind before connect when set
  std::string host_header;
  std::string path;
  std::chrono::milliseconds open_timeout{10000};
  const bench_options* options = nullptr;
};

enum class close_style { websocket_close, tcp_fin, tcp_reset };

class ws_connection : public std::enable_shared_from_this<ws_connection> {
 public:
  ws_connection(boost::asio::io_context& ctx, const connection_config& config,
                std::uint64_t index, shard_stats& stats);

  // Connects, upgrades, sends the register frames and waits for the acknowledgement
  // (when the scenario asks for one). False when any step failed or timed out.
  boost::asio::awaitable<bool> open();

  // Reads until the connection ends, handing every frame to the shard's stats.
  boost::asio::awaitable<void> read_loop();

  // Ends the connection on purpose, in one of three ways the server must survive.
  void close(close_style style);

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
