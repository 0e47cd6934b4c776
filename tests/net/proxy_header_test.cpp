// Unit tests for net::parse_proxy_header, the PROXY protocol v2 parser that
// runs before any HTTP byte when --proxy-protocol is on.
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <string>

#include "net/proxy_header.hpp"
#include "net/proxy_v2_bytes.hpp"

namespace herald::net {
// Boost.Test prints the values of a failed comparison.
std::ostream& operator<<(std::ostream& o, proxy_error e) { return o << to_string(e); }
}  // namespace herald::net

using namespace herald::net;
using namespace herald::test;
namespace ip = boost::asio::ip;

namespace {

proxy_parse_result parse(const bytes& b) { return parse_proxy_header(b); }

proxy_header header_of(const proxy_parse_result& r) {
  BOOST_TEST_REQUIRE(std::holds_alternative<proxy_header>(r));
  return std::get<proxy_header>(r);
}

proxy_error error_of(const proxy_parse_result& r) {
  BOOST_TEST_REQUIRE(std::holds_alternative<proxy_error>(r));
  return std::get<proxy_error>(r);
}

std::size_t need_of(const proxy_parse_result& r) {
  BOOST_TEST_REQUIRE(std::holds_alternative<proxy_need_more>(r));
  return std::get<proxy_need_more>(r).total;
}

bytes prefix(const bytes& b, std::size_t n) { return bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy_header_parser)

BOOST_AUTO_TEST_CASE(a_tcp4_header_yields_the_client_address_and_its_length) {
  auto h = header_of(parse(proxy_v2_tcp4({203, 0, 113, 7}, 4242, {10, 0, 0, 1}, 8080)));
  BOOST_TEST(h.length == 16u + 12u);
  BOOST_TEST_REQUIRE(h.source.has_value());
  BOOST_TEST(h.source->address().to_string() == "203.0.113.7");
  BOOST_TEST(h.source->port() == 4242);
}

BOOST_AUTO_TEST_CASE(a_tcp6_header_yields_the_client_address_and_its_length) {
  std::array<std::uint8_t, 16> src{0x20, 0x01, 0x0d, 0xb8};
  src[15] = 0x01;
  std::array<std::uint8_t, 16> dst{};
  dst[15] = 0x02;
  auto h = header_of(parse(proxy_v2_tcp6(src, 65535, dst, 443)));
  BOOST_TEST(h.length == 16u + 36u);
  BOOST_TEST_REQUIRE(h.source.has_value());
  BOOST_TEST(h.source->address().to_string() == "2001:db8::1");
  BOOST_TEST(h.source->port() == 65535);
}

BOOST_AUTO_TEST_CASE(tlvs_after_the_addresses_are_skipped_by_the_length) {
  // PP2_TYPE_UNIQUE_ID, PP2_TYPE_AUTHORITY
  auto tlvs = concat(tlv(0x05, "unique-id-123"), tlv(0x02, "push.example"));
  auto b = proxy_v2_tcp4({192, 0, 2, 1}, 1, {192, 0, 2, 2}, 2, tlvs);
  auto h = header_of(parse(b));
  BOOST_TEST(h.length == b.size());
  BOOST_TEST(h.source->address().to_string() == "192.0.2.1");
}

BOOST_AUTO_TEST_CASE(bytes_after_the_header_are_not_part_of_it) {
  auto header = proxy_v2_tcp4({192, 0, 2, 1}, 1, {192, 0, 2, 2}, 2);
  BOOST_TEST(header_of(parse(concat(header, bytes_of("GET / HTTP/1.1\r\n")))).length == header.size());
}

BOOST_AUTO_TEST_CASE(a_local_header_keeps_the_real_addresses) {
  auto h = header_of(parse(proxy_v2_local()));
  BOOST_TEST(h.length == 16u);
  BOOST_TEST(!h.source.has_value());
}

BOOST_AUTO_TEST_CASE(a_local_header_ignores_its_family_and_skips_its_block) {
  // LOCAL with a TCP4 family but no room for its addresses is still valid:
  // the spec says the receiver must ignore the family of a LOCAL header.
  auto h = header_of(parse(proxy_v2(0x20, 0x11, {1, 2, 3})));
  BOOST_TEST(h.length == 19u);
  BOOST_TEST(!h.source.has_value());
}

BOOST_AUTO_TEST_CASE(proxy_over_unspec_or_unix_keeps_the_real_addresses) {
  BOOST_TEST(!header_of(parse(proxy_v2(0x21, 0x00, {}))).source.has_value());
  BOOST_TEST(!header_of(parse(proxy_v2(0x21, 0x31, bytes(216, 0)))).source.has_value());
}

BOOST_AUTO_TEST_CASE(a_truncated_header_asks_for_exactly_the_missing_bytes) {
  auto b = proxy_v2_tcp4({203, 0, 113, 7}, 4242, {10, 0, 0, 1}, 8080, tlv(0x05, "id"));
  BOOST_TEST(need_of(parse({})) == 16u);
  BOOST_TEST(need_of(parse(prefix(b, 5))) == 16u);
  BOOST_TEST(need_of(parse(prefix(b, 15))) == 16u);
  BOOST_TEST(need_of(parse(prefix(b, 16))) == b.size());
  BOOST_TEST(need_of(parse(prefix(b, b.size() - 1))) == b.size());
}

BOOST_AUTO_TEST_CASE(plain_http_is_a_bad_signature_from_its_first_byte) {
  BOOST_TEST(error_of(parse({'G'})) == proxy_error::bad_signature);
  BOOST_TEST(error_of(parse(bytes_of("GET /readyz HTTP/1.1\r\n\r\n"))) == proxy_error::bad_signature);
}

BOOST_AUTO_TEST_CASE(a_proxy_v1_text_header_is_a_bad_signature) {
  BOOST_TEST(error_of(parse(bytes_of("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n"))) == proxy_error::bad_signature);
}

BOOST_AUTO_TEST_CASE(a_signature_wrong_in_its_last_byte_is_rejected) {
  auto b = proxy_v2_local();
  b[11] = 0x0B;
  BOOST_TEST(error_of(parse(b)) == proxy_error::bad_signature);
}

BOOST_AUTO_TEST_CASE(a_version_other_than_2_is_rejected) {
  BOOST_TEST(error_of(parse(proxy_v2(0x11, 0x11, bytes(12, 0)))) == proxy_error::bad_version);
  BOOST_TEST(error_of(parse(proxy_v2(0x31, 0x11, bytes(12, 0)))) == proxy_error::bad_version);
}

BOOST_AUTO_TEST_CASE(a_command_other_than_local_or_proxy_is_rejected) {
  BOOST_TEST(error_of(parse(proxy_v2(0x22, 0x11, bytes(12, 0)))) == proxy_error::bad_command);
  BOOST_TEST(error_of(parse(proxy_v2(0x2F, 0x11, bytes(12, 0)))) == proxy_error::bad_command);
}

BOOST_AUTO_TEST_CASE(an_unknown_family_is_rejected_for_proxy) {
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x41, bytes(12, 0)))) == proxy_error::bad_family);
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x13, bytes(12, 0)))) == proxy_error::bad_family);
}

BOOST_AUTO_TEST_CASE(a_length_too_short_for_the_family_is_rejected) {
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x11, bytes(11, 0)))) == proxy_error::too_short);
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x21, bytes(12, 0)))) == proxy_error::too_short);
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x31, bytes(36, 0)))) == proxy_error::too_short);
}

BOOST_AUTO_TEST_CASE(a_too_short_length_is_rejected_before_the_rest_arrives) {
  // Only the 16 fixed bytes: the length already proves the header wrong.
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x11, {}, 4))) == proxy_error::too_short);
}

BOOST_AUTO_TEST_CASE(an_oversized_length_is_rejected_from_the_fixed_part_alone) {
  BOOST_TEST(error_of(parse(proxy_v2(0x21, 0x11, {}, 0xFFFF))) == proxy_error::too_long);
  BOOST_TEST(error_of(parse(proxy_v2(0x20, 0x00, {}, proxy_header_max - 16 + 1))) == proxy_error::too_long);
  // The bound itself is still accepted.
  BOOST_TEST(need_of(parse(proxy_v2(0x21, 0x11, {}, proxy_header_max - 16))) == proxy_header_max);
}

BOOST_AUTO_TEST_CASE(every_error_has_a_name) {
  for (auto e : {proxy_error::bad_signature, proxy_error::bad_version, proxy_error::bad_command,
                 proxy_error::bad_family, proxy_error::too_short, proxy_error::too_long}) {
    BOOST_TEST(std::string(to_string(e)) != "unknown");
  }
}

BOOST_AUTO_TEST_SUITE_END()
