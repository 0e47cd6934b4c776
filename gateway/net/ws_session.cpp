#include "net/ws_session.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/smart_ptr/make_local_shared.hpp>

#include "api/delivery.hpp"
#include "api/token_auth.hpp"
#include "config/options.hpp"
#include "net/endpoint_text.hpp"
#include "net/shard_context.hpp"
#include "net/unexpected.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "shard/shard_state.hpp"
#include "util/log.hpp"

namespace herald::net {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using metrics::close_reason;

websocket::close_reason close_frame_for(close_reason why) {
  switch (why) {
    case close_reason::slow_consumer: return {websocket::close_code::policy_error, "slow consumer"};
    case close_reason::shutdown: return {websocket::close_code::going_away, "server shutting down"};
    case close_reason::idle_timeout: return {websocket::close_code::going_away, "idle timeout"};
    case close_reason::bad_utf8: return {websocket::close_code::bad_payload, "invalid UTF-8"};
    case close_reason::token_expired: return {static_cast<websocket::close_code>(4001), "token expired"};
    case close_reason::rate_limited: return {websocket::close_code::policy_error, "rate limit"};
    default: return {websocket::close_code::normal};
  }
}

// Why the reader stopped when nobody on our side asked it to.
close_reason classify(const boost::system::error_code& ec) {
  if (ec == websocket::error::message_too_big) return close_reason::too_big;
  if (ec == websocket::error::bad_frame_payload) return close_reason::bad_utf8;
  if (ec == websocket::error::closed || ec.category() != websocket::make_error_code(websocket::error::closed).category()) {
    return close_reason::peer;
  }
  return close_reason::protocol_error;
}

template <class D>
bool older_than(ws_session::clock::time_point then, ws_session::clock::time_point now, D limit) {
  return now - then >= std::chrono::duration_cast<ws_session::clock::duration>(limit);
}

}  // namespace

ws_session::ws_session(transport t, std::uint64_t id, const tcp::endpoint& peer, shard_context& ctx,
                       address_limit::lease lease)
    : peer_(peer), ws_(std::move(t)), ctx_(ctx), id_(id), lease_(std::move(lease)) {}

ws_session::~ws_session() = default;

// With allocate_shared's 16-byte control block, 272 bytes take the 288-byte
// pool class. Every idle connection pays it: a member that pushes the size
// over means 16 more bytes per connection (issue 8's memory budget), so
// make room (a hole, a rarely used field moved behind a pointer) first.
static_assert(sizeof(void*) != 8 || sizeof(ws_session) <= 272, "ws_session outgrew its pool class");

void ws_session::start(std::shared_ptr<ws_session> self, request req) {
  auto ex = self->ctx_.executor;
  asio::co_spawn(ex, session_main(std::move(self), std::make_unique<request>(std::move(req))),
                 log_unexpected{"ws_session"});
}

void ws_session::configure() {
  ws_.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx_.opts.handshake_timeout),
      websocket::stream_base::none(), false});
  ws_.read_message_max(ctx_.opts.max_message);
  // Frames go out whole: fragmenting would only add headers and syscalls.
  ws_.auto_fragment(false);
  // A pong (or ping) from the client proves it is alive as much as data
  // does. A ping also costs what a message does under --client-rate: Beast
  // answers each with a pong inside the read, so a flood of them would
  // otherwise make us write without limit and never finish that read.
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    last_activity_ = clock::now();
    if (kind == websocket::frame_type::ping) refuse_over_rate();
  });
}

asio::awaitable<bool> ws_session::handshake(request& req) {
  configure();
  std::optional<api::identity> who;  // from ?token=, bound once the session is open
  if (!co_await admit_upgrade(req, who)) co_return false;
  auto [ec] = co_await ws_.async_accept(req, use_tuple);
  if (ec) {
    if (util::log_enabled(util::log_level::debug)) {
      util::log(util::log_level::debug, "websocket handshake failed",
                {{"conn", std::to_string(id_)}, {"peer", endpoint_text(peer_)}, {"error", ec.message()}});
    }
    co_return false;
  }
  if (ctx_.after_handshake) ctx_.after_handshake(ctx_);
  ws_.text(true);
  open_ = true;
  last_activity_ = last_ping_ = clock::now();
  rate_tokens_ = std::numeric_limits<std::uint32_t>::max();  // a full bucket: within_rate() clamps it to the burst
  ctx_.add(this);
  ++ctx_.state.stats.websocket_sessions;
  // The upgrade passed the drain check in http_session, but the drain may
  // have closed this shard's sessions since: going on would leave this one
  // open until the drain timeout. It leaves like the others, with 1001.
  if (ctx_.draining) close(close_reason::shutdown, true);
  if (who && !closing_) {
    auto user = who->user;
    take_identity(std::move(*who), {}, [this, user] { reply(proto::encode_authed(user, {})); });
  }
  co_return true;
}

asio::awaitable<void> ws_session::session_main(std::shared_ptr<ws_session> self, std::unique_ptr<request> req) {
  const bool accepted = co_await self->handshake(*req);
  req.reset();  // an idle connection must not keep the request's headers
  // This frame (the handshake's) ends here; the loops carry on alone.
  if (accepted) reader(std::move(self));
}

bool ws_session::parkable() const {
  return !message_ && ws_.is_message_done() && ws_.next_layer().parkable();
}

struct ws_session::next_input {
  ws_session& s;
  io_result& r;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    if (s.read_paused_) {
      s.paused_reader_ = h;  // resume_reader() comes back here
      return;
    }
    start(h);
  }
  void await_resume() const noexcept {}

  // Parks in a readiness wait when Beast holds nothing, then reads; the
  // handlers hold the session, the result slot and the coroutine only.
  void start(std::coroutine_handle<> h) {
    if (!s.parkable()) return read(h);
    beast::get_lowest_layer(s.ws_).async_wait(socket_t::wait_read, ready{&s, &r, h});
  }
  void read(std::coroutine_handle<> h) {
    s.ws_.async_read_some(asio::buffer(s.chunk_), io_handler{&r, h});
  }
  struct ready {
    ws_session* s;
    io_result* r;
    std::coroutine_handle<> h;
    using allocator_type = pool_allocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }
    void operator()(boost::system::error_code ec) {
      if (ec) {
        *r = {ec, 0};
        h.resume();
        return;
      }
      next_input{*s, *r}.read(h);
    }
  };
};

void ws_session::resume_reader() {
  auto h = std::exchange(paused_reader_, {});
  if (h) next_input{*this, *reader_result_}.start(h);
}

loop ws_session::reader(std::shared_ptr<ws_session> self) {
  ws_session& s = *self;
  io_result r;
  s.reader_result_ = &r;
  // Whatever ends the loop (an error, or an exception on its way to the
  // loop's boundary) tears the session down.
  struct on_exit {
    ws_session& s;
    io_result& r;
    ~on_exit() { s.teardown(r.ec ? r.ec : asio::error::operation_aborted); }
  } exit{s, r};
  for (;;) {
    co_await next_input{s, r};
    if (r.ec) break;
    s.on_chunk(r.bytes);
  }
}

void ws_session::on_chunk(std::size_t n) {
  const bool done = ws_.is_message_done();
  if (done && !message_) {
    on_message(std::string_view(chunk_, n), ws_.got_text());  // the common case: no copy
    return;
  }
  if (!message_) message_ = std::make_unique<beast::flat_buffer>();
  auto dst = message_->prepare(n);
  std::memcpy(dst.data(), chunk_, n);
  message_->commit(n);
  if (!done) return;
  auto whole = std::move(message_);  // idle connections keep no read buffer
  auto data = whole->data();
  on_message(std::string_view(static_cast<const char*>(data.data()), data.size()), ws_.got_text());
}

void ws_session::on_message(std::string_view text, bool is_text) {
  last_activity_ = clock::now();
  ++ctx_.state.stats.frames_received;
  if (closing_ || refuse_over_rate()) return;
  // Beast 1.81 misses a UTF-8 sequence cut off by an empty final fragment
  // (and then fails the *next* message): check each whole message here.
  if (is_text && !proto::valid_utf8(text)) {
    close(close_reason::bad_utf8, false);
    return;
  }
  if (is_text) {
    handle_text(text);
  } else {
    reply_error(proto::errc::unsupported, "binary frames are not supported", {});
  }
}

bool ws_session::refuse_over_rate() {
  if (closing_ || ctx_.opts.client_rate == 0 || within_rate(last_activity_)) return false;
  reply_error(proto::errc::rate_limited,
              "more than " + std::to_string(ctx_.opts.client_rate) + " messages/s: closing (1008 rate limit)", {});
  close(close_reason::rate_limited, true);  // the error frame goes first
  return true;
}

// Integers only: the rate is whole messages/s, so a millisecond refills
// exactly `rate` thousandths.
bool ws_session::within_rate(clock::time_point now) {
  const auto& o = ctx_.opts;
  const std::uint64_t burst = o.client_rate_burst != 0 ? o.client_rate_burst : 2ull * o.client_rate;
  const std::uint64_t full = std::min<std::uint64_t>(1000 * burst, std::numeric_limits<std::uint32_t>::max());
  const auto now_ms =
      static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  const std::uint32_t elapsed = now_ms - rate_filled_ms_;  // modulo 2^32
  rate_filled_ms_ = now_ms;
  const std::uint64_t tokens = std::min<std::uint64_t>(full, rate_tokens_ + std::uint64_t{elapsed} * o.client_rate);
  if (tokens < 1000) {
    rate_tokens_ = static_cast<std::uint32_t>(tokens);
    return false;
  }
  rate_tokens_ = static_cast<std::uint32_t>(tokens - 1000);
  return true;
}

void ws_session::reply(std::string text) {
  hub::message m;
  m.text = std::move(text);
  enqueue(boost::make_local_shared<const hub::message>(std::move(m)));
}

void ws_session::reply_error(std::string_view code, std::string reason, std::string id) {
  ++ctx_.state.stats.client_errors[std::string(code)];
  reply(proto::encode_error({std::string(code), std::move(reason), std::move(id)}));
}

hub::send_status ws_session::deliver(const hub::local_frame& f) {
  auto& stats = ctx_.state.stats;
  if (!open_ || closing_) {
    ++stats.dropped_closed;
    return hub::send_status::dropped_closed;
  }
  if (buffer_if_recovering(f)) return hub::send_status::queued;
  if (f->kind == hub::frame_kind::topic_message) {
    auto* t = find_topic(f->topic);
    if (t && !hub::catch_up::admit(t->last, *f)) return hub::send_status::queued;  // it has this one already
  }
  return enqueue(f) ? hub::send_status::queued : hub::send_status::dropped_slow;
}

// Queues a frame for this connection alone, past the recovery buffer. A
// full queue makes this a slow consumer: it is closed, and false returned.
bool ws_session::enqueue(hub::local_frame f) {
  if (!open_ || closing_) return false;
  if (!queue_.push(std::move(f), {ctx_.opts.max_queue_messages, ctx_.opts.max_queue_bytes})) {
    ++ctx_.state.stats.dropped_slow;
    close(close_reason::slow_consumer, false);
    return false;
  }
  ensure_writer();
  return true;
}

void ws_session::ensure_writer() {
  if (writing_) return;
  writing_ = true;
  // Runs at once up to its first write: Asio tries the send right away, so
  // a fan-out costs one syscall per receiver with the frame from the pool.
  writer(shared_from_this());
}

loop ws_session::writer(std::shared_ptr<ws_session> self) {
  ws_session& s = *self;
  struct on_exit {
    ws_session& s;
    ~on_exit() {
      s.writing_ = false;
      if (std::uncaught_exceptions() > 0) s.force_close();  // the reader then tears down
    }
  } exit{s};
  auto& stats = s.ctx_.state.stats;
  io_result r;
  hub::local_frame f;  // the frame being written: close() may clear the queue meanwhile
  while (s.open_) {
    if (s.ping_due_ && !s.closing_) {
      s.ping_due_ = false;
      co_await io(r, [&s](auto h) { s.ws_.async_ping({}, std::move(h)); });
      if (!r.ec) ++stats.pings_sent;
    } else if (!s.queue_.empty() && (!s.closing_ || s.flush_)) {
      f = s.queue_.pop();
      co_await io(r, [&s, &f](auto h) { s.ws_.async_write(asio::buffer(f->text), std::move(h)); });
      f.reset();
      if (!r.ec) ++stats.messages_delivered;
    } else if (s.closing_ && !s.close_sent_) {
      s.close_sent_ = true;
      co_await io(r, [&s](auto h) { s.ws_.async_close(close_frame_for(s.close_reason_), std::move(h)); });
      break;
    } else {
      break;
    }
    if (r.ec) {
      s.force_close();  // the reader sees the error and tears the session down
      break;
    }
  }
}

void ws_session::close(close_reason why, bool flush) {
  if (closing_ || !open_) return;
  closing_ = true;
  flush_ = flush;
  close_reason_ = why;
  closing_since_ = clock::now();
  // Counted when decided, not at teardown: a stalled peer may hold its
  // socket for --close-timeout more, and the operator wants to see it now.
  ctx_.state.stats.count_close(why);
  if (!flush) ctx_.state.stats.dropped_closed += queue_.clear();
  ensure_writer();
}

void ws_session::heartbeat(clock::time_point now) {
  if (!open_) return;
  const auto& o = ctx_.opts;
  // Beast may also close on its own (it failed the connection, e.g. 1009,
  // or answered the peer's close): the same deadline as our closes, counted
  // from the first sweep that sees it.
  const bool beast_closing = !closing_ && !ws_.is_open();
  if (beast_closing && !beast_close_seen_) {
    beast_close_seen_ = true;
    closing_since_ = now;
  }
  if (closing_ || beast_closing) {
    if (older_than(closing_since_, now, o.close_timeout)) {
      force_close();
    } else if (ws_.next_layer().lingering()) {
      // Wakes the teardown (frame_bounded_socket), which reads a peer it
      // held back once more.
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws_).cancel(ignored);
    }
    return;
  }
  if (older_than(last_activity_, now, o.idle_timeout)) {
    close(close_reason::idle_timeout, false);
    return;
  }
  if (credential_ && credential_->expires_at <= now && token_expired(now)) return;
  if (credential_ && !credential_->grants.empty()) expire_grants(now);
  if (older_than(last_activity_, now, o.ping_interval) && older_than(last_ping_, now, o.ping_interval)) {
    ping_due_ = true;
    last_ping_ = now;
    ensure_writer();
  }
}

void ws_session::force_close() {
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);
}

void ws_session::teardown(const boost::system::error_code& ec) {
  if (!open_) return;
  open_ = false;
  auto& st = ctx_.state;
  if (!closing_) st.stats.count_close(classify(ec));
  for (const auto& u : users_) ctx_.unbind_user(this, u);
  for (const auto& t : topics_) leave_topic(t.name);
  recovering_.reset();
  users_.clear();
  bindings_ = 0;
  topics_.clear();
  st.stats.dropped_closed += queue_.clear();
  ctx_.remove(this);
  lease_.reset();
  force_close();  // wakes a writer still blocked on a stalled peer
  if (util::log_enabled(util::log_level::debug)) {
    util::log(util::log_level::debug, "websocket closed",
              {{"conn", std::to_string(id_)}, {"peer", endpoint_text(peer_)}, {"error", ec.message()}});
  }
}

}  // namespace herald::net
