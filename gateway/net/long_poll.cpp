#include "net/long_poll.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/delivery.hpp"
#include "api/token_auth.hpp"
#include "config/options.hpp"
#include "hub/catch_up.hpp"
#include "net/hangup.hpp"
#include "net/held_registration.hpp"
#include "net/held_request.hpp"
#include "net/shard_context.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

namespace {

namespace http = api::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Collects the frames that arrive while a poll waits and wakes it.
class poll_waiter final : public hub::subscriber, public held_request, public waker {
 public:
  explicit poll_waiter(executor_t ex) : waker(ex) {}
  hub::send_status deliver(const hub::local_frame& f) override {
    if (frames.size() >= max_frames) return hub::send_status::dropped_slow;
    frames.push_back(f);
    wake.cancel();
    return hub::send_status::queued;
  }
  void release() override {
    released = true;
    wake.cancel();
  }

  static constexpr std::size_t max_frames = 1000;
  std::vector<hub::local_frame> frames;
  bool released = false;
};

struct poll_params {
  std::optional<std::uint64_t> since;
  std::string epoch;
  std::chrono::steady_clock::duration timeout;
};

asio::awaitable<void> wait(const std::shared_ptr<poll_waiter>& w, const poll_params& p, socket_t& socket) {
  if (!w->frames.empty() || w->released) co_return;
  w->wake.expires_after(p.timeout);
  watch_hangup(socket, w);
  co_await w->wake.async_wait(use_tuple);
  boost::system::error_code ignored;
  socket.cancel(ignored);  // ends the hang-up watch
}

std::uint64_t last_offset(const std::vector<hub::local_frame>& frames, std::uint64_t start) {
  for (const auto& f : frames) start = std::max(start, f->offset);
  return start;
}

// `present_as`: the poller's user, kept in the topic's presence while its
// polls keep coming (a lease, see held_registration).
asio::awaitable<api::response> poll_topic(const api::request& req, shard_context& ctx, socket_t& socket,
                                          std::string topic, const poll_params& p,
                                          std::optional<std::string> present_as) {
  auto waiter = std::make_shared<poll_waiter>(ctx.executor);
  auto& w = *waiter;
  held_registration reg(ctx, w, w, ctx.state.stats.polls_waiting, {topic, {}, {}, std::move(present_as), true});
  auto slice = co_await ctx.delivery.history(topic, p.since, ctx.opts.history_size, p.epoch);
  if (p.since && *p.since > slice.offset && slice.recovered) {
    co_return api::json_error(http::status::bad_request, "bad_since", "since is ahead of the topic's offset",
                              req.version());
  }
  hub::catch_up merged(topic, p.since);
  for (const auto& f : w.frames) merged.buffer(f);
  w.frames.clear();
  auto frames = merged.merge(slice);
  const bool recovered = merged.recovered(slice, frames);
  // Without `since` too: the poll waits for the next message ("from now on").
  if (frames.empty()) {
    auto floor = merged.position(slice, frames);
    co_await wait(waiter, p, socket);
    for (auto& f : w.frames) {
      if (hub::catch_up::admit(floor, *f)) frames.push_back(std::move(f));
    }
  }
  std::vector<std::string_view> texts;
  for (const auto& f : frames) texts.push_back(f->text);
  ctx.state.stats.messages_delivered += frames.size();
  co_return api::json_response(
      http::status::ok, proto::encode_history(topic, slice.epoch, last_offset(frames, slice.offset), recovered, texts),
      req.version());
}

asio::awaitable<api::response> poll_user(const api::request& req, shard_context& ctx, socket_t& socket,
                                         std::string user, std::string event, const poll_params& p) {
  auto waiter = std::make_shared<poll_waiter>(ctx.executor);
  auto& w = *waiter;
  held_registration reg(ctx, w, w, ctx.state.stats.polls_waiting, {{}, user, event, std::nullopt});
  auto slice = co_await ctx.delivery.history(api::delivery::user_key(user), p.since, ctx.opts.history_size, p.epoch);
  // The user's log holds every push; this poll wants one event's.
  auto wanted = [&](const hub::local_frame& f) { return f->event == event; };
  hub::catch_up merged(user, p.since);
  for (const auto& f : w.frames) merged.buffer(f);
  w.frames.clear();
  auto all = merged.merge(slice);
  auto floor = merged.position(slice, all);
  // A position from another epoch, or ahead of ours (the node restarted),
  // answers at once: holding it would skip whatever is pushed meanwhile.
  const bool stale = !merged.recovered(slice, all) || (p.since && *p.since > slice.offset);
  std::vector<hub::local_frame> frames;
  for (auto& f : all) {
    if (wanted(f)) frames.push_back(std::move(f));
  }
  if (frames.empty() && !stale) {
    co_await wait(waiter, p, socket);
    for (auto& f : w.frames) {
      if (wanted(f) && hub::catch_up::admit(floor, *f)) frames.push_back(std::move(f));
    }
  }
  std::vector<std::string> entries;
  for (const auto& f : frames) entries.push_back(proto::encode_user_entry(f->offset, f->ts_ms, f->event, f->text, f->data));
  ctx.state.stats.messages_delivered += frames.size();
  co_return api::json_response(
      http::status::ok,
      proto::encode_user_poll(user, slice.epoch, last_offset(frames, slice.offset), !stale, entries),
      req.version());
}

}  // namespace

asio::awaitable<api::response> long_poll(const api::request& req, shard_context& ctx, socket_t& socket) {
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  bool since_ok = true, timeout_ok = true;
  poll_params p;
  p.since = q.number("since", since_ok);
  p.epoch = q.get("epoch").value_or("");
  auto timeout = q.number("timeout", timeout_ok);
  const double max_timeout = ctx.opts.poll_max_timeout.count();
  if (!since_ok) co_return api::json_error(http::status::bad_request, "bad_since", "since must be an offset", req.version());
  if (!timeout_ok || (timeout && (*timeout < 1 || static_cast<double>(*timeout) > max_timeout))) {
    co_return api::json_error(http::status::bad_request, "bad_timeout",
                              "timeout must be 1-" + std::to_string(static_cast<int>(max_timeout)) + " seconds",
                              req.version());
  }
  p.timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      timeout ? config::seconds_d(static_cast<double>(*timeout)) : ctx.opts.poll_timeout);
  if (auto topic = q.get("topic")) {
    if (topic->empty()) {
      co_return api::json_error(http::status::bad_request, proto::errc::bad_request, "topic is required",
                                req.version());
    }
    if (!proto::valid_topic(*topic)) {
      co_return api::json_error(http::status::bad_request, proto::errc::bad_topic, proto::topic_rule, req.version());
    }
    // A token makes the poller count in presence (as on /sse), for as long
    // as its polls keep coming.
    std::optional<std::string> present_as;
    if (auto token = q.get("token")) {
      present_as = ctx.auth.user_of(*token);
      if (!present_as) {
        co_return api::json_error(http::status::unauthorized, proto::errc::unauthorized, "unknown token", req.version());
      }
    }
    const bool counted = proto::matches_any(ctx.opts.presence, *topic) && ctx.opts.poll_presence_window.count() > 0;
    if (!counted) present_as.reset();
    co_return co_await poll_topic(req, ctx, socket, std::move(*topic), p, std::move(present_as));
  }
  if (auto token = q.get("token")) {
    auto user = ctx.auth.user_of(*token);
    if (!user) co_return api::json_error(http::status::unauthorized, proto::errc::unauthorized, "unknown token", req.version());
    co_return co_await poll_user(req, ctx, socket, std::move(*user), q.get("event").value_or(""), p);
  }
  co_return api::json_error(http::status::bad_request, proto::errc::bad_request, "topic or token is required",
                            req.version());
}

}  // namespace herald::net
