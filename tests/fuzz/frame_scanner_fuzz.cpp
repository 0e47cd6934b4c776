// Fuzz target: the WebSocket frame reader (gateway/net/frame_scanner), the
// piece that decides how many bytes frame_bounded_socket lets Beast read.
// Input: one byte that seeds the read plan, then the bytes a client sends.
// The plan varies what each read may peek (0-14 bytes, as the socket's
// MSG_PEEK may see), how much Beast asks for, and how much the socket
// returns, the way a network splits a stream.
//
// Properties, against frame ends computed here independently:
// - a read never passes the end of the frame it is in;
// - a read asked for something is allowed something (else the reader would
//   spin on zero-byte reads);
// - at_boundary() is true exactly at frame ends.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <span>

#include "fuzz_check.hpp"
#include "net/frame_scanner.hpp"

namespace {

// Frame ends (offsets just past a frame) of `wire`, computed in 128 bits
// so a 64-bit length cannot wrap; ends beyond the input are kept too.
std::vector<unsigned __int128> frame_ends(std::span<const std::uint8_t> wire) {
  std::vector<unsigned __int128> ends;  // increasing
  unsigned __int128 pos = 0;
  while (pos + 2 <= wire.size()) {
    const auto p = static_cast<std::size_t>(pos);
    const unsigned len7 = wire[p + 1] & 0x7f;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    const std::size_t header = 2 + ext + ((wire[p + 1] & 0x80) ? 4 : 0);
    if (p + header > wire.size()) {
      ends.push_back(pos + header);  // at least this far: the header's own end
      break;
    }
    unsigned __int128 payload = len7;
    if (ext) {
      payload = 0;
      for (std::size_t i = 0; i < ext; ++i) payload = (payload << 8) | wire[p + 2 + i];
    }
    pos += header + payload;
    ends.push_back(pos);
  }
  return ends;
}

struct plan {
  std::uint32_t state;
  std::uint32_t next() {  // xorshift32: cheap, and the seed byte steers it
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  plan rng{0x9e3779b9u ^ (static_cast<std::uint32_t>(data[0]) * 0x01010101u)};
  const std::span<const std::uint8_t> wire(data + 1, size - 1);
  const auto ends = frame_ends(wire);

  herald::net::frame_scanner scan;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    const std::size_t left = wire.size() - pos;
    // A peek happens only inside a header, as in frame_bounded_socket.
    const std::size_t peek = scan.in_header() ? std::min<std::size_t>(rng.next() % 15, left) : 0;
    const std::size_t want = 1 + rng.next() % 1536;
    const std::size_t n = scan.limit(wire.subspan(pos, peek), want);
    HERALD_FUZZ_CHECK(n <= want);
    HERALD_FUZZ_CHECK(n > 0);
    const auto end = std::upper_bound(ends.begin(), ends.end(), static_cast<unsigned __int128>(pos));
    HERALD_FUZZ_CHECK(end == ends.end() || pos + n <= *end);
    // The socket returns between one byte and what was allowed.
    const std::size_t got = std::min<std::size_t>(1 + rng.next() % n, left);
    scan.consume(wire.data() + pos, got);
    pos += got;
    HERALD_FUZZ_CHECK(scan.at_boundary() ==
                      std::binary_search(ends.begin(), ends.end(), static_cast<unsigned __int128>(pos)));
  }
  return 0;
}
