#include "net/long_poll.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "api/delivery.hpp"
#include "config/options.hpp"
#include "hub/catch_up.hpp"
#include "net/hangup.hpp"
#include "net/held_registration.hpp"
#include "net/held_request.hpp"
#include "net/loop.hpp"
#include "net/response_text.hpp"
#include "net/shard_context.hpp"
#include "net/subscriber_auth.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

namespace {

namespace http = api::http;

std::uint64_t last_offset(const std::vector<hub::local_frame>& frames, std::uint64_t start) {
  for (const auto& f : frames) start = std::max(start, f->offset);
  return start;
}

// A waiting poll: the subscriber collecting what arrives, the connection
// while it is held, and what the answer is made of.
class held_poll final : public hub::subscriber, public held_request, public waker {
 public:
  held_poll(poll_request r, transport s, http_resume b, shard_context& c)
      : waker(c.executor), req(std::move(r)), socket(std::move(s)), back(std::move(b)), ctx(c) {}

  hub::send_status deliver(const hub::local_frame& f) override {
    if (arrived.size() >= max_frames) return hub::send_status::dropped_slow;
    arrived.push_back(f);
    wake.cancel();
    return hub::send_status::queued;
  }
  void release() override {
    released = true;
    wake.cancel();
  }

  static loop run(std::shared_ptr<held_poll> self);

 private:
  static constexpr std::size_t max_frames = 1000;

  bool wanted(const hub::local_frame& f) const { return !req.topic.empty() || f->event == req.event; }
  held_target target() const {
    if (!req.topic.empty()) return {req.topic, {}, {}, req.present_as, true};
    return {{}, req.user, req.event, std::nullopt};
  }
  void merge(hub::history_slice slice);
  void collect();
  std::unique_ptr<api::response> answer() const;
  void guard_write(const std::shared_ptr<held_poll>& self);

  poll_request req;
  transport socket;
  http_resume back;
  shard_context& ctx;
  std::optional<held_registration> reg;
  std::vector<hub::local_frame> arrived;  // by deliver(), while registered
  bool released = false;
  // The answer so far, from the history and what arrived.
  std::vector<hub::local_frame> out;
  std::string epoch;
  std::uint64_t offset = 0;
  std::uint64_t floor = 0;  // what arrives later must be past it (hub::catch_up)
  bool recovered = true;
  bool wait = false;
  bool ahead = false;  // `since` is past the topic's offset: refused
};

// Lines the history up with what arrived since registering. A topic poll
// whose `since` is ahead is refused; a user poll answers at once when its
// position is stale (another epoch, or ahead: the node restarted), since
// holding it would skip whatever is pushed meanwhile.
void held_poll::merge(hub::history_slice slice) {
  hub::catch_up merged(req.topic.empty() ? req.user : req.topic, req.since);
  for (auto& f : arrived) merged.buffer(std::move(f));
  arrived.clear();
  auto all = merged.merge(slice);
  floor = merged.position(slice, all);
  recovered = merged.recovered(slice, all);
  epoch = slice.epoch;
  offset = slice.offset;
  const bool past = req.since && *req.since > slice.offset;
  if (!req.topic.empty()) {
    ahead = past && slice.recovered;
  } else {
    recovered = recovered && !past;
  }
  for (auto& f : all) {
    if (wanted(f)) out.push_back(std::move(f));
  }
  wait = out.empty() && !ahead && (!req.topic.empty() || recovered);
}

void held_poll::collect() {
  for (auto& f : arrived) {
    if (wanted(f) && hub::catch_up::admit(floor, *f)) out.push_back(std::move(f));
  }
  arrived.clear();
}

std::unique_ptr<api::response> held_poll::answer() const {
  if (ahead) {
    return std::make_unique<api::response>(api::json_error(http::status::bad_request, "bad_since",
                                                           "since is ahead of the topic's offset", req.version));
  }
  ctx.state.stats.messages_delivered += out.size();
  const auto last = last_offset(out, offset);
  if (!req.topic.empty()) {
    std::vector<std::string_view> texts;
    for (const auto& f : out) texts.push_back(f->text);
    return std::make_unique<api::response>(api::json_response(
        http::status::ok, proto::encode_history(req.topic, epoch, last, recovered, texts), req.version));
  }
  std::vector<std::string> entries;
  for (const auto& f : out) entries.push_back(proto::encode_user_entry(f->offset, f->ts_ms, f->event, f->text, f->data));
  return std::make_unique<api::response>(
      api::json_response(http::status::ok, proto::encode_user_poll(req.user, epoch, last, recovered, entries), req.version));
}

// A client that stops reading does not hold the answer's write forever.
void held_poll::guard_write(const std::shared_ptr<held_poll>& self) {
  wake.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx.opts.http_idle_timeout));
  wake.async_wait([self](const boost::system::error_code& ec) {
    boost::system::error_code ignored;
    if (!ec) self->socket.cancel(ignored);
  });
}

loop held_poll::run(std::shared_ptr<held_poll> self) {
  auto& p = *self;
  p.reg.emplace(p.ctx, p, p, p.ctx.state.stats.polls_waiting, p.target());
  const auto key = p.req.topic.empty() ? api::delivery::user_key(p.req.user) : p.req.topic;
  p.merge(co_await callback<hub::history_slice>(held_history{p.ctx, key, p.req.since, p.req.epoch}));
  io_result r;
  boost::system::error_code ignored;
  if (p.wait && !p.released) {
    p.wake.expires_after(p.req.timeout);
    watch_hangup(p.socket, self);
    co_await io(r, [&](auto h) { p.wake.async_wait(std::move(h)); });
    p.socket.cancel(ignored);  // ends the hang-up watch
    p.collect();
  }
  auto res = p.answer();
  p.reg.reset();
  if (p.hung_up) co_return;  // nobody to answer; the socket closes with the poll
  const bool keep = p.req.keep_alive && !p.ctx.draining;
  res->keep_alive(keep);
  res->prepare_payload();
  p.guard_write(self);
  std::string wire;
  append_response_text(*res, wire);
  res.reset();  // the answer's text is in `wire` now
  co_await io(r, [&](auto h) { asio::async_write(p.socket, asio::buffer(wire), std::move(h)); });
  p.wake.cancel();
  if (r.ec || !keep) {
    p.socket.shutdown_send(ignored);
    co_return;
  }
  http_session::resume(std::move(p.socket), std::move(p.back), p.ctx);
}

}  // namespace

namespace {

// `since`, `epoch` and `timeout` into `p`, or the answer refusing them.
std::optional<api::response> read_position(const proto::query& q, shard_context& ctx, poll_request& p) {
  bool since_ok = true, timeout_ok = true;
  p.since = q.number("since", since_ok);
  p.epoch = q.get("epoch").value_or("");
  auto timeout = q.number("timeout", timeout_ok);
  const double max_timeout = ctx.opts.poll_max_timeout.count();
  if (!since_ok) return api::json_error(http::status::bad_request, "bad_since", "since must be an offset", p.version);
  if (!timeout_ok || (timeout && (*timeout < 1 || static_cast<double>(*timeout) > max_timeout))) {
    return api::json_error(http::status::bad_request, "bad_timeout",
                           "timeout must be 1-" + std::to_string(static_cast<int>(max_timeout)) + " seconds",
                           p.version);
  }
  p.timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      timeout ? config::seconds_d(static_cast<double>(*timeout)) : ctx.opts.poll_timeout);
  return std::nullopt;
}

}  // namespace

std::variant<api::response, poll_request> parse_poll(const api::request& req, shard_context& ctx) {
  const auto v = req.version();
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  poll_request p;
  p.version = v;
  if (auto refusal = read_position(q, ctx, p)) return std::move(*refusal);
  // The token and the permissions are checked after the topic: a bad topic
  // is the first thing to say.
  auto token = q.get("token");
  auto topic = q.get("topic");
  if (topic) {
    if (topic->empty()) return api::json_error(http::status::bad_request, proto::errc::bad_request, "topic is required", v);
    if (!proto::valid_topic(*topic)) {
      return api::json_error(http::status::bad_request, proto::errc::bad_topic, proto::topic_rule, v);
    }
  } else if (!token) {
    return api::json_error(http::status::bad_request, proto::errc::bad_request, "topic or token is required", v);
  }
  auto who = authorize_subscriber(req, q, topic ? std::string_view(*topic) : std::string_view(), ctx);
  if (auto* refusal = std::get_if<api::response>(&who)) return std::move(*refusal);
  auto& [user, expires] = std::get<subscriber_identity>(who);
  // A poll is answered by its token's exp at the latest: holding it longer
  // would serve a token that no longer admits anyone.
  if (expires) p.timeout = std::clamp(*expires - std::chrono::steady_clock::now(), {}, p.timeout);
  if (!topic) {
    p.user = std::move(user);
    p.event = q.get("event").value_or("");
    return p;
  }
  // A token makes the poller count in presence (as on /sse), for as long
  // as its polls keep coming.
  if (!user.empty() && proto::matches_any(ctx.opts.presence, *topic) && ctx.opts.poll_presence_window.count() > 0) {
    p.present_as = std::move(user);
  }
  p.topic = std::move(*topic);
  return p;
}

void start_poll(poll_request req, transport socket, http_resume back, shard_context& ctx) {
  held_poll::run(std::allocate_shared<held_poll>(pool_allocator<held_poll>{}, std::move(req), std::move(socket),
                                                 std::move(back), ctx));
}

}  // namespace herald::net
