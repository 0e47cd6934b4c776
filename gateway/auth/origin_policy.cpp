#include "auth/origin_policy.hpp"

#include <cctype>

#include "proto/names.hpp"

namespace herald::auth {

origin_policy::origin_policy(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) patterns_.push_back(normalise(p));
}

std::string origin_policy::normalise(std::string_view origin) {
  std::string out(origin);
  const auto scheme_end = out.find("://");
  if (scheme_end == std::string::npos) return out;
  // The host ends at the port's ':' or a '/', but an IPv6 literal's ':'s
  // are inside brackets.
  std::size_t host_end = scheme_end + 3;
  bool bracket = false;
  for (; host_end < out.size(); ++host_end) {
    const char c = out[host_end];
    if (c == '[') bracket = true;
    if (c == ']') bracket = false;
    if (!bracket && (c == ':' || c == '/')) break;
  }
  for (std::size_t i = 0; i < host_end; ++i) {
    out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
  }
  return out;
}

bool origin_policy::allows(std::string_view origin, bool present) const {
  if (!present || patterns_.empty()) return true;
  return proto::matches_any(patterns_, normalise(origin));
}

}  // namespace herald::auth
