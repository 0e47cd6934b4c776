#pragma once
// endpoint_text: a peer address as logs show it: `203.0.113.7:4242`,
// `[2001:db8::1]:443`.
//
// Thread contract: a pure function.
#include <string>

#include "net/types.hpp"

namespace herald::net {

inline std::string endpoint_text(const tcp::endpoint& ep) {
  const auto a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

}  // namespace herald::net
