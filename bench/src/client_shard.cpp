#include "client_shard.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "payload.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;

namespace {

// Holds the connection for as long as it reads: a slot may be reassigned by churn
// while the old connection is still winding down.
asio::awaitable<void> keep_reading(std::shared_ptr<client_connection> conn) {
  co_await conn->read_loop();
}

}  // namespace

client_shard::client_shard(const std::vector<connection_config>& configs, std::vector<std::uint64_t> indices,
                           int ramp_lanes, std::size_t tracked_messages,
                           std::function<void(std::int64_t)> on_ramped)
    : work_(ctx_.get_executor()),
      configs_(configs),
      indices_(std::move(indices)),
      slots_(indices_.size()),
      ramp_lanes_(std::max(1, ramp_lanes)),
      stats_(tracked_messages),
      on_ramped_(std::move(on_ramped)) {}

client_shard::~client_shard() { stop_and_join(); }

const connection_config& client_shard::config_for(std::uint64_t index) const {
  return configs_[target_of_connection(index, configs_.size())];
}

void client_shard::start() {
  thread_ = std::thread([this] { ctx_.run(); });
}

void client_shard::stop_and_join() {
  ctx_.stop();
  if (thread_.joinable()) thread_.join();
}

// Unexpected exceptions are counted once here instead of being silently dropped.
void client_shard::spawn(asio::awaitable<void> task) {
  asio::co_spawn(ctx_, std::move(task), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      stats_.count_internal_error(ex.what());
    }
  });
}

void client_shard::begin_ramp() {
  asio::post(ctx_, [this] {
    if (indices_.empty()) return note_settled();
    for (int i = 0; i < ramp_lanes_; ++i) spawn(ramp_lane());
  });
}

void client_shard::note_settled() {
  if (++settled_ >= indices_.size() && on_ramped_) {
    on_ramped_(monotonic_ns());
    on_ramped_ = nullptr;
  }
}

// Each lane opens one connection at a time, so at most ramp_lanes_ opens are in
// flight: bursts beyond the server's accept backlog would cost SYN retransmits (1 s).
asio::awaitable<void> client_shard::ramp_lane() {
  while (next_to_open_ < indices_.size()) {
    const std::size_t slot = next_to_open_++;
    auto conn = make_connection(ctx_, config_for(indices_[slot]), indices_[slot], stats_);
    slots_[slot] = conn;
    const bool opened = co_await conn->open();
    if (opened) spawn(keep_reading(conn));
    note_settled();
  }
}

void client_shard::begin_churn(double per_second) {
  asio::post(ctx_, [this, per_second] {
    if (per_second <= 0 || slots_.empty()) return;
    churning_ = true;
    spawn(churn_loop(per_second));
  });
}

void client_shard::end_churn() {
  asio::post(ctx_, [this] {
    churning_ = false;
    ++churn_generation_;
  });
}

// Replaces connections round-robin on a fixed schedule; the three close styles rotate
// so the server sees clean closes, plain FINs and resets.
asio::awaitable<void> client_shard::churn_loop(double per_second) {
  const auto generation = churn_generation_;
  const auto period = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / per_second));
  asio::steady_timer timer(ctx_);
  auto next = std::chrono::steady_clock::now();
  for (std::uint64_t n = 0; churning_ && generation == churn_generation_; ++n) {
    next += period;
    timer.expires_at(next);
    co_await timer.async_wait(asio::use_awaitable);
    if (!churning_ || generation != churn_generation_) break;
    const std::size_t slot = n % slots_.size();
    if (slots_[slot]) {
      slots_[slot]->close(static_cast<close_style>(n % 3));
      stats_.count_churn_close();
    }
    spawn(reopen(slot));
  }
}

asio::awaitable<void> client_shard::reopen(std::size_t slot) {
  auto conn = make_connection(ctx_, config_for(indices_[slot]), indices_[slot], stats_);
  slots_[slot] = conn;
  stats_.count_churn_open();
  const bool opened = co_await conn->open();
  if (opened) co_await conn->read_loop();
}

}  // namespace herald_bench
