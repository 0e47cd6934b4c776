#pragma once
// A long-poll client on one keep-alive HTTP/1.1 connection: GET /poll?topic=T first
// without `since` (answered at once with the topic's offset: the starting position),
// then always with since=<offset of the last answer>, re-polling as soon as an answer
// arrives. Every message in an answer counts as one delivery, received when the
// answer's bytes arrived; one already seen counts as a duplicate.
//
// open() returns once the first waiting poll is written: whether the server holds it
// yet is for the coordinator to see (herald_held_requests{kind="poll"}).
// A non-200 answer, a body that is not a poll answer or the server closing the
// connection ends it as an unexpected close.
//
// Thread contract: shard-local (see held_connection.hpp).
#include <cstdint>
#include <optional>
#include <string>

#include "held_connection.hpp"
#include "http_response_reader.hpp"

namespace herald_bench {

class poll_connection final : public held_connection {
 public:
  poll_connection(boost::asio::io_context& ctx, const connection_config& config, shard_stats& stats);

  boost::asio::awaitable<void> read_loop() override;

 private:
  boost::asio::awaitable<std::string> open_steps() override;
  // Reads one whole answer and applies it; empty on success, else what went wrong.
  boost::asio::awaitable<std::string> next_answer(bool first);
  std::string apply(std::string_view body, std::int64_t now_ns, bool first);

  http_response_reader reader_;
};

}  // namespace herald_bench
