// Fuzz target: the client-frame codec (proto/codec). Every input goes to
// each of the codec's parsers, as a WebSocket text frame or an HTTP API body
// would, through one codec reused across inputs (one parser per shard, as
// in the server). Properties: a parse yields a value or an error with one
// of the stable codes, never both; whatever the codec hands back is encoded
// into replies that are valid JSON, because clients parse them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "fuzz_check.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"

namespace proto = herald::proto;

namespace {

bool is_json(const std::string& text) {
  static simdjson::dom::parser checker;
  simdjson::dom::element doc;
  return checker.parse(text).get(doc) == simdjson::SUCCESS;
}

bool known_code(std::string_view c) {
  namespace e = proto::errc;
  return c == e::bad_json || c == e::bad_request || c == e::unknown_op || c == e::bad_topic ||
         c == e::unauthorized || c == e::unsupported || c == e::forbidden;
}

template <class T>
void check_shape(const proto::parse_result<T>& r) {
  if (r) return;
  HERALD_FUZZ_CHECK(known_code(r.error.code));
  HERALD_FUZZ_CHECK(is_json(proto::encode_error(r.error)));
}

void check_client(const proto::parse_result<proto::client_request>& r) {
  check_shape(r);
  if (!r) {
    if (!r.error.id.empty()) HERALD_FUZZ_CHECK(is_json(r.error.id));
    return;
  }
  const auto& req = *r.value;
  if (!req.id.empty()) HERALD_FUZZ_CHECK(is_json(req.id));
  switch (req.op) {
    case proto::client_op::subscribe:
    case proto::client_op::unsubscribe:
      HERALD_FUZZ_CHECK(proto::valid_topic(req.topic));
      HERALD_FUZZ_CHECK(is_json(proto::encode_subscribed(req.topic, req.id, req.epoch, req.since.value_or(0),
                                                         req.since.has_value())));
      HERALD_FUZZ_CHECK(is_json(proto::encode_reply("unsubscribed", req.topic, req.id)));
      break;
    case proto::client_op::publish:
      HERALD_FUZZ_CHECK(proto::valid_topic(req.topic));
      HERALD_FUZZ_CHECK(is_json(req.data));
      HERALD_FUZZ_CHECK(is_json(proto::encode_topic_message(req.topic, {1, "e", 0}, req.token, req.data)));
      HERALD_FUZZ_CHECK(is_json(proto::encode_published(req.topic, 1, req.id)));
      break;
    case proto::client_op::register_compat:
    case proto::client_op::auth:
      HERALD_FUZZ_CHECK(is_json(proto::encode_authed(req.token, req.id)));
      break;
    case proto::client_op::ping:
      HERALD_FUZZ_CHECK(is_json(proto::encode_reply("pong", "", req.id)));
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static proto::codec codec;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  check_client(codec.parse_client(text));

  auto compat = codec.parse_compat_push(text);
  check_shape(compat);
  if (compat) {
    HERALD_FUZZ_CHECK(proto::valid_name(compat.value->user) && proto::valid_name(compat.value->event));
    HERALD_FUZZ_CHECK(is_json(proto::encode_user_entry(1, 0, compat.value->event, compat.value->message, "")));
  }

  auto publish = codec.parse_publish(text);
  check_shape(publish);
  if (publish) {
    HERALD_FUZZ_CHECK(proto::valid_topic(publish.value->topic) && is_json(publish.value->data));
    HERALD_FUZZ_CHECK(is_json(proto::encode_topic_message(publish.value->topic, {1, "e", 0}, "", publish.value->data)));
  }

  auto push = codec.parse_user_push(text);
  check_shape(push);
  if (push) {
    HERALD_FUZZ_CHECK(is_json(push.value->data));
    HERALD_FUZZ_CHECK(is_json(proto::encode_user_message(push.value->user, 1, 0, push.value->data)));
  }

  auto client_publish = codec.parse_client_publish(text);
  check_shape(client_publish);
  if (client_publish) HERALD_FUZZ_CHECK(proto::valid_topic(client_publish.value->topic));

  // The naming rules and the glob matcher see client-chosen bytes too.
  proto::valid_utf8(text);
  const auto cut = text.find('\n');
  if (cut != std::string_view::npos) proto::glob_match(text.substr(0, cut), text.substr(cut + 1));
  return 0;
}
