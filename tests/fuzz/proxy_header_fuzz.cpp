// Fuzz target: the PROXY protocol v2 parser (gateway/net/proxy_header).
// Input: one byte that seeds how the bytes trickle in, then the first
// bytes of a connection. The reader is replayed as http_session does it:
// parse what arrived, read at most what the parser still asks for, repeat.
//
// Properties:
// - the parser never asks for fewer bytes than it has (the reader would
//   stop making progress) nor more than proxy_header_max;
// - a header it accepts is within [16, proxy_header_max] and no longer than
//   the bytes read, so the reader never consumes HTTP bytes;
// - the verdict does not depend on how the bytes were split, nor on what
//   follows the header: parsing everything at once gives the same answer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "net/proxy_header.hpp"

using namespace herald::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint32_t rng = 0x2545f491u ^ (static_cast<std::uint32_t>(data[0]) * 0x01010101u);
  const std::span<const std::uint8_t> wire(data + 1, size - 1);

  std::size_t have = 0;
  proxy_parse_result verdict;
  for (;;) {
    verdict = parse_proxy_header(wire.first(have));
    if (!std::holds_alternative<proxy_need_more>(verdict)) break;
    const std::size_t total = std::get<proxy_need_more>(verdict).total;
    HERALD_FUZZ_CHECK(total > have && total <= proxy_header_max);
    if (have == wire.size()) return 0;  // the peer stopped sending: truncated
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    const std::size_t chunk = 1 + rng % (total - have);
    have += std::min(chunk, wire.size() - have);
  }

  const auto whole = parse_proxy_header(wire);
  if (const auto* h = std::get_if<proxy_header>(&verdict)) {
    HERALD_FUZZ_CHECK(h->length >= proxy_header_fixed && h->length <= proxy_header_max && h->length <= have);
    const auto* w = std::get_if<proxy_header>(&whole);
    HERALD_FUZZ_CHECK(w && w->length == h->length && w->source == h->source);
  } else {
    const auto e = std::get<proxy_error>(verdict);
    HERALD_FUZZ_CHECK(std::string_view(to_string(e)) != "unknown");
    const auto* w = std::get_if<proxy_error>(&whole);
    HERALD_FUZZ_CHECK(w && *w == e);
  }
  return 0;
}
