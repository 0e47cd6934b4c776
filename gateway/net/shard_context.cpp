#include "net/shard_context.hpp"

#include <algorithm>
#include <cassert>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/delivery.hpp"
#include "config/options.hpp"
#include "net/held_request.hpp"
#include "net/unexpected.hpp"
#include "net/ws_session.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

shard_context::shard_context(executor_t ex, shard::shard_state& st, const config::options& o,
                             const api::token_auth& a, api::delivery& d, std::atomic<std::size_t>& total,
                             address_limit& limit, tls_context* t)
    : state(st), opts(o), auth(a), delivery(d), executor(ex), open_total(total), per_ip(limit),
      origins(o.allowed_origins), tls(t),
      timer_(std::make_unique<asio::steady_timer>(ex)),
      drain_timer_(std::make_unique<asio::steady_timer>(ex)) {}

void shard_context::add(ws_session* s) {
  assert(executor.running_in_this_thread());
  s->table_index = static_cast<std::uint32_t>(sessions_.size());
  sessions_.push_back(s);
  ++state.stats.connections_open;
  open_total.fetch_add(1, std::memory_order_relaxed);
}

void shard_context::remove(ws_session* s) {
  assert(executor.running_in_this_thread());
  auto i = s->table_index;
  assert(i < sessions_.size() && sessions_[i] == s);
  sessions_[i] = sessions_.back();
  sessions_[i]->table_index = i;
  sessions_.pop_back();
  --state.stats.connections_open;
  open_total.fetch_sub(1, std::memory_order_relaxed);
}

bool shard_context::subscribe(hub::subscriber* s, const std::string& topic) {
  if (!state.registry.subscribe(s, topic)) return false;
  if (state.registry.subscribers_of(topic) == 1) delivery.interest(topic, state.index, true);
  return true;
}

bool shard_context::unsubscribe(hub::subscriber* s, const std::string& topic) {
  if (!state.registry.unsubscribe(s, topic)) return false;
  if (state.registry.subscribers_of(topic) == 0) delivery.interest(topic, state.index, false);
  return true;
}

shard_context::bind_outcome shard_context::bind(hub::subscriber* s, const std::string& user, std::string_view event,
                                                std::function<void()> on_reachable) {
  const bool first = state.registry.connections_of(user) == 0;
  const bool new_binding = state.registry.bind(s, user, event);
  if (!first) {
    if (on_reachable) on_reachable();
    return {new_binding, false};
  }
  auto key = api::delivery::user_key(user);
  if (!on_reachable) {
    delivery.interest(std::move(key), state.index, true);
    return {new_binding, false};
  }
  delivery.interest(std::move(key), state.index, executor, std::move(on_reachable));
  return {new_binding, true};
}

void shard_context::unbind_user(hub::subscriber* s, const std::string& user) {
  state.registry.unbind_user(s, user);
  if (state.registry.connections_of(user) == 0) delivery.interest(api::delivery::user_key(user), state.index, false);
}

void shard_context::add_held(held_request* r) {
  r->held_index = static_cast<std::uint32_t>(held_.size());
  held_.push_back(r);
  // release() only marks it and wakes its coroutine, which then answers (or
  // ends its stream) instead of waiting past the drain.
  if (held_released_) r->release();
}

void shard_context::remove_held(held_request* r) {
  auto i = r->held_index;
  assert(i < held_.size() && held_[i] == r);
  held_[i] = held_.back();
  held_[i]->held_index = i;
  held_.pop_back();
}

void shard_context::start() {
  asio::co_spawn(executor, sweep_loop(), log_unexpected{"heartbeat sweep"});
}

void shard_context::shutdown() {
  stopped_ = true;
  timer_.reset();
  drain_timer_.reset();
}

void shard_context::begin_drain() { draining = true; }

void shard_context::close_all(std::chrono::steady_clock::duration spread) {
  assert(executor.running_in_this_thread());
  begin_drain();
  held_released_ = true;
  // release() only wakes the request's coroutine; it unregisters later.
  for (held_request* r : held_) r->release();
  // The table changes while the batches run (sessions end and swap places),
  // so they walk a snapshot: a session that ended meanwhile is skipped, one
  // that joins later is closed by its own handshake.
  std::vector<std::weak_ptr<ws_session>> targets;
  targets.reserve(sessions_.size());
  for (ws_session* s : sessions_) targets.push_back(s->weak_from_this());
  asio::co_spawn(executor, close_loop(std::move(targets), spread), log_unexpected{"drain"});
}

// Batch b (of n, one per period) closes the snapshot up to b/n of it: the
// batches differ by at most one session and the last takes the remainder.
// close() never tears a session down synchronously, and one already closing
// (slow consumer, idle) ignores it.
asio::awaitable<void> shard_context::close_loop(std::vector<std::weak_ptr<ws_session>> targets,
                                                std::chrono::steady_clock::duration spread) {
  constexpr auto period = std::chrono::milliseconds(20);
  const std::size_t batches = std::max<std::size_t>(1, static_cast<std::size_t>(spread / period));
  std::size_t closed = 0;
  for (std::size_t b = 1; b <= batches && !stopped_; ++b) {
    for (const std::size_t until = targets.size() * b / batches; closed < until; ++closed) {
      if (auto s = targets[closed].lock()) s->close(metrics::close_reason::shutdown, true);
      targets[closed].reset();  // an ended session's memory (make_shared) goes now
    }
    if (closed == targets.size()) break;
    drain_timer_->expires_after(period);
    co_await drain_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// A quarter of the shortest heartbeat interval keeps each deadline within
// 25% of its setting; clamped so huge settings still sweep every second and
// tiny test settings do not spin.
std::chrono::steady_clock::duration shard_context::sweep_period() const {
  auto shortest = std::min({opts.ping_interval, opts.idle_timeout, opts.close_timeout});
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(shortest / 4);
  return std::clamp<std::chrono::steady_clock::duration>(period, std::chrono::milliseconds(20),
                                                         std::chrono::seconds(1));
}

asio::awaitable<void> shard_context::sweep_loop() {
  const auto period = sweep_period();
  while (!stopped_) {
    timer_->expires_after(period);
    co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled or expired: check stopped_
    if (stopped_) break;
    auto now = std::chrono::steady_clock::now();
    // heartbeat() may close sockets but never removes from the table
    // synchronously (teardown runs later in the reader), so indices hold.
    for (std::size_t i = 0; i < sessions_.size(); ++i) sessions_[i]->heartbeat(now);
    // Long-pollers whose next poll did not come within the window leave.
    for (auto& [topic, user] : state.poll_presence.expire(now)) {
      delivery.presence(std::move(topic), std::move(user), false);
    }
  }
}

}  // namespace herald::net
