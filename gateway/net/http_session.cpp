#include "net/http_session.hpp"

#include <array>
#include <span>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <openssl/sslerr.h>

#include "api/http_api.hpp"
#include "config/options.hpp"
#include "net/address_limit.hpp"
#include "net/endpoint_text.hpp"
#include "net/long_poll.hpp"
#include "net/proxy_header.hpp"
#include "net/response_text.hpp"
#include "net/shard_context.hpp"
#include "net/sse_stream.hpp"
#include "net/tls_context.hpp"
#include "net/transport.hpp"
#include "net/unexpected.hpp"
#include "net/ws_session.hpp"
#include "shard/shard_state.hpp"
#include "util/log.hpp"

namespace herald::net {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

clock::duration ticks(config::seconds_d d) { return std::chrono::duration_cast<clock::duration>(d); }

// The session's one timer (what beast::basic_stream gave before TLS came,
// which cannot wrap a TLS transport): when it runs out the socket is closed,
// which ends the operation in flight, and expired() tells that from the
// peer's own failures. Its state is shared with the pending wait, so a wait
// that completes after the session handed its transport on (or ended) finds
// nothing to close.
// Lazy: expires_after() only records the new deadline while the wait in
// flight ends no later than it; that wait, when it ends early, waits again
// for what is left. A keep-alive connection sets it twice per request, and
// re-arming each time cost a cancelled wait's completion and two timer-queue
// updates per request (~2 % of a /push in perf).
class deadline {
 public:
  explicit deadline(transport& t) : state_(std::allocate_shared<state>(pool_allocator<state>{}, t)) {}
  ~deadline() { release(); }
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;

  void expires_after(clock::duration d) {
    state_->at = clock::now() + d;
    if (state_->waiting && state_->armed_for <= state_->at) return;
    arm(state_);
  }
  bool expired() const { return state_->expired; }
  // No deadline any more: the transport is handed on (or gone).
  void release() {
    state_->t = nullptr;
    ++state_->generation;
    state_->waiting = false;
    state_->timer.cancel();
  }

 private:
  struct state {
    explicit state(transport& tr) : t(&tr), timer(tr.get_executor()) {}
    transport* t;
    asio::steady_timer timer;
    clock::time_point at{};         // the deadline
    clock::time_point armed_for{};  // what the wait in flight waits for
    std::uint32_t generation = 0;   // a completion of an older wait is stale
    bool waiting = false;
    bool expired = false;
  };

  // (Re)starts the wait for `at`; a wait in flight is cancelled, and stale.
  static void arm(const std::shared_ptr<state>& s) {
    const auto generation = ++s->generation;
    s->waiting = true;
    s->armed_for = s->at;
    s->timer.expires_at(s->at);
    s->timer.async_wait([s, generation](const boost::system::error_code& ec) {
      if (s->generation != generation) return;
      s->waiting = false;
      if (ec || s->t == nullptr) return;
      if (clock::now() < s->at) return arm(s);  // moved on since this wait began
      s->expired = true;
      boost::system::error_code ignored;
      s->t->close(ignored);
    });
  }

  std::shared_ptr<state> state_;
};

// The answer to a request that could not be parsed, or none when the peer
// just went away (nothing to say to it).
std::optional<http::status> status_for(const boost::system::error_code& ec, const deadline& dl) {
  if (dl.expired()) return std::nullopt;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
    return std::nullopt;
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return http::status::request_header_fields_too_large;
  }
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  return http::status::bad_request;
}

std::string_view path_of(const api::request& req) {
  std::string_view target(req.target().data(), req.target().size());
  return target.substr(0, target.find('?'));
}

// Sends a final answer and closes gently: after shutting down our side we
// read (and discard) what the client is still sending for a moment, so its
// TCP stack does not reset the connection before it reads our answer.
asio::awaitable<void> answer_and_close(transport& t, deadline& dl, api::response& res) {
  res.keep_alive(false);
  res.prepare_payload();
  dl.expires_after(std::chrono::seconds(5));
  std::string wire;
  append_response_text(res, wire);
  co_await asio::async_write(t, asio::buffer(wire), use_tuple);
  boost::system::error_code ec;
  t.shutdown_send(ec);
  char sink[4096];
  std::size_t discarded = 0;
  dl.expires_after(std::chrono::seconds(1));
  while (discarded < (1u << 20)) {
    auto [rec, n] = co_await t.async_read_some(asio::buffer(sink), use_tuple);
    if (rec) break;
    discarded += n;
  }
  t.close(ec);
}

api::response refuse(shard_context& ctx, metrics::refusal why, http::status status, const char* text,
                     unsigned version) {
  ctx.state.stats.count_refusal(why);
  return api::text_response(status, text, version);
}

// --allowed-origin: a browser page of another site is refused (403). A
// request without Origin (not a browser's) goes on.
std::optional<api::response> check_origin(const api::request& req, shard_context& ctx) {
  if (!ctx.origins.enabled()) return std::nullopt;
  auto it = req.find(http::field::origin);
  if (it == req.end() || ctx.origins.allows(std::string_view(it->value().data(), it->value().size()))) {
    return std::nullopt;
  }
  return refuse(ctx, metrics::refusal::origin, http::status::forbidden, "origin not allowed", req.version());
}

// --max-connections-per-ip: the lease the connection holds while it is a
// WebSocket or a held request, or the 503 refusing it.
std::variant<api::response, address_limit::lease> lease_for(const api::request& req, const tcp::endpoint& peer,
                                                            shard_context& ctx) {
  if (auto lease = ctx.per_ip.acquire(peer.address())) return std::move(*lease);
  return refuse(ctx, metrics::refusal::per_ip_limit, http::status::service_unavailable,
                "too many connections from this address", req.version());
}

// Refuses an upgrade with a status, or accepts it with the connection's
// lease on its address.
std::variant<api::response, address_limit::lease> check_upgrade(const api::request& req, const tcp::endpoint& peer,
                                                                shard_context& ctx) {
  if (path_of(req) != "/ws") return api::text_response(http::status::not_found, "not found", req.version());
  if (auto refusal = check_origin(req, ctx)) return std::move(*refusal);
  if (ctx.draining) {
    return refuse(ctx, metrics::refusal::draining, http::status::service_unavailable, "draining", req.version());
  }
  const auto limit = ctx.opts.max_connections;
  if (limit != 0 && ctx.open_total.load(std::memory_order_relaxed) >= limit) {
    return refuse(ctx, metrics::refusal::connection_limit, http::status::service_unavailable,
                  "connection limit reached", req.version());
  }
  return lease_for(req, peer, ctx);
}

// A connection dropped before HTTP, at debug level (a scan of the port
// must not flood the log; the counters say how many).
void log_dropped(const char* what, std::uint64_t id, const tcp::endpoint& peer, const char* reason,
                 std::string error = {}) {
  if (!util::log_enabled(util::log_level::debug)) return;
  util::log(util::log_level::debug, what,
            {{"conn", std::to_string(id)}, {"peer", endpoint_text(peer)}, {"reason", reason}, {"error", std::move(error)}});
}

void reject_proxy_header(shard_context& ctx, std::uint64_t id, const tcp::endpoint& peer, metrics::proxy_reject why,
                         const char* detail) {
  ctx.state.stats.count_proxy_reject(why);
  log_dropped("proxy header rejected", id, peer, detail, detail);
}

// Reads the PROXY v2 header that must open the connection, exactly: never a
// byte past it, so the HTTP parser starts at the request's first byte. On
// success `peer` becomes the client the header names (PROXY over TCP) or
// stays the socket's (LOCAL, other families). False: drop the connection;
// it has been counted. The balancer gets no HTTP answer: it would not read one.
asio::awaitable<bool> accept_proxy_header(transport& t, deadline& dl, std::uint64_t id, shard_context& ctx,
                                          tcp::endpoint& peer) {
  std::array<std::uint8_t, proxy_header_max> bytes;
  std::size_t have = 0;
  // One deadline for the whole header, however slowly it trickles in.
  dl.expires_after(ticks(ctx.opts.proxy_header_timeout));
  for (;;) {
    const auto parsed = parse_proxy_header(std::span<const std::uint8_t>(bytes.data(), have));
    if (const auto* h = std::get_if<proxy_header>(&parsed)) {
      if (h->source) peer = *h->source;
      co_return true;
    }
    if (const auto* e = std::get_if<proxy_error>(&parsed)) {
      const auto why = *e == proxy_error::bad_signature ? metrics::proxy_reject::bad_signature
                                                         : metrics::proxy_reject::malformed;
      reject_proxy_header(ctx, id, peer, why, to_string(*e));
      co_return false;
    }
    const std::size_t want = std::get<proxy_need_more>(parsed).total;
    auto [ec, n] = co_await t.async_read_some(asio::buffer(bytes.data() + have, want - have), use_tuple);
    if (ec) {
      const bool late = dl.expired();
      reject_proxy_header(ctx, id, peer, late ? metrics::proxy_reject::timeout : metrics::proxy_reject::truncated,
                          late ? "timeout" : "truncated");
      co_return false;
    }
    have += n;
  }
}

// Puts bytes a held request's session had read past it back in front of the parser.
void refill(beast::flat_buffer& buffer, const std::string& leftover) {
  if (leftover.empty()) return;
  buffer.commit(asio::buffer_copy(buffer.prepare(leftover.size()), asio::buffer(leftover)));
}

std::string leftover_of(const beast::flat_buffer& buffer) {
  return buffer.size() == 0 ? std::string() : beast::buffers_to_string(buffer.data());
}

// GET /poll and GET /sse: requests the node holds.
bool is_held(const api::request& req) {
  const auto path = path_of(req);
  return req.method() == http::verb::get && (path == "/poll" || path == "/sse");
}

// Starts a held request, which takes the socket (nothing returned: the
// session ends; a poll starts a new one through `back` when it has
// answered), or returns the answer to a refused one, which the session
// gives like any other.
// Held requests pass the same Origin and per-address checks as upgrades
// (not the WebSocket-only --max-connections), before their own.
std::optional<api::response> hold(const api::request& req, transport& t, deadline& dl, const beast::flat_buffer& buffer,
                                  http_resume back, shard_context& ctx, bool keep_alive) {
  if (auto refusal = check_origin(req, ctx)) return refusal;
  auto leased = lease_for(req, back.peer, ctx);
  if (auto* refusal = std::get_if<api::response>(&leased)) return std::move(*refusal);
  auto& lease = std::get<address_limit::lease>(leased);
  if (path_of(req) == "/sse") {
    auto parsed = parse_sse(req, ctx);
    if (auto* refusal = std::get_if<api::response>(&parsed)) return std::move(*refusal);
    dl.release();
    std::get<sse_request>(parsed).lease = std::move(lease);
    start_sse(std::move(std::get<sse_request>(parsed)), std::move(t), ctx);
    return std::nullopt;
  }
  auto parsed = parse_poll(req, ctx);
  if (auto* refusal = std::get_if<api::response>(&parsed)) return std::move(*refusal);
  auto& poll = std::get<poll_request>(parsed);
  poll.keep_alive = keep_alive;
  poll.lease = std::move(lease);
  back.leftover = leftover_of(buffer);
  dl.release();
  start_poll(std::move(poll), std::move(t), std::move(back), ctx);
  return std::nullopt;
}

// Why a TLS handshake failed, as herald_tls_handshake_failures_total{reason} says.
metrics::tls_failure tls_failure_of(const boost::system::error_code& ec, const deadline& dl) {
  if (dl.expired()) return metrics::tls_failure::timeout;
  if (ec.category() != tls_category()) return metrics::tls_failure::closed;
  switch (tls_reason(ec)) {
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST: return metrics::tls_failure::http_request;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW: return metrics::tls_failure::version;
    default: return metrics::tls_failure::protocol;
  }
}

// The TLS handshake of a new connection to a TLS port, after its PROXY
// header (a balancer never encrypts that). False: drop the connection; it
// has been counted. A client that sent plain HTTP or garbage gets no
// answer but OpenSSL's alert: it would not read an HTTP one.
asio::awaitable<bool> accept_tls(transport& t, deadline& dl, std::uint64_t id, shard_context& ctx,
                                 const tcp::endpoint& peer) {
  if (!t.start_tls(ctx.tls->new_ssl())) co_return false;  // out of memory
  dl.expires_after(ticks(ctx.opts.handshake_timeout));
  auto [ec] = co_await t.async_handshake(use_tuple);
  if (!ec) co_return true;
  const auto why = tls_failure_of(ec, dl);
  ctx.state.stats.count_tls_failure(why);
  log_dropped("tls handshake failed", id, peer, metrics::to_string(why), ec.message());
  co_return false;
}

// A fresh connection's first steps, before its first request: counted, then
// its PROXY header and its TLS handshake when the port wants them. False:
// drop it.
asio::awaitable<bool> open_connection(transport& t, deadline& dl, std::uint64_t id, shard_context& ctx,
                                      tcp::endpoint& peer) {
  ++ctx.state.stats.connections_accepted;
  boost::system::error_code ignored;
  t.next_layer().set_option(tcp::no_delay(true), ignored);
  if (ctx.opts.proxy_protocol && !co_await accept_proxy_header(t, dl, id, ctx, peer)) co_return false;
  if (ctx.tls != nullptr && !co_await accept_tls(t, dl, id, ctx, peer)) co_return false;
  co_return true;
}

// Answers the upgrade `req` with a WebSocket session, or refuses it.
asio::awaitable<void> upgrade(transport& t, deadline& dl, api::request req, std::uint64_t id,
                              const tcp::endpoint& peer, shard_context& ctx) {
  auto checked = check_upgrade(req, peer, ctx);
  if (auto* refusal = std::get_if<api::response>(&checked)) {
    co_await answer_and_close(t, dl, *refusal);
    co_return;
  }
  dl.release();
  // From the shard's pool: no allocator header, and no hole left between
  // long-lived sessions when the handshake's transient memory is freed.
  ws_session::start(std::allocate_shared<ws_session>(pool_allocator<ws_session>{}, std::move(t), id, peer, ctx,
                                                     std::move(std::get<address_limit::lease>(checked))),
                    std::move(req));
}

// `back`: set when the connection returns from a held request (its PROXY
// header and TLS handshake were done then, and it was counted).
asio::awaitable<void> serve(transport t, std::uint64_t id, tcp::endpoint peer, shard_context& ctx,
                            api::http_api& api, std::optional<std::string> back) {
  deadline dl(t);
  beast::flat_buffer buffer;
  std::string wire;  // each answer's bytes; reused while small
  if (back) {
    refill(buffer, *back);
  } else if (!co_await open_connection(t, dl, id, ctx, peer)) {
    co_return;
  }
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(ctx.opts.max_header));
    parser.body_limit(ctx.opts.max_body);
    dl.expires_after(ticks(ctx.opts.http_idle_timeout));
    auto [ec, n] = co_await http::async_read(t, buffer, parser, use_tuple);
    if (ec) {
      if (auto status = status_for(ec, dl)) {
        auto res = api::text_response(*status, ec.message(), 11);
        co_await answer_and_close(t, dl, res);
      }
      co_return;
    }
    api::request req = parser.release();
    if (beast::websocket::is_upgrade(req)) {
      co_await upgrade(t, dl, std::move(req), id, peer, ctx);
      co_return;
    }
    const bool keep_alive = req.keep_alive() && !ctx.draining;
    // No co_await inside ?: here: g++ 12 destroys such a temporary twice.
    api::response res;
    if (is_held(req)) {
      auto refusal = hold(req, t, dl, buffer, http_resume{id, peer, &api, {}}, ctx, keep_alive);
      if (!refusal) co_return;  // the held request has the connection now
      res = std::move(*refusal);
    } else {
      res = co_await api.handle(req, ctx.state);
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    dl.expires_after(ticks(ctx.opts.http_idle_timeout));
    wire.clear();
    append_response_text(res, wire);
    // At once when the socket takes it (the usual case): no write operation.
    boost::system::error_code wec;
    const std::size_t sent = t.write_now(asio::buffer(wire), {}, wec);
    if (wec == asio::error::would_block) wec = {};
    if (!wec && sent < wire.size()) {
      auto [rest_ec, rest] = co_await asio::async_write(t, asio::buffer(wire.data() + sent, wire.size() - sent), use_tuple);
      wec = rest_ec;
    }
    if (wec || !keep_alive) break;
    if (wire.capacity() > 4096) std::string().swap(wire);  // a big answer's buffer is not kept while idle
  }
  boost::system::error_code ignored;
  t.shutdown_send(ignored);
}

}  // namespace

void http_session::start(socket_t socket, std::uint64_t id, const tcp::endpoint& peer, shard_context& ctx,
                         api::http_api& api) {
  auto ex = socket.get_executor();
  asio::co_spawn(ex, serve(transport(std::move(socket)), id, peer, ctx, api, std::nullopt),
                 log_unexpected{"http_session"});
}

void http_session::resume(transport t, http_resume back, shard_context& ctx) {
  auto ex = t.get_executor();
  asio::co_spawn(ex, serve(std::move(t), back.id, back.peer, ctx, *back.api, std::move(back.leftover)),
                 log_unexpected{"http_session"});
}

}  // namespace herald::net
