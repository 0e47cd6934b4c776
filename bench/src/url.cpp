#include "url.hpp"

#include <arpa/inet.h>
#include <charconv>

namespace herald_bench {

std::string url::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string url::to_string() const {
  return scheme + "://" + authority() + target;
}

bool is_loopback_host(std::string_view host) {
  const std::string h{host};
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

namespace {

// Splits "host:port" (IPv6 in brackets); the port defaults to 80.
bool split_authority(std::string_view auth, std::string& host, std::uint16_t& port) {
  std::string_view port_text;
  if (!auth.empty() && auth.front() == '[') {
    const auto close = auth.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string{auth.substr(1, close - 1)};
    if (close + 1 < auth.size()) {
      if (auth[close + 1] != ':') return false;
      port_text = auth.substr(close + 2);
    }
  } else {
    const auto colon = auth.rfind(':');
    host = std::string{auth.substr(0, colon)};
    if (colon != std::string_view::npos) port_text = auth.substr(colon + 1);
  }
  port = 80;
  if (port_text.empty()) return !host.empty();
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  return r.ec == std::errc{} && r.ptr == port_text.data() + port_text.size() && port != 0;
}

}  // namespace

url_result parse_url(std::string_view text) {
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return {std::nullopt, "missing scheme in '" + std::string{text} + "'"};
  url u;
  u.scheme = std::string{text.substr(0, sep)};
  if (u.scheme != "ws" && u.scheme != "http")
    return {std::nullopt, "only ws:// and http:// are supported: '" + std::string{text} + "'"};
  auto rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  u.target = slash == std::string_view::npos ? "/" : std::string{rest.substr(slash)};
  if (!split_authority(rest.substr(0, slash), u.host, u.port))
    return {std::nullopt, "bad host:port in '" + std::string{text} + "'"};
  if (u.host == "localhost") u.host = "127.0.0.1";
  if (!is_loopback_host(u.host))
    return {std::nullopt, "refusing non-loopback host '" + u.host + "': load stays on this machine"};
  return {u, {}};
}

url with_path(const url& base, std::string_view scheme, std::string_view target) {
  url u = base;
  u.scheme = std::string{scheme};
  u.target = std::string{target};
  return u;
}

}  // namespace herald_bench
