#pragma once
// An SSE client: GET /sse?topic=T, then reads the event stream until it ends. The
// first event ({"op":"subscribed",...,"offset":K}) gives the starting position; each
// later "id: N / data: <envelope>" event is one delivery, received when its bytes
// arrived; one at or below the position counts as a duplicate. ": ping" comments are
// heartbeats and are only counted.
//
// open() returns once the subscribed event arrived: the server registers the stream
// before it writes that event, so the stream is in place from then on.
// A non-200 answer, an unreadable event or the server ending the stream ends it as an
// unexpected close.
//
// Thread contract: shard-local (see held_connection.hpp).
#include <cstdint>
#include <string>
#include <string_view>

#include "held_connection.hpp"
#include "sse_reader.hpp"

namespace herald_bench {

class sse_connection final : public held_connection {
 public:
  sse_connection(boost::asio::io_context& ctx, const connection_config& config, shard_stats& stats);

  boost::asio::awaitable<void> read_loop() override;

 private:
  boost::asio::awaitable<std::string> open_steps() override;
  // Reads until the response head is in; feeds what follows it to the event reader.
  boost::asio::awaitable<std::string> read_head();
  // Feeds a chunk to the event reader; empty on success, else the first bad event.
  std::string feed(std::string_view bytes, std::int64_t now_ns);
  std::string on_event(std::string_view data, std::int64_t now_ns);

  sse_reader reader_;
  bool subscribed_ = false;
};

}  // namespace herald_bench
