// Unit tests for proto::codec: what clients and backends may send, what they
// get back, and the exact bytes of every frame Herald encodes.
#include <boost/test/unit_test.hpp>

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/codec.hpp"
#include "proto/json_text.hpp"

namespace proto = herald::proto;

namespace {

struct codec_fixture {
  proto::codec codec;
};

// True when `text` is one complete, valid JSON document.
bool is_valid_json(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(text.data(), text.size()).get(doc) == simdjson::SUCCESS;
}

// The string value of `key` in the JSON object `text`, decoded.
std::string string_member(std::string_view text, std::string_view key) {
  simdjson::dom::parser parser;
  std::string_view s;
  if (parser.parse(text.data(), text.size())[key].get(s) != simdjson::SUCCESS) return "<missing>";
  return std::string(s);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(codec_client_frames, codec_fixture)

BOOST_AUTO_TEST_CASE(a_compat_register_frame_yields_its_token_and_event) {
  auto r = codec.parse_client(R"({"token":"tok-1","event":"news"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST((r.value->op == proto::client_op::register_compat));
  BOOST_TEST(r.value->token == "tok-1");
  BOOST_TEST(r.value->event == "news");
  BOOST_TEST(r.value->id.empty());
}

BOOST_AUTO_TEST_CASE(a_compat_register_frame_with_a_missing_empty_or_non_string_field_is_a_bad_request) {
  const std::vector<std::string> frames = {
      R"({})",
      R"({"token":"t"})",
      R"({"event":"e"})",
      R"({"token":"","event":"e"})",
      R"({"token":"t","event":""})",
      R"({"token":7,"event":"e"})",
      R"({"token":"t","event":["e"]})",
      R"({"token":null,"event":"e"})",
  };
  for (const auto& f : frames) {
    BOOST_TEST_CONTEXT(f) {
      auto r = codec.parse_client(f);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_compat_register_frame_whose_event_holds_a_control_character_is_a_bad_request) {
  auto r = codec.parse_client(R"({"token":"t","event":"ne\u0001ws","id":3})");
  BOOST_TEST(!r);
  BOOST_TEST(r.error.code == proto::errc::bad_request);
  BOOST_TEST(r.error.id == "3");
}

BOOST_AUTO_TEST_CASE(a_compat_register_frame_accepts_a_utf8_event_name) {
  auto r = codec.parse_client(R"({"token":"t","event":"événement \u00e9"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->event == "événement é");
}

BOOST_AUTO_TEST_CASE(subscribe_and_unsubscribe_carry_their_topic) {
  auto sub = codec.parse_client(R"({"op":"subscribe","topic":"prices/EUR-USD"})");
  BOOST_TEST_REQUIRE(bool(sub));
  BOOST_TEST((sub.value->op == proto::client_op::subscribe));
  BOOST_TEST(sub.value->topic == "prices/EUR-USD");

  auto unsub = codec.parse_client(R"({"op":"unsubscribe","topic":"a.b:c@d=e+f_g"})");
  BOOST_TEST_REQUIRE(bool(unsub));
  BOOST_TEST((unsub.value->op == proto::client_op::unsubscribe));
  BOOST_TEST(unsub.value->topic == "a.b:c@d=e+f_g");
}

BOOST_AUTO_TEST_CASE(subscribe_may_carry_a_recovery_position) {
  auto plain = codec.parse_client(R"({"op":"subscribe","topic":"news"})");
  BOOST_TEST_REQUIRE(bool(plain));
  BOOST_TEST(!plain.value->since.has_value());
  BOOST_TEST(plain.value->epoch.empty());

  auto r = codec.parse_client(R"({"op":"subscribe","topic":"news","since":17,"epoch":"e-9"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST_REQUIRE(r.value->since.has_value());
  BOOST_TEST(*r.value->since == 17u);
  BOOST_TEST(r.value->epoch == "e-9");
}

BOOST_AUTO_TEST_CASE(a_recovery_position_that_is_not_a_count_or_a_short_epoch_is_a_bad_request) {
  const std::vector<std::string> frames = {
      R"({"op":"subscribe","topic":"t","id":1,"since":-1})",
      R"({"op":"subscribe","topic":"t","id":1,"since":1.5})",
      R"({"op":"subscribe","topic":"t","id":1,"since":"3"})",
      R"({"op":"subscribe","topic":"t","id":1,"epoch":7})",
      R"({"op":"subscribe","topic":"t","id":1,"epoch":")" + std::string(65, 'e') + R"("})",
  };
  for (const auto& f : frames) {
    BOOST_TEST_CONTEXT(f) {
      auto r = codec.parse_client(f);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
      BOOST_TEST(r.error.id == "1");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_client_publish_carries_topic_and_compact_data) {
  auto r = codec.parse_client(R"({"op":"publish","topic":"room:1","data":{ "t" : "hi" },"id":4})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST((r.value->op == proto::client_op::publish));
  BOOST_TEST(r.value->topic == "room:1");
  BOOST_TEST(r.value->data == R"({"t":"hi"})");
  BOOST_TEST(r.value->id == "4");
}

BOOST_AUTO_TEST_CASE(a_client_publish_without_data_or_with_a_bad_topic_is_refused) {
  auto no_data = codec.parse_client(R"({"op":"publish","topic":"room:1","id":4})");
  BOOST_TEST(!no_data);
  BOOST_TEST(no_data.error.code == proto::errc::bad_request);
  BOOST_TEST(no_data.error.id == "4");

  auto no_topic = codec.parse_client(R"({"op":"publish","data":1})");
  BOOST_TEST(!no_topic);
  BOOST_TEST(no_topic.error.code == proto::errc::bad_request);

  auto bad_topic = codec.parse_client(R"({"op":"publish","topic":"room 1","data":1})");
  BOOST_TEST(!bad_topic);
  BOOST_TEST(bad_topic.error.code == proto::errc::bad_topic);
}

BOOST_AUTO_TEST_CASE(ping_needs_no_other_field) {
  auto r = codec.parse_client(R"({"op":"ping"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST((r.value->op == proto::client_op::ping));
  BOOST_TEST(r.value->id.empty());
}

BOOST_AUTO_TEST_CASE(auth_carries_its_token) {
  auto r = codec.parse_client(R"({"op":"auth","token":"s3cr\"et","id":"a1"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST((r.value->op == proto::client_op::auth));
  BOOST_TEST(r.value->token == "s3cr\"et");
  BOOST_TEST(r.value->id == R"("a1")");
}

BOOST_AUTO_TEST_CASE(auth_without_a_non_empty_string_token_is_a_bad_request_that_keeps_the_id) {
  const std::vector<std::string> frames = {
      R"({"op":"auth","id":5})",
      R"({"op":"auth","token":"","id":5})",
      R"({"op":"auth","token":12,"id":5})",
      R"({"op":"auth","token":{},"id":5})",
  };
  for (const auto& f : frames) {
    BOOST_TEST_CONTEXT(f) {
      auto r = codec.parse_client(f);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
      BOOST_TEST(r.error.id == "5");
    }
  }
}

BOOST_AUTO_TEST_CASE(subscribe_may_carry_a_subscription_token_which_must_be_a_string) {
  auto r = codec.parse_client(R"({"op":"subscribe","topic":"$ops","token":"a.b.c","id":1})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->topic == "$ops");
  BOOST_TEST(r.value->token == "a.b.c");
  auto bad = codec.parse_client(R"({"op":"subscribe","topic":"$ops","token":7,"id":1})");
  BOOST_TEST(!bad);
  BOOST_TEST(bad.error.code == proto::errc::bad_request);
}

BOOST_AUTO_TEST_CASE(subscribe_without_a_non_empty_string_topic_is_a_bad_request) {
  const std::vector<std::string> frames = {
      R"({"op":"subscribe"})",
      R"({"op":"subscribe","topic":""})",
      R"({"op":"subscribe","topic":42})",
      R"({"op":"unsubscribe","topic":null})",
      R"({"op":"unsubscribe","topic":["a"]})",
  };
  for (const auto& f : frames) {
    BOOST_TEST_CONTEXT(f) {
      auto r = codec.parse_client(f);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
    }
  }
}

BOOST_AUTO_TEST_CASE(subscribe_to_a_badly_named_topic_is_a_bad_topic_that_keeps_the_id) {
  const std::vector<std::string> topics = {
      "a b", "news*", "news#", "a>b", "caf\\u00e9", "tab\\there", "a,b", "q?x", std::string(201, 'x'),
  };
  for (const auto& t : topics) {
    std::string frame = R"({"op":"subscribe","id":"req","topic":")" + t + R"("})";
    BOOST_TEST_CONTEXT(frame) {
      auto r = codec.parse_client(frame);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_topic);
      BOOST_TEST(r.error.id == R"("req")");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_topic_of_exactly_200_bytes_is_accepted) {
  std::string topic(200, 'z');
  auto r = codec.parse_client(R"({"op":"subscribe","topic":")" + topic + R"("})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->topic == topic);
}

BOOST_AUTO_TEST_CASE(a_numeric_id_is_echoed_as_json_number_text) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0", "0"},
      {"42", "42"},
      {"-7", "-7"},
      {"18446744073709551615", "18446744073709551615"},
      {"1.5", "1.5"},
  };
  for (const auto& [in, out] : cases) {
    BOOST_TEST_CONTEXT(in) {
      auto r = codec.parse_client(R"({"op":"ping","id":)" + in + "}");
      BOOST_TEST_REQUIRE(bool(r));
      BOOST_TEST(r.value->id == out);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_string_id_is_echoed_as_a_requoted_escaped_json_string) {
  auto plain = codec.parse_client(R"({"op":"ping","id":"abc-1"})");
  BOOST_TEST_REQUIRE(bool(plain));
  BOOST_TEST(plain.value->id == R"("abc-1")");

  auto escaped = codec.parse_client(R"({"op":"ping","id":"q\"b\\s\n\u0001\u0041"})");
  BOOST_TEST_REQUIRE(bool(escaped));
  BOOST_TEST(escaped.value->id == R"("q\"b\\s\n\u0001A")");
  BOOST_TEST(is_valid_json(escaped.value->id));
}

BOOST_AUTO_TEST_CASE(a_string_id_of_64_bytes_is_accepted_and_of_65_bytes_is_a_bad_request) {
  std::string id64(64, 'i');
  auto ok = codec.parse_client(R"({"op":"ping","id":")" + id64 + R"("})");
  BOOST_TEST_REQUIRE(bool(ok));
  BOOST_TEST(ok.value->id == '"' + id64 + '"');

  auto bad = codec.parse_client(R"({"op":"ping","id":")" + id64 + R"(i"})");
  BOOST_TEST(!bad);
  BOOST_TEST(bad.error.code == proto::errc::bad_request);
  BOOST_TEST(bad.error.id.empty());
}

BOOST_AUTO_TEST_CASE(an_id_that_is_neither_string_nor_number_is_a_bad_request_without_an_id) {
  for (std::string id : {"true", "null", "[1]", R"({"n":1})"}) {
    BOOST_TEST_CONTEXT(id) {
      auto r = codec.parse_client(R"({"op":"ping","id":)" + id + "}");
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
      BOOST_TEST(r.error.id.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(text_that_is_not_json_is_bad_json) {
  const std::vector<std::string> frames = {
      "", "   ", "{", R"({"op":"ping")", "not json", R"({"op":'ping'})", "{\"op\":\"ping\"}}", "\xff\xfe",
      "{\"op\":\"ping\",\"id\":\"\xc3\x28\"}",
  };
  for (const auto& f : frames) {
    BOOST_TEST_CONTEXT(f) {
      auto r = codec.parse_client(f);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_json);
      BOOST_TEST(r.error.id.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(json_that_is_not_an_object_is_a_bad_request) {
  for (std::string f : {"[]", R"(["op","ping"])", R"("ping")", "42", "null", "true"}) {
    BOOST_TEST_CONTEXT(f) {
      auto r = codec.parse_client(f);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_op_is_unknown_op_and_keeps_the_id) {
  auto r = codec.parse_client(R"({"op":"dance","id":17})");
  BOOST_TEST(!r);
  BOOST_TEST(r.error.code == proto::errc::unknown_op);
  BOOST_TEST(r.error.id == "17");

  auto s = codec.parse_client(R"({"op":"","id":"x"})");
  BOOST_TEST(!s);
  BOOST_TEST(s.error.code == proto::errc::unknown_op);
  BOOST_TEST(s.error.id == R"("x")");
}

BOOST_AUTO_TEST_CASE(ops_are_case_sensitive) {
  auto r = codec.parse_client(R"({"op":"PING"})");
  BOOST_TEST(!r);
  BOOST_TEST(r.error.code == proto::errc::unknown_op);
}

BOOST_AUTO_TEST_CASE(an_op_that_is_not_a_string_is_a_bad_request_that_keeps_the_id) {
  auto r = codec.parse_client(R"({"op":1,"id":2})");
  BOOST_TEST(!r);
  BOOST_TEST(r.error.code == proto::errc::bad_request);
  BOOST_TEST(r.error.id == "2");
}

BOOST_AUTO_TEST_CASE(a_codec_is_reusable_after_an_error) {
  BOOST_TEST(!codec.parse_client("{"));
  BOOST_TEST(!codec.parse_client("[]"));
  auto r = codec.parse_client(R"({"op":"subscribe","topic":"t"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->topic == "t");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(codec_http_bodies, codec_fixture)

BOOST_AUTO_TEST_CASE(a_valid_compat_push_yields_user_event_and_message) {
  auto r = codec.parse_compat_push(R"({"userId":"alice","event":"news","message":"hi \"there\"\n"})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->user == "alice");
  BOOST_TEST(r.value->event == "news");
  BOOST_TEST(r.value->message == "hi \"there\"\n");
}

BOOST_AUTO_TEST_CASE(a_compat_push_with_any_field_missing_empty_or_not_a_string_is_a_bad_request) {
  const std::vector<std::string> keys = {"userId", "event", "message"};
  const std::vector<std::string> bad_values = {"", R"("")", "1", "null", "true", R"(["x"])", R"({"a":"b"})"};
  for (std::size_t k = 0; k < keys.size(); ++k) {
    for (const auto& bad : bad_values) {
      std::string body = "{";
      for (std::size_t j = 0; j < keys.size(); ++j) {
        if (j == k && bad.empty()) continue;  // the field is missing
        if (body.size() > 1) body += ',';
        body += '"' + keys[j] + "\":" + (j == k ? bad : R"("v")");
      }
      body += '}';
      BOOST_TEST_CONTEXT(body) {
        auto r = codec.parse_compat_push(body);
        BOOST_TEST(!r);
        BOOST_TEST(r.error.code == proto::errc::bad_request);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_compat_push_that_is_not_a_json_object_is_refused) {
  auto bad_json = codec.parse_compat_push("userId=alice&event=news");
  BOOST_TEST(!bad_json);
  BOOST_TEST(bad_json.error.code == proto::errc::bad_json);

  auto array = codec.parse_compat_push(R"(["alice","news","hi"])");
  BOOST_TEST(!array);
  BOOST_TEST(array.error.code == proto::errc::bad_request);
}

BOOST_AUTO_TEST_CASE(publish_keeps_an_object_as_compact_json) {
  auto r = codec.parse_publish(R"( { "topic" : "news" , "data" : { "a" : [ 1 , 2 , { "b" : null } ] , "c" : true } } )");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->topic == "news");
  BOOST_TEST(r.value->data == R"({"a":[1,2,{"b":null}],"c":true})");
}

BOOST_AUTO_TEST_CASE(publish_keeps_arrays_scalars_and_null_as_compact_json) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[ 1, \"two\" , [ ] , { } ]", R"([1,"two",[],{}])"},
      {"42", "42"},
      {"-3", "-3"},
      {"0.25", "0.25"},
      {"null", "null"},
      {"false", "false"},
      {R"("plain")", R"("plain")"},
  };
  for (const auto& [in, out] : cases) {
    BOOST_TEST_CONTEXT(in) {
      auto r = codec.parse_publish(R"({"topic":"t","data":)" + in + "}");
      BOOST_TEST_REQUIRE(bool(r));
      BOOST_TEST(r.value->data == out);
    }
  }
}

BOOST_AUTO_TEST_CASE(publish_keeps_a_string_with_escapes_as_valid_json_of_the_same_value) {
  auto r = codec.parse_publish(R"({"topic":"t","data":"say \"hi\"\\ \n\t\u0001 \u00e9 \/"})");
  BOOST_TEST_REQUIRE(bool(r));
  const std::string& data = r.value->data;
  BOOST_TEST(is_valid_json(data));
  // The decoded value survives: wrap it in an object and read it back.
  BOOST_TEST(string_member(R"({"v":)" + data + "}", "v") == "say \"hi\"\\ \n\t\x01 é /");
  BOOST_TEST(data.find('\x01') == std::string::npos);  // the control char stays escaped
  BOOST_TEST(data.find('\n') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(publish_data_is_a_fixed_point_when_parsed_again) {
  auto first = codec.parse_publish(R"({"topic":"t","data":{"k":"v\"\\\u001f","n":[1.5,-2,1e2],"e":{}}})");
  BOOST_TEST_REQUIRE(bool(first));
  auto second = codec.parse_publish(R"({"topic":"t","data":)" + first.value->data + "}");
  BOOST_TEST_REQUIRE(bool(second));
  BOOST_TEST(second.value->data == first.value->data);
}

// RFC 8259 sets no limit on integer size, but simdjson's DOM refuses integers
// beyond 64 bits, so such a payload is answered "bad_json: invalid JSON".
// Disabled until the team decides whether to accept it or to name the limit.
BOOST_AUTO_TEST_CASE(publish_accepts_data_holding_an_integer_beyond_64_bits,
                     *boost::unit_test::disabled()) {
  auto r = codec.parse_publish(R"({"topic":"t","data":{"id":123456789012345678901234567890}})");
  BOOST_TEST(bool(r), "refused as " << r.error.code << ": " << r.error.reason);
}

BOOST_AUTO_TEST_CASE(publish_without_data_or_with_a_bad_topic_is_refused) {
  auto no_data = codec.parse_publish(R"({"topic":"t"})");
  BOOST_TEST(!no_data);
  BOOST_TEST(no_data.error.code == proto::errc::bad_request);

  for (std::string body : {R"({"data":1})", R"({"topic":"","data":1})", R"({"topic":3,"data":1})"}) {
    BOOST_TEST_CONTEXT(body) {
      auto r = codec.parse_publish(body);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
    }
  }

  auto bad_topic = codec.parse_publish(R"({"topic":"a b","data":1})");
  BOOST_TEST(!bad_topic);
  BOOST_TEST(bad_topic.error.code == proto::errc::bad_topic);

  auto bad_json = codec.parse_publish(R"({"topic":"t","data":})");
  BOOST_TEST(!bad_json);
  BOOST_TEST(bad_json.error.code == proto::errc::bad_json);
}

BOOST_AUTO_TEST_CASE(a_user_push_yields_the_user_and_compact_data) {
  auto r = codec.parse_user_push(R"({"user":"bob","data":{ "x" : "a\"b" }})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->user == "bob");
  BOOST_TEST(r.value->data == R"({"x":"a\"b"})");
}

BOOST_AUTO_TEST_CASE(a_user_push_without_a_valid_user_or_without_data_is_a_bad_request) {
  const std::vector<std::string> bodies = {
      R"({"data":1})",
      R"({"user":"","data":1})",
      R"({"user":5,"data":1})",
      R"({"user":"a\u0000b","data":1})",
      R"({"user":"a\nb","data":1})",
      R"({"user":"bob"})",
      "{\"user\":\"" + std::string(257, 'u') + "\",\"data\":1}",
  };
  for (const auto& body : bodies) {
    BOOST_TEST_CONTEXT(body) {
      auto r = codec.parse_user_push(body);
      BOOST_TEST(!r);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_http_client_publish_yields_token_topic_and_compact_data) {
  auto r = codec.parse_client_publish(R"({"token":"tk","topic":"room:1","data":[1, {"a" : "b"}]})");
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.value->token == "tk");
  BOOST_TEST(r.value->topic == "room:1");
  BOOST_TEST(r.value->data == R"([1,{"a":"b"}])");
}

BOOST_AUTO_TEST_CASE(an_http_client_publish_missing_a_field_is_refused) {
  const std::vector<std::string> bodies = {
      R"({"topic":"t","data":1})",
      R"({"token":"","topic":"t","data":1})",
      R"({"token":5,"topic":"t","data":1})",
      R"({"token":"tk","data":1})",
      R"({"token":"tk","topic":"a b","data":1})",
      R"({"token":"tk","topic":"t"})",
      R"([])",
      R"({)",
  };
  for (const auto& body : bodies) {
    BOOST_TEST_CONTEXT(body) { BOOST_TEST(!codec.parse_client_publish(body)); }
  }
  BOOST_TEST(codec.parse_client_publish(R"({"token":"tk","topic":"a b","data":1})").error.code ==
             proto::errc::bad_topic);
  BOOST_TEST(codec.parse_client_publish(R"({"topic":"t","data":1})").error.code == proto::errc::bad_request);
  BOOST_TEST(codec.parse_client_publish(R"({"token":"tk","topic":"t"})").error.code == proto::errc::bad_request);
}

BOOST_AUTO_TEST_CASE(an_http_client_publish_without_a_topic_is_a_bad_request_like_every_other_missing_field) {
  for (const char* body : {R"({"token":"tk","data":1})", R"({"token":"tk","topic":"","data":1})",
                           R"({"token":"tk","topic":7,"data":1})"}) {
    BOOST_TEST_CONTEXT(body) {
      auto r = codec.parse_client_publish(body);
      BOOST_TEST(r.error.code == proto::errc::bad_request);
      BOOST_TEST(r.error.code == codec.parse_publish(std::string(body).replace(1, 13, "")).error.code);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(codec_encoders)

BOOST_AUTO_TEST_CASE(a_topic_message_carries_its_stamp_and_embeds_data_verbatim) {
  const proto::topic_stamp stamp{42, "ep-1", 1700000000123};
  BOOST_TEST(proto::encode_topic_message("news", stamp, "", R"({"a":[1,2]})") ==
             R"({"op":"message","topic":"news","offset":42,"epoch":"ep-1","ts":1700000000123,"data":{"a":[1,2]}})");
}

BOOST_AUTO_TEST_CASE(a_topic_message_names_its_sender_escaped_when_there_is_one) {
  const proto::topic_stamp stamp{1, "e\\", 0};
  std::string text = proto::encode_topic_message("chat", stamp, "bo\"b", "null");
  BOOST_TEST(text == R"({"op":"message","topic":"chat","offset":1,"epoch":"e\\","ts":0,"from":"bo\"b","data":null})");
  BOOST_TEST(is_valid_json(text));
  BOOST_TEST(string_member(text, "from") == "bo\"b");
}

BOOST_AUTO_TEST_CASE(a_user_message_escapes_the_user_and_embeds_data_verbatim) {
  BOOST_TEST(proto::encode_user_message("a\"b\\c", 7, 99, R"("x")") ==
             R"({"op":"message","user":"a\"b\\c","offset":7,"ts":99,"data":"x"})");
}

BOOST_AUTO_TEST_CASE(presence_frames_name_the_topic_and_the_user) {
  BOOST_TEST(proto::encode_presence(true, "room:1", "alice") == R"({"op":"join","topic":"room:1","user":"alice"})");
  BOOST_TEST(proto::encode_presence(false, "room:1", "a\"l") == R"({"op":"leave","topic":"room:1","user":"a\"l"})");
}

BOOST_AUTO_TEST_CASE(subscribed_has_optional_id_and_recovered_flag) {
  BOOST_TEST(proto::encode_subscribed("news", "", "ep", 0, std::nullopt) ==
             R"({"op":"subscribed","topic":"news","epoch":"ep","offset":0})");
  BOOST_TEST(proto::encode_subscribed("news", "5", "ep", 12, true) ==
             R"({"op":"subscribed","topic":"news","id":5,"epoch":"ep","offset":12,"recovered":true})");
  BOOST_TEST(proto::encode_subscribed("news", R"("s")", "ep", 12, false) ==
             R"({"op":"subscribed","topic":"news","id":"s","epoch":"ep","offset":12,"recovered":false})");
}

BOOST_AUTO_TEST_CASE(published_has_the_offset_and_an_optional_id) {
  BOOST_TEST(proto::encode_published("news", 3, "") == R"({"op":"published","topic":"news","offset":3})");
  BOOST_TEST(proto::encode_published("news", 3, "8") == R"({"op":"published","topic":"news","offset":3,"id":8})");
}

BOOST_AUTO_TEST_CASE(a_reply_has_optional_topic_and_raw_id) {
  BOOST_TEST(proto::encode_reply("pong", "", "") == R"({"op":"pong"})");
  BOOST_TEST(proto::encode_reply("pong", "", "9") == R"({"op":"pong","id":9})");
  BOOST_TEST(proto::encode_reply("subscribed", "news", "") == R"({"op":"subscribed","topic":"news"})");
  BOOST_TEST(proto::encode_reply("unsubscribed", "news", R"("r1")") ==
             R"({"op":"unsubscribed","topic":"news","id":"r1"})");
}

BOOST_AUTO_TEST_CASE(authed_names_the_user_and_echoes_the_id) {
  BOOST_TEST(proto::encode_authed("alice", "") == R"({"op":"authed","user":"alice"})");
  BOOST_TEST(proto::encode_authed("al\"ice", "3") == R"({"op":"authed","user":"al\"ice","id":3})");
}

BOOST_AUTO_TEST_CASE(an_error_without_an_id_has_code_and_reason_only) {
  proto::error_reply e{"bad_json", "invalid JSON", ""};
  BOOST_TEST(proto::encode_error(e) == R"({"op":"error","code":"bad_json","reason":"invalid JSON"})");
}

BOOST_AUTO_TEST_CASE(an_error_with_an_id_echoes_it_raw) {
  proto::error_reply num{"unknown_op", "unknown op", "12"};
  BOOST_TEST(proto::encode_error(num) == R"({"op":"error","code":"unknown_op","reason":"unknown op","id":12})");
  proto::error_reply str{"bad_topic", "nope", R"("q\"1")"};
  BOOST_TEST(proto::encode_error(str) == R"({"op":"error","code":"bad_topic","reason":"nope","id":"q\"1"})");
}

BOOST_AUTO_TEST_CASE(an_error_escapes_quotes_backslashes_and_control_characters) {
  proto::error_reply e{"bad_request", "q\" b\\ n\n r\r t\t c\x01 u\x1f é", ""};
  std::string text = proto::encode_error(e);
  BOOST_TEST(text == R"({"op":"error","code":"bad_request","reason":"q\" b\\ n\n r\r t\t c\u0001 u\u001f é"})");
  BOOST_TEST(is_valid_json(text));
  BOOST_TEST(string_member(text, "reason") == e.reason);
}

BOOST_AUTO_TEST_CASE(a_parse_error_encodes_into_a_frame_that_echoes_the_request_id) {
  proto::codec codec;
  auto r = codec.parse_client(R"({"op":"subscribe","topic":"a b","id":"x\"y"})");
  BOOST_TEST_REQUIRE(!r);
  std::string text = proto::encode_error(r.error);
  BOOST_TEST(is_valid_json(text));
  BOOST_TEST(string_member(text, "code") == "bad_topic");
  BOOST_TEST(string_member(text, "id") == "x\"y");
}

BOOST_AUTO_TEST_CASE(delivered_and_api_errors_have_their_exact_shape) {
  BOOST_TEST(proto::encode_delivered(0, 0) == R"({"delivered":0,"offset":0})");
  BOOST_TEST(proto::encode_delivered(123456, 18446744073709551615u) ==
             R"({"delivered":123456,"offset":18446744073709551615})");
  BOOST_TEST(proto::encode_api_error("bad_topic", "no \"spaces\"") ==
             R"({"error":"bad_topic","reason":"no \"spaces\""})");
}

BOOST_AUTO_TEST_CASE(a_history_reply_embeds_its_frames_as_a_json_array) {
  BOOST_TEST(proto::encode_history("news", "ep", 9, false, {}) ==
             R"({"topic":"news","epoch":"ep","offset":9,"recovered":false,"messages":[]})");
  std::string a = R"({"op":"message","offset":8})", b = R"({"op":"message","offset":9})";
  std::string text = proto::encode_history("news", "ep", 9, true, {a, b});
  BOOST_TEST(text == R"({"topic":"news","epoch":"ep","offset":9,"recovered":true,"messages":[)" + a + "," + b + "]}");
  BOOST_TEST(is_valid_json(text));
}

BOOST_AUTO_TEST_CASE(a_user_poll_entry_is_a_compat_event_or_json_data) {
  BOOST_TEST(proto::encode_user_entry(3, 10, "news", "raw \"text\"\n", "") ==
             R"({"offset":3,"ts":10,"event":"news","message":"raw \"text\"\n"})");
  BOOST_TEST(proto::encode_user_entry(4, 11, "", "", R"({"k":1})") == R"({"offset":4,"ts":11,"data":{"k":1}})");
  std::string poll = proto::encode_user_poll("al\"ice", "e1", 4, true, {proto::encode_user_entry(4, 11, "", "", "1")});
  BOOST_TEST(poll ==
             R"({"user":"al\"ice","epoch":"e1","offset":4,"recovered":true,"messages":[{"offset":4,"ts":11,"data":1}]})");
  BOOST_TEST(is_valid_json(poll));
  BOOST_TEST(proto::encode_user_poll("u", "e", 0, false, {}) ==
             R"({"user":"u","epoch":"e","offset":0,"recovered":false,"messages":[]})");
}

BOOST_AUTO_TEST_CASE(json_string_escapes_every_control_character_and_nothing_else) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  std::string quoted = proto::json_string(all);
  BOOST_TEST(is_valid_json(quoted));
  BOOST_TEST(string_member(R"({"v":)" + quoted + "}", "v") == all);
  BOOST_TEST(proto::json_string("\x7f/é") == "\"\x7f/é\"");
  BOOST_TEST(proto::json_string("") == R"("")");

  std::string out = "prefix:";
  proto::append_json_string(out, "a\"b");
  BOOST_TEST(out == R"(prefix:"a\"b")");
}

BOOST_AUTO_TEST_SUITE_END()
