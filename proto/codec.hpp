#pragma once
// codec: parses the JSON that clients and backends send to Herald, and
// encodes the JSON Herald sends back. See proto/PROTOCOL.md for the formats.
//
// Thread contract: shard-local. A codec owns one simdjson parser (kilobytes of
// scratch space), so each shard keeps exactly one and never shares it; the
// encode_* free functions are pure and thread-safe.
//
// Errors are values: every parse returns either the request or an error_reply
// whose `code` is one of the stable strings in proto::errc.
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::proto {

// Stable machine-readable error codes (the "code" field of error frames).
namespace errc {
inline constexpr std::string_view bad_json = "bad_json";
inline constexpr std::string_view bad_request = "bad_request";
inline constexpr std::string_view unknown_op = "unknown_op";
inline constexpr std::string_view bad_topic = "bad_topic";
inline constexpr std::string_view unauthorized = "unauthorized";
inline constexpr std::string_view too_many_subscriptions = "too_many_subscriptions";
inline constexpr std::string_view not_subscribed = "not_subscribed";
inline constexpr std::string_view unsupported = "unsupported";
inline constexpr std::string_view forbidden = "forbidden";
inline constexpr std::string_view token_expired = "token_expired";
inline constexpr std::string_view rate_limited = "rate_limited";
}  // namespace errc

struct error_reply {
  std::string code;
  std::string reason;
  std::string id;  // raw JSON of the request's "id", empty when it had none
};

template <class T>
struct parse_result {
  std::optional<T> value;
  error_reply error;
  explicit operator bool() const { return value.has_value(); }
};

enum class client_op { register_compat, auth, subscribe, unsubscribe, ping, publish };

// One text frame from a WebSocket client, either the wserver-style
// `{"token","event"}` registration or a native `{"op":...}` request.
struct client_request {
  client_op op = client_op::ping;
  std::string id;     // raw JSON (number or string) echoed in replies
  std::string topic;  // subscribe / unsubscribe / publish
  std::string token;  // register_compat / auth; subscribe: a subscription token (may be empty)
  std::string event;  // register_compat
  std::optional<std::uint64_t> since;  // subscribe: last offset the client has
  std::string epoch;                   // subscribe: the epoch `since` belongs to
  std::string data;                    // publish: compact JSON
};

// POST /push (wserver compat): {"userId","event","message"}, all non-empty.
struct compat_push {
  std::string user;
  std::string event;
  std::string message;
};

// POST /api/v1/publish: {"topic","data"}; data is any JSON, kept compact.
struct publish_request {
  std::string topic;
  std::string data;
};

// POST /api/v1/push: {"user","data"}.
struct user_push {
  std::string user;
  std::string data;
};

// POST /api/v1/client-publish: {"token","topic","data"} from a browser
// that is not on a WebSocket (long-polling, SSE).
struct client_publish {
  std::string token;
  std::string topic;
  std::string data;
};

class codec {
 public:
  codec();
  ~codec();
  codec(const codec&) = delete;
  codec& operator=(const codec&) = delete;

  parse_result<client_request> parse_client(std::string_view text);
  parse_result<compat_push> parse_compat_push(std::string_view body);
  parse_result<publish_request> parse_publish(std::string_view body);
  parse_result<user_push> parse_user_push(std::string_view body);
  parse_result<client_publish> parse_client_publish(std::string_view body);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct topic_stamp {
  std::uint64_t offset;
  std::string_view epoch;
  std::int64_t ts_ms;
};
// {"op":"message","topic":T,"offset":N,"epoch":E,"ts":MS[,"from":U],"data":D}
// D must already be valid JSON text.
std::string encode_topic_message(std::string_view topic, const topic_stamp& stamp, std::string_view from,
                                 std::string_view data_json);
// {"op":"message","user":U,"offset":N,"ts":MS,"data":D}
std::string encode_user_message(std::string_view user, std::uint64_t offset, std::int64_t ts_ms,
                                std::string_view data_json);
// {"op":"join"|"leave","topic":T,"user":U}
std::string encode_presence(bool join, std::string_view topic, std::string_view user);
// {"op":"subscribed","topic":T[,"id":ID],"epoch":E,"offset":N[,"recovered":B]}
std::string encode_subscribed(std::string_view topic, std::string_view id, std::string_view epoch,
                              std::uint64_t offset, std::optional<bool> recovered);
// {"op":"published","topic":T,"offset":N[,"id":ID]}
std::string encode_published(std::string_view topic, std::uint64_t offset, std::string_view id);
// {"op":OP[,"topic":T][,"id":ID]} — acknowledgements such as "subscribed".
std::string encode_reply(std::string_view op, std::string_view topic, std::string_view id);
// {"op":"authed","user":U[,"id":ID]}
std::string encode_authed(std::string_view user, std::string_view id);
// {"op":"error","code":C,"reason":R[,"id":ID]}
std::string encode_error(const error_reply& e);
// An error about one subscription that no request asked for (e.g. its
// subscription token expired): the error frame with "topic".
std::string encode_topic_error(std::string_view code, std::string_view topic, std::string_view reason);
// {"topic":T,"epoch":E,"offset":N,"recovered":B,"messages":[M...]} where
// each M is already a JSON envelope (a frame's text).
std::string encode_history(std::string_view topic, std::string_view epoch, std::uint64_t offset, bool recovered,
                           const std::vector<std::string_view>& messages);
// One entry of a user long-poll: {"offset":N,"ts":MS,"event":E,"message":M}
// for a compat push (M raw text), {"offset":N,"ts":MS,"data":D} otherwise.
std::string encode_user_entry(std::uint64_t offset, std::int64_t ts_ms, std::string_view event,
                              std::string_view raw_message, std::string_view data_json);
// {"user":U,"epoch":E,"offset":N,"recovered":B,"messages":[entries...]}
std::string encode_user_poll(std::string_view user, std::string_view epoch, std::uint64_t offset, bool recovered,
                             const std::vector<std::string>& entries);
// {"delivered":N,"offset":O}
std::string encode_delivered(std::size_t n, std::uint64_t offset);
// In a fleet: {"delivered":N,"offset":O,"nodes":K[,"partial":true]}; N summed
// over the K nodes that reported.
std::string encode_fleet_delivered(std::size_t n, std::uint64_t offset, std::size_t nodes, bool partial);
// 503 in a fleet: {"error":"bus_unavailable","reason":R,"delivered_locally":N}.
std::string encode_bus_unavailable(std::string_view reason, std::size_t delivered_locally);
// {"error":C,"reason":R} — the body of a refused JSON API request.
std::string encode_api_error(std::string_view code, std::string_view reason);

}  // namespace herald::proto
