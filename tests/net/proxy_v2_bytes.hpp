#pragma once
// Builds PROXY protocol v2 headers byte by byte, as a balancer would send
// them, for the parser's unit tests and the integration tests.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace herald::test {

using bytes = std::vector<std::uint8_t>;

// Index writes into sized vectors rather than insert/push_back: g++ 12 at
// -O2 warns falsely (-Warray-bounds, -Wstringop-overflow) about the latter.
inline void put_be16(bytes& b, std::size_t at, std::size_t v) {
  b[at] = static_cast<std::uint8_t>((v >> 8) & 0xFF);
  b[at + 1] = static_cast<std::uint8_t>(v & 0xFF);
}

inline void put(bytes& b, std::size_t at, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = p[i];
}

// A header with `ver_cmd` (byte 13), `family` (byte 14) and `rest` after the
// 16 bytes; the length field says rest.size() unless `length` overrides it.
inline bytes proxy_v2(std::uint8_t ver_cmd, std::uint8_t family, const bytes& rest, int length = -1) {
  static constexpr std::uint8_t signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  bytes out(16 + rest.size());
  put(out, 0, signature, 12);
  out[12] = ver_cmd;
  out[13] = family;
  put_be16(out, 14, length < 0 ? rest.size() : static_cast<std::size_t>(length));
  put(out, 16, rest.data(), rest.size());
  return out;
}

// The address block of a TCP4/TCP6 header: source, destination, ports.
template <std::size_t N>
bytes address_block(const std::array<std::uint8_t, N>& src, std::uint16_t sport, const std::array<std::uint8_t, N>& dst,
                    std::uint16_t dport, const bytes& tlvs) {
  bytes rest(2 * N + 4 + tlvs.size());
  put(rest, 0, src.data(), N);
  put(rest, N, dst.data(), N);
  put_be16(rest, 2 * N, sport);
  put_be16(rest, 2 * N + 2, dport);
  put(rest, 2 * N + 4, tlvs.data(), tlvs.size());
  return rest;
}

// PROXY over TCP4 from src:sport to dst:dport, then `tlvs` verbatim.
inline bytes proxy_v2_tcp4(std::array<std::uint8_t, 4> src, std::uint16_t sport, std::array<std::uint8_t, 4> dst,
                           std::uint16_t dport, const bytes& tlvs = {}) {
  return proxy_v2(0x21, 0x11, address_block(src, sport, dst, dport, tlvs));
}

// PROXY over TCP6 from src:sport to dst:dport, then `tlvs` verbatim.
inline bytes proxy_v2_tcp6(std::array<std::uint8_t, 16> src, std::uint16_t sport, std::array<std::uint8_t, 16> dst,
                           std::uint16_t dport, const bytes& tlvs = {}) {
  return proxy_v2(0x21, 0x21, address_block(src, sport, dst, dport, tlvs));
}

// LOCAL, as haproxy's health checks send it: no addresses.
inline bytes proxy_v2_local() { return proxy_v2(0x20, 0x00, {}); }

// One TLV: type, big-endian length, value.
inline bytes tlv(std::uint8_t type, const std::string& value) {
  bytes out(3 + value.size());
  out[0] = type;
  put_be16(out, 1, value.size());
  for (std::size_t i = 0; i < value.size(); ++i) out[3 + i] = static_cast<std::uint8_t>(value[i]);
  return out;
}

inline bytes concat(const bytes& a, const bytes& b) {
  bytes out(a.size() + b.size());
  put(out, 0, a.data(), a.size());
  put(out, a.size(), b.data(), b.size());
  return out;
}

inline bytes bytes_of(const std::string& text) { return bytes(text.begin(), text.end()); }

inline std::string as_string(const bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace herald::test
