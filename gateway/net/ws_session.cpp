#include "net/ws_session.hpp"

#include <algorithm>
#include <cstring>

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

ws_session::ws_session(socket_t socket, std::uint64_t id, const tcp::endpoint& peer, shard_context& ctx)
    : ws_(std::move(socket)), ctx_(ctx), id_(id), peer_(peer) {}

ws_session::~ws_session() = default;

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
  // A pong (or ping) from the client proves it is alive as much as data does.
  ws_.control_callback([this](websocket::frame_type, beast::string_view) { last_activity_ = clock::now(); });
}

asio::awaitable<bool> ws_session::handshake(request& req) {
  configure();
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
  ctx_.add(this);
  ++ctx_.state.stats.websocket_sessions;
  // The upgrade passed the drain check in http_session, but the drain may
  // have closed this shard's sessions since: going on would leave this one
  // open until the drain timeout. It leaves like the others, with 1001.
  if (ctx_.draining) close(close_reason::shutdown, true);
  co_return true;
}

asio::awaitable<void> ws_session::session_main(std::shared_ptr<ws_session> self, std::unique_ptr<request> req) {
  const bool accepted = co_await self->handshake(*req);
  req.reset();  // an idle connection must not keep the request's headers
  if (accepted) self->read_next();
}

void ws_session::read_next() {
  ws_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                        std::size_t n) {
    self->guarded([&] { self->on_read(ec, n); });
  });
}

void ws_session::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (ec) {
    teardown(ec);
    return;
  }
  const bool done = ws_.is_message_done();
  if (done && message_.size() == 0) {
    on_message(std::string_view(chunk_, n), ws_.got_text());  // the common case: no copy
  } else {
    auto dst = message_.prepare(n);
    std::memcpy(dst.data(), chunk_, n);
    message_.commit(n);
    if (done) {
      auto data = message_.data();
      on_message(std::string_view(static_cast<const char*>(data.data()), data.size()), ws_.got_text());
      message_.clear();
      message_.shrink_to_fit();  // idle connections keep no read buffer
    }
  }
  if (!read_paused_) read_next();  // else the owner's acknowledgement resumes it
}

void ws_session::on_message(std::string_view text, bool is_text) {
  last_activity_ = clock::now();
  ++ctx_.state.stats.frames_received;
  if (closing_) return;
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
  write_next();
}

// One step of the write loop: starts the next write and returns; its
// completion (on_written) takes the next step. The first write of a burst
// starts right here, inside deliver(): Asio tries the send at once, so a
// fan-out costs one syscall and one completion per receiver, with no
// coroutine spawned per message.
void ws_session::write_next() {
  if (!open_) {
    writing_ = false;
  } else if (ping_due_ && !closing_) {
    ping_due_ = false;
    ws_.async_ping({}, [self = shared_from_this()](const boost::system::error_code& ec) {
      self->guarded([&] { self->on_written(ec, false, true); });
    });
  } else if (!queue_.empty() && (!closing_ || flush_)) {
    // The frame rides in the handler: close() may clear the queue mid-write.
    hub::local_frame f = queue_.pop();
    const auto* text = &f->text;
    ws_.async_write(asio::buffer(*text), [self = shared_from_this(), f = std::move(f)](
                                             const boost::system::error_code& ec, std::size_t) {
      self->guarded([&] { self->on_written(ec, true, false); });
    });
  } else if (closing_ && !close_sent_) {
    close_sent_ = true;
    ws_.async_close(close_frame_for(close_reason_),
                    [self = shared_from_this()](const boost::system::error_code&) { self->writing_ = false; });
  } else {
    writing_ = false;
  }
}

void ws_session::on_written(const boost::system::error_code& ec, bool message, bool ping) {
  if (ec) {
    writing_ = false;
    force_close();  // the read loop sees the error and tears the session down
    return;
  }
  if (message) ++ctx_.state.stats.messages_delivered;
  if (ping) ++ctx_.state.stats.pings_sent;
  write_next();
}

// Completion handlers have no co_spawn boundary around them: anything
// unexpected is caught here and ends this session only.
template <class F>
void ws_session::guarded(F&& f) {
  try {
    f();
  } catch (...) {
    log_unexpected{"ws_session"}(std::current_exception());
    writing_ = false;
    force_close();
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
  if (closing_) {
    if (older_than(closing_since_, now, o.close_timeout)) force_close();
    return;
  }
  if (older_than(last_activity_, now, o.idle_timeout)) {
    close(close_reason::idle_timeout, false);
    return;
  }
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
  for (const auto& t : topics_) leave_topic(t);
  recovering_.reset();
  users_.clear();
  bindings_ = 0;
  topics_.clear();
  st.stats.dropped_closed += queue_.clear();
  ctx_.remove(this);
  force_close();  // wakes a writer still blocked on a stalled peer
  if (util::log_enabled(util::log_level::debug)) {
    util::log(util::log_level::debug, "websocket closed",
              {{"conn", std::to_string(id_)}, {"peer", endpoint_text(peer_)}, {"error", ec.message()}});
  }
}

}  // namespace herald::net
