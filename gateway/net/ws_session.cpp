#include "net/ws_session.hpp"

#include <algorithm>
#include <array>
#include <tuple>
#include <limits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/stream.hpp>
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
namespace websocket = beast::websocket;

struct close_frame {
  std::uint16_t code;
  std::string_view reason;
};

close_frame close_frame_for(close_reason why, std::uint16_t peer_code) {
  switch (why) {
    case close_reason::slow_consumer: return {1008, "slow consumer"};
    case close_reason::shutdown: return {1001, "server shutting down"};
    case close_reason::idle_timeout: return {1001, "idle timeout"};
    case close_reason::too_big: return {1009, "message too big"};
    case close_reason::bad_utf8: return {1007, "invalid UTF-8"};
    case close_reason::protocol_error: return {1002, "protocol error"};
    case close_reason::token_expired: return {4001, "token expired"};
    case close_reason::rate_limited: return {1008, "rate limit"};
    case close_reason::peer: return {peer_code, {}};  // the peer's code echoed (none: an empty close frame)
    default: return {1000, {}};
  }
}

// The close a parser error calls for.
close_reason reason_for(std::uint16_t code) {
  switch (code) {
    case 1009: return close_reason::too_big;
    case 1007: return close_reason::bad_utf8;
    default: return close_reason::protocol_error;
  }
}

template <class D>
bool older_than(ws_session::clock::time_point then, ws_session::clock::time_point now, D limit) {
  return now - then >= std::chrono::duration_cast<ws_session::clock::duration>(limit);
}

// Where a shard's connections read: what a read brings is handled before
// the next connection's read, so one buffer serves them all; a message that
// spans reads is copied out (ws_frame_parser).
std::span<char> scratch() {
  thread_local char space[16384];
  return {space, sizeof space};
}

// A lingering peer (our close frame is out) that keeps sending after this
// many bytes is no longer read: it gets backpressure, which is what makes a
// client busy writing (Python websockets in a send loop) read our close
// frame. Each heartbeat sweep wakes it for one more budget. The wait ends
// at the peer's close frame or end of stream, its failure, or when the
// heartbeat drops the socket after --close-timeout.
constexpr std::size_t linger_budget = 4u << 20;

// Drops the first `n` bytes of a gathered write.
void advance(std::array<asio::const_buffer, 2>& b, std::size_t n) {
  const std::size_t first = std::min(n, b[0].size());
  b[0] += first;
  b[1] += n - first;
}

}  // namespace

ws_session::ws_session(transport t, std::uint64_t id, const tcp::endpoint& peer, shard_context& ctx,
                       address_limit::lease lease)
    : peer_(peer), sock_(std::move(t)), parser_(ctx.opts.max_message), ctx_(ctx), id_(id), lease_(std::move(lease)) {}

ws_session::~ws_session() = default;

// With allocate_shared's 16-byte control block, up to 320 bytes take the 336-byte
// pool class. Every idle connection pays it: a member that pushes the size
// over means 16 more bytes per connection (issue 8's memory budget), so
// make room (a hole, a rarely used field moved behind a pointer) first.
static_assert(sizeof(void*) != 8 || sizeof(ws_session) <= 320, "ws_session outgrew its pool class");

void ws_session::start(std::shared_ptr<ws_session> self, request req) {
  auto ex = self->ctx_.executor;
  asio::co_spawn(ex, session_main(std::move(self), std::make_unique<request>(std::move(req))),
                 log_unexpected{"ws_session"});
}

// Beast answers the upgrade, on a stream over the session's transport that
// lives only for the handshake: its ~2.6 KiB of state go once it is done.
asio::awaitable<bool> ws_session::handshake(request& req) {
  std::optional<api::identity> who;  // from ?token=, bound once the session is open
  if (!co_await admit_upgrade(req, who)) co_return false;
  boost::system::error_code ec;
  {
    websocket::stream<transport&, false> ws(sock_);
    ws.set_option(websocket::stream_base::timeout{
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx_.opts.handshake_timeout),
        websocket::stream_base::none(), false});
    std::tie(ec) = co_await ws.async_accept(req, use_tuple);
  }
  if (ec) {
    if (util::log_enabled(util::log_level::debug)) {
      util::log(util::log_level::debug, "websocket handshake failed",
                {{"conn", std::to_string(id_)}, {"peer", endpoint_text(peer_)}, {"error", ec.message()}});
    }
    co_return false;
  }
  if (ctx_.after_handshake) ctx_.after_handshake(ctx_);
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

// Suspends while reading is paused; resume_reader() comes back.
struct ws_session::paused {
  ws_session& s;
  bool await_ready() const noexcept { return !s.read_paused_; }
  void await_suspend(std::coroutine_handle<> h) noexcept { s.paused_reader_ = h; }
  void await_resume() const noexcept {}
};

// Parks until the socket has something to read (at once when TLS holds
// bytes already read off it); held back (a spent linger budget), until an
// error or a sweep's cancel instead.
struct ws_session::readable {
  ws_session& s;
  io_result& r;
  bool await_ready() const noexcept {
    if (s.held_ || !s.sock_.pending()) return false;
    r = {};
    return true;
  }
  void await_suspend(std::coroutine_handle<> h) {
    s.sock_.next_layer().async_wait(s.held_ ? socket_t::wait_error : socket_t::wait_read, io_handler{&r, h});
  }
  void await_resume() const noexcept {}
};

void ws_session::resume_reader() {
  if (auto h = std::exchange(paused_reader_, {})) h.resume();
}

loop ws_session::reader(std::shared_ptr<ws_session> self) {
  ws_session& s = *self;
  io_result r;
  // Whatever ends the loop (an error, or an exception on its way to the
  // loop's boundary) tears the session down.
  struct on_exit {
    ws_session& s;
    io_result& r;
    ~on_exit() { s.teardown(r.ec ? r.ec : asio::error::operation_aborted); }
  } exit{s, r};
  for (;;) {
    co_await paused{s};
    if (s.backlog_) {
      auto held = std::move(s.backlog_);
      std::span<char> in(held->data(), held->size());
      if (!s.feed(in, r)) break;
      continue;  // paused again, or nothing left of it
    }
    co_await readable{s, r};
    if (r.ec == asio::error::operation_aborted && s.held_ && s.sock_.is_open()) {
      s.held_ = false;  // a sweep woke a held peer: a new budget
      s.lingered_ = 0;
      continue;
    }
    if (r.ec || !s.drain(r)) break;
  }
}

bool ws_session::drain(io_result& r) {
  const auto buf = scratch();
  for (int reads = 0; reads < 4; ++reads) {  // a fair share; the next wait sees the rest at once
    const std::size_t n = sock_.read_now(asio::buffer(buf.data(), buf.size()), r.ec);
    if (r.ec == asio::error::would_block) {
      r.ec = {};
      return true;
    }
    if (r.ec) return false;
    std::span<char> in(buf.data(), n);
    if (!feed(in, r)) return false;
    if (read_paused_ || held_ || n < buf.size()) return true;
  }
  return true;
}

bool ws_session::feed(std::span<char>& in, io_result& r) {
  if (closing_) {
    lingered_ = static_cast<std::uint32_t>(std::min<std::size_t>(linger_budget, lingered_ + in.size()));
    if (lingered_ >= linger_budget) held_ = true;
  }
  while (!in.empty()) {
    if (peer_closed_) return true;  // nothing follows a close frame
    auto e = parser_.next(in);
    if (e.what == ws_frame_parser::kind::none) break;
    if (!on_frame(e)) {
      r.ec = {};
      return false;
    }
    if (!sock_.is_open()) return false;
    if (read_paused_) {
      if (!in.empty()) backlog_ = std::make_unique<std::string>(in.data(), in.size());
      in = {};
      return true;
    }
  }
  return sock_.is_open();
}

// False when the reader is done: the close handshake is complete.
bool ws_session::on_frame(ws_frame_parser::event& e) {
  using kind = ws_frame_parser::kind;
  switch (e.what) {
    case kind::message: on_message(e.payload, e.text); return true;
    case kind::ping:
      last_activity_ = clock::now();
      if (closing_ || refuse_over_rate()) return true;
      pong_ = std::make_unique<std::string>(e.payload);  // only the latest ping is answered (RFC 6455 5.5.3)
      ensure_writer();
      return true;
    case kind::pong: last_activity_ = clock::now(); return true;
    case kind::close: on_peer_close(e.code); return !close_sent_;
    case kind::error: close(reason_for(e.code), false); return true;
    case kind::none: return true;
  }
  return true;
}

// The peer's close frame: answered with its code; once both are out the
// socket closes (the writer does it when ours goes after theirs).
void ws_session::on_peer_close(std::uint16_t code) {
  peer_closed_ = true;
  if (closing_) return;
  peer_code_ = code;
  close(close_reason::peer, false);
}

void ws_session::on_message(std::string_view text, bool is_text) {
  last_activity_ = clock::now();
  ++ctx_.state.stats.frames_received;
  if (closing_ || refuse_over_rate()) return;
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
  // Runs at once up to its first write, which goes straight to the socket:
  // a fan-out costs one sendmsg per receiver, of the shared bytes.
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
  hub::local_frame f;   // the message being written: close() may clear the queue meanwhile
  std::string control;  // a pong's payload, or the close frame's
  std::uint8_t head[10];
  while (s.open_) {
    const ws_opcode op = s.next_to_write(f, control);
    if (op == ws_opcode::continuation) break;  // nothing
    const asio::const_buffer body = f ? asio::buffer(f->text) : asio::buffer(control);
    std::array<asio::const_buffer, 2> out{asio::buffer(head, encode_frame_header(head, op, body.size())), body};
    r = {};
    // At once while the socket takes it; waits only on a full socket buffer.
    while (!r.ec && asio::buffer_size(out) > 0) {
      const std::size_t n = s.sock_.write_now(out[0], out[1], r.ec);
      if (r.ec != asio::error::would_block) {
        advance(out, n);
        continue;
      }
      co_await io(r, [&s, &out](auto h) { s.sock_.async_write_some(out, std::move(h)); });
      advance(out, r.bytes);
    }
    f.reset();
    if (r.ec) {
      s.force_close();  // the reader sees the error and tears the session down
      break;
    }
    if (op == ws_opcode::text) ++stats.messages_delivered;
    if (op == ws_opcode::ping) ++stats.pings_sent;
    if (op == ws_opcode::close) {
      s.after_close_sent();
      break;
    }
  }
}

// What the writer sends next, in this order: a pong, a ping, a message (not
// once closing, unless flushing), the close frame; continuation: nothing.
ws_opcode ws_session::next_to_write(hub::local_frame& f, std::string& control) {
  if (pong_ && !closing_) {
    control = std::move(*pong_);
    pong_.reset();
    return ws_opcode::pong;
  }
  if (ping_due_ && !closing_) {
    ping_due_ = false;
    control.clear();
    return ws_opcode::ping;
  }
  if (!queue_.empty() && (!closing_ || flush_)) {
    f = queue_.pop();
    return ws_opcode::text;
  }
  if (closing_ && !close_sent_) {
    close_sent_ = true;
    const auto c = close_frame_for(close_reason_, peer_code_);
    control = c.code == 0 ? std::string() : close_payload(c.code, c.reason);
    return ws_opcode::close;
  }
  return ws_opcode::continuation;
}

// Both close frames out: the socket closes. Ours first: our side is shut
// down and the reader lingers for theirs (or their end of stream).
void ws_session::after_close_sent() {
  if (peer_closed_) {
    force_close();
    return;
  }
  parser_.ignore_data();
  boost::system::error_code ignored;  // a failed shutdown shows in the reads
  sock_.shutdown_send(ignored);
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
  if (closing_) {
    if (older_than(closing_since_, now, o.close_timeout)) {
      force_close();
    } else if (held_) {
      // Wakes the lingering reader, which reads a peer it held back once
      // more (its close frame may be queued behind what it was writing).
      boost::system::error_code ignored;
      sock_.cancel(ignored);
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
  sock_.close(ignored);
}

void ws_session::teardown(const boost::system::error_code& ec) {
  if (!open_) return;
  open_ = false;
  auto& st = ctx_.state;
  if (!closing_) st.stats.count_close(close_reason::peer);  // its end of stream, or the socket's error
  for (const auto& u : users_) ctx_.unbind_user(this, u);
  for (const auto& t : topics_) leave_topic(t.name);
  recovering_.reset();
  pong_.reset();
  backlog_.reset();
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
