#include "net/response_text.hpp"

#include <charconv>

namespace herald::net {

namespace {

void append_number(std::string& out, unsigned n) {
  char digits[10];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace

void append_response_text(const api::response& res, std::string& out) {
  const auto reason = res.reason();
  std::size_t size = 16 + reason.size() + res.body().size();
  for (const auto& field : res) size += field.name_string().size() + field.value().size() + 4;
  out.reserve(out.size() + size);
  out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, res.result_int());
  out.push_back(' ');
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  for (const auto& field : res) {
    out.append(field.name_string().data(), field.name_string().size());
    out.append(": ");
    out.append(field.value().data(), field.value().size());
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(res.body());
}

}  // namespace herald::net
