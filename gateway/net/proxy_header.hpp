#pragma once
// proxy_header: parses the PROXY protocol v2 header an L4 balancer (haproxy
// `send-proxy-v2`, AWS NLB, ...) puts in front of a connection's first byte
// (haproxy's doc/proxy-protocol.txt, section 2.2). Pure: bytes in, a value
// out; it knows nothing of sockets, so the reader in http_session decides
// how many bytes to read from what this returns.
//
// The header is 16 bytes (signature, version and command, family, length
// of the rest) followed by `length` bytes: the addresses, then TLVs, which
// are skipped by the length without being looked at. A PROXY command over
// TCP4/TCP6 yields the client's address; LOCAL (haproxy's health checks)
// and the other families yield none: the connection's own addresses stay.
//
// Fails (as a value, never an exception) on a wrong signature, a version
// other than 2, a command other than LOCAL/PROXY, an unknown family, a
// length shorter than the family's address block, or a header longer than
// `proxy_header_max`.
//
// Thread contract: pure functions; safe from any thread.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

#include <boost/asio/ip/tcp.hpp>

namespace herald::net {

// The whole header, addresses and TLVs included, may not exceed this. v2's
// largest address block (UNIX, 216 bytes) plus the 16-byte head leaves 792
// bytes for TLVs, several times what haproxy sends with unique-id, authority
// and SSL TLVs; anything longer is treated as garbage rather than buffered.
inline constexpr std::size_t proxy_header_max = 1024;
inline constexpr std::size_t proxy_header_fixed = 16;  // signature .. length

enum class proxy_error : std::uint8_t {
  bad_signature,  // not a PROXY v2 header at all (plain HTTP, PROXY v1, noise)
  bad_version,    // high nibble of byte 13 is not 2
  bad_command,    // low nibble of byte 13 is neither LOCAL (0) nor PROXY (1)
  bad_family,     // byte 14 names no known family/transport
  too_short,      // length cannot hold the family's addresses
  too_long,       // header over proxy_header_max
};
const char* to_string(proxy_error e);

// More bytes are needed before anything can be decided: `total` is the
// header length known so far (16 until the length field has been seen).
struct proxy_need_more {
  std::size_t total;
};

// A complete, valid header of `length` bytes.
struct proxy_header {
  std::size_t length;
  std::optional<boost::asio::ip::tcp::endpoint> source;  // the client, for PROXY over TCP4/TCP6
};

using proxy_parse_result = std::variant<proxy_need_more, proxy_error, proxy_header>;

// Parses the first bytes of a connection. Rejects as soon as the bytes seen
// prove the header wrong (a bad signature is caught from its first byte),
// and otherwise asks for exactly the bytes the header still lacks, so a
// reader never consumes a byte that belongs to the protocol behind it.
proxy_parse_result parse_proxy_header(std::span<const std::uint8_t> bytes);

}  // namespace herald::net
