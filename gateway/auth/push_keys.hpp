#pragma once
// push_keys: the keys that open the push API (--push-key, repeatable so a
// key can be rotated: add the new one, move the backends, drop the old).
//
// accepts() compares the presented key with every configured key, each in
// constant time and without stopping at a match, so neither how much of a
// key a caller guessed nor which key matched shows in the response time
// (only the number of keys does, which is no secret).
//
// Thread contract: immutable after construction; shared by all shards.
#include <string>
#include <string_view>
#include <vector>

namespace herald::auth {

class push_keys {
 public:
  push_keys() = default;  // no key: the push API is open
  explicit push_keys(std::vector<std::string> keys);

  bool open() const { return keys_.empty(); }
  // Whether `presented` is one of the keys (false for an empty one).
  bool accepts(std::string_view presented) const;
  // Whether an Authorization header value is "Bearer <one of the keys>";
  // true when there are no keys.
  bool authorizes(std::string_view authorization_header) const;

 private:
  std::vector<std::string> keys_;
};

// Equal contents, in time that depends on the lengths only.
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace herald::auth
