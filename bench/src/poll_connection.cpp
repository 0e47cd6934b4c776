#include "poll_connection.hpp"

#include "payload.hpp"
#include "shard_stats.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;

poll_connection::poll_connection(asio::io_context& ctx, const connection_config& config, shard_stats& stats)
    : held_connection(ctx, config, stats) {}

// g++ 12 destroys temporaries inside a co_await expression twice: targets are named.
asio::awaitable<std::string> poll_connection::open_steps() {
  auto error = co_await connect_from_source(socket_, config_);
  if (!error.empty()) co_return error;
  const auto first = poll_target(*config_.options, std::nullopt);
  auto first_error = co_await write_request(first);
  if (!first_error.empty()) co_return first_error;
  auto answer_error = co_await next_answer(true);
  if (!answer_error.empty()) co_return "first poll: " + answer_error;
  const auto waiting = poll_target(*config_.options, last_offset_);
  auto waiting_error = co_await write_request(waiting);
  co_return waiting_error;
}

asio::awaitable<void> poll_connection::read_loop() {
  while (open_) {
    auto error = co_await next_answer(false);
    if (error.empty()) {
      const auto next = poll_target(*config_.options, last_offset_);
      auto write_error = co_await write_request(next);
      error = std::move(write_error);
    }
    if (!error.empty()) fail(error);
  }
}

asio::awaitable<std::string> poll_connection::next_answer(bool first) {
  for (;;) {
    std::string error;
    const auto bytes = co_await read_some(error);
    if (!error.empty()) co_return error;
    const auto now = monotonic_ns();
    const auto state = reader_.feed(bytes);
    if (state == http_response_reader::state::bad) co_return std::string{"answer: "} + reader_.error();
    if (state == http_response_reader::state::incomplete) continue;
    auto applied = apply(reader_.body(), now, first);
    reader_.reset();
    co_return applied;
  }
}

// The first answer only gives the starting position: messages in it predate this
// client and are not deliveries.
std::string poll_connection::apply(std::string_view body, std::int64_t now_ns, bool first) {
  if (reader_.status() != 200)
    return "poll HTTP " + std::to_string(reader_.status()) + ": " + std::string{body.substr(0, 200)};
  std::string error;
  auto answer = parse_poll_answer(body, error);
  if (!answer) return "poll answer: " + error;
  // The first answer is history from offset 0: losses there are no client's.
  if (!first && !answer->recovered) stats_.count_unrecovered();
  if (!first)
    for (const auto& m : answer->messages) on_message(m, now_ns);
  last_offset_ = std::max(last_offset_, answer->offset);
  return {};
}

}  // namespace herald_bench
