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
#include <optional>
#include <string>
#include <string_view>

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

enum class client_op { register_compat, auth, subscribe, unsubscribe, ping };

// One text frame from a WebSocket client, either the wserver-style
// `{"token","event"}` registration or a native `{"op":...}` request.
struct client_request {
  client_op op = client_op::ping;
  std::string id;     // raw JSON (number or string) echoed in replies
  std::string topic;  // subscribe / unsubscribe
  std::string token;  // register_compat / auth
  std::string event;  // register_compat
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

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// {"op":"message","topic":T,"data":D} — D must already be valid JSON text.
std::string encode_topic_message(std::string_view topic, std::string_view data_json);
// {"op":"message","user":U,"data":D}
std::string encode_user_message(std::string_view user, std::string_view data_json);
// {"op":OP[,"topic":T][,"id":ID]} — acknowledgements such as "subscribed".
std::string encode_reply(std::string_view op, std::string_view topic, std::string_view id);
// {"op":"authed","user":U[,"id":ID]}
std::string encode_authed(std::string_view user, std::string_view id);
// {"op":"error","code":C,"reason":R[,"id":ID]}
std::string encode_error(const error_reply& e);
// {"delivered":N}
std::string encode_delivered(std::size_t n);
// {"error":C,"reason":R} — the body of a refused JSON API request.
std::string encode_api_error(std::string_view code, std::string_view reason);

}  // namespace herald::proto
