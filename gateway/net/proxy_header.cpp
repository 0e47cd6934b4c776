#include "net/proxy_header.hpp"

#include <algorithm>
#include <array>

namespace herald::net {

namespace {

namespace ip = boost::asio::ip;

constexpr std::array<std::uint8_t, 12> signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t command_local = 0x0;
constexpr std::uint8_t command_proxy = 0x1;
constexpr std::uint8_t family_tcp4 = 0x11;
constexpr std::uint8_t family_tcp6 = 0x21;

// Bytes of the address block for byte 14, or nothing for an unknown value.
// The high nibble is the address family (UNSPEC, INET, INET6, UNIX), the
// low one the transport (UNSPEC, STREAM, DGRAM); the size follows the family.
std::optional<std::size_t> address_bytes(std::uint8_t family) {
  if ((family & 0x0F) > 0x2) return std::nullopt;
  switch (family >> 4) {
    case 0x0: return 0;
    case 0x1: return 12;   // src4, dst4, src port, dst port
    case 0x2: return 36;   // src6, dst6, src port, dst port
    case 0x3: return 216;  // src and dst paths, 108 bytes each
    default: return std::nullopt;
  }
}

std::uint16_t big_endian16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// The client's endpoint from a TCP4/TCP6 address block; the other families
// carry nothing a TCP peer address could hold.
std::optional<ip::tcp::endpoint> source_of(std::uint8_t family, const std::uint8_t* a) {
  if (family == family_tcp4) {
    ip::address_v4::bytes_type b;
    std::copy_n(a, b.size(), b.begin());
    return ip::tcp::endpoint(ip::address_v4(b), big_endian16(a + 8));
  }
  if (family == family_tcp6) {
    ip::address_v6::bytes_type b;
    std::copy_n(a, b.size(), b.begin());
    return ip::tcp::endpoint(ip::address_v6(b), big_endian16(a + 32));
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(proxy_error e) {
  switch (e) {
    case proxy_error::bad_signature: return "bad_signature";
    case proxy_error::bad_version: return "bad_version";
    case proxy_error::bad_command: return "bad_command";
    case proxy_error::bad_family: return "bad_family";
    case proxy_error::too_short: return "too_short";
    case proxy_error::too_long: return "too_long";
  }
  return "unknown";
}

proxy_parse_result parse_proxy_header(std::span<const std::uint8_t> bytes) {
  const std::size_t sig = std::min(bytes.size(), signature.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(sig), signature.begin())) {
    return proxy_error::bad_signature;
  }
  if (bytes.size() < proxy_header_fixed) return proxy_need_more{proxy_header_fixed};
  const std::uint8_t version = bytes[12] >> 4, command = bytes[12] & 0x0F, family = bytes[13];
  if (version != 2) return proxy_error::bad_version;
  if (command != command_local && command != command_proxy) return proxy_error::bad_command;
  const std::size_t total = proxy_header_fixed + big_endian16(&bytes[14]);
  if (total > proxy_header_max) return proxy_error::too_long;
  // LOCAL: the spec says to ignore the family and the block entirely.
  if (command == command_proxy) {
    auto needed = address_bytes(family);
    if (!needed) return proxy_error::bad_family;
    if (total - proxy_header_fixed < *needed) return proxy_error::too_short;
  }
  if (bytes.size() < total) return proxy_need_more{total};
  if (command == command_local) return proxy_header{total, std::nullopt};
  return proxy_header{total, source_of(family, &bytes[proxy_header_fixed])};
}

}  // namespace herald::net
