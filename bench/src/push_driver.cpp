#include "push_driver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <limits>

#include "payload.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;

push_driver::push_driver(asio::any_io_executor executor, const bench_options& options)
    : executor_(std::move(executor)),
      options_(options),
      period_ns_(1e9 / std::max(options.effective_rate(), 1e-9)) {
  for (int i = 0; i < options.push_connections; ++i)
    clients_.push_back(std::make_unique<http_client>(executor_, options.push_url));
}

void push_driver::close() {
  for (auto& c : clients_) c->close();
}

void push_driver::stop() {
  stopped_ = true;
  next_ = std::numeric_limits<std::uint64_t>::max();
  close();
}

asio::awaitable<push_outcome> push_driver::run(push_window window) {
  push_outcome out;
  stopped_ = false;
  next_ = 0;
  replies_ = 0;
  running_ = clients_.size();
  all_done_ = std::make_unique<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
  for (auto& c : clients_) asio::co_spawn(executor_, lane(*c, window, out), asio::detached);
  // The lanes cancel this timer when the last of them finishes.
  co_await all_done_->async_wait(asio::as_tuple(asio::use_awaitable));
  out.end_ns = monotonic_ns();
  co_return out;
}

asio::awaitable<void> push_driver::lane(http_client& client, const push_window& window,
                                        push_outcome& out) {
  asio::steady_timer timer(executor_);
  const auto& target = options_.push_url.target;
  const bool per_user = has_user_placeholder(target);  // e.g. Nchan's /pub/{user}
  while (next_ < window.count) {
    const std::uint64_t seq = next_++;
    const auto intended = window.start_ns + static_cast<std::int64_t>(static_cast<double>(seq) * period_ns_);
    if (monotonic_ns() < intended) {
      // steady_clock is CLOCK_MONOTONIC on Linux, the clock the stamps use.
      timer.expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(intended)));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopped_) break;
    }
    const auto payload = push_payload(options_, seq, intended, window.warmup);
    const auto sent_at = monotonic_ns();
    out.send_lag.record(sent_at - intended);
    ++out.sent;
    auto body = push_body(options_, seq, payload);
    // A named local, not a temporary inside the co_await (g++ 12, see coordinator.cpp).
    const std::string this_target = per_user ? push_target(options_, target, seq) : std::string{};
    const std::string_view where = per_user ? std::string_view{this_target} : std::string_view{target};
    const auto reply = co_await client.post(where, std::move(body));
    out.reply_time.record(monotonic_ns() - sent_at);
    record(reply, seq, out);
  }
  if (--running_ == 0) all_done_->cancel();
}

void push_driver::record(const http_reply& reply, std::uint64_t seq, push_outcome& out) {
  ++replies_;
  if (reply.ok && reply.status >= 200 && reply.status < 300) {
    ++out.ok;
    const auto n = parse_recipients(reply.body);
    out.server_recipients += n.value_or(0);
    if (reply.body.find("\"partial\":true") != std::string::npos) ++out.partial_replies;
    const auto expected = expected_recipients(options_, seq);
    if (n && *n != expected) {
      ++out.count_mismatches;
      if (*n < expected) ++out.count_short;
      if (out.first_mismatch.empty())
        out.first_mismatch = "push " + std::to_string(seq) + ": " + std::to_string(*n) + " of " + std::to_string(expected);
    }
    return;
  }
  ++out.failed;
  if (out.first_error.empty())
    out.first_error = reply.ok ? "push HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 200)
                               : "push " + reply.error;
}

}  // namespace herald_bench
