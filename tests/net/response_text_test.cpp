#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>

#include <boost/beast/http/write.hpp>

#include "api/http_api.hpp"
#include "net/response_text.hpp"

namespace http = boost::beast::http;
using herald::net::append_response_text;

namespace {

// What Beast's own serializer writes for `res`: the reference.
std::string beast_text(const herald::api::response& res) {
  std::ostringstream os;
  os << res;
  return os.str();
}

std::string our_text(const herald::api::response& res) {
  std::string out;
  append_response_text(res, out);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(response_text)

BOOST_AUTO_TEST_CASE(a_json_answer_is_byte_for_byte_what_beasts_serializer_writes) {
  auto res = herald::api::json_response(http::status::ok, R"({"message":"message sent to 2 clients"})", 11);
  res.keep_alive(true);
  res.prepare_payload();
  BOOST_TEST(our_text(res) == beast_text(res));
}

BOOST_AUTO_TEST_CASE(an_error_closing_an_http_1_0_connection_keeps_its_version_status_and_fields) {
  auto res = herald::api::text_response(http::status::payload_too_large, "body limit exceeded", 10);
  res.set("X-Custom", "a b");
  res.keep_alive(false);
  res.prepare_payload();
  const auto text = our_text(res);
  BOOST_TEST(text == beast_text(res));
  BOOST_TEST(text.rfind("HTTP/1.0 413 Payload Too Large\r\n", 0) == 0);
}

BOOST_AUTO_TEST_CASE(an_empty_body_ends_right_after_the_blank_line_and_text_is_appended_not_replaced) {
  herald::api::response res{http::status::no_content, 11};
  res.prepare_payload();
  std::string out = "previous";
  append_response_text(res, out);
  BOOST_TEST(out == "previous" + beast_text(res));
  BOOST_TEST(out.substr(out.size() - 4) == "\r\n\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
