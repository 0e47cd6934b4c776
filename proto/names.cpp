#include "proto/names.hpp"

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
  for (unsigned char c : topic) {
    if (!topic_char(c)) return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace herald::proto
