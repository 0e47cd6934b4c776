#pragma once
// query: the parameters of a request target's query string
// ("/poll?topic=a&since=3"), percent-decoded. Pure; thread-safe.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace herald::proto {

class query {
 public:
  // Parses everything after the first '?' of `target`. Malformed escapes
  // are kept as they are (the values are validated by their users anyway).
  explicit query(std::string_view target);

  std::optional<std::string> get(const std::string& key) const;
  // The value as an unsigned integer: nothing when absent, and `valid`
  // false when present but not a number.
  std::optional<std::uint64_t> number(const std::string& key, bool& valid) const;

 private:
  std::map<std::string, std::string> params_;
};

}  // namespace herald::proto
