#pragma once
// Parsing of the ws:// and http:// addresses the harness talks to.
//
// Only loopback hosts are accepted (127.0.0.0/8, "localhost", ::1): load from this
// harness must never leave the machine. Errors are returned as text, not thrown.
//
// Thread contract: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald_bench {

struct url {
  std::string scheme;  // "ws" or "http"
  std::string host;    // numeric address, "localhost" already mapped to 127.0.0.1
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"

  std::string authority() const;  // host:port, brackets around IPv6
  std::string to_string() const;
};

struct url_result {
  std::optional<url> value;
  std::string error;
};

url_result parse_url(std::string_view text);

bool is_loopback_host(std::string_view host);

// Same host and port, other scheme and path: derives the push and metrics URLs from
// the WebSocket target.
url with_path(const url& base, std::string_view scheme, std::string_view target);

}  // namespace herald_bench
