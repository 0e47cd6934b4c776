#include "net/sse_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "api/delivery.hpp"
#include "api/token_auth.hpp"
#include "config/options.hpp"
#include "hub/catch_up.hpp"
#include "net/hangup.hpp"
#include "net/held_registration.hpp"
#include "net/held_request.hpp"
#include "net/outbound_queue.hpp"
#include "net/shard_context.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

namespace {

namespace http = api::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

class sse_subscriber final : public hub::subscriber, public held_request, public waker {
 public:
  sse_subscriber(executor_t ex, queue_limits limits, socket_t& socket, metrics::shard_stats& stats)
      : waker(ex), socket_(socket), stats_(stats), limits_(limits) {}
  hub::send_status deliver(const hub::local_frame& f) override {
    if (slow || released) return hub::send_status::dropped_closed;
    if (!queue.push(f, limits_)) {
      // Same rule as a WebSocket: the stream is cut, counted when decided.
      slow = true;
      ++stats_.dropped_slow;
      stats_.count_close(metrics::close_reason::slow_consumer);
      stop();
      return hub::send_status::dropped_slow;
    }
    wake.cancel();
    return hub::send_status::queued;
  }
  void release() override {
    released = true;
    stop();
  }

  outbound_queue queue;
  bool slow = false;
  bool released = false;

 private:
  // Wakes the loop and aborts a write stuck on a peer that stopped reading.
  void stop() {
    wake.cancel();
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }

  socket_t& socket_;
  metrics::shard_stats& stats_;
  queue_limits limits_;
};

void append_event(std::string& out, const hub::message& m) {
  if (m.offset != 0) out += "id: " + std::to_string(m.offset) + "\n";
  out += "data: ";
  out += m.text;  // single-line JSON: our encoders never emit a raw newline
  out += "\n\n";
}

const std::string_view stream_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";

// The starting point: the Last-Event-ID a reconnecting browser sends (it is
// always newer than the URL's, which EventSource keeps on retry), else
// `since`. Sets `valid` false when either is not an offset.
std::optional<std::uint64_t> start_of(const api::request& req, const proto::query& q, bool& valid) {
  auto it = req.find("Last-Event-ID");
  if (it != req.end() && !it->value().empty()) {
    std::string header(it->value().data(), it->value().size());
    return proto::query("?id=" + header).number("id", valid);
  }
  return q.number("since", valid);
}

// `floor`: the subscriber's position after its replay (hub::catch_up::position).
asio::awaitable<void> stream_loop(shard_context& ctx, sse_subscriber& s, socket_t& socket, std::string pending,
                                  std::uint64_t floor) {
  // An SSE client never sends anything after its request, so readiness on
  // the socket means it went away.
  const auto ping_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx.opts.ping_interval);
  auto& stats = ctx.state.stats;
  for (;;) {
    while (!s.queue.empty()) {
      hub::local_frame f = s.queue.pop();
      if (!hub::catch_up::admit(floor, *f)) continue;  // it has this one already
      append_event(pending, *f);
      ++stats.messages_delivered;
    }
    if (!pending.empty()) {
      // Everything queued goes out in one write.
      auto [ec, n] = co_await asio::async_write(socket, asio::buffer(pending), use_tuple);
      if (ec) co_return;
      pending.clear();
      continue;
    }
    if (s.slow || s.released || s.hung_up) co_return;
    s.wake.expires_after(ping_every);
    auto [ec] = co_await s.wake.async_wait(use_tuple);
    if (!ec && s.queue.empty()) pending = ": ping\n\n";  // the timer ran out: heartbeat
  }
}

}  // namespace

asio::awaitable<std::optional<api::response>> serve_sse(const api::request& req, shard_context& ctx,
                                                        socket_t& socket) {
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  auto topic = q.get("topic");
  if (!topic || topic->empty()) {
    co_return api::json_error(http::status::bad_request, proto::errc::bad_request, "topic is required", req.version());
  }
  if (!proto::valid_topic(*topic)) {
    co_return api::json_error(http::status::bad_request, proto::errc::bad_topic, proto::topic_rule, req.version());
  }
  bool since_ok = true;
  auto since = start_of(req, q, since_ok);
  if (!since_ok) co_return api::json_error(http::status::bad_request, "bad_since", "since must be an offset", req.version());
  std::string user;
  if (auto token = q.get("token")) {
    auto u = ctx.auth.user_of(*token);
    if (!u) co_return api::json_error(http::status::unauthorized, proto::errc::unauthorized, "unknown token", req.version());
    user = std::move(*u);
  }
  const bool presence = proto::matches_any(ctx.opts.presence, *topic);

  auto stream = std::make_shared<sse_subscriber>(
      ctx.executor, queue_limits{ctx.opts.max_queue_messages, ctx.opts.max_queue_bytes}, socket, ctx.state.stats);
  auto& s = *stream;
  std::optional<std::string> presence_user;
  if (presence) presence_user = user;
  held_registration reg(ctx, s, s, ctx.state.stats.sse_streams, {*topic, {}, {}, presence_user});
  auto slice = co_await ctx.delivery.history(*topic, since, ctx.opts.history_size, q.get("epoch").value_or(""));
  if (since && *since > slice.offset && slice.recovered) {
    co_return api::json_error(http::status::bad_request, "bad_since", "since is ahead of the topic's offset",
                              req.version());
  }
  hub::catch_up merged(*topic, since);
  while (!s.queue.empty()) merged.buffer(s.queue.pop());
  // Like a WebSocket's subscribe reply, the stream opens by saying where it
  // starts and whether the client's position was recovered.
  std::string pending(stream_head);
  auto frames = merged.merge(slice);
  std::optional<bool> recovered;
  if (since) recovered = merged.recovered(slice, frames);
  pending += "data: " + proto::encode_subscribed(*topic, {}, slice.epoch, slice.offset, recovered) + "\n\n";
  for (const auto& f : frames) append_event(pending, *f);
  ctx.state.stats.messages_delivered += frames.size();
  watch_hangup(socket, stream);
  co_await stream_loop(ctx, s, socket, std::move(pending), merged.position(slice, frames));
  boost::system::error_code ignored;
  socket.cancel(ignored);  // ends the hang-up watch
  co_return std::nullopt;
}

}  // namespace herald::net
