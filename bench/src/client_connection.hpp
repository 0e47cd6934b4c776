#pragma once
// What a client shard holds: one client of the server, however it talks to it (a
// WebSocket, a long-poll loop, an SSE stream). make_connection() picks the kind the
// scenario needs; connect_from_source() is the TCP part they share.
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

class client_connection {
 public:
  virtual ~client_connection() = default;

  // Connects and does whatever makes the client "in place" (registered, subscribed,
  // its poll waiting). False when any step failed or timed out.
  virtual boost::asio::awaitable<bool> open() = 0;

  // Reads until the connection ends, handing every message to the shard's stats.
  virtual boost::asio::awaitable<void> read_loop() = 0;

  // Ends the connection on purpose.
  virtual void close(close_style style) = 0;
};

std::shared_ptr<client_connection> make_connection(boost::asio::io_context& ctx, const connection_config& config,
                                                   std::uint64_t index, shard_stats& stats);

// Opens `socket`, binds it to the configured source address and connects to the
// server with Nagle off. Empty on success, else the failed step and its error.
boost::asio::awaitable<std::string> connect_from_source(boost::asio::ip::tcp::socket& socket,
                                                        const connection_config& config);

}  // namespace herald_bench
