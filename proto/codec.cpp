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

// The request id is echoed in replies, so it must be a short string or a
// number (re-serialised: 1e2 comes back as 100.0).
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

// Returns the minified JSON text of obj[key], or nullopt when it is absent.
std::optional<std::string> json_member(object obj, std::string_view key) {
  element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return simdjson::minify(v);
}

// subscribe's optional recovery position: "since" (offset) and "epoch".
bool read_position(object obj, client_request& req) {
  element v;
  if (obj["since"].get(v) == simdjson::SUCCESS) {
    std::uint64_t since;
    if (v.get(since) != simdjson::SUCCESS) return false;
    req.since = since;
  }
  return optional_string(obj, "epoch", req.epoch) && req.epoch.size() <= 64;
}

template <class T>
parse_result<T> fail(error_reply e) {
  parse_result<T> r;
  r.error = std::move(e);
  return r;
}

// Reads "topic" into `topic`; the error when it is missing or empty
// (bad_request) or breaks the naming rule (bad_topic).
std::optional<error_reply> read_topic(object obj, std::string& topic, const std::string& id) {
  if (!optional_string(obj, "topic", topic) || topic.empty()) {
    return error_reply{std::string(errc::bad_request), "\"topic\" must be a non-empty string", id};
  }
  if (!valid_topic(topic)) return error_reply{std::string(errc::bad_topic), std::string(topic_rule), id};
  return std::nullopt;
}

// Reads "data" (any JSON, kept compact) into `data`; the error when absent.
std::optional<error_reply> read_data(object obj, std::string& data, const std::string& id) {
  auto member = json_member(obj, "data");
  if (!member) return error_reply{std::string(errc::bad_request), "\"data\" is required", id};
  data = std::move(*member);
  return std::nullopt;
}

parse_result<client_request> parse_op(object obj, std::string_view op, client_request req) {
  if (op == "ping") {
    req.op = client_op::ping;
  } else if (op == "subscribe" || op == "unsubscribe") {
    req.op = op == "subscribe" ? client_op::subscribe : client_op::unsubscribe;
    if (auto e = read_topic(obj, req.topic, req.id)) return fail<client_request>(std::move(*e));
    if (req.op == client_op::subscribe && !read_position(obj, req)) {
      return fail<client_request>(errc::bad_request, "\"since\" must be a non-negative integer and \"epoch\" a string",
                                  req.id);
    }
    // A subscription token (a JWT granting this topic) rides along as "token".
    if (req.op == client_op::subscribe && !optional_string(obj, "token", req.token)) {
      return fail<client_request>(errc::bad_request, "\"token\" must be a string (a subscription token)", req.id);
    }
  } else if (op == "publish") {
    req.op = client_op::publish;
    if (auto e = read_topic(obj, req.topic, req.id)) return fail<client_request>(std::move(*e));
    if (auto e = read_data(obj, req.data, req.id)) return fail<client_request>(std::move(*e));
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
      !optional_string(obj, "message", p.message) || !valid_name(p.user) || !valid_name(p.event) ||
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
  if (auto e = read_topic(obj, p.topic, {})) return fail<publish_request>(std::move(*e));
  if (auto e = read_data(obj, p.data, {})) return fail<publish_request>(std::move(*e));
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
  if (auto e = read_data(obj, p.data, {})) return fail<user_push>(std::move(*e));
  r.value = std::move(p);
  return r;
}

namespace {

// The optional `,"id":ID` of a reply; ID is already JSON.
void append_id(std::string& out, std::string_view id) {
  if (id.empty()) return;
  out += R"(,"id":)";
  out += id;
}

}  // namespace

std::string encode_topic_message(std::string_view topic, const topic_stamp& stamp, std::string_view from,
                                 std::string_view data_json) {
  std::string out;
  out.reserve(96 + topic.size() + from.size() + data_json.size());
  out += R"({"op":"message","topic":)";
  append_json_string(out, topic);
  out += R"(,"offset":)" + std::to_string(stamp.offset) + R"(,"epoch":)";
  append_json_string(out, stamp.epoch);
  out += R"(,"ts":)" + std::to_string(stamp.ts_ms);
  if (!from.empty()) {
    out += R"(,"from":)";
    append_json_string(out, from);
  }
  out += R"(,"data":)";
  out += data_json;
  out += '}';
  return out;
}

std::string encode_user_message(std::string_view user, std::uint64_t offset, std::int64_t ts_ms,
                                std::string_view data_json) {
  std::string out;
  out.reserve(72 + user.size() + data_json.size());
  out += R"({"op":"message","user":)";
  append_json_string(out, user);
  out += R"(,"offset":)" + std::to_string(offset) + R"(,"ts":)" + std::to_string(ts_ms) + R"(,"data":)";
  out += data_json;
  out += '}';
  return out;
}

std::string encode_presence(bool join, std::string_view topic, std::string_view user) {
  std::string out = join ? R"({"op":"join","topic":)" : R"({"op":"leave","topic":)";
  append_json_string(out, topic);
  out += R"(,"user":)";
  append_json_string(out, user);
  out += '}';
  return out;
}

std::string encode_subscribed(std::string_view topic, std::string_view id, std::string_view epoch,
                              std::uint64_t offset, std::optional<bool> recovered) {
  std::string out = R"({"op":"subscribed","topic":)";
  append_json_string(out, topic);
  append_id(out, id);
  out += R"(,"epoch":)";
  append_json_string(out, epoch);
  out += R"(,"offset":)" + std::to_string(offset);
  if (recovered) out += *recovered ? R"(,"recovered":true)" : R"(,"recovered":false)";
  out += '}';
  return out;
}

std::string encode_published(std::string_view topic, std::uint64_t offset, std::string_view id) {
  std::string out = R"({"op":"published","topic":)";
  append_json_string(out, topic);
  out += R"(,"offset":)" + std::to_string(offset);
  append_id(out, id);
  out += '}';
  return out;
}

parse_result<client_publish> codec::parse_client_publish(std::string_view body) {
  parse_result<client_publish> r;
  object obj;
  if (!impl_->object_of(body, obj, r.error)) return r;
  client_publish p;
  if (!optional_string(obj, "token", p.token) || p.token.empty()) {
    return fail<client_publish>(errc::bad_request, "\"token\" must be a non-empty string");
  }
  // Like every other endpoint: a missing topic is a bad_request, a badly named one a bad_topic.
  if (auto e = read_topic(obj, p.topic, {})) return fail<client_publish>(std::move(*e));
  if (auto e = read_data(obj, p.data, {})) return fail<client_publish>(std::move(*e));
  r.value = std::move(p);
  return r;
}

std::string encode_reply(std::string_view op, std::string_view topic, std::string_view id) {
  std::string out = R"({"op":)";
  append_json_string(out, op);
  if (!topic.empty()) {
    out += R"(,"topic":)";
    append_json_string(out, topic);
  }
  append_id(out, id);
  out += '}';
  return out;
}

std::string encode_authed(std::string_view user, std::string_view id) {
  std::string out = R"({"op":"authed","user":)";
  append_json_string(out, user);
  append_id(out, id);
  out += '}';
  return out;
}

std::string encode_topic_error(std::string_view code, std::string_view topic, std::string_view reason) {
  std::string out = R"({"op":"error","code":)";
  append_json_string(out, code);
  out += R"(,"topic":)";
  append_json_string(out, topic);
  out += R"(,"reason":)";
  append_json_string(out, reason);
  out += '}';
  return out;
}

std::string encode_error(const error_reply& e) {
  std::string out = R"({"op":"error","code":)";
  append_json_string(out, e.code);
  out += R"(,"reason":)";
  append_json_string(out, e.reason);
  append_id(out, e.id);
  out += '}';
  return out;
}

namespace {

// ,"offset":N,"recovered":B,"messages":[...]} — the tail shared by history
// answers and user polls; each item is already JSON.
template <class Items>
void append_page(std::string& out, std::uint64_t offset, bool recovered, const Items& items) {
  out += R"(,"offset":)" + std::to_string(offset);
  out += recovered ? R"(,"recovered":true,"messages":[)" : R"(,"recovered":false,"messages":[)";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  out += "]}";
}

}  // namespace

std::string encode_history(std::string_view topic, std::string_view epoch, std::uint64_t offset, bool recovered,
                           const std::vector<std::string_view>& messages) {
  std::string out = R"({"topic":)";
  append_json_string(out, topic);
  out += R"(,"epoch":)";
  append_json_string(out, epoch);
  append_page(out, offset, recovered, messages);
  return out;
}

std::string encode_user_entry(std::uint64_t offset, std::int64_t ts_ms, std::string_view event,
                              std::string_view raw_message, std::string_view data_json) {
  std::string out = R"({"offset":)" + std::to_string(offset) + R"(,"ts":)" + std::to_string(ts_ms);
  if (!event.empty()) {
    out += R"(,"event":)";
    append_json_string(out, event);
    out += R"(,"message":)";
    append_json_string(out, raw_message);
  } else {
    out += R"(,"data":)";
    out += data_json;
  }
  out += '}';
  return out;
}

std::string encode_user_poll(std::string_view user, std::string_view epoch, std::uint64_t offset, bool recovered,
                             const std::vector<std::string>& entries) {
  std::string out = R"({"user":)";
  append_json_string(out, user);
  out += R"(,"epoch":)";
  append_json_string(out, epoch);
  append_page(out, offset, recovered, entries);
  return out;
}

std::string encode_delivered(std::size_t n, std::uint64_t offset) {
  return R"({"delivered":)" + std::to_string(n) + R"(,"offset":)" + std::to_string(offset) + "}";
}

std::string encode_api_error(std::string_view code, std::string_view reason) {
  std::string out = R"({"error":)";
  append_json_string(out, code);
  out += R"(,"reason":)";
  append_json_string(out, reason);
  out += '}';
  return out;
}

std::string encode_fleet_delivered(std::size_t n, std::uint64_t offset, std::size_t nodes, bool partial) {
  std::string out = R"({"delivered":)" + std::to_string(n) + R"(,"offset":)" + std::to_string(offset) +
                    R"(,"nodes":)" + std::to_string(nodes);
  if (partial) out += R"(,"partial":true)";
  out += '}';
  return out;
}

std::string encode_bus_unavailable(std::string_view reason, std::size_t delivered_locally) {
  std::string out = R"({"error":"bus_unavailable","reason":)";
  append_json_string(out, reason);
  out += R"(,"delivered_locally":)" + std::to_string(delivered_locally) + "}";
  return out;
}

}  // namespace herald::proto
