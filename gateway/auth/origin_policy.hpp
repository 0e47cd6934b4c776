#pragma once
// origin_policy: --allowed-origin, which browser pages may open a
// connection to this node (WebSocket upgrades, /poll and /sse requests).
//
// A pattern is matched like the node's other patterns (proto::glob_match:
// '*' matches any run of bytes), e.g. "https://*.example.com". Scheme and
// host are compared case-insensitively (browsers send them in lower case,
// operators may not write them so); everything else, the port included,
// exactly. Browsers send Origin on every WebSocket upgrade and on
// cross-origin fetches; non-browser clients usually send none, and a
// request without one is allowed (the check protects users' browsers from
// other sites' pages, not the node from programs, which can send any
// Origin they like). Without patterns every Origin is allowed.
//
// Thread contract: immutable after construction.
#include <string>
#include <string_view>
#include <vector>

namespace herald::auth {

class origin_policy {
 public:
  explicit origin_policy(const std::vector<std::string>& patterns);

  bool enabled() const { return !patterns_.empty(); }
  // Whether a request whose Origin header is `origin` may go on; a missing
  // header (`present` false) always may.
  bool allows(std::string_view origin, bool present = true) const;

  // "HTTPS://App.Example.com:8443" -> "https://app.example.com:8443"
  // (scheme and host in lower case; anything without "://" unchanged).
  static std::string normalise(std::string_view origin);

 private:
  std::vector<std::string> patterns_;  // normalised
};

}  // namespace herald::auth
