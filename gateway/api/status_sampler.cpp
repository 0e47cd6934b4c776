#include "api/status_sampler.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "metrics/status_history.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"

namespace herald::api {

namespace {

// One shard's part of a sample.
struct shard_figures {
  std::uint64_t connections = 0, polls = 0, sse = 0, delivered = 0, dropped_slow = 0, dropped_closed = 0;
};

void fold(metrics::status_sample& s, shard_figures&& f) {
  s.connections.push_back(f.connections);  // map_reduce folds in shard order
  s.held_polls += f.polls;
  s.sse_streams += f.sse;
  s.delivered += f.delivered;
  s.dropped_slow += f.dropped_slow;
  s.dropped_closed += f.dropped_closed;
}

}  // namespace

boost::asio::awaitable<void> sample_status(shard::shard_pool& pool,
                                           std::vector<std::unique_ptr<shard::shard_state>>& states,
                                           metrics::status_history& history) {
  using clock = std::chrono::steady_clock;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  auto* all = &states;
  // Paced by deadline, not by sleep: a slow round does not shift the next.
  for (auto next = clock::now();; next = std::max(next + std::chrono::seconds(1), clock::now())) {
    auto sample = co_await pool.map_reduce(
        [all](std::size_t i) {
          const auto& st = (*all)[i]->stats;
          return shard_figures{st.connections_open, st.polls_waiting, st.sse_streams,
                               st.messages_delivered, st.dropped_slow, st.dropped_closed};
        },
        metrics::status_sample{}, fold);
    sample.unix_ms = metrics::unix_now_ms();
    history.add(std::move(sample));
    timer.expires_at(std::max(next + std::chrono::seconds(1), clock::now()));
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace herald::api
