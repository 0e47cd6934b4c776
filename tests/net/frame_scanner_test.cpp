#include <boost/test/unit_test.hpp>

#include <vector>

#include "net/frame_scanner.hpp"

using namespace herald::net;

namespace {

// A masked client text frame with `payload` bytes.
std::vector<std::uint8_t> frame(std::size_t payload) {
  std::vector<std::uint8_t> f{0x81};
  if (payload < 126) {
    f.push_back(static_cast<std::uint8_t>(0x80 | payload));
  } else if (payload < 65536) {
    f.push_back(0x80 | 126);
    f.push_back(static_cast<std::uint8_t>(payload >> 8));
    f.push_back(static_cast<std::uint8_t>(payload));
  } else {
    f.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<std::uint8_t>(payload >> (8 * i)));
  }
  for (int i = 0; i < 4; ++i) f.push_back(0x11);  // mask key
  f.insert(f.end(), payload, 0x22);
  return f;
}

std::span<const std::uint8_t> all(const std::vector<std::uint8_t>& v) { return {v.data(), v.size()}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(net_frame_scanner)

BOOST_AUTO_TEST_CASE(with_the_header_in_view_a_whole_frame_is_read_at_once_and_no_more) {
  frame_scanner s;
  auto f = frame(30);
  auto two = f;
  auto g = frame(5);
  two.insert(two.end(), g.begin(), g.end());
  BOOST_TEST(s.limit(all(two), 1536) == f.size());  // stops where the next frame begins
  s.consume(two.data(), f.size());
  BOOST_TEST(s.at_boundary());
}

BOOST_AUTO_TEST_CASE(without_a_view_only_the_two_fixed_header_bytes_may_be_read) {
  frame_scanner s;
  BOOST_TEST(s.limit({}, 1536) == 2u);
  auto f = frame(300);  // 16-bit extended length
  s.consume(f.data(), 2);
  BOOST_TEST(!s.at_boundary());
  BOOST_TEST(s.limit({}, 1536) == 6u);  // the rest of the header: 2 length + 4 mask bytes
  s.consume(f.data() + 2, 6);
  BOOST_TEST(s.limit({}, 1536) == 300u);
  BOOST_TEST(s.limit({}, 64) == 64u);  // never more than asked
  s.consume(f.data() + 8, 300);
  BOOST_TEST(s.at_boundary());
}

BOOST_AUTO_TEST_CASE(a_64_bit_length_and_an_empty_frame_are_followed_exactly) {
  frame_scanner s;
  auto big = frame(70000);
  BOOST_TEST(s.limit(std::span<const std::uint8_t>(big.data(), 14), 1536) == 1536u);
  std::size_t read = 0;
  while (read < big.size()) {
    auto n = s.limit(std::span<const std::uint8_t>(big.data() + read, std::min<std::size_t>(14, big.size() - read)),
                     1536);
    BOOST_REQUIRE(n > 0u);
    s.consume(big.data() + read, n);
    read += n;
  }
  BOOST_TEST(read == big.size());
  BOOST_TEST(s.at_boundary());
  auto empty = frame(0);
  BOOST_TEST(s.limit(all(empty), 1536) == empty.size());
  s.consume(empty.data(), empty.size());
  BOOST_TEST(s.at_boundary());
}

BOOST_AUTO_TEST_CASE(a_header_split_across_reads_is_put_together) {
  frame_scanner s;
  auto f = frame(200);
  s.consume(f.data(), 1);
  BOOST_TEST(!s.at_boundary());
  // The byte already read and the peeked rest make up the header.
  BOOST_TEST(s.limit(std::span<const std::uint8_t>(f.data() + 1, 7), 1536) == f.size() - 1);
}

BOOST_AUTO_TEST_CASE(a_64_bit_length_near_two_to_the_64_does_not_stall_the_reader_inside_the_header) {
  // Found by tests/fuzz (frame_scanner): h + length wrapped, so the scanner
  // allowed 13 of the 14 header bytes and then zero-byte reads forever.
  std::vector<std::uint8_t> f{0x81, 0x80 | 127};
  f.insert(f.end(), 8, 0xff);  // length 2^64 - 1
  f.insert(f.end(), 4, 0x11);  // mask key
  frame_scanner s;
  BOOST_TEST(s.limit(all(f), 1536) == 1536u);  // the header and then some payload
  s.consume(f.data(), 13);
  BOOST_TEST(s.limit(std::span<const std::uint8_t>(f.data() + 13, 1), 1536) == 1536u);
  s.consume(f.data() + 13, 1);
  BOOST_TEST(s.in_header() == false);
  BOOST_TEST(s.limit({}, 1536) == 1536u);
}

BOOST_AUTO_TEST_SUITE_END()
