#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/ws_frames.hpp"

using namespace herald::net;
using kind = ws_frame_parser::kind;

namespace {

// Not a symmetric or zero key: a parser that skips unmasking, or rotates
// the key wrongly across reads, gets different bytes.
constexpr std::uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

std::string masked(std::string_view payload) {
  std::string m(payload);
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<char>(m[i] ^ key[i & 3]);
  return m;
}

// The header bytes of a masked frame: `b0` (FIN, RSV, opcode) as given,
// then the length in its shortest form, then the key.
std::string header(std::uint8_t b0, std::uint64_t n) {
  std::string h(1, static_cast<char>(b0));
  if (n < 126) {
    h += static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    h += static_cast<char>(0x80 | 126);
    for (int i = 1; i >= 0; --i) h += static_cast<char>(n >> (8 * i));
  } else {
    h += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) h += static_cast<char>(n >> (8 * i));
  }
  h.append(reinterpret_cast<const char*>(key), 4);
  return h;
}

// A client frame as a browser sends it.
std::string frame(std::uint8_t b0, std::string_view payload) { return header(b0, payload.size()) + masked(payload); }

// Hand-made bytes, for headers no well-behaved client writes.
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}
std::string key_bytes() { return std::string(reinterpret_cast<const char*>(key), 4); }

std::string close_frame(std::uint16_t code, std::string_view reason) { return frame(0x88, close_payload(code, reason)); }

// An event as text, to compare sequences: "text:hello", "close:1000:bye", "error:1002".
std::string describe(const ws_frame_parser::event& e) {
  switch (e.what) {
    case kind::none: return "none";
    case kind::message: return (e.text ? "text:" : "binary:") + std::string(e.payload);
    case kind::ping: return "ping:" + std::string(e.payload);
    case kind::pong: return "pong:" + std::string(e.payload);
    case kind::close: return "close:" + std::to_string(e.code) + ":" + std::string(e.payload);
    case kind::error: return "error:" + std::to_string(e.code);
  }
  return "?";
}

// Feeds `wire` to `p` in pieces cut at `cuts` (increasing), each piece in a
// buffer of its own that is scribbled over once read: a payload spanning
// pieces comes out right only if the parser gathered it. Returns every
// event, described as it comes out (a payload is valid until the next call).
std::vector<std::string> feed(ws_frame_parser& p, std::string_view wire, std::vector<std::size_t> cuts = {}) {
  cuts.push_back(wire.size());
  std::vector<std::string> out;
  std::size_t from = 0;
  for (std::size_t to : cuts) {
    std::vector<char> buf(wire.begin() + from, wire.begin() + to);
    std::span<char> in(buf);
    for (;;) {
      const auto e = p.next(in);
      if (e.what == kind::none) break;
      out.push_back(describe(e));
    }
    BOOST_TEST(in.empty());  // none only once the piece is used up
    std::fill(buf.begin(), buf.end(), '\xee');
    from = to;
  }
  return out;
}

std::vector<std::string> feed_whole(std::string_view wire, std::size_t max_message = 1 << 20) {
  ws_frame_parser p(max_message);
  return feed(p, wire);
}

std::vector<std::string> feed_bytewise(std::string_view wire, std::size_t max_message = 1 << 20) {
  ws_frame_parser p(max_message);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  return feed(p, wire, cuts);
}

using events = std::vector<std::string>;

std::string letters(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(net_ws_frames)

BOOST_AUTO_TEST_CASE(a_masked_text_frame_in_one_piece_comes_out_unmasked_without_a_copy) {
  const std::string wire = frame(0x81, "hello, herald");
  std::vector<char> buf(wire.begin(), wire.end());
  std::span<char> in(buf);
  ws_frame_parser p(1024);
  const auto e = p.next(in);
  BOOST_TEST(describe(e) == "text:hello, herald");
  BOOST_TEST(static_cast<const void*>(e.payload.data()) == static_cast<const void*>(buf.data() + 6));
  BOOST_TEST(!e.owned);
  BOOST_TEST(std::string_view(buf.data() + 6, 13) == "hello, herald");  // unmasked where it lay
  BOOST_TEST(in.empty());
  BOOST_TEST(p.idle());
}

BOOST_AUTO_TEST_CASE(a_binary_frame_comes_out_as_a_binary_message_with_every_byte_value) {
  std::string payload;
  for (int c = 0; c < 256; ++c) payload += static_cast<char>(c);
  const auto got = feed_whole(frame(0x82, payload));
  BOOST_TEST(got == events{"binary:" + payload});
}

BOOST_AUTO_TEST_CASE(an_empty_text_frame_is_an_empty_text_message_even_at_the_end_of_the_input) {
  ws_frame_parser p(1024);
  const std::string wire = frame(0x81, "");
  BOOST_TEST(wire.size() == 6u);
  BOOST_TEST(feed(p, wire) == events{"text:"});
  BOOST_TEST(p.idle());
}

BOOST_AUTO_TEST_CASE(a_frame_split_at_any_byte_gives_the_same_message) {
  const std::string wire = frame(0x81, "split me anywhere, I am still one message");
  const events want{"text:split me anywhere, I am still one message"};
  BOOST_TEST(feed_bytewise(wire) == want);
  for (std::size_t cut = 1; cut < wire.size(); ++cut) {
    ws_frame_parser p(1024);
    BOOST_TEST_CONTEXT("cut at " << cut) BOOST_TEST(feed(p, wire, {cut}) == want);
    BOOST_TEST(p.idle());
  }
}

BOOST_AUTO_TEST_CASE(a_ping_between_fragments_comes_out_first_then_the_whole_message) {
  const std::string wire = frame(0x01, "frag") + frame(0x89, "hb") + frame(0x00, "ment") + frame(0x80, "ed");
  const events want{"ping:hb", "text:fragmented"};
  BOOST_TEST(feed_whole(wire) == want);
  BOOST_TEST(feed_bytewise(wire) == want);
  for (std::size_t cut = 1; cut < wire.size(); ++cut) {
    ws_frame_parser p(1024);
    BOOST_TEST_CONTEXT("cut at " << cut) BOOST_TEST(feed(p, wire, {cut}) == want);
  }
}

BOOST_AUTO_TEST_CASE(a_fragmented_binary_message_stays_binary_and_a_fragmented_text_one_text) {
  BOOST_TEST(feed_whole(frame(0x02, "ab") + frame(0x80, "cd")) == events{"binary:abcd"});
  BOOST_TEST(feed_whole(frame(0x01, "ab") + frame(0x00, "cd") + frame(0x80, "")) == events{"text:abcd"});
}

BOOST_AUTO_TEST_CASE(a_control_frame_split_across_reads_inside_a_fragmented_message_keeps_both_apart) {
  const std::string wire = frame(0x02, "one") + frame(0x8a, "pong bytes") + frame(0x80, "two");
  const events want{"pong:pong bytes", "binary:onetwo"};
  for (std::size_t a = 1; a < wire.size(); ++a) {
    for (std::size_t b = a + 1; b < wire.size(); ++b) {
      ws_frame_parser p(1024);
      BOOST_TEST_CONTEXT("cuts at " << a << ", " << b) BOOST_TEST(feed(p, wire, {a, b}) == want);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_16_bit_length_is_read) {
  const std::string payload = letters(200);
  const std::string wire = frame(0x81, payload);
  BOOST_TEST(static_cast<unsigned char>(wire[1]) == (0x80 | 126));
  BOOST_TEST(feed_whole(wire) == events{"text:" + payload});
  BOOST_TEST(feed_bytewise(wire) == events{"text:" + payload});
}

BOOST_AUTO_TEST_CASE(a_64_bit_length_is_read_whole_and_across_reads_at_odd_offsets) {
  const std::string payload = letters(70000);
  const std::string wire = frame(0x82, payload);
  BOOST_TEST(static_cast<unsigned char>(wire[1]) == (0x80 | 127));
  BOOST_TEST(feed_whole(wire) == events{"binary:" + payload});
  // Pieces of 1021 bytes: each starts at another place in the 4-byte key.
  std::vector<std::size_t> cuts;
  for (std::size_t c = 1021; c < wire.size(); c += 1021) cuts.push_back(c);
  ws_frame_parser p(1 << 20);
  BOOST_TEST(feed(p, wire, cuts) == events{"binary:" + payload});
  BOOST_TEST(p.idle());
}

BOOST_AUTO_TEST_CASE(several_frames_in_one_buffer_come_out_one_per_call_with_the_input_advanced) {
  const std::string a = frame(0x81, "first"), b = frame(0x89, "p"), c = frame(0x82, "third");
  std::string wire = a + b + c;
  std::span<char> in(wire.data(), wire.size());
  ws_frame_parser p(1024);
  BOOST_TEST(describe(p.next(in)) == "text:first");
  BOOST_TEST(in.size() == b.size() + c.size());
  BOOST_TEST(describe(p.next(in)) == "ping:p");
  BOOST_TEST(in.size() == c.size());
  BOOST_TEST(describe(p.next(in)) == "binary:third");
  BOOST_TEST(in.empty());
  BOOST_TEST(describe(p.next(in)) == "none");
}

BOOST_AUTO_TEST_CASE(a_message_gathered_across_reads_is_owned_by_the_event) {
  const std::string wire = frame(0x81, "across two reads");
  ws_frame_parser p(1024);
  std::vector<char> first(wire.begin(), wire.begin() + 10), second(wire.begin() + 10, wire.end());
  std::span<char> in(first);
  BOOST_TEST(describe(p.next(in)) == "none");
  std::fill(first.begin(), first.end(), '\xee');
  in = std::span<char>(second);
  const auto e = p.next(in);
  BOOST_TEST(describe(e) == "text:across two reads");
  BOOST_TEST(e.owned != nullptr);
  BOOST_TEST(p.idle());  // the parser holds nothing once the message is out
}

BOOST_AUTO_TEST_CASE(pings_pongs_and_a_125_byte_ping_come_out) {
  const std::string big = letters(125);
  BOOST_TEST(feed_whole(frame(0x89, "") + frame(0x8a, "x") + frame(0x89, big)) ==
             (events{"ping:", "pong:x", "ping:" + big}));
}

// Errors: each a 1002 unless said, and the frames after it never come out.

BOOST_AUTO_TEST_CASE(a_reserved_bit_is_a_protocol_error) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10}) {
    BOOST_TEST(feed_whole(frame(0x81 | rsv, "x") + frame(0x81, "after")) == events{"error:1002"});
  }
}

BOOST_AUTO_TEST_CASE(an_unmasked_frame_is_a_protocol_error) {
  BOOST_TEST(feed_whole(bytes({0x81, 0x02, 'h', 'i'}) + frame(0x81, "after")) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(unknown_opcodes_3_and_11_are_protocol_errors) {
  BOOST_TEST(feed_whole(frame(0x83, "x")) == events{"error:1002"});
  BOOST_TEST(feed_whole(frame(0x8b, "x")) == events{"error:1002"});
  BOOST_TEST(feed_whole(frame(0x8f, "")) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_control_frame_without_fin_is_a_protocol_error) {
  BOOST_TEST(feed_whole(frame(0x09, "hb")) == events{"error:1002"});
  BOOST_TEST(feed_whole(frame(0x08, "")) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_ping_of_126_bytes_is_a_protocol_error) {
  BOOST_TEST(feed_whole(frame(0x89, letters(126))) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_16_bit_length_that_fits_in_7_bits_is_a_protocol_error) {
  const std::string wire = bytes({0x81, 0x80 | 126, 0x00, 100}) + key_bytes() + masked(letters(100));
  BOOST_TEST(feed_whole(wire) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_64_bit_length_with_the_top_bit_set_is_a_protocol_error) {
  const std::string wire = bytes({0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5}) + key_bytes() + masked("abcde");
  BOOST_TEST(feed_whole(wire) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_64_bit_length_that_fits_in_16_bits_is_a_protocol_error) {
  const std::string of_65535 = bytes({0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}) + key_bytes();
  BOOST_TEST(feed_whole(of_65535) == events{"error:1002"});
  const std::string of_100 = bytes({0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 100}) + key_bytes() + masked(letters(100));
  BOOST_TEST(feed_whole(of_100) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_continuation_with_no_message_started_is_a_protocol_error) {
  BOOST_TEST(feed_whole(frame(0x80, "x")) == events{"error:1002"});
  // Nor after a message that has ended.
  BOOST_TEST(feed_whole(frame(0x81, "done") + frame(0x00, "x")) == (events{"text:done", "error:1002"}));
}

BOOST_AUTO_TEST_CASE(a_new_message_inside_a_fragmented_one_is_a_protocol_error) {
  BOOST_TEST(feed_whole(frame(0x01, "a") + frame(0x81, "b")) == events{"error:1002"});
  BOOST_TEST(feed_whole(frame(0x02, "a") + frame(0x82, "b")) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_message_over_max_message_in_one_frame_is_refused_at_its_header) {
  BOOST_TEST(feed_whole(frame(0x81, letters(11)), 10) == events{"error:1009"});
  // The header alone is enough: the payload is never waited for.
  ws_frame_parser p(1 << 20);
  BOOST_TEST(feed(p, header(0x82, (1 << 20) + 1)) == events{"error:1009"});
  BOOST_TEST(p.failed());
}

BOOST_AUTO_TEST_CASE(a_limit_beyond_32_bits_counts_as_4_gib_so_a_4_gib_frame_is_still_refused_at_its_header) {
  // The parser keeps its limit in 32 bits (the options refuse more); a wider
  // one must not wrap to something small.
  ws_frame_parser p(std::size_t{1} << 40);
  BOOST_TEST(feed(p, header(0x82, std::uint64_t{1} << 32)) == events{"error:1009"});
  ws_frame_parser q(std::size_t{1} << 40);
  BOOST_TEST(feed(q, header(0x82, 0xffffffffu)).empty());  // exactly the limit: its payload is awaited
  BOOST_TEST(!q.failed());
}

BOOST_AUTO_TEST_CASE(a_message_over_max_message_across_fragments_is_refused_at_the_fragment_that_passes_it) {
  BOOST_TEST(feed_whole(frame(0x01, letters(6)) + frame(0x80, letters(5)), 10) == events{"error:1009"});
  BOOST_TEST(feed_whole(frame(0x01, letters(4)) + frame(0x00, letters(4)) + frame(0x80, letters(3)), 10) ==
             events{"error:1009"});
}

BOOST_AUTO_TEST_CASE(a_message_of_exactly_max_message_is_accepted_whole_or_in_fragments) {
  BOOST_TEST(feed_whole(frame(0x81, letters(10)), 10) == events{"text:" + letters(10)});
  BOOST_TEST(feed_whole(frame(0x01, letters(6)) + frame(0x80, letters(4)), 10) == events{"text:" + letters(6) + letters(4)});
  // The count starts again with each message.
  BOOST_TEST(feed_whole(frame(0x81, letters(10)) + frame(0x82, letters(10)), 10) ==
             (events{"text:" + letters(10), "binary:" + letters(10)}));
}

BOOST_AUTO_TEST_CASE(a_control_frame_does_not_count_toward_max_message) {
  BOOST_TEST(feed_whole(frame(0x01, letters(6)) + frame(0x89, letters(100)) + frame(0x80, letters(4)), 10) ==
             (events{"ping:" + letters(100), "text:" + letters(6) + letters(4)}));
}

BOOST_AUTO_TEST_CASE(an_empty_close_frame_comes_out_with_code_0) {
  BOOST_TEST(feed_whole(frame(0x88, "")) == events{"close:0:"});
}

BOOST_AUTO_TEST_CASE(a_close_frame_of_one_byte_is_a_protocol_error) {
  BOOST_TEST(feed_whole(frame(0x88, "\x03")) == events{"error:1002"});
}

BOOST_AUTO_TEST_CASE(a_close_code_that_may_not_be_sent_is_a_protocol_error) {
  for (std::uint16_t code : {999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    BOOST_TEST_CONTEXT("code " << code) BOOST_TEST(feed_whole(close_frame(code, "")) == events{"error:1002"});
  }
}

BOOST_AUTO_TEST_CASE(a_close_with_a_sendable_code_comes_out_with_its_reason) {
  for (std::uint16_t code : {1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999}) {
    BOOST_TEST_CONTEXT("code " << code) {
      BOOST_TEST(feed_whole(close_frame(code, "bye")) == events{"close:" + std::to_string(code) + ":bye"});
      BOOST_TEST(feed_bytewise(close_frame(code, "bye")) == events{"close:" + std::to_string(code) + ":bye"});
    }
  }
  BOOST_TEST(feed_whole(close_frame(1000, "")) == events{"close:1000:"});
  BOOST_TEST(feed_whole(close_frame(1000, "caf\xc3\xa9 \xe2\x82\xac")) == events{"close:1000:caf\xc3\xa9 \xe2\x82\xac"});
}

BOOST_AUTO_TEST_CASE(a_close_reason_that_is_not_utf8_is_error_1007) {
  BOOST_TEST(feed_whole(close_frame(1000, "\xff")) == events{"error:1007"});
  BOOST_TEST(feed_whole(close_frame(1000, "ok \xc3")) == events{"error:1007"});  // cut in a character
}

BOOST_AUTO_TEST_CASE(after_an_error_every_later_byte_is_consumed_and_nothing_comes_out) {
  std::string wire = frame(0x83, "bad") + frame(0x81, "never");
  std::span<char> in(wire.data(), wire.size());
  ws_frame_parser p(1024);
  BOOST_TEST(describe(p.next(in)) == "error:1002");
  BOOST_TEST(p.failed());
  BOOST_TEST(describe(p.next(in)) == "none");
  BOOST_TEST(in.empty());
  std::string more = frame(0x89, "x");
  std::span<char> later(more.data(), more.size());
  BOOST_TEST(describe(p.next(later)) == "none");
  BOOST_TEST(later.empty());
}

BOOST_AUTO_TEST_CASE(ignoring_data_skips_messages_but_still_reports_control_frames_and_the_close) {
  ws_frame_parser p(1024);
  p.ignore_data();
  const std::string wire = frame(0x81, "skipped") + frame(0x02, "frag") + frame(0x89, "hb") + frame(0x80, "ment") +
                           frame(0x82, letters(300)) + close_frame(1000, "bye");
  BOOST_TEST(feed(p, wire) == (events{"ping:hb", "close:1000:bye"}));
  ws_frame_parser q(1024);
  q.ignore_data();
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  BOOST_TEST(feed(q, wire, cuts) == (events{"ping:hb", "close:1000:bye"}));
  BOOST_TEST(q.idle());
}

BOOST_AUTO_TEST_CASE(ignoring_data_mid_message_drops_what_was_gathered_and_ends_idle) {
  ws_frame_parser p(1024);
  BOOST_TEST(feed(p, frame(0x01, "half") + frame(0x00, "way")) == events{});
  BOOST_TEST(!p.idle());
  p.ignore_data();
  BOOST_TEST(feed(p, frame(0x80, "end") + close_frame(1001, "")) == events{"close:1001:"});
  BOOST_TEST(p.idle());
}

BOOST_AUTO_TEST_CASE(idle_is_true_only_between_frames_with_no_message_half_read) {
  ws_frame_parser p(1024);
  BOOST_TEST(p.idle());
  const std::string wire = frame(0x81, "payload");
  BOOST_TEST(feed(p, wire.substr(0, 1)) == events{});
  BOOST_TEST(!p.idle());  // mid-header
  BOOST_TEST(feed(p, wire.substr(1, 5)) == events{});
  BOOST_TEST(!p.idle());  // header whole, payload to come
  BOOST_TEST(feed(p, wire.substr(6, 3)) == events{});
  BOOST_TEST(!p.idle());  // mid-payload
  BOOST_TEST(feed(p, wire.substr(9)) == events{"text:payload"});
  BOOST_TEST(p.idle());

  BOOST_TEST(feed(p, frame(0x02, "frag")) == events{});
  BOOST_TEST(!p.idle());  // mid-message, between its frames
  BOOST_TEST(feed(p, frame(0x89, "")) == events{"ping:"});
  BOOST_TEST(!p.idle());
  BOOST_TEST(feed(p, frame(0x80, "ment")) == events{"binary:fragment"});
  BOOST_TEST(p.idle());
}

BOOST_AUTO_TEST_CASE(a_server_frame_header_takes_the_shortest_length_form) {
  std::uint8_t h[10];
  const auto is = [&](std::size_t n, std::initializer_list<int> want) {
    return std::vector<int>(h, h + n) == std::vector<int>(want);
  };
  BOOST_TEST(encode_frame_header(h, ws_opcode::text, 0) == 2u);
  BOOST_TEST(is(2, {0x81, 0x00}));
  BOOST_TEST(encode_frame_header(h, ws_opcode::binary, 125) == 2u);
  BOOST_TEST(is(2, {0x82, 125}));
  BOOST_TEST(encode_frame_header(h, ws_opcode::text, 126) == 4u);
  BOOST_TEST(is(4, {0x81, 126, 0x00, 126}));
  BOOST_TEST(encode_frame_header(h, ws_opcode::text, 65535) == 4u);
  BOOST_TEST(is(4, {0x81, 126, 0xff, 0xff}));
  BOOST_TEST(encode_frame_header(h, ws_opcode::binary, 65536) == 10u);
  BOOST_TEST(is(10, {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  BOOST_TEST(encode_frame_header(h, ws_opcode::close, 2) == 2u);
  BOOST_TEST(is(2, {0x88, 2}));
  BOOST_TEST(encode_frame_header(h, ws_opcode::pong, 0) == 2u);
  BOOST_TEST(is(2, {0x8a, 0}));
}

BOOST_AUTO_TEST_CASE(a_close_payload_is_the_code_big_endian_then_the_reason) {
  BOOST_TEST(close_payload(1000, "bye") == std::string("\x03\xe8" "bye"));
  BOOST_TEST(close_payload(4999, "") == std::string("\x13\x87"));
}

BOOST_AUTO_TEST_SUITE_END()
