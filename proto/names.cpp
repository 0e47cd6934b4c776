#include "proto/names.hpp"

#include <simdjson.h>

namespace herald::proto {

namespace {
bool topic_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '_': case '.': case ':': case '@': case '/': case '=': case '+': case '-':
      return true;
    default:
      return false;
  }
}
}  // namespace

bool valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > max_topic_length) return false;
  const std::size_t first = topic.front() == '$' ? 1 : 0;
  if (first == topic.size()) return false;  // "$" alone
  bool hash = false;
  for (std::size_t i = first; i < topic.size(); ++i) {
    const auto c = static_cast<unsigned char>(topic[i]);
    if (c == '#') {
      // One '#', with a name before it and a user after it.
      if (hash || i == first || i + 1 == topic.size()) return false;
      hash = true;
      continue;
    }
    if (!topic_char(c)) return false;
  }
  return true;
}

bool private_topic(std::string_view topic) { return !topic.empty() && topic.front() == '$'; }

std::string_view topic_owner(std::string_view topic) {
  auto hash = topic.rfind('#');
  return hash == std::string_view::npos ? std::string_view() : topic.substr(hash + 1);
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool valid_utf8(std::string_view text) { return simdjson::validate_utf8(text.data(), text.size()); }

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative matcher with one backtrack point: linear for patterns with a
  // single '*', never exponential.
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view name) {
  for (const auto& pattern : patterns) {
    if (glob_match(pattern, name)) return true;
  }
  return false;
}

}  // namespace herald::proto
