#include "net/sse_stream.hpp"

#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>

#include "api/delivery.hpp"
#include "config/options.hpp"
#include "hub/catch_up.hpp"
#include "net/hangup.hpp"
#include "net/held_registration.hpp"
#include "net/held_request.hpp"
#include "net/loop.hpp"
#include "net/outbound_queue.hpp"
#include "net/shard_context.hpp"
#include "net/subscriber_auth.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

namespace {

namespace http = api::http;

void append_event(std::string& out, const hub::message& m) {
  if (m.offset != 0) out += "id: " + std::to_string(m.offset) + "\n";
  out += "data: ";
  out += m.text;  // single-line JSON: our encoders never emit a raw newline
  out += "\n\n";
}

const std::string_view stream_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";

class sse_stream final : public hub::subscriber, public held_request, public waker {
 public:
  sse_stream(sse_request r, transport s, shard_context& c)
      : waker(c.executor), req(std::move(r)), socket(std::move(s)), ctx(c) {}

  hub::send_status deliver(const hub::local_frame& f) override {
    if (slow || released) return hub::send_status::dropped_closed;
    if (!queue.push(f, {ctx.opts.max_queue_messages, ctx.opts.max_queue_bytes})) {
      // Same rule as a WebSocket: the stream is cut, counted when decided.
      slow = true;
      ++ctx.state.stats.dropped_slow;
      ctx.state.stats.count_close(metrics::close_reason::slow_consumer);
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

  static loop run(std::shared_ptr<sse_stream> self);

 private:
  // Wakes the loop and aborts a write stuck on a peer that stopped reading.
  void stop() {
    wake.cancel();
    boost::system::error_code ignored;
    socket.cancel(ignored);
  }
  std::unique_ptr<api::response> open(hub::history_slice slice);
  void take_queued();
  void sent();
  bool over() const { return slow || released || hung_up; }
  bool token_ran_out() const { return req.expires && std::chrono::steady_clock::now() >= *req.expires; }
  void say_expired();
  std::chrono::steady_clock::time_point next_wake(std::chrono::steady_clock::duration ping_every) const;

  sse_request req;
  transport socket;
  shard_context& ctx;
  std::optional<held_registration> reg;
  outbound_queue queue;
  std::string pending;      // bytes to write next
  std::uint64_t floor = 0;  // what the replay covered (hub::catch_up)
  bool slow = false;
  bool released = false;
  bool expired = false;  // the token_expired event is written: the stream ends after it
};

// Lines the history up with what arrived since registering; the stream
// opens, like a WebSocket's subscribe reply, by saying where it starts and
// whether the client's position was recovered. A refusal when `since` is
// ahead of the topic.
std::unique_ptr<api::response> sse_stream::open(hub::history_slice slice) {
  if (req.since && *req.since > slice.offset && slice.recovered) {
    return std::make_unique<api::response>(api::json_error(http::status::bad_request, "bad_since",
                                                           "since is ahead of the topic's offset", req.version));
  }
  hub::catch_up merged(req.topic, req.since);
  while (!queue.empty()) merged.buffer(queue.pop());
  auto frames = merged.merge(slice);
  std::optional<bool> recovered;
  if (req.since) recovered = merged.recovered(slice, frames);
  pending = stream_head;
  pending += "data: " + proto::encode_subscribed(req.topic, {}, slice.epoch, slice.offset, recovered) + "\n\n";
  for (const auto& f : frames) append_event(pending, *f);
  ctx.state.stats.messages_delivered += frames.size();
  floor = merged.position(slice, frames);
  return nullptr;
}

// Everything queued goes out in one write.
void sse_stream::take_queued() {
  while (!queue.empty()) {
    hub::local_frame f = queue.pop();
    if (!hub::catch_up::admit(floor, *f)) continue;  // it has this one already
    append_event(pending, *f);
    ++ctx.state.stats.messages_delivered;
  }
}

// An idle stream keeps no write buffer beyond a small one.
void sse_stream::sent() {
  pending.clear();
  if (pending.capacity() > 256) std::string().swap(pending);
}

void sse_stream::say_expired() {
  if (expired) return;
  expired = true;
  pending += "data: " + proto::encode_error(proto::error_reply{std::string(proto::errc::token_expired), "token expired", ""}) + "\n\n";
  ctx.state.stats.count_close(metrics::close_reason::token_expired);
}

// The ping, or the token's expiry when that comes first.
std::chrono::steady_clock::time_point sse_stream::next_wake(std::chrono::steady_clock::duration ping_every) const {
  const auto ping = std::chrono::steady_clock::now() + ping_every;
  return req.expires ? std::min(ping, *req.expires) : ping;
}

// An SSE client never sends anything after its request, so readiness on the
// socket means it went away (watch_hangup).
loop sse_stream::run(std::shared_ptr<sse_stream> self) {
  auto& s = *self;
  s.reg.emplace(s.ctx, s, s, s.ctx.state.stats.sse_streams, held_target{s.req.topic, {}, {}, s.req.presence_user});
  auto refusal =
      s.open(co_await callback<hub::history_slice>(held_history{s.ctx, s.req.topic, s.req.since, s.req.epoch}));
  io_result r;
  boost::system::error_code ignored;
  if (refusal) {
    s.reg.reset();
    refusal->keep_alive(false);
    refusal->prepare_payload();
    co_await io(r, [&](auto h) { http::async_write(s.socket, *refusal, std::move(h)); });
    s.socket.shutdown_send(ignored);
    co_return;
  }
  watch_hangup(s.socket, self);
  const auto ping_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(s.ctx.opts.ping_interval);
  for (;;) {
    s.take_queued();
    if (s.token_ran_out()) s.say_expired();
    if (!s.pending.empty()) {
      co_await io(r, [&](auto h) { asio::async_write(s.socket, asio::buffer(s.pending), std::move(h)); });
      if (r.ec || s.expired) break;
      s.sent();
      continue;
    }
    if (s.over()) break;
    s.wake.expires_at(s.next_wake(ping_every));
    co_await io(r, [&](auto h) { s.wake.async_wait(std::move(h)); });
    // The timer ran out: heartbeat (unless the token did).
    if (!r.ec && s.queue.empty() && !s.token_ran_out()) s.pending = ": ping\n\n";
  }
  s.reg.reset();
  s.socket.close(ignored);  // also ends the hang-up watch
}

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

}  // namespace

std::variant<api::response, sse_request> parse_sse(const api::request& req, shard_context& ctx) {
  const auto v = req.version();
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  auto topic = q.get("topic");
  if (!topic || topic->empty()) return api::json_error(http::status::bad_request, proto::errc::bad_request, "topic is required", v);
  if (!proto::valid_topic(*topic)) return api::json_error(http::status::bad_request, proto::errc::bad_topic, proto::topic_rule, v);
  sse_request s;
  s.version = v;
  bool since_ok = true;
  s.since = start_of(req, q, since_ok);
  if (!since_ok) return api::json_error(http::status::bad_request, "bad_since", "since must be an offset", v);
  auto who = authorize_subscriber(req, q, *topic, ctx);
  if (auto* refusal = std::get_if<api::response>(&who)) return std::move(*refusal);
  auto& [user, expires] = std::get<subscriber_identity>(who);
  if (proto::matches_any(ctx.opts.presence, *topic)) s.presence_user = std::move(user);
  s.expires = expires;
  s.epoch = q.get("epoch").value_or("");
  s.topic = std::move(*topic);
  return s;
}

void start_sse(sse_request req, transport socket, shard_context& ctx) {
  sse_stream::run(std::allocate_shared<sse_stream>(pool_allocator<sse_stream>{}, std::move(req), std::move(socket), ctx));
}

}  // namespace herald::net
