#include "bus/subjects.hpp"

namespace herald::bus {

namespace {

bool plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
         c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string encode_token(std::string_view name) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(name.size() + 8);
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (plain(c)) {
      out.push_back(ch);
    } else {
      out.push_back('~');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    }
  }
  // An empty token would make an invalid subject ("herald.h.t.").
  if (out.empty()) out.push_back('~');
  return out;
}

std::optional<std::string> decode_token(std::string_view token) {
  if (token == "~") return std::string();
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '~') {
      if (!plain(static_cast<unsigned char>(token[i]))) return std::nullopt;
      out.push_back(token[i]);
      continue;
    }
    if (i + 2 >= token.size()) return std::nullopt;
    int hi = hex_value(token[i + 1]), lo = hex_value(token[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string key_suffix(std::string_view key) {
  const bool user = !key.empty() && key.front() == '\x01';
  // Appended, not "u." + token: g++ 12 warns -Wrestrict (a false positive) on that.
  std::string out(user ? "u." : "t.");
  out += encode_token(user ? key.substr(1) : key);
  return out;
}

std::optional<std::string> key_of_suffix(std::string_view suffix) {
  if (suffix.size() < 3 || suffix[1] != '.') return std::nullopt;
  auto name = decode_token(suffix.substr(2));
  if (!name) return std::nullopt;
  if (suffix[0] == 't') return name;
  if (suffix[0] != 'u') return std::nullopt;
  std::string key;
  key.reserve(name->size() + 1);
  key.push_back('\x01');
  key.append(*name);
  return key;
}

std::optional<std::string> key_of_subject(std::string_view subject, std::string_view prefix) {
  if (subject.substr(0, prefix.size()) != prefix) return std::nullopt;
  return key_of_suffix(subject.substr(prefix.size()));
}

}  // namespace herald::bus
