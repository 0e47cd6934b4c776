#pragma once
// ws_session: one WebSocket client connection.
//
// Beast answers the upgrade; after it the session speaks RFC 6455 framing
// itself (ws_frame_parser in, encode_frame_header out) on the transport,
// because Beast's stream would keep ~2.6 KiB per connection for life and
// take a composed operation per frame written. Two co_await loops share the
// connection (net::loop, a coroutine type lean enough for this; see
// loop.hpp):
//  - reader() parks in a socket readiness wait (no buffer, no read
//    operation), then reads what arrived into the shard's scratch buffer
//    and handles the client's frames in order: registrations and native
//    requests, answered through the outbound queue; pings (a pong is
//    queued), the close handshake. Its end is the one place a session is
//    torn down.
//  - writer() drains the bounded outbound queue: messages, replies, pongs,
//    pings, finally the close frame. It runs only while there is something
//    to send (started by the first frame queued, ended when the queue is
//    empty), so an idle connection keeps no writer frame. Each frame is one
//    non-blocking sendmsg of its header and the shared message bytes; it
//    waits only when the socket's buffer is full. Being the only writer
//    makes concurrent pushes to one connection safe: frames never
//    interleave.
//
// Closing is idempotent and safe from any path (slow consumer, heartbeat,
// drain, protocol error, the peer's close frame): close() only records why
// and lets the writer send the close frame. Then our side is shut down
// (FIN) and the reader lingers, discarding what the peer still sends, until
// its close frame or its end: closing with unread bytes would make the
// kernel send a reset that can overtake the close frame. The heartbeat
// sweep drops the socket if that overruns --close-timeout.
//
// Thread contract: shard-local. Everything runs on the owning shard's thread;
// other shards reach a session only by posting to its shard.
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "auth/failure.hpp"
#include "hub/catch_up.hpp"
#include "hub/subscriber.hpp"
#include "metrics/shard_stats.hpp"
#include "net/address_limit.hpp"
#include "net/transport.hpp"
#include "net/ws_frames.hpp"
#include "net/loop.hpp"
#include "net/outbound_queue.hpp"
#include "net/types.hpp"

namespace herald::proto {
struct client_request;
}
namespace herald::api {
struct identity;
}

namespace herald::net {

namespace beast = boost::beast;
namespace http = beast::http;

class shard_context;

class ws_session final : public hub::subscriber, public std::enable_shared_from_this<ws_session> {
 public:
  using clock = std::chrono::steady_clock;
  using request = http::request<http::string_body>;

  // `peer` is the client: the socket's peer, or what a PROXY header named;
  // `lease` its place under --max-connections-per-ip, held for life.
  ws_session(transport t, std::uint64_t id, const tcp::endpoint& peer, shard_context& ctx,
             address_limit::lease lease = {});
  ~ws_session();

  // Answers the upgrade `req` and runs the session until it closes.
  static void start(std::shared_ptr<ws_session> self, request req);

  hub::send_status deliver(const hub::local_frame& f) override;

  // Begins closing with the WebSocket close code for `why`. With `flush`
  // the frames already queued are written first (graceful drain); without it
  // they are dropped (slow consumer). Later calls do nothing.
  void close(metrics::close_reason why, bool flush);

  // Called by the shard's sweep with the current time: pings a quiet peer,
  // closes a silent one, and drops a socket whose closing handshake overran.
  void heartbeat(clock::time_point now);

  std::uint64_t id() const { return id_; }
  const tcp::endpoint& peer() const { return peer_; }
  std::uint32_t table_index = 0;  // position in shard_context's table

 private:
  // Members are ordered so that no padding is left between them: an idle
  // connection holds this object for life, and it comes from a 16-byte
  // pool class (ws_session.cpp asserts the size).
  tcp::endpoint peer_;  // for logs, and for whatever comes to be keyed by client address

  // The session's coroutines own a reference to it, so a session lives
  // exactly as long as one of them runs.
  static asio::awaitable<void> session_main(std::shared_ptr<ws_session> self, std::unique_ptr<request> req);
  static loop reader(std::shared_ptr<ws_session> self);
  static loop writer(std::shared_ptr<ws_session> self);
  // The reader's suspension points: while reading is paused (a binding
  // waits for its owner's acknowledgement), and the readiness wait.
  struct paused;
  struct readable;
  void resume_reader();
  // Reads what the socket holds (a fair share) and handles it; false when
  // the reader is done (`r.ec` says why).
  bool drain(io_result& r);
  // Handles the frames in `in`; stops early when reading pauses (`in` then
  // holds the rest) or the reader is done (false).
  bool feed(std::span<char>& in, io_result& r);
  bool on_frame(ws_frame_parser::event& e);
  void on_peer_close(std::uint16_t code);
  asio::awaitable<bool> handshake(request& req);
  void on_message(std::string_view text, bool is_text);
  // --client-rate: takes a message's token from the bucket; false when it
  // is empty.
  bool within_rate(clock::time_point now);
  // Takes a token for a message or a ping; when none is left, queues error
  // rate_limited and closes 1008. True when it refused.
  bool refuse_over_rate();
  void handle_text(std::string_view text);
  void handle_request(proto::client_request& req);
  void handle_register(proto::client_request& req);
  void handle_auth(proto::client_request& req);
  // Authentication and permissions (ws_session_requests.cpp). A token on
  // the upgrade (?token=) is checked before the handshake: refused, it is
  // answered 401 and the connection ends.
  asio::awaitable<bool> admit_upgrade(const request& req, std::optional<api::identity>& who);
  // Binds an authenticated identity (with `event` for compat), takes over
  // its expiry and its granted channels, then runs `then` and subscribes
  // the channels.
  void take_identity(api::identity who, std::string_view event, std::function<void()> then);
  void refuse_token(auth::failure why, std::string id);
  // Whether this connection may subscribe `topic`; `grant_expires` is set
  // when only the subscription token allowed it (its exp).
  bool may_subscribe(const std::string& topic, std::string_view subscription_token, const std::string& id,
                     std::optional<std::int64_t>& grant_expires);
  // Records (or renews, or clears when none) the expiry of a subscription.
  void track_grant(const std::string& topic, std::optional<std::int64_t> expires);
  // Heartbeat: warns of an expired subscription token, then ends the
  // subscription once --token-expiry-grace has passed.
  void expire_grants(clock::time_point now);
  void start_subscription(const std::string& topic, std::optional<std::uint64_t> since, const std::string& epoch,
                          const std::string& id);
  // Heartbeat: tells a connection whose token expired, and closes it (4001)
  // once --token-expiry-grace has passed too. True when it closed it.
  bool token_expired(clock::time_point now);
  void bind(const std::string& user, std::string_view event, std::function<void()> then);
  // Ends the subscription to `topic` (registry, presence, its offset, a
  // subscription token's expiry); false when there was none.
  bool end_subscription(const std::string& topic);
  bool leave_topic(const std::string& topic);
  std::string presence_user() const;
  void handle_subscribe(proto::client_request& req);
  void handle_unsubscribe(proto::client_request& req);
  void handle_publish(proto::client_request& req);
  static asio::awaitable<void> publish_task(std::shared_ptr<ws_session> self, std::string topic, std::string data,
                                            std::string id);
  void on_history(const std::string& topic, const std::string& id, std::optional<std::uint64_t> since,
                  hub::history_slice slice);
  bool buffer_if_recovering(const hub::local_frame& f);
  bool presence_on(const std::string& topic) const;
  bool enqueue(hub::local_frame f);
  bool under_subscription_limit(const std::string& id);
  void reply(std::string text);
  void reply_error(std::string_view code, std::string reason, std::string id);
  void ensure_writer();
  ws_opcode next_to_write(hub::local_frame& f, std::string& control);
  void after_close_sent();
  void force_close();
  void teardown(const boost::system::error_code& ec);

  transport sock_;
  ws_frame_parser parser_;  // holds a message only while it spans reads
  outbound_queue queue_;
  shard_context& ctx_;
  // From the shard's pool: most connections hold one short entry for life.
  std::vector<std::string, pool_allocator<std::string>> users_;  // users this connection is bound to
  // A subscription and the last offset this connection got of it: live
  // frames pass hub::catch_up::admit against it.
  struct topic_sub {
    std::string name;
    std::uint64_t last = 0;
  };
  std::vector<topic_sub, pool_allocator<topic_sub>> topics_;
  topic_sub* find_topic(std::string_view name);
  std::uint16_t bindings_ = 0;       // (user, event) bindings, for the limit
  std::uint16_t peer_code_ = 0;      // the code of the peer's close frame, echoed in ours
  metrics::close_reason close_reason_ = metrics::close_reason::peer;
  bool open_ : 1 = false;        // handshake done and not yet torn down
  bool writing_ : 1 = false;     // the write loop has a write in flight
  bool ping_due_ : 1 = false;
  bool closing_ : 1 = false;     // close() was called
  bool flush_ : 1 = false;       // write what is queued before the close frame
  bool close_sent_ : 1 = false;
  bool read_paused_ : 1 = false;  // waiting for the owner to acknowledge a binding
  bool peer_closed_ : 1 = false;  // the peer's close frame came: nothing more is read
  bool held_ : 1 = false;         // lingering with linger_budget spent: the peer gets backpressure
  // Bytes discarded while lingering since the last budget began.
  std::uint32_t lingered_ = 0;
  // --client-rate's token bucket: thousandths of a message, and when it was
  // last filled (steady clock, ms, modulo 2^32: a gap under 49 days is exact).
  std::uint32_t rate_tokens_ = 0;
  std::uint32_t rate_filled_ms_ = 0;
  // The payload of the last ping, until the pong is out; a read that
  // stopped because reading paused, what it had not handled yet.
  std::unique_ptr<std::string> pong_;
  std::unique_ptr<std::string> backlog_;
  // Subscriptions waiting for their history; allocated only meanwhile.
  std::unique_ptr<std::vector<hub::catch_up>> recovering_;
  // What a JWT said about this connection; allocated only for connections
  // whose token expires or grants channels.
  struct credential {
    clock::time_point expires_at = clock::time_point::max();
    bool warned = false;                // the token_expired error frame went out
    std::vector<std::string> channels;  // granted by the tokens' "channels"
    // Subscriptions only a subscription token allowed, until its exp (then,
    // once warned, until the grace has passed).
    struct grant {
      std::string topic;
      clock::time_point expires_at;
      bool warned = false;
    };
    std::vector<grant> grants;
  };
  std::unique_ptr<credential> credential_;
  std::uint64_t id_;
  address_limit::lease lease_;  // --max-connections-per-ip (empty when off); given back at teardown
  clock::time_point last_activity_;
  // Pings stop once a connection is closing, so one field serves both:
  // when the last ping went out, then (from close()) when closing began.
  union {
    clock::time_point last_ping_{};
    clock::time_point closing_since_;
  };
  std::coroutine_handle<> paused_reader_;
};

}  // namespace herald::net
