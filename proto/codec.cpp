#include "proto/codec.hpp"

#include <simdjson.h>

#include "proto/json_text.hpp"
#include "proto/names.hpp"

namespace herald::proto {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::size_t max_id_length = 64;

template <class T>
parse_result<T> fail(std::string_view code, std::string reason, std::string id = {}) {
  parse_result<T> r;
  r.error = error_reply{std::string(code), std::move(reason), std::move(id)};
  return r;
}

// Reads an optional string member. Returns false when the member exists but
// is not a string.
bool optional_string(object obj, std::string_view key, std::string& out) {
  element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return true;
  std::string_view s;
  if (v.get(s) != simdjson::SUCCESS) return false;
  out.assign(s);
  return true;
}

// The request id is echoed verbatim, so it must be a short string or number.
bool read_id(object obj, std::string& out) {
  element v;
  if (obj["id"].get(v) != simdjson::SUCCESS) return true;
  if (v.is_string()) {
    std::string_view s = v.get_string().value_unsafe();
    if (s.size() > max_id_length) return false;
    out = json_string(s);
    return true;
  }
  if (v.is_number()) {
    out = simdjson::minify(v);
    return true;
  }
  return false;
}

parse_result<client_request> parse_op(object obj, std::string_view op, client_request req) {
  if (op == "ping") {
    req.op = client_op::ping;
  } else if (op == "subscribe" || op == "unsubscribe") {
    req.op = op == "subscribe" ? client_op::subscribe : client_op::unsubscribe;
    if (!optional_string(obj, "topic", req.topic) || req.topic.empty()) {
      return fail<client_request>(errc::bad_request, "\"topic\" must be a non-empty string", req.id);
    }
    if (!valid_topic(req.topic)) {
      return fail<client_request>(errc::bad_topic, "topic names are 1-200 bytes of [A-Za-z0-9_.:@/=+-]", req.id);
    }
  } else if (op == "auth") {
    req.op = client_op::auth;
    if (!optional_string(obj, "token", req.token) || req.token.empty()) {
      return fail<client_request>(errc::bad_request, "\"token\" must be a non-empty string", req.id);
    }
  } else {
    return fail<client_request>(errc::unknown_op, "unknown op", req.id);
  }
  parse_result<client_request> r;
  r.value = std::move(req);
  return r;
}

parse_result<client_request> parse_register(object obj, client_request req) {
  if (!optional_string(obj, "token", req.token) || !optional_string(obj, "event", req.event) ||
      req.token.empty() || req.event.empty()) {
    return fail<client_request>(errc::bad_request,
                                "expected {\"token\":..,\"event\":..} or a native {\"op\":..}", req.id);
  }
  if (!valid_name(req.event)) {
    return fail<client_request>(errc::bad_request, "event must be 1-256 bytes without control characters", req.id);
  }
  req.op = client_op::register_compat;
  parse_result<client_request> r;
  r.value = std::move(req);
  return r;
}

// Returns the minified JSON text of obj[key], or nullopt when it is absent.
std::optional<std::string> json_member(object obj, std::string_view key) {
  element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return simdjson::minify(v);
}

}  // namespace

struct codec::impl {
  simdjson::dom::parser parser;

  // Parses `text` as a JSON object; on failure fills `error`.
  bool object_of(std::string_view text, object& out, error_reply& error) {
    element doc;
    if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) {
      error = {std::string(errc::bad_json), "invalid JSON", {}};
      return false;
    }
    if (doc.get(out) != simdjson::SUCCESS) {
      error = {std::string(errc::bad_request), "expected a JSON object", {}};
      return false;
    }
    return true;
  }
};

codec::codec() : impl_(std::make_unique<impl>()) {}
codec::~codec() = default;

parse_result<client_request> codec::parse_client(std::string_view text) {
  parse_result<client_request> r;
  object obj;
  if (!impl_->object_of(text, obj, r.error)) return r;
  client_request req;
  if (!read_id(obj, req.id)) {
    return fail<client_request>(errc::bad_request, "\"id\" must be a number or a string of at most 64 bytes");
  }
  element op;
  if (obj["op"].get(op) == simdjson::SUCCESS) {
    std::string_view name;
    if (op.get(name) != simdjson::SUCCESS) {
      return fail<client_request>(errc::bad_request, "\"op\" must be a string", req.id);
    }
    return parse_op(obj, name, std::move(req));
  }
  return parse_register(obj, std::move(req));
}

parse_result<compat_push> codec::parse_compat_push(std::string_view body) {
  parse_result<compat_push> r;
  object obj;
  if (!impl_->object_of(body, obj, r.error)) return r;
  compat_push p;
  if (!optional_string(obj, "userId", p.user) || !optional_string(obj, "event", p.event) ||
      !optional_string(obj, "message", p.message) || p.user.empty() || p.event.empty() ||
      p.message.empty()) {
    return fail<compat_push>(errc::bad_request, "userId, event and message must be non-empty strings");
  }
  r.value = std::move(p);
  return r;
}

parse_result<publish_request> codec::parse_publish(std::string_view body) {
  parse_result<publish_request> r;
  object obj;
  if (!impl_->object_of(body, obj, r.error)) return r;
  publish_request p;
  if (!optional_string(obj, "topic", p.topic) || p.topic.empty()) {
    return fail<publish_request>(errc::bad_request, "\"topic\" must be a non-empty string");
  }
  if (!valid_topic(p.topic)) {
    return fail<publish_request>(errc::bad_topic, "topic names are 1-200 bytes of [A-Za-z0-9_.:@/=+-]");
  }
  auto data = json_member(obj, "data");
  if (!data) return fail<publish_request>(errc::bad_request, "\"data\" is required");
  p.data = std::move(*data);
  r.value = std::move(p);
  return r;
}

parse_result<user_push> codec::parse_user_push(std::string_view body) {
  parse_result<user_push> r;
  object obj;
  if (!impl_->object_of(body, obj, r.error)) return r;
  user_push p;
  if (!optional_string(obj, "user", p.user) || !valid_name(p.user)) {
    return fail<user_push>(errc::bad_request, "\"user\" must be a non-empty string");
  }
  auto data = json_member(obj, "data");
  if (!data) return fail<user_push>(errc::bad_request, "\"data\" is required");
  p.data = std::move(*data);
  r.value = std::move(p);
  return r;
}

std::string encode_topic_message(std::string_view topic, std::string_view data_json) {
  std::string out;
  out.reserve(36 + topic.size() + data_json.size());
  out += R"({"op":"message","topic":)";
  append_json_string(out, topic);
  out += R"(,"data":)";
  out += data_json;
  out += '}';
  return out;
}

std::string encode_user_message(std::string_view user, std::string_view data_json) {
  std::string out;
  out.reserve(36 + user.size() + data_json.size());
  out += R"({"op":"message","user":)";
  append_json_string(out, user);
  out += R"(,"data":)";
  out += data_json;
  out += '}';
  return out;
}

std::string encode_reply(std::string_view op, std::string_view topic, std::string_view id) {
  std::string out = R"({"op":)";
  append_json_string(out, op);
  if (!topic.empty()) {
    out += R"(,"topic":)";
    append_json_string(out, topic);
  }
  if (!id.empty()) {
    out += R"(,"id":)";
    out += id;
  }
  out += '}';
  return out;
}

std::string encode_authed(std::string_view user, std::string_view id) {
  std::string out = R"({"op":"authed","user":)";
  append_json_string(out, user);
  if (!id.empty()) {
    out += R"(,"id":)";
    out += id;
  }
  out += '}';
  return out;
}

std::string encode_error(const error_reply& e) {
  std::string out = R"({"op":"error","code":)";
  append_json_string(out, e.code);
  out += R"(,"reason":)";
  append_json_string(out, e.reason);
  if (!e.id.empty()) {
    out += R"(,"id":)";
    out += e.id;
  }
  out += '}';
  return out;
}

std::string encode_delivered(std::size_t n) {
  return R"({"delivered":)" + std::to_string(n) + "}";
}

std::string encode_api_error(std::string_view code, std::string_view reason) {
  std::string out = R"({"error":)";
  append_json_string(out, code);
  out += R"(,"reason":)";
  append_json_string(out, reason);
  out += '}';
  return out;
}

}  // namespace herald::proto
