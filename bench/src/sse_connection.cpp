#include "sse_connection.hpp"

#include "http_response_reader.hpp"
#include "payload.hpp"
#include "shard_stats.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;

sse_connection::sse_connection(asio::io_context& ctx, const connection_config& config, shard_stats& stats)
    : held_connection(ctx, config, stats) {}

// g++ 12 destroys temporaries inside a co_await expression twice: the target is named.
asio::awaitable<std::string> sse_connection::open_steps() {
  auto error = co_await connect_from_source(socket_, config_);
  if (!error.empty()) co_return error;
  const auto target = sse_target(*config_.options);
  auto write_error = co_await write_request(target);
  if (!write_error.empty()) co_return write_error;
  auto head_error = co_await read_head();
  if (!head_error.empty()) co_return head_error;
  while (!subscribed_) {
    std::string read_error;
    const auto bytes = co_await read_some(read_error);
    if (!read_error.empty()) co_return "subscribed event: " + read_error;
    auto bad = feed(bytes, monotonic_ns());
    if (!bad.empty()) co_return bad;
  }
  co_return std::string{};
}

asio::awaitable<std::string> sse_connection::read_head() {
  std::string head;  // only while opening: a stream that runs keeps no copy of it
  for (;;) {
    std::string error;
    const auto bytes = co_await read_some(error);
    if (!error.empty()) co_return "response head: " + error;
    head.append(bytes);
    const char* bad = nullptr;
    const auto parsed = parse_response_head(head, bad);
    if (bad) co_return std::string{"response head: "} + bad;
    if (!parsed) continue;
    if (parsed->status != 200)
      co_return "sse HTTP " + std::to_string(parsed->status) + ": " + head.substr(parsed->size, 200);
    co_return feed(std::string_view{head}.substr(parsed->size), monotonic_ns());
  }
}

asio::awaitable<void> sse_connection::read_loop() {
  while (open_) {
    std::string error;
    const auto bytes = co_await read_some(error);
    if (error.empty()) error = feed(bytes, monotonic_ns());
    if (!error.empty()) fail(error);
  }
}

std::string sse_connection::feed(std::string_view bytes, std::int64_t now_ns) {
  std::string first_bad;
  reader_.feed(bytes, [&](const std::optional<std::uint64_t>&, std::string_view data) {
    auto bad = on_event(data, now_ns);
    if (first_bad.empty()) first_bad = std::move(bad);
  });
  return first_bad;
}

std::string sse_connection::on_event(std::string_view data, std::int64_t now_ns) {
  std::string error;
  const auto e = parse_envelope(data, error);
  if (!e) return "sse event: " + error + " in '" + std::string{data.substr(0, 120)} + "'";
  if (e->op == "subscribed" && !subscribed_) {
    last_offset_ = e->offset;
    subscribed_ = true;
  } else if (e->op == "message") {
    on_message(*e, now_ns);
  }
  return {};
}

}  // namespace herald_bench
