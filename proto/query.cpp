#include "proto/query.hpp"

#include <charconv>

namespace herald::proto {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

query::query(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string{} : decode(pair.substr(eq + 1));
    params_.emplace(std::move(key), std::move(value));
  }
}

std::optional<std::string> query::get(const std::string& key) const {
  auto it = params_.find(key);
  if (it == params_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> query::number(const std::string& key, bool& valid) const {
  valid = true;
  auto v = get(key);
  if (!v) return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || end != v->data() + v->size() || v->empty()) {
    valid = false;
    return std::nullopt;
  }
  return n;
}

}  // namespace herald::proto
