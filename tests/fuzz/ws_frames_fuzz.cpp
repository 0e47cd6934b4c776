// Fuzz target: the WebSocket frame parser (gateway/net/ws_frames), which
// reads every byte a client sends after the handshake.
// Input: one byte that seeds the read plan, then the bytes a client sends.
// The plan cuts them into reads of 1 to 64 bytes, or up to 1 KiB (the
// seed's low bit), the way a network splits a stream; its top three bits
// pick after which event ignore_data() is called (0: never), as a
// connection that starts closing does.
//
// Properties:
// - the bytes fed in one read and fed in many give the same events (kind,
//   type, code, payload bytes), and leave the parser equally idle or failed:
//   each read is a buffer of its own, freed once read, so a payload kept by
//   view past its read is a use-after-free that ASan reports;
// - kind::none only once the read is used up;
// - a message is at most max_message bytes, a control payload at most 125;
// - an error's code is 1002, 1007 or 1009, a close's 0 or one a peer may send;
// - after an error, nothing more comes out; after ignore_data(), no message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "net/ws_frames.hpp"

namespace {

using herald::net::ws_frame_parser;
using kind = ws_frame_parser::kind;

constexpr std::size_t max_message = 4096;

struct seen {
  kind what;
  bool text;
  std::uint16_t code;
  std::string payload;
  bool operator==(const seen&) const = default;
};

struct plan {
  std::uint32_t state;
  std::uint32_t next() {  // xorshift32: cheap, and the seed byte steers it
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

bool sendable(std::uint16_t c) {
  return c == 0 || (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

// Drains the events of one read into `out`, checking each as it comes.
void drain(ws_frame_parser& p, std::span<char> in, std::vector<seen>& out, std::size_t ignore_after) {
  for (;;) {
    const auto e = p.next(in);
    if (e.what == kind::none) {
      HERALD_FUZZ_CHECK(in.empty());
      return;
    }
    HERALD_FUZZ_CHECK(out.empty() || out.back().what != kind::error);
    switch (e.what) {
      case kind::message:
        HERALD_FUZZ_CHECK(e.payload.size() <= max_message);
        HERALD_FUZZ_CHECK(ignore_after == 0 || out.size() < ignore_after);  // none once ignored
        break;
      case kind::ping:
      case kind::pong: HERALD_FUZZ_CHECK(e.payload.size() <= 125); break;
      case kind::close: HERALD_FUZZ_CHECK(sendable(e.code) && e.payload.size() <= 123); break;
      case kind::error:
        HERALD_FUZZ_CHECK(e.code == 1002 || e.code == 1007 || e.code == 1009);
        HERALD_FUZZ_CHECK(p.failed());
        break;
      case kind::none: break;
    }
    out.push_back({e.what, e.text, e.code, std::string(e.payload)});
    if (out.size() == ignore_after) p.ignore_data();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  plan rng{0x9e3779b9u ^ (static_cast<std::uint32_t>(data[0]) * 0x01010101u)};
  const std::size_t longest = (data[0] & 1) ? 1024 : 64;
  const std::size_t ignore_after = data[0] >> 5;
  const char* wire = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;

  // Whole, on a copy: the parser unmasks in place.
  std::vector<seen> whole;
  ws_frame_parser one(max_message);
  {
    std::vector<char> buf(wire, wire + n);
    drain(one, buf, whole, ignore_after);
  }

  std::vector<seen> pieces;
  ws_frame_parser many(max_message);
  for (std::size_t at = 0; at < n;) {
    const std::size_t len = std::min<std::size_t>(1 + rng.next() % longest, n - at);
    std::vector<char> buf(wire + at, wire + at + len);
    drain(many, buf, pieces, ignore_after);
    at += len;
  }

  HERALD_FUZZ_CHECK(whole == pieces);
  HERALD_FUZZ_CHECK(one.idle() == many.idle());
  HERALD_FUZZ_CHECK(one.failed() == many.failed());
  return 0;
}
