#pragma once
// Base of the clients that keep a plain HTTP request held open by the server: a
// long-poll loop (poll_connection) or an SSE stream (sse_connection).
//
// A worker holds thousands of these, so each keeps only a socket, its position in the
// topic and a tiny parser. Reads wait for readiness first and then land in one scratch
// buffer per thread: a client whose request is waiting owns no read buffer at all.
// Only a response split over several reads is copied (by the subclass's parser).
//
// The position (the last offset seen) is what makes "exactly once" checkable: a
// message at or below it is counted as a duplicate, not as a delivery.
//
// Failures are counted in the shard's stats, never thrown (see client_connection.hpp).
//
// Thread contract: shard-local. Every member function runs on the owning shard's
// io_context thread; the scratch buffer is thread_local for that reason.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client_connection.hpp"
#include "envelope.hpp"

namespace herald_bench {

class held_connection : public client_connection, public std::enable_shared_from_this<held_connection> {
 public:
  held_connection(boost::asio::io_context& ctx, const connection_config& config, shard_stats& stats);

  // Runs open_steps() under the --open-timeout watchdog and counts the outcome.
  boost::asio::awaitable<bool> open() final;
  // HTTP has no close handshake: websocket_close ends like tcp_fin.
  void close(close_style style) final;

 protected:
  // Connects and puts the request in place; empty on success, else what failed.
  virtual boost::asio::awaitable<std::string> open_steps() = 0;

  // The next bytes from the server, valid until this thread reads again; empty with
  // `error` set when the connection ended or failed.
  boost::asio::awaitable<std::string_view> read_some(std::string& error);
  // Writes a whole request; empty on success, else the error.
  boost::asio::awaitable<std::string> write_request(std::string_view target);

  // One message of the topic, received at now_ns.
  void on_message(const envelope& e, std::int64_t now_ns);
  // The connection ended while it should not have (unless we are closing it).
  void fail(std::string_view why);

  boost::asio::ip::tcp::socket socket_;
  const connection_config& config_;
  shard_stats& stats_;
  std::uint64_t last_offset_ = 0;
  bool open_ = false;
  bool closing_ = false;

 private:
  void arm_watchdog(boost::asio::steady_timer& timer);

  bool timed_out_ = false;
};

}  // namespace herald_bench
