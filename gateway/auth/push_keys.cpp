#include "auth/push_keys.hpp"

#include <algorithm>

namespace herald::auth {

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

push_keys::push_keys(std::vector<std::string> keys) : keys_(std::move(keys)) {
  // An empty key would let an empty Bearer in; it is no key at all.
  std::erase_if(keys_, [](const std::string& k) { return k.empty(); });
}

bool push_keys::accepts(std::string_view presented) const {
  if (presented.empty()) return false;
  bool any = false;
  for (const auto& k : keys_) any |= equal_constant_time(presented, k);
  return any;
}

bool push_keys::authorizes(std::string_view header) const {
  if (open()) return true;
  constexpr std::string_view scheme = "Bearer ";
  if (header.substr(0, scheme.size()) != scheme) return false;
  return accepts(header.substr(scheme.size()));
}

}  // namespace herald::auth
